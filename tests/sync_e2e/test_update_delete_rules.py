"""Exchange-side updates and removals (SPEC U1-U3, U5, D1-D3), end to end."""
from __future__ import annotations

from portal.extensions import db
from portal.models import Appointment, AppointmentChange, Client, OutboxMessage
from portal.sync.notes import MARKER

from .conftest import future
from .owner_ews import owner_edits


def _item_of(world, who, appt):
    return next(i for i in world.items(who) if str(appt.id) in (i.extended or {}).values())


def test_u1_busy_to_free_removes_absence_and_back_adds_it(world):
    ol = world.outlook(world.alice)
    item = ol.create("Gym", future(1, 13), future(1, 14))
    world.initial(world.alice)
    assert len(world.absences(world.alice)) == 1
    ol.make_free(item)
    world.sync(world.alice)
    assert world.absences(world.alice) == []
    ol.make_busy(item)
    world.sync(world.alice)
    assert [a.title for a in world.absences(world.alice)] == ["Gym"]
    assert [r.action for r in world.activity(world.alice, "U1")] == ["removed", "imported"]


def test_u2_time_and_title_change_update_absence(world):
    ol = world.outlook(world.alice)
    item = ol.create("Gym", future(1, 13), future(1, 14))
    world.initial(world.alice)
    ol.move(item, future(1, 16), future(1, 18))
    ol.rename(item, "Swim")
    world.sync(world.alice)
    [a] = world.absences(world.alice)
    assert (a.title, a.start, a.end) == ("Swim", future(1, 16), future(1, 18))


def test_u2_u5_appointment_moved_in_exchange_moves_it_for_every_staff_and_notifies(world):
    world.initial()
    appt = world.book(staff=[world.alice, world.bob])
    world.run()
    ol = world.outlook(world.alice)
    ol.move(_item_of(world, world.alice, appt).id, future(5, 10), future(5, 11))
    world.sync(world.alice)  # also runs the export it enqueues
    db.session.expire_all()
    appt = db.session.get(Appointment, appt.id)
    assert (appt.start, appt.end, appt.status) == (future(5, 10), future(5, 11), "booked")
    assert _item_of(world, world.bob, appt).start == future(5, 10)  # every staff member's copy follows
    subjects = [m.subject for m in db.session.execute(db.select(OutboxMessage)).scalars()]
    assert subjects and all(s.startswith("Rescheduled") for s in subjects)  # U5
    assert {m.recipient for m in db.session.execute(db.select(OutboxMessage)).scalars()} >= {"cleo@example.net"}


def test_u2_service_and_location_edits_in_exchange_are_not_applied(world):
    world.initial(world.alice)
    appt = world.book()
    world.run()
    ol = world.outlook(world.alice)
    item = _item_of(world, world.alice, appt)
    ol.rename(item.id, "Coffee with friend")
    world.sync(world.alice)
    db.session.expire_all()
    appt = db.session.get(Appointment, appt.id)
    assert appt.service.name == "Mortgage advice" and appt.start == future()
    assert db.session.execute(db.select(OutboxMessage)).first() is None


def _reload(appt):
    db.session.expire_all()
    return db.session.get(Appointment, appt.id)


def test_m4_attendee_added_in_exchange_is_not_imported_and_clients_stay_sundials(world):
    world.initial()
    appt = world.book(staff=[world.alice, world.bob])
    world.run()
    item = _item_of(world, world.alice, appt)
    changes_before = db.session.execute(db.select(db.func.count(AppointmentChange.id))).scalar_one()
    owner_edits(world.sim, "alice@example.com", item.id, add_attendee=("Walk In", "walkin@example.org"))
    assert [a.email for a in world.outlook(world.alice).get(item.id).required] == [
        "cleo@example.net", "walkin@example.org"]  # the edit really is in Exchange
    world.sim.counters.reset()
    world.sync(world.alice)
    appt = _reload(appt)
    assert [(c.name, c.email) for c in appt.clients] == [("Cleo Client", "cleo@example.net")]
    assert db.session.execute(db.select(Client).where(Client.email == "walkin@example.org")).first() is None
    assert (appt.start, appt.status) == (future(), "booked")
    assert db.session.execute(db.select(db.func.count(AppointmentChange.id))).scalar_one() == changes_before
    assert db.session.execute(db.select(OutboxMessage)).first() is None  # nothing changed: nobody is told
    assert [a.email for a in _item_of(world, world.bob, appt).required] == ["cleo@example.net"]  # not spread
    assert world.sim.counters.total("UpdateItem") == 0 and world.sim.counters.total("CreateItem") == 0
    assert not [r for r in world.activity(world.alice) if r.action in ("appointment_moved", "notes_updated")]


def test_u2_time_change_in_exchange_applies_location_and_attendee_edits_do_not(world):
    world.initial()
    appt = world.book(staff=[world.alice, world.bob])
    world.run()
    item = _item_of(world, world.alice, appt)
    owner_edits(world.sim, "alice@example.com", item.id, location="Corner coffee shop",
                add_attendee=("A Friend", "friend@example.org"), start=future(5, 10), end=future(5, 11))
    world.sync(world.alice)  # also runs the export it enqueues for Bob's copy
    appt = _reload(appt)
    assert (appt.start, appt.end) == (future(5, 10), future(5, 11))  # the time change is applied …
    assert appt.location.address == "1 Main Street, Springfield"  # … the location and clients are Sundial's
    assert [c.email for c in appt.clients] == ["cleo@example.net"] and appt.service.name == "Mortgage advice"
    bobs = _item_of(world, world.bob, appt)
    assert (bobs.start, bobs.end) == (future(5, 10), future(5, 11))
    assert bobs.location == "1 Main Street, Springfield" and [a.email for a in bobs.required] == ["cleo@example.net"]
    told = {m.recipient for m in db.session.execute(db.select(OutboxMessage)).scalars()
            if m.subject.startswith("Rescheduled")}
    assert "cleo@example.net" in told and "friend@example.org" not in told
    assert [r.rule for r in world.activity(world.alice) if r.action == "appointment_moved"] == ["U2"]


def test_u3_text_above_marker_updates_appointment_notes(world):
    world.initial(world.alice)
    appt = world.book()
    world.run()
    item = _item_of(world, world.alice, appt)
    below = item.body.split(MARKER, 1)[1]
    world.outlook(world.alice).set_body(item.id, f"Client prefers Spanish\n{MARKER}{below}")
    world.sync(world.alice)
    db.session.expire_all()
    assert db.session.get(Appointment, appt.id).notes == "Client prefers Spanish"
    assert world.activity(world.alice, "U3")


def test_d1_event_removed_in_exchange_removes_absence(world):
    ol = world.outlook(world.alice)
    item = ol.create("Gym", future(1, 13), future(1, 14))
    world.initial(world.alice)
    ol.delete(item)
    world.sync(world.alice)
    assert world.absences(world.alice) == []
    assert world.activity(world.alice, "D1")


def test_d2_moving_event_to_another_calendar_counts_as_removal(world):
    ol = world.outlook(world.alice)
    ol.add_calendar("Family")
    item = ol.create("Gym", future(1, 13), future(1, 14))
    world.initial(world.alice)
    ol.move_to_calendar(item, "Family")
    world.sync(world.alice)
    assert world.absences(world.alice) == []
    [why] = [r for r in world.activity(world.alice) if r.action == "removed"]  # the "why" log names the event
    assert why.subject == "Gym" and "moved to another calendar" in why.reason
    # moving it back into the primary calendar is a creation (I2)
    ol.move_to_calendar(ol.items("Family")[0].id, "calendar")
    world.sync(world.alice)
    assert [a.title for a in world.absences(world.alice)] == ["Gym"]


def test_d3_sundial_item_deleted_in_exchange_cancels_for_that_staff_and_notifies(world):
    world.initial()
    appt = world.book(staff=[world.alice, world.bob])
    world.run()
    world.outlook(world.alice).delete(_item_of(world, world.alice, appt).id)
    world.sync(world.alice)
    db.session.expire_all()
    appt = db.session.get(Appointment, appt.id)
    assert appt.status == "booked" and [s.id for s in appt.staff] == [world.bob.id]
    world.outlook(world.bob).delete(_item_of(world, world.bob, appt).id)
    world.sync(world.bob)
    db.session.expire_all()
    appt = db.session.get(Appointment, appt.id)
    assert appt.status == "cancelled"
    cancelled = {m.recipient for m in db.session.execute(db.select(OutboxMessage)).scalars()
                 if m.subject.startswith("Cancelled")}
    assert cancelled == {"cleo@example.net", "bob@example.com"}
    assert world.activity(world.bob, "D3")


def test_u5_no_client_message_when_client_notifications_are_off(world):
    from portal.models import NotificationSetting

    db.session.add(NotificationSetting(audience="clients", enabled=False))
    db.session.commit()
    world.initial(world.alice)
    appt = world.book()
    world.run()
    world.outlook(world.alice).move(_item_of(world, world.alice, appt).id, future(5, 10), future(5, 11))
    world.sync(world.alice)
    recipients = {m.recipient for m in db.session.execute(db.select(OutboxMessage)).scalars()}
    assert recipients == {"alice@example.com"}
