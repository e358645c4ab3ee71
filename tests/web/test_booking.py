"""Booking rules (C2, C5, I3, I5): conflicts name what is in the way; every change is recorded for export."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from webtools import build_world, make_staff_user

from portal.booking.appointments import BookingConflict, BookingError, book, cancel, edit, find_conflicts, reschedule
from portal.extensions import db
from portal.models import AppointmentChange, ExchangeIntegration, ExternalAbsence

NY = ZoneInfo("America/New_York")
T10 = datetime(2026, 3, 9, 10, 0, tzinfo=NY)  # world.appt: Sam, 10:00–11:00; absence "Dentist" 13:00–14:00


def _book(w, start, staff=None, clients=None, **kw):
    return book(service=w.service, location=w.loc, start=start, staff=staff or [w.sam],
                clients=clients or [w.max], **kw)


def test_c2_booking_over_appointment_refused(world):
    with pytest.raises(BookingConflict) as exc:
        _book(world, T10 + timedelta(minutes=30))
    assert exc.value.messages == ["Sam Staff is busy Mon 9 Mar 10:00–11:00 EDT with Consultation (Jo Client)."]


def test_c2_booking_over_absence_refused_and_shows_busy(world):
    with pytest.raises(BookingConflict) as exc:
        _book(world, T10 + timedelta(hours=2, minutes=30))
    assert exc.value.messages == ["Sam Staff has an Exchange absence (Busy) Mon 9 Mar 13:00–14:00 EDT."]


def test_c5_conflict_names_the_title_only_when_allowed_and_not_private(world):
    db.session.add(ExchangeIntegration(id=1, show_titles=True))
    db.session.commit()
    with pytest.raises(BookingConflict) as exc:
        _book(world, T10 + timedelta(hours=3))
    assert "(Dentist)" in exc.value.messages[0]
    world.absence.is_private = True
    with pytest.raises(BookingConflict) as exc:
        _book(world, T10 + timedelta(hours=3))
    assert "(Busy)" in exc.value.messages[0] and "Dentist" not in exc.value.messages[0]


def test_c2_back_to_back_is_not_a_conflict(world):
    appt = _book(world, T10 + timedelta(hours=1))  # 11:00–12:00 right after 10:00–11:00
    assert appt.end == T10 + timedelta(hours=2)
    assert find_conflicts([world.sam], T10 + timedelta(hours=2), T10 + timedelta(hours=3)) == []


@pytest.mark.parametrize("status", ["Free", "WorkingElsewhere", "NoData"])
def test_i3_non_busy_absences_never_block(world, status):
    world.absence.free_busy = status
    db.session.commit()
    assert _book(world, T10 + timedelta(hours=3)).id


def test_i3_tentative_blocks_unless_the_admin_turns_it_off(world):
    world.absence.free_busy = "Tentative"
    db.session.commit()
    with pytest.raises(BookingConflict):
        _book(world, T10 + timedelta(hours=3))
    db.session.add(ExchangeIntegration(id=1, block_tentative=False))
    db.session.commit()
    assert _book(world, T10 + timedelta(hours=3)).id


def test_i5_multi_staff_conflict_of_the_second_staff_member_refused(world):
    db.session.add(ExternalAbsence(staff=world.kim, start=T10 + timedelta(hours=5), end=T10 + timedelta(hours=6),
                                   title="Offsite", free_busy="OOF"))
    db.session.commit()
    with pytest.raises(BookingConflict) as exc:
        _book(world, T10 + timedelta(hours=5), staff=[world.sam, world.kim])
    # Kim's own time zone (Chicago) in the message.
    assert exc.value.messages == ["Kim Colleague has an Exchange absence (Busy) Mon 9 Mar 14:00–15:00 CDT."]


def test_i5_every_conflict_of_every_staff_member_is_listed(world):
    other = _book(world, T10 + timedelta(hours=6), staff=[world.kim], clients=[world.jo])
    db.session.commit()
    assert other.id
    with pytest.raises(BookingConflict) as exc:
        book(service=world.service, location=world.loc, start=T10, end=T10 + timedelta(hours=7),
             staff=[world.sam, world.kim], clients=[world.max])
    kinds = [(c.staff.name, c.kind) for c in exc.value.conflicts]
    assert kinds == [("Sam Staff", "appointment"), ("Sam Staff", "absence"), ("Kim Colleague", "appointment")]


def test_i5_multi_staff_multi_client_booking_is_recorded_for_export(world, admin_user):
    appt = _book(world, T10 + timedelta(hours=1), staff=[world.sam, world.kim, world.sam],
                 clients=[world.jo, world.max], notes="Bring ID", actor=admin_user)
    db.session.commit()
    assert [s.name for s in appt.staff] == ["Sam Staff", "Kim Colleague"]
    assert {c.name for c in appt.clients} == {"Jo Client", "Max Client"}
    assert appt.end - appt.start == timedelta(minutes=60)  # the service's duration
    changes = db.session.execute(db.select(AppointmentChange).filter_by(appointment_id=appt.id)).scalars().all()
    assert [(c.kind, c.actor_user_id, c.exported_at) for c in changes] == [("booked", admin_user.id, None)]
    assert appt.updated_at == changes[0].created_at
    # now each of them is busy for the other's booking
    with pytest.raises(BookingConflict):
        _book(world, T10 + timedelta(hours=1), staff=[world.kim])


def test_c2_booking_needs_staff_clients_and_a_positive_length(world):
    with pytest.raises(BookingError) as exc:
        book(service=world.service, location=world.loc, start=T10 + timedelta(days=1), end=T10 + timedelta(days=1),
             staff=[], clients=[])
    assert exc.value.messages == ["The appointment must end after it starts.", "Choose at least one staff member.",
                                  "Choose at least one client."]
    world.kim.takes_appointments = False
    with pytest.raises(BookingError, match="Kim Colleague does not take appointments"):
        _book(world, T10 + timedelta(days=1), staff=[world.kim])


def test_c2_reschedule_checks_conflicts_but_not_against_itself(world):
    appt = world.appt
    reschedule(appt, T10 + timedelta(minutes=30))  # overlaps only its old self
    assert (appt.start, appt.end) == (T10 + timedelta(minutes=30), T10 + timedelta(minutes=90))
    with pytest.raises(BookingConflict, match="Exchange absence"):
        reschedule(appt, T10 + timedelta(hours=2, minutes=30))
    kinds = [c.kind for c in db.session.execute(db.select(AppointmentChange)).scalars()]
    assert kinds == ["rescheduled"]


def test_c2_edit_records_what_changed(world):
    appt = world.appt
    assert edit(appt, notes="Call first") == ["edited"]
    assert edit(appt, staff=[world.kim], start=T10 + timedelta(days=1)) == ["rescheduled", "edited", "staff_removed"]
    assert [s.name for s in appt.staff] == ["Kim Colleague"]
    assert edit(appt) == []
    with pytest.raises(BookingConflict):  # adding Sam back at a time Sam is busy
        edit(appt, staff=[world.kim, world.sam], start=T10 + timedelta(hours=3))


def test_c2_cancel_frees_the_time_and_is_recorded(world):
    cancel(world.appt)
    db.session.commit()
    assert _book(world, T10).id
    with pytest.raises(BookingError, match="already cancelled"):
        cancel(world.appt)
    kinds = [c.kind for c in db.session.execute(db.select(AppointmentChange).order_by(AppointmentChange.id)).scalars()]
    assert kinds == ["cancelled", "booked"]


def test_c2_conflicts_on_both_databases(any_app):
    """The overlap query (joins, aware UTC columns) behaves the same on SQLite and PostgreSQL."""
    w = build_world(make_staff_user())
    with pytest.raises(BookingConflict) as exc:
        _book(w, T10 - timedelta(minutes=59), staff=[w.kim, w.sam])
    assert exc.value.messages == ["Sam Staff is busy Mon 9 Mar 10:00–11:00 EDT with Consultation (Jo Client)."]
    appt = _book(w, T10 - timedelta(hours=1), staff=[w.kim, w.sam], clients=[w.jo, w.max])
    db.session.commit()
    assert len(find_conflicts([w.kim], T10 - timedelta(minutes=30), T10)) == 1
    assert appt.start.tzinfo is not None


def test_c3_service_length_is_real_time_across_the_fall_back_hour(world):
    first_0130 = datetime(2026, 11, 1, 1, 30, tzinfo=NY)  # EDT; an hour later the wall clock says 01:30 again
    appt = _book(world, first_0130)
    assert appt.end - appt.start == timedelta(hours=1)
    assert appt.end.astimezone(NY).strftime("%H:%M %Z") == "01:30 EST"
    edit(appt, start=first_0130)
    assert appt.end - appt.start == timedelta(hours=1)


def _wait_until_blocked(other) -> bool:
    """PostgreSQL reports the second booking waiting on the row lock; SQLite gives no such view, so the
    second booking must still be running (waiting for the write lock) half a second later."""
    if db.engine.dialect.name == "sqlite":
        other.join(0.5)
        return other.is_alive()
    with db.engine.connect() as watcher:
        for _ in range(6000):
            waiting = watcher.execute(db.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'")).scalar_one()
            if waiting:
                return waiting == 1
            watcher.rollback()
            other.join(0.01)
    return False


def test_c2_concurrent_bookings_are_serialized_per_staff_member(any_app):
    """Two admins book the same person for the same time at once: exactly one booking stands, on
    PostgreSQL and on SQLite.

    The first booking holds the staff lock (uncommitted); the second waits for it in another thread,
    then sees the committed booking and is refused.
    """
    import threading

    w = build_world(make_staff_user())
    ids = {"service": w.service.id, "loc": w.loc.id, "sam": w.sam.id, "client": w.max.id}
    slot = T10 + timedelta(days=2)
    _book(w, slot)  # not committed yet: holds Sam's row lock
    outcome = {}

    def second_admin():
        with any_app.app_context():
            from portal.models import Client, Location, Service, StaffMember

            try:
                book(service=db.session.get(Service, ids["service"]), location=db.session.get(Location, ids["loc"]),
                     start=slot, staff=[db.session.get(StaffMember, ids["sam"])],
                     clients=[db.session.get(Client, ids["client"])])
                db.session.commit()
                outcome["result"] = "booked"
            except BookingConflict as exc:
                db.session.rollback()
                outcome["result"] = exc.messages

    other = threading.Thread(target=second_admin)
    other.start()
    assert _wait_until_blocked(other)
    db.session.commit()  # the first booking lands; the second proceeds and must see it
    other.join(60)
    assert outcome["result"] == ["Sam Staff is busy Wed 11 Mar 10:00–11:00 EDT with Consultation (Max Client)."]
