"""Demo data (idempotent, realistic, conflict-free) and the staff admin pages (G7 hook)."""
from __future__ import annotations

from collections import Counter
from datetime import date, time
from zoneinfo import ZoneInfo

import pytest
from webtools import login

from portal.booking.appointments import find_conflicts
from portal.demo import ADMIN_EMAIL, DEMO_PASSWORD, DEMO_STAFF, seed
from portal.extensions import db
from portal.models import Appointment, Client, Location, Service, StaffMember, User


def _counts():
    return tuple(db.session.execute(db.select(db.func.count()).select_from(m)).scalar_one()
                 for m in (Location, StaffMember, Service, Client, Appointment, User))


def test_demo_staff_list_is_deterministic():
    assert len(DEMO_STAFF) == 25 and len({e for _, e, _ in DEMO_STAFF}) == 25
    assert Counter(tz for *_, tz in DEMO_STAFF).keys() == {"America/New_York", "America/Chicago",
                                                            "America/Los_Angeles"}
    assert all(e.endswith("@sundial-demo.test") and e.count(".") == 2 for _, e, _ in DEMO_STAFF)
    assert DEMO_STAFF[0] == ("Olivia Bennett", "olivia.bennett@sundial-demo.test", "America/New_York")


def test_demo_seed_is_idempotent_and_conflict_free(any_app):
    today = date(2026, 3, 4)
    first = list(seed(today))
    counts = _counts()
    assert counts[:4] == (5, 25, 8, 200) and counts[4] > 300 and counts[5] == 2
    assert list(seed(today)) == first and _counts() == counts  # second run changes nothing
    assert first[1:] == [f"Admin login: {ADMIN_EMAIL} / {DEMO_PASSWORD}",
                         f"Staff login: olivia.bennett@sundial-demo.test / {DEMO_PASSWORD}"]
    appts = db.session.execute(db.select(Appointment)).scalars().all()
    assert any(len(a.staff) > 1 for a in appts) and any(len(a.clients) > 1 for a in appts)
    per_staff = {}
    for a in appts:
        for s in a.staff:
            per_staff.setdefault(s.id, []).append((a.start, a.end))
            local_start, local_end = a.start.astimezone(ZoneInfo(s.timezone)), a.end.astimezone(ZoneInfo(s.timezone))
            assert time(9) <= local_start.time() and local_end.time() <= time(17) and local_start.weekday() < 5
    for spans in per_staff.values():  # no staff member is ever double-booked
        spans.sort()
        assert all(earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:], strict=False))
    sample = appts[len(appts) // 2]  # and the booking rules agree
    assert find_conflicts(sample.staff, sample.start, sample.end, exclude_appointment_id=sample.id) == []
    days = {a.start.date() for a in appts}
    assert min(days) < today < max(days)
    staff_user = db.session.execute(db.select(User).filter_by(role="staff")).scalar_one()
    assert staff_user.staff.email == DEMO_STAFF[0][1] and staff_user.check_password(DEMO_PASSWORD)



@pytest.mark.parametrize("today", [date(2026, 12, 8), date(2026, 3, 4)])
def test_demo_gives_every_staff_member_an_appointment_on_every_weekday(any_app, today):
    """Seeded with the machine's UTC date, the demo's "today" in New York is the day before from 19:00 there. With
    2026-12-08 Olivia had no appointment on 7 December, so an end-to-end test run after midnight UTC found an empty
    day view. Every weekday of the four weeks now holds at least one appointment of every staff member."""
    from datetime import timedelta

    list(seed(today))
    staff = db.session.execute(db.select(StaffMember)).scalars().all()
    seen = {(s.id, a.start.astimezone(ZoneInfo(s.timezone)).date())
            for a in db.session.execute(db.select(Appointment)).scalars() for s in a.staff}
    weekdays = [today + timedelta(days=k) for k in range(-14, 14) if (today + timedelta(days=k)).weekday() < 5]
    missing = [(m.name, d.isoformat()) for m in staff for d in weekdays if (m.id, d) not in seen]
    assert missing == []


def _seed_command(app, *flags):
    result = app.test_cli_runner().invoke(args=["sundial", "seed-demo", *flags])
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def test_demo_seed_if_empty_seeds_only_an_empty_database_and_says_so(app):
    lines = _seed_command(app, "--if-empty")
    assert lines[0] == "The database is empty: adding the demo organisation."
    assert lines[2:] == [f"Admin login: {ADMIN_EMAIL} / {DEMO_PASSWORD}",
                         f"Staff login: {DEMO_STAFF[0][1]} / {DEMO_PASSWORD}"]
    counts = _counts()
    assert counts[:4] == (5, 25, 8, 200) and counts[5] == 2
    again = _seed_command(app, "--if-empty")  # the next `make run` on the same database
    assert again[0].startswith("The database already holds the demo organisation (2 logins, 25 staff members, "
                               "5 locations, 8 services, 200 clients,") and again[0].endswith("nothing was added.")
    assert again[1:] == [f"Admin login: {ADMIN_EMAIL} / {DEMO_PASSWORD} (unless changed since)",
                         f"Staff login: {DEMO_STAFF[0][1]} / {DEMO_PASSWORD} (unless changed since)"]
    assert _counts() == counts


@pytest.mark.parametrize("existing", ["one admin login", "one location, no login"])
def test_demo_seed_if_empty_never_touches_a_database_in_use(app, existing):
    from tests.conftest import make_user

    if existing == "one admin login":
        make_user("boss@bank.example", role="admin")
        expected = "1 login"
    else:
        db.session.add(Location(name="Head office", address="1 Bank St", timezone="Europe/London"))
        db.session.commit()
        expected = "1 location"
    before = _counts()
    lines = _seed_command(app, "--if-empty")
    assert lines == [f"The database is not empty ({expected}); the demo organisation was not added. Sign in "
                     "with an existing login, or create an admin with: flask sundial create-admin EMAIL"]
    assert _counts() == before
    assert db.session.execute(db.select(User).filter_by(email=ADMIN_EMAIL)).first() is None
    assert not any(DEMO_PASSWORD in line for line in lines)


def test_demo_make_run_seeds_only_an_empty_database():
    """scripts/run.sh (make run) calls the seed command with --if-empty every time it seeds."""
    from pathlib import Path

    script = (Path(__file__).resolve().parents[2] / "scripts" / "run.sh").read_text()
    calls = [line for line in script.splitlines() if "seed-demo" in line and not line.lstrip().startswith("#")]
    assert calls and all("seed-demo --if-empty" in line for line in calls), calls


@pytest.fixture
def hook_calls(monkeypatch):
    calls = []
    from portal.jobs import hooks

    monkeypatch.setattr(hooks, "staff_changed", lambda *args: calls.append(args))
    return calls


def test_g7_staff_edit_calls_the_sync_hook_with_the_old_values(client, world, admin_user, hook_calls):
    login(client, admin_user)
    data = {"name": "Sam Staff", "email": "Samuel@Example.test", "timezone": "America/Chicago",
            "takes_appointments": "y", "locations": [world.loc.id], "primary_location": world.chicago.id}
    resp = client.post(f"/admin/staff/{world.sam.id}/edit", data=data)
    assert resp.status_code == 302
    sam = db.session.get(StaffMember, world.sam.id)
    assert (sam.email, sam.timezone, sam.primary_location_id) == ("samuel@example.test", "America/Chicago",
                                                                   world.chicago.id)
    assert {loc.id for loc in sam.locations} == {world.loc.id, world.chicago.id}  # the primary is always included
    data.pop("takes_appointments")
    client.post(f"/admin/staff/{world.sam.id}/edit", data=data)
    assert db.session.get(StaffMember, world.sam.id).takes_appointments is False
    assert hook_calls == [(world.sam.id, "sam@example.test", True), (world.sam.id, "samuel@example.test", True)]


def test_g7_new_staff_and_duplicate_email(client, world, admin_user, hook_calls):
    login(client, admin_user)
    data = {"name": "Nia New", "email": "kim@example.test", "timezone": "America/New_York",
            "takes_appointments": "y", "locations": [world.loc.id], "primary_location": world.loc.id}
    resp = client.post("/admin/staff/new", data=data)
    assert resp.status_code == 200 and "Another staff member already has this email." in resp.get_data(as_text=True)
    data["email"] = "nia@example.test"
    assert client.post("/admin/staff/new", data=data).status_code == 302
    nia = db.session.execute(db.select(StaffMember).filter_by(email="nia@example.test")).scalar_one()
    assert hook_calls == [(nia.id, None, None)]
    page = client.get("/admin/staff").get_data(as_text=True)
    assert "Nia New" in page and "Kim Colleague" in page


def test_org_lists_and_integrations_landing(client, world, admin_user):
    from portal.models import ExchangeIntegration

    login(client, admin_user)
    assert "Jo Client" in client.get("/admin/clients?q=jo").get_data(as_text=True)
    assert "Max Client" not in client.get("/admin/clients?q=jo").get_data(as_text=True)
    assert "60 min" in client.get("/admin/services").get_data(as_text=True)
    assert "America/Chicago" in client.get("/admin/locations").get_data(as_text=True)
    page = client.get("/settings/integrations").get_data(as_text=True)
    assert "Microsoft Exchange" in page and "Not connected" in page and "/settings/integrations/exchange/" in page
    db.session.add(ExchangeIntegration(id=1, state="connected", display_name="Contoso Exchange"))
    db.session.commit()
    page = client.get("/settings/integrations").get_data(as_text=True)
    assert "Contoso Exchange" in page and 'class="badge badge-ok">Connected' in page
    assert 'href="/settings/notifications/clients"' in page  # the settings side navigation


def test_a1_admin_gives_a_staff_member_a_login_and_they_see_their_own_week(app, client, world, admin_user, hook_calls):
    login(client, admin_user)
    data = {"name": "Kim Colleague", "email": "kim@example.test", "timezone": "America/Chicago",
            "takes_appointments": "y", "locations": [world.chicago.id], "primary_location": world.chicago.id,
            "login_password": "short"}
    page = client.post(f"/admin/staff/{world.kim.id}/edit", data=data).get_data(as_text=True)
    assert "Use at least 10 characters." in page
    data["login_password"] = "kims-new-password"
    assert client.post(f"/admin/staff/{world.kim.id}/edit", data=data).status_code == 302
    kim_user = db.session.execute(db.select(User).filter_by(staff_id=world.kim.id)).scalar_one()
    assert (kim_user.email, kim_user.role) == ("kim@example.test", "staff")
    data.update(email="kim.c@example.test", login_password="")  # an email change moves the login along
    assert client.post(f"/admin/staff/{world.kim.id}/edit", data=data).status_code == 302
    assert db.session.get(User, kim_user.id).email == "kim.c@example.test"
    assert db.session.get(User, kim_user.id).check_password("kims-new-password")  # blank keeps it
    other = app.test_client()
    with app.app_context():  # a fresh `g` for the second login
        login(other, db.session.get(User, kim_user.id), password="kims-new-password")
        page = other.get("/schedule").get_data(as_text=True)
    assert "Kim Colleague" in page and "America/Chicago" in page and "staff-picker" not in page
