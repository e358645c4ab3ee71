"""The demo seed: the portal demo's 25 staff mailboxes, each with a realistic month of meetings,
recurring series, free and private events; a service account with ApplicationImpersonation and
author rights on every demo calendar."""
from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DOMAIN = "sundial-demo.test"
NETBIOS = "SUNDIAL-DEMO"
SERVICE_UPN = f"svc-sundial@{DOMAIN}"
SERVICE_PASSWORD = "Demo-Exchange-2026!"
STAFF_PASSWORD = "Demo-Staff-2026!"
NY, CHI, LA = "America/New_York", "America/Chicago", "America/Los_Angeles"
# Same list as portal/demo.py (_STAFF_NAMES); used when portal is not importable. A test keeps them equal.
_NAMES = [
    ("Olivia Bennett", NY), ("Marcus Reed", NY), ("Priya Natarajan", NY), ("Daniel Okafor", NY),
    ("Hannah Kim", NY), ("Samuel Ortiz", NY), ("Grace Whitfield", NY), ("Ethan Brooks", NY),
    ("Amara Nwosu", NY), ("Lucas Ferreira", CHI), ("Chloe Anderson", CHI), ("Noah Patel", CHI),
    ("Isabella Rossi", CHI), ("Benjamin Carter", CHI), ("Mia Johansson", CHI), ("Owen Gallagher", CHI),
    ("Sofia Alvarez", CHI), ("Liam O'Connor", LA), ("Emma Nakamura", LA), ("Jacob Thompson", LA),
    ("Ava Mitchell", LA), ("Mateo Ramirez", LA), ("Zoe Chen", LA), ("Caleb Foster", LA),
    ("Lily Hartmann", LA),
]
SUBJECTS = ["Team sync", "Branch huddle", "Client prep", "Compliance training", "Budget review",
            "Coffee with Jordan", "Vendor call", "Quarterly planning", "Lunch", "Focus time", "Dentist",
            "School pickup", "Project kickoff", "Interview panel", "Product demo"]


def _email(name: str) -> str:
    first, last = name.lower().replace("'", "").split(" ", 1)
    return f"{first}.{last.replace(' ', '')}@{DOMAIN}"


def own_staff() -> list[tuple[str, str, str]]:
    return [(n, _email(n), tz) for n, tz in _NAMES]


def demo_staff() -> list[tuple[str, str, str]]:
    """portal.demo.DEMO_STAFF when importable (lazy: the simulator never imports portal at import time)."""
    try:
        from portal.demo import DEMO_STAFF  # noqa: PLC0415
        return list(DEMO_STAFF)
    except Exception:  # noqa: BLE001 - portal missing or its dependencies absent
        return own_staff()


def seed_demo(sim, today: date | None = None):
    from .testing import ServiceAccount
    directory = sim.directory
    directory.domain = NETBIOS
    directory.add_account(SERVICE_UPN, SERVICE_PASSWORD, display_name="Sundial service account",
                          impersonation=True, domain=NETBIOS)
    # The service account has its own mailbox, so Authorize proves access to its own calendar (S6).
    directory.add_mailbox(SERVICE_UPN, "Sundial service account")
    sim.store.ensure_mailbox(SERVICE_UPN)
    today = today or date.today()
    for name, email, tz in demo_staff():
        directory.add_mailbox(email, name, aliases=[_alias(email)], password=STAFF_PASSWORD)
        directory.accounts[email.lower()].domain = NETBIOS
        sim.store.ensure_mailbox(email)
        directory.grant(email, SERVICE_UPN, "author")
        _month(sim, email, tz, today)
    if directory.on_accounts_changed:
        directory.on_accounts_changed()
    return ServiceAccount(SERVICE_UPN, SERVICE_PASSWORD, NETBIOS, "svc-sundial")


def _alias(email: str) -> str:
    local, domain = email.split("@")
    first, _, last = local.partition(".")
    return f"{first[:1]}{last}@{domain}"


def _month(sim, email: str, tz: str, today: date):
    from .outlook import Outlook
    person = Outlook(sim, email)
    rnd = random.Random(email)
    zone = ZoneInfo(tz)
    monday = today - timedelta(days=today.weekday())
    first = monday - timedelta(days=7)
    at = lambda d, h, m=0: datetime.combine(d, time(h, m), zone)  # noqa: E731
    person.create_recurring("Weekly team meeting", at(first, 9, 30), at(first, 10), pattern="Weekly",
                            days=["Monday"], tz=tz, location="Conference room")
    thursday = first + timedelta(days=3)
    person.create_recurring("1:1 with manager", at(thursday, 14), at(thursday, 14, 30), pattern="Weekly",
                            interval=2, days=["Thursday"], count=6, tz=tz)
    for offset in range(35):
        day = first + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for _ in range(rnd.choice((0, 1, 1, 2))):
            hour = rnd.choice((8, 10, 11, 13, 15, 16))
            start = at(day, hour, rnd.choice((0, 30)))
            kind = rnd.random()
            person.create(rnd.choice(SUBJECTS), start, start + timedelta(minutes=rnd.choice((30, 45, 60))),
                          tz=tz, free_busy="Free" if kind < 0.15 else "Tentative" if kind < 0.25 else "Busy",
                          sensitivity="Private" if 0.25 <= kind < 0.35 else "Normal",
                          body="Agenda to follow." if kind > 0.5 else "")
    off = first + timedelta(days=rnd.randrange(7, 30))
    if off.weekday() < 5:
        person.create("Out of office", at(off, 0), at(off + timedelta(days=1), 0), all_day=True, tz=tz,
                      free_busy="OOF")
