"""P1 Today, P4 change cursor, P5 Exchange blocks, P7 staff access: the day view and its neighbours."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from html import unescape

from sqlalchemy import event
from webtools import NY, login

from portal.extensions import db
from portal.models import Appointment, ExchangeIntegration, ExternalAbsence, Location, StaffMember

DAY = "2026-03-09"


def _columns(html: str) -> list[str]:
    return re.findall(r'class="staff-name"[^>]*>([^<]+)</a>', html)


def test_p1_everyone_lands_on_today(client, world, admin_user):
    login(client, admin_user)
    assert client.get("/").headers["Location"].endswith("/day")
    page = client.get("/day").get_data(as_text=True)
    assert "now-line" in page  # today has the current-time line
    assert re.search(r"<h1>Today ", page)


def test_p1_admin_day_view_has_a_column_per_staff_member_of_the_location(client, world, admin_user):
    login(client, admin_user)
    page = client.get(f"/day?location={world.loc.id}&date={DAY}").get_data(as_text=True)
    assert _columns(page) == ["Kim Colleague", "Sam Staff"]
    assert f'data-key="a{world.appt.id}"' in page and f'data-key="x{world.absence.id}"' in page
    assert "America/Chicago" in page  # Kim's own zone is named under her column
    loc = world.loc.id
    assert f'href="/day?date=2026-03-08&amp;location={loc}" aria-label="Previous day"' in page
    assert f'href="/day?date=2026-03-10&amp;location={loc}" aria-label="Next day"' in page
    chicago_only = client.get(f"/day?location={world.chicago.id}&date={DAY}").get_data(as_text=True)
    assert _columns(chicago_only) == ["Kim Colleague"]


def test_p1_the_location_choice_is_remembered(client, world, admin_user):
    login(client, admin_user)
    client.get(f"/day?location={world.chicago.id}")
    assert f'value="{world.chicago.id}" selected' in client.get("/day").get_data(as_text=True)


def _extra(before: list[str], after: list[str]) -> str:
    """The statements one run made more often than the other (a pointer when the count test fails)."""
    from collections import Counter

    def tables(stmts):
        return Counter(" ".join(q.split()).split(" WHERE ")[0][-120:] for q in stmts)

    return f"more: {dict(tables(after) - tables(before))}; fewer: {dict(tables(before) - tables(after))}"


def test_p1_the_day_view_query_count_does_not_grow_with_staff(client, world, admin_user, app):
    login(client, admin_user)

    def count_queries(url):
        seen = []
        listener = lambda c, cur, stmt, *a: seen.append(stmt)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert client.get(url).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return seen

    url = f"/day?location={world.loc.id}&date={DAY}"
    count_queries(url)  # warm-up: the first request after signing in loads more
    before = count_queries(url)
    start = datetime(2026, 3, 9, 11, 0, tzinfo=NY)
    for i in range(12):
        member = StaffMember(name=f"Extra {i:02d}", email=f"extra{i}@example.test", timezone="America/New_York",
                             primary_location=world.loc, locations=[world.loc])
        db.session.add(member)
        db.session.add(Appointment(service=world.service, location=world.loc, start=start,
                                   end=start + timedelta(hours=1), staff=[member], clients=[world.jo]))
        db.session.add(ExternalAbsence(staff=member, start=start + timedelta(hours=2), end=start + timedelta(hours=3),
                                       free_busy="Busy"))
    db.session.commit()  # expires every object the shared session holds: warm up again
    count_queries(url)
    after = count_queries(url)
    assert len(_columns(client.get(url).get_data(as_text=True))) == 14
    assert len(after) == len(before), _extra(before, after)


def test_p1_p7_staff_land_on_their_own_day_and_can_see_their_location_read_only(client, world):
    login(client, world.staff_user)
    own = client.get(f"/day?date={DAY}").get_data(as_text=True)
    assert _columns(own) == ["Sam Staff"]
    everyone = client.get(f"/day?date={DAY}&everyone=1").get_data(as_text=True)
    assert _columns(everyone) == ["Kim Colleague", "Sam Staff"]
    assert "data-book=" not in everyone  # read-only: the organisation has not turned self-service on
    refused = client.get(f"/day?location={world.chicago.id}")
    assert refused.status_code == 403
    assert "Chicago Loop is not one of your locations" in refused.get_data(as_text=True)


def test_p7_another_staff_members_week_is_403_with_a_sentence(client, world):
    login(client, world.staff_user)
    resp = client.get(f"/schedule?staff={world.kim.id}")
    assert resp.status_code == 403
    page = unescape(resp.get_data(as_text=True))
    assert "This is Kim Colleague's schedule; staff members can open only their own" in page
    assert client.get(f"/schedule?staff={world.sam.id}").status_code == 200


def test_p4_the_change_cursor_moves_on_every_change(client, world, admin_user):
    login(client, admin_user)
    first = client.get("/schedule/changes").get_json()["cursor"]
    assert client.get("/schedule/changes").get_json()["cursor"] == first
    world.appt.end = world.appt.end + timedelta(minutes=15)
    world.appt.updated_at = world.appt.updated_at + timedelta(seconds=1)
    db.session.commit()
    second = client.get("/schedule/changes").get_json()["cursor"]
    assert second != first
    db.session.delete(world.absence)
    db.session.commit()
    assert client.get("/schedule/changes").get_json()["cursor"] not in (first, second)


def test_p5_an_appointment_overlapping_exchange_busy_time_is_flagged(client, world, admin_user):
    login(client, admin_user)
    db.session.add(ExternalAbsence(staff=world.sam, start=world.appt.start + timedelta(minutes=30),
                                   end=world.appt.end + timedelta(minutes=30), free_busy="OOF"))
    db.session.add(ExternalAbsence(staff=world.kim, start=world.appt.start, end=world.appt.end, free_busy="Free"))
    db.session.commit()
    page = client.get(f"/day?location={world.loc.id}&date={DAY}").get_data(as_text=True)
    flagged = re.findall(r'data-key="(a\d+)"[^>]*>\s*<span class="block-title"><span class="flag"', page)
    assert "is-flagged" in page and "Overlaps Exchange busy time" in page
    week = client.get(f"/schedule?staff={world.sam.id}&week={DAY}").get_data(as_text=True)
    assert "is-flagged" in week
    assert flagged == [] or flagged == [f"a{world.appt.id}"]


def test_p5_c5_an_exchange_block_opens_its_details_title_only_when_allowed(client, world, admin_user):
    login(client, admin_user)
    page = client.get(f"/absences/{world.absence.id}").get_data(as_text=True)
    assert '<h1 id="absence-title">Busy</h1>' in page and "Dentist" not in page
    assert "13:00–14:00 EDT" in page and "America/New_York" in page and "Blocks booking" in page
    assert re.search(rf'id="activity-link" href="[^"]*/accounts/{world.sam.id}/activity"', page)
    integration = ExchangeIntegration(id=1, show_titles=True)
    db.session.add(integration)
    db.session.commit()
    assert '<h1 id="absence-title">Dentist</h1>' in client.get(f"/absences/{world.absence.id}").get_data(as_text=True)
    world.absence.is_private = True
    db.session.commit()
    assert '<h1 id="absence-title">Busy</h1>' in client.get(f"/absences/{world.absence.id}").get_data(as_text=True)


def test_p5_staff_open_busy_time_only_at_their_locations(client, world):
    other = Location(name="Far Away", timezone="Europe/London")
    stranger = StaffMember(name="Stranger", email="stranger@example.test", timezone="Europe/London",
                           primary_location=other, locations=[other])
    far = ExternalAbsence(staff=stranger, start=world.appt.start, end=world.appt.end, free_busy="Busy")
    db.session.add_all([other, stranger, far])
    db.session.commit()
    login(client, world.staff_user)
    assert client.get(f"/absences/{world.absence.id}").status_code == 200
    assert client.get(f"/absences/{far.id}").status_code == 403
