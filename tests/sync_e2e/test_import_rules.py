"""Which Exchange events reach Sundial (SPEC I1-I5, C1-C5), end to end through the simulator and RQ."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from portal.booking.appointments import BookingConflict, book
from portal.extensions import db
from portal.models import ExchangeIntegration, StaffMember
from portal.sync.notes import MARKER

from .conftest import future


def test_i1_alias_email_is_mailbox_not_found_and_nothing_syncs(world):
    world.sim.add_mailbox("carol@example.com", name="Carol", aliases=["c.alias@example.com"])
    world.sim.outlook("carol@example.com").create("Busy", future(1), future(1) + timedelta(hours=1))
    carol = StaffMember(name="Carol", email="c.alias@example.com", primary_location=world.location)
    db.session.add(carol)
    db.session.commit()
    world.initial(carol)
    st = world.state(carol)
    assert st.state == "mailbox_not_found"
    assert st.tried_address == "c.alias@example.com"
    assert "c.alias@example.com" in st.last_error
    assert world.absences(carol) == []
    assert world.activity(carol, "I1")


def test_i1_email_matches_primary_address_case_insensitively(world):
    world.alice.email = "Alice@Example.COM"
    db.session.commit()
    world.initial(world.alice)
    assert world.state(world.alice).state == "synced"


def test_i2_event_in_another_calendar_is_not_imported(world):
    ol = world.outlook(world.alice)
    ol.add_calendar("Family")
    ol.create("School run", future(1, 13), future(1, 14), calendar="Family")
    ol.create("Client lunch", future(1, 16), future(1, 17))
    world.initial(world.alice)
    assert [a.title for a in world.absences(world.alice)] == ["Client lunch"]


def test_i3_free_event_not_imported(world):
    ol = world.outlook(world.alice)
    ol.create("Free slot", future(1, 13), future(1, 14), free_busy="Free")
    ol.create("Elsewhere", future(1, 15), future(1, 16), free_busy="WorkingElsewhere")
    ol.create("Holiday", future(2, 13), future(2, 14), free_busy="OOF")
    world.initial(world.alice)
    assert [a.title for a in world.absences(world.alice)] == ["Holiday"]
    reasons = " ".join(a.reason for a in world.activity(world.alice, "I3"))
    assert "Free" in reasons and "WorkingElsewhere" in reasons


def test_i3_tentative_blocks_only_when_the_setting_says_so(world):
    ExchangeIntegration.get().block_tentative = False
    db.session.commit()
    ol = world.outlook(world.alice)
    item = ol.create("Maybe", future(1, 13), future(1, 14), free_busy="Tentative")
    world.initial(world.alice)
    assert world.absences(world.alice) == []
    assert "Configuration tab" in world.activity(world.alice, "I3")[-1].reason
    ExchangeIntegration.get().block_tentative = True
    db.session.commit()
    ol.rename(item, "Maybe!")  # the next change is judged with the new setting
    world.sync(world.alice)
    assert [a.title for a in world.absences(world.alice)] == ["Maybe!"]


def test_i4_events_before_the_window_never_import(world):
    ol = world.outlook(world.alice)
    old = ol.create("Last week", future(-7, 15), future(-7, 16))
    ol.create("Yesterday", future(-1, 15), future(-1, 16))
    world.initial(world.alice)
    assert [a.title for a in world.absences(world.alice)] == ["Yesterday"]
    ol.move(old, future(-6, 15), future(-6, 16))
    world.sync(world.alice)
    assert [a.title for a in world.absences(world.alice)] == ["Yesterday"]
    assert world.activity(world.alice, "I4")


def test_i5_multi_staff_appointment_lands_in_both_calendars(world):
    world.initial()
    appt = world.book(staff=[world.alice, world.bob])
    world.run()
    for who in (world.alice, world.bob):
        [item] = world.items(who)
        assert item.extended and str(appt.id) in item.extended.values()


def test_c1_c2_exchange_event_becomes_busy_absence_at_primary_location(world):
    world.outlook(world.alice).create("Doctor", future(2, 14), future(2, 15))
    world.initial(world.alice)
    [absence] = world.absences(world.alice)
    assert absence.location_id == world.location.id and absence.free_busy == "Busy"
    assert (absence.start, absence.end) == (future(2, 14), future(2, 15))
    with pytest.raises(BookingConflict):
        book(service=world.service, location=world.location, start=future(2, 14) + timedelta(minutes=30),
             staff=[world.alice], clients=[world.client])


def test_c3_absence_shown_in_staff_time_zone(world, client, admin_user, login_as):
    july = date(datetime.now(UTC).year + 1, 7, 1)  # always ahead, always summer time in New York
    start = datetime(july.year, 7, 1, 14, 0, tzinfo=UTC)
    world.outlook(world.alice).create("Doctor", start, start + timedelta(hours=1))
    world.initial(world.alice)
    login_as(client, admin_user)
    page = client.get(f"/schedule?staff={world.alice.id}&week={july.isoformat()}").get_data(as_text=True)
    assert "10:00" in page  # 14:00 UTC is 10:00 in New York (EDT)


def test_c4_text_above_marker_becomes_internal_notes(world):
    ol = world.outlook(world.alice)
    ol.create("Training", future(1, 13), future(1, 14), body=f"Room 4B\n\n{MARKER}\nagenda attached")
    ol.create("Review", future(2, 13), future(2, 14), body="no marker: nothing is imported")
    ol.create("Html", future(3, 13), future(3, 14))
    html_id = ol.items()[-1].id
    ol.set_body(html_id, f"<html><body><p>Bring <b>ID</b></p><p>{MARKER}</p></body></html>",
                body_type="HTML")
    world.initial(world.alice)
    notes = {a.title: a.notes for a in world.absences(world.alice)}
    assert notes == {"Training": "Room 4B", "Review": "", "Html": "Bring ID"}


def test_c5_private_event_has_no_title_or_body(world):
    ol = world.outlook(world.alice)
    ol.create("Therapy", future(1, 13), future(1, 14), sensitivity="Private", body=f"secret\n{MARKER}")
    ol.create("Standup", future(1, 15), future(1, 16))
    world.initial(world.alice)
    by_start = world.absences(world.alice)
    assert [(a.title, a.notes, a.is_private) for a in by_start] == [("", "", True), ("Standup", "", False)]


def test_c5_titles_hidden_when_setting_off(world):
    ExchangeIntegration.get().show_titles = False
    db.session.commit()
    world.outlook(world.alice).create("Standup", future(1, 15), future(1, 16))
    world.initial(world.alice)
    assert [a.title for a in world.absences(world.alice)] == [""]
