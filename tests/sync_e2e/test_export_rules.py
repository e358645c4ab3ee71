"""Sundial → Exchange (SPEC E1-E4, M1-M4), end to end: booking code → export job → simulator calendar."""
from __future__ import annotations

from portal.booking.appointments import cancel, edit, reschedule
from portal.engine.apply import FAULTS
from portal.extensions import db
from portal.models import Appointment, AppointmentChange, ExchangeLink
from portal.sync.notes import MARKER

from .conftest import future


def _mine(world, who, appt):
    return [i for i in world.items(who) if str(appt.id) in (i.extended or {}).values()]


def test_e1_m1_m2_m3_m4_booking_becomes_busy_item_with_marker_body(world):
    world.initial()
    appt = world.book(start=future(3, 15))
    world.run()
    [item] = _mine(world, world.alice, appt)
    assert item.subject == "Mortgage advice"  # M1
    assert item.location == "1 Main Street, Springfield"  # M2
    assert item.organizer.email.lower() == "alice@example.com"  # M3
    assert [a.email for a in item.required] == ["cleo@example.net"]  # M4
    assert item.free_busy == "Busy" and (item.start, item.end) == (future(3, 15), future(3, 16))
    head, _, tail = item.body.partition(MARKER)
    assert head.strip() == "" and "Cleo Client" in tail
    assert world.sim.counters.total("CreateItem") == 1
    change = db.session.execute(db.select(AppointmentChange)).scalar_one()
    assert change.exported_at is not None


class Spy:
    """Wraps the simulator's request validator to see each request's operation element."""

    def __init__(self, inner):
        self.inner, self.ops = inner, []

    def errors(self, element, copy=False):
        self.ops.append((element.tag.rsplit("}", 1)[-1], dict(element.attrib)))
        return self.inner.errors(element, copy=copy) if self.inner else []


def test_e1_e2_no_invitations_updates_or_cancellations_sent(world):
    spy = world.sim.sim.request_validator = Spy(world.sim.sim.request_validator)
    try:
        world.initial()
        appt = world.book()
        world.run()
        reschedule(appt, future(5, 9))
        db.session.commit()
        from portal.jobs.queues import enqueue_export

        enqueue_export(appt.id)
        world.run()
        cancel(appt)
        db.session.commit()
        enqueue_export(appt.id)
        world.run()
    finally:
        world.sim.sim.request_validator = spy.inner
    sends = {op: attrs for op, attrs in spy.ops if op in ("CreateItem", "UpdateItem", "DeleteItem")}
    assert sends["CreateItem"]["SendMeetingInvitations"] == "SendToNone"
    assert sends["UpdateItem"]["SendMeetingInvitationsOrCancellations"] == "SendToNone"
    assert sends["DeleteItem"]["SendMeetingCancellations"] == "SendToNone"


def test_e1_crash_after_createitem_never_duplicates(world):
    world.initial(world.alice)

    def crash():
        raise RuntimeError("worker killed after CreateItem, before the commit")

    FAULTS["after_create"] = crash
    appt = world.book()
    world.run()
    assert db.session.execute(db.select(ExchangeLink)).first() is None  # the commit never happened
    assert len(_mine(world, world.alice, appt)) == 1
    FAULTS.clear()
    from portal.jobs.queues import enqueue_export

    enqueue_export(appt.id)  # RQ retry / the next change
    world.run()
    world.sync(world.alice)
    assert len(_mine(world, world.alice, appt)) == 1
    assert len(world.items(world.alice)) == 1


def test_e2_reschedule_edit_cancel_update_or_remove_the_item(world):
    world.initial()
    appt = world.book(staff=[world.alice, world.bob])
    world.run()
    reschedule(appt, future(6, 9))
    db.session.commit()
    from portal.jobs.queues import enqueue_export

    enqueue_export(appt.id)
    world.run()
    assert _mine(world, world.bob, appt)[0].start == future(6, 9)
    edit(appt, staff=[world.bob])  # Alice removed: her copy goes
    db.session.commit()
    enqueue_export(appt.id)
    world.run()
    assert _mine(world, world.alice, appt) == [] and len(_mine(world, world.bob, appt)) == 1
    cancel(appt)
    db.session.commit()
    enqueue_export(appt.id)
    world.run()
    assert _mine(world, world.bob, appt) == []
    assert world.sim.counters.total("DeleteItem") == 2


def test_e3_changed_on_both_sides_sundial_wins(world):
    world.initial(world.alice)
    appt = world.book(start=future(3, 15))
    world.run()
    [item] = _mine(world, world.alice, appt)
    world.outlook(world.alice).move(item.id, future(3, 17), future(3, 18))  # Exchange changes …
    reschedule(appt, future(4, 11))  # … and so does Sundial, before any sync
    db.session.commit()
    world.sync(world.alice)  # the sync sees both changed
    from portal.jobs.queues import enqueue_export

    enqueue_export(appt.id)
    world.run()
    db.session.expire_all()
    assert db.session.get(Appointment, appt.id).start == future(4, 11)
    assert _mine(world, world.alice, appt)[0].start == future(4, 11)


def test_e4_absences_are_never_exported(world):
    world.outlook(world.alice).create("Dentist", future(2, 10), future(2, 11))
    world.initial()
    world.sync()
    assert world.items(world.bob) == []
    assert world.sim.counters.total("CreateItem") == 0 and world.sim.counters.total("UpdateItem") == 0


def test_e2_exported_item_not_echoed_back_as_change(world):
    world.initial(world.alice)
    appt = world.book()
    world.run()
    world.sync(world.alice)
    world.sync(world.alice)
    db.session.expire_all()
    assert db.session.get(Appointment, appt.id).start == future()
    assert world.sim.counters.total("UpdateItem") == 0
    assert not [r for r in world.activity(world.alice) if r.action in ("appointment_moved", "notes_updated")]
