"""Demo organisation: 5 locations, 25 staff in 3 time zones, 8 services, 200 clients, a month of appointments.

`seed()` is idempotent: every record is looked up by its natural key first, and appointments are
only generated when there are none yet, so a second run changes nothing and prints the same logins.
`seed_if_empty()` (what `make run` uses) seeds only a database without any organisation data, so pointing
SUNDIAL_DATABASE_URL at a real database never adds demo staff or demo logins to it.
The Exchange simulator seeds its mailboxes from `DEMO_STAFF` (same emails).
"""
from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .extensions import db
from .models import (
    Appointment,
    Client,
    Location,
    NotificationSetting,
    Service,
    StaffMember,
    User,
)

DOMAIN = "sundial-demo.test"
ADMIN_EMAIL = f"admin@{DOMAIN}"
DEMO_PASSWORD = "Sundial-Demo-2026!"

NY, CHI, LA = "America/New_York", "America/Chicago", "America/Los_Angeles"

_STAFF_NAMES = [
    ("Olivia Bennett", NY), ("Marcus Reed", NY), ("Priya Natarajan", NY), ("Daniel Okafor", NY),
    ("Hannah Kim", NY), ("Samuel Ortiz", NY), ("Grace Whitfield", NY), ("Ethan Brooks", NY),
    ("Amara Nwosu", NY), ("Lucas Ferreira", CHI), ("Chloe Anderson", CHI), ("Noah Patel", CHI),
    ("Isabella Rossi", CHI), ("Benjamin Carter", CHI), ("Mia Johansson", CHI), ("Owen Gallagher", CHI),
    ("Sofia Alvarez", CHI), ("Liam O'Connor", LA), ("Emma Nakamura", LA), ("Jacob Thompson", LA),
    ("Ava Mitchell", LA), ("Mateo Ramirez", LA), ("Zoe Chen", LA), ("Caleb Foster", LA),
    ("Lily Hartmann", LA),
]


def _email(name: str) -> str:
    first, last = name.lower().replace("'", "").split(" ", 1)
    return f"{first}.{last.replace(' ', '')}@{DOMAIN}"


# (name, email, IANA time zone) — deterministic; the simulator creates one mailbox per entry.
DEMO_STAFF: list[tuple[str, str, str]] = [(n, _email(n), tz) for n, tz in _STAFF_NAMES]

DEMO_LOCATIONS = [
    ("Boston Back Bay", "500 Boylston Street, Boston, MA 02116", NY),
    ("New York Midtown", "1250 Avenue of the Americas, New York, NY 10020", NY),
    ("Chicago Loop", "120 South LaSalle Street, Chicago, IL 60603", CHI),
    ("Seattle Waterfront", "1201 Alaskan Way, Seattle, WA 98101", LA),
    ("San Diego Harbor", "600 West Broadway, San Diego, CA 92101", LA),
]

DEMO_SERVICES = [
    ("Account opening", 45), ("Mortgage consultation", 60), ("Retirement planning", 60),
    ("Loan application review", 45), ("Investment review", 30), ("Small business check-in", 30),
    ("Estate planning", 90), ("Quick question", 15),
]

_FIRST = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
          "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Carlos", "Karen"]
_LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez"]


def demo_clients() -> list[tuple[str, str, str]]:
    """200 (name, email, phone) tuples, deterministic."""
    out = []
    for i in range(200):
        first, last = _FIRST[i % 20], _LAST[(i // 20) % 10]
        out.append((f"{first} {last}", f"{first.lower()}.{last.lower()}{i + 1}@clients.{DOMAIN}",
                    f"+1 555 01{i:02d}" if i < 100 else f"+1 555 02{i - 100:02d}"))
    return out


def _get_or_add(model, defaults: dict, **key):
    row = db.session.execute(db.select(model).filter_by(**key)).scalars().first()
    if row is None:
        row = model(**key, **defaults)
        db.session.add(row)
    return row


def _locations_by_tz(locations: list[Location]) -> dict[str, list[Location]]:
    by_tz: dict[str, list[Location]] = {}
    for loc in locations:
        by_tz.setdefault(loc.timezone, []).append(loc)
    return by_tz


def _seed_people() -> tuple[list[Location], list[StaffMember], list[Service], list[Client]]:
    locations = [_get_or_add(Location, {"address": a, "timezone": tz}, name=n) for n, a, tz in DEMO_LOCATIONS]
    db.session.flush()
    by_tz = _locations_by_tz(locations)
    staff = []
    for i, (name, email, tz) in enumerate(DEMO_STAFF):
        row = db.session.execute(db.select(StaffMember).filter_by(email=email)).scalar_one_or_none()
        if row is None:
            home = by_tz[tz][i % len(by_tz[tz])]
            row = StaffMember(name=name, email=email, timezone=tz, takes_appointments=True,
                              primary_location=home, locations=list(by_tz[tz]))
            db.session.add(row)
        staff.append(row)
    services = [_get_or_add(Service, {"duration_minutes": m}, name=n) for n, m in DEMO_SERVICES]
    clients = [_get_or_add(Client, {"phone": p, "name": n}, email=e) for n, e, p in demo_clients()]
    for audience in ("clients", "staff"):
        _get_or_add(NotificationSetting, {"enabled": True}, audience=audience)
    db.session.flush()
    return locations, staff, services, clients


def _seed_logins(first_staff: StaffMember) -> None:
    if db.session.execute(db.select(User).filter_by(email=ADMIN_EMAIL)).scalar_one_or_none() is None:
        admin = User(email=ADMIN_EMAIL, name="Avery Admin", role="admin")
        admin.set_password(DEMO_PASSWORD)
        db.session.add(admin)
    if db.session.execute(db.select(User).filter_by(email=first_staff.email)).scalar_one_or_none() is None:
        user = User(email=first_staff.email, name=first_staff.name, role="staff", staff=first_staff)
        user.set_password(DEMO_PASSWORD)
        db.session.add(user)


def _free(busy: list[tuple[datetime, datetime]], start: datetime, end: datetime) -> bool:
    return all(end <= s or start >= e for s, e in busy)


def _seed_appointments(staff: list[StaffMember], services: list[Service], clients: list[Client],
                       today: date) -> int:
    """Two weeks back and two weeks ahead, weekdays 09:00–17:00 local, never overlapping."""
    rng = random.Random(2026)
    stamp = datetime.combine(today - timedelta(days=15), time(8), UTC)  # "booked" before the month began; never future
    busy: dict[int, list[tuple[datetime, datetime]]] = {s.id: [] for s in staff}
    count = 0
    for offset in range(-14, 14):
        day = today + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for member in staff:
            tz = ZoneInfo(member.timezone)
            placed = count
            for _ in range(rng.randint(1, 3)):
                service = rng.choice(services)
                slot = rng.randrange(0, 16) * 30  # minutes after 09:00
                start = datetime.combine(day, time(9), tz) + timedelta(minutes=slot)
                end = start + timedelta(minutes=service.duration_minutes)
                if end.astimezone(tz).time() > time(17) or end.astimezone(tz).date() != day:
                    continue
                start, end = start.astimezone(UTC), end.astimezone(UTC)
                team = [member]
                if rng.random() < 0.12:  # some multi-staff appointments (I5)
                    colleague = rng.choice([s for s in staff if s.timezone == member.timezone and s is not member])
                    team.append(colleague)
                if not all(_free(busy[s.id], start, end) for s in team):
                    continue
                who = [rng.choice(clients)]
                if rng.random() < 0.15:  # some multi-client appointments
                    who.append(rng.choice([c for c in clients if c is not who[0]]))
                db.session.add(Appointment(
                    service=service, location=member.primary_location, start=start, end=end,
                    staff=team, clients=who, notes="Demo appointment." if rng.random() < 0.3 else "",
                    status="booked", origin="sundial", created_at=stamp, updated_at=stamp))
                for s in team:
                    busy[s.id].append((start, end))
                count += 1
            if count == placed:  # every try collided or ran past 17:00: one appointment anyway, so each weekday
                count += _first_free(member, day, tz, services, clients, busy, stamp)  # of each member shows one
    return count


def _first_free(member, day, tz, services, clients, busy, stamp) -> int:
    """The member's first free half hour of `day` (09:00–17:00 local), booked with the shortest service."""
    service = min(services, key=lambda s: (s.duration_minutes, s.id or 0))
    for slot in range(0, 16):
        start = datetime.combine(day, time(9), tz) + timedelta(minutes=30 * slot)
        end = start + timedelta(minutes=service.duration_minutes)
        if end.astimezone(tz).time() > time(17):
            break
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        if _free(busy[member.id], start, end):
            db.session.add(Appointment(
                service=service, location=member.primary_location, start=start, end=end, staff=[member],
                clients=[clients[(member.id or 0) % len(clients)]], notes="", status="booked",
                origin="sundial", created_at=stamp, updated_at=stamp))
            busy[member.id].append((start, end))
            return 1
    return 0


def seed(today: date | None = None) -> Iterator[str]:
    """Create the demo organisation if missing; yield the lines to print (same lines every run)."""
    locations, staff, services, clients = _seed_people()
    _seed_logins(staff[0])
    has_appointments = db.session.execute(db.select(Appointment.id).limit(1)).first() is not None
    if not has_appointments:
        _seed_appointments(staff, services, clients, today or date.today())
    db.session.commit()
    total = db.session.execute(db.select(db.func.count(Appointment.id))).scalar_one()
    yield (f"Demo organisation: {len(locations)} locations, {len(staff)} staff, {len(services)} services, "
           f"{len(clients)} clients, {total} appointments.")
    yield f"Admin login: {ADMIN_EMAIL} / {DEMO_PASSWORD}"
    yield f"Staff login: {staff[0].email} / {DEMO_PASSWORD}"


# Tables whose rows mean "this database is in use": seed_if_empty() leaves it alone when any has one.
_ORGANISATION_TABLES = ((User, "login"), (StaffMember, "staff member"), (Location, "location"),
                        (Service, "service"), (Client, "client"), (Appointment, "appointment"))


def organisation_counts() -> dict[str, int]:
    return {label: db.session.execute(db.select(db.func.count()).select_from(model)).scalar_one()
            for model, label in _ORGANISATION_TABLES}


def seed_if_empty(today: date | None = None) -> Iterator[str]:
    """Seed the demo only into an empty database; otherwise change nothing and say why."""
    counts = organisation_counts()
    if not any(counts.values()):
        yield "The database is empty: adding the demo organisation."
        yield from seed(today)
        return
    found = ", ".join(f"{n} {label}{'' if n == 1 else 's'}" for label, n in counts.items() if n)
    if db.session.execute(db.select(User.id).filter_by(email=ADMIN_EMAIL)).first() is not None:
        staff_login = DEMO_STAFF[0][1]
        yield f"The database already holds the demo organisation ({found}); nothing was added."
        yield f"Admin login: {ADMIN_EMAIL} / {DEMO_PASSWORD} (unless changed since)"
        yield f"Staff login: {staff_login} / {DEMO_PASSWORD} (unless changed since)"
        return
    yield (f"The database is not empty ({found}); the demo organisation was not added. Sign in with an "
           "existing login, or create an admin with: flask sundial create-admin EMAIL")
