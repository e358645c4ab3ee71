"""Property: whatever happens on both sides — edits, worker crashes, throttling — a quiet sync leaves both
sides with the same busy time, no duplicated Exchange item or absence, and nothing Sundial-owned lost."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from portal.extensions import db
from portal.jobs.apply import FAULTS
from portal.jobs.queues import enqueue_export, enqueue_incremental_sync
from portal.jobs.schedule import tick
from portal.models import (
    Appointment,
    AppointmentChange,
    ExchangeLink,
    ExternalAbsence,
    MailboxState,
    OutboxMessage,
    SyncActivity,
)
from portal.schedule.booking import BookingError, book, cancel, reschedule

from .conftest import future

BLOCKING = {"Busy", "OOF", "Tentative"}
days, hours = st.integers(1, 6), st.integers(8, 17)


def reset(world):
    for model in (ExchangeLink, AppointmentChange, OutboxMessage, SyncActivity, ExternalAbsence, MailboxState):
        db.session.execute(db.delete(model))
    for appt in db.session.execute(db.select(Appointment)).scalars():
        db.session.delete(appt)
    db.session.commit()
    doomed = (ExchangeLink, AppointmentChange, OutboxMessage, SyncActivity, ExternalAbsence, MailboxState, Appointment)
    for obj in [o for o in db.session.identity_map.values() if isinstance(o, doomed)]:
        db.session.expunge(obj)  # bulk DELETE leaves them in the identity map; SQLite reuses their ids
    world.redis.flushdb()
    world.sim.faults.clear()
    for who in world.staff:
        for item in list(world.items(who)):
            world.outlook(who).delete(item.id)


class Crash(RuntimeError):
    pass


def crash():
    raise Crash("worker killed")


class SyncMachine(RuleBasedStateMachine):
    def __init__(self, world):
        super().__init__()
        self.w = world
        reset(world)

    @initialize()
    def connect(self):
        self.w.initial()

    def _who(self, i):
        return self.w.staff[i % 2]

    def _run(self):
        try:
            self.w.run()
        finally:
            FAULTS.clear()

    # ----- Exchange side ------------------------------------------------------------------------------
    @rule(i=st.integers(0, 1), d=days, h=hours, status=st.sampled_from(["Busy", "Busy", "Free", "OOF", "Tentative"]))
    def outlook_create(self, i, d, h, status):
        self.w.outlook(self._who(i)).create(f"ex {d}/{h}", future(d, h), future(d, h + 1), free_busy=status)

    @rule(i=st.integers(0, 1), k=st.integers(0, 20), d=days, h=hours)
    def outlook_move(self, i, k, d, h):
        items = self.w.items(self._who(i))
        if items:
            self.w.outlook(self._who(i)).move(items[k % len(items)].id, future(d, h), future(d, h + 1))

    @rule(i=st.integers(0, 1), k=st.integers(0, 20))
    def outlook_delete(self, i, k):
        items = self.w.items(self._who(i))
        if items:
            self.w.outlook(self._who(i)).delete(items[k % len(items)].id)

    @rule(i=st.integers(0, 1), k=st.integers(0, 20), free=st.booleans())
    def outlook_flip(self, i, k, free):
        items = self.w.items(self._who(i))
        if items:
            ol = self.w.outlook(self._who(i))
            (ol.make_free if free else ol.make_busy)(items[k % len(items)].id)

    # ----- Sundial side -------------------------------------------------------------------------------
    def _appts(self):
        return db.session.execute(db.select(Appointment).where(Appointment.status == "booked")
                                  .order_by(Appointment.id)).scalars().all()

    @rule(d=days, h=hours, who=st.sampled_from([(0,), (1,), (0, 1)]))
    def sundial_book(self, d, h, who):
        try:
            appt = book(service=self.w.service, location=self.w.location, start=future(d, h),
                        staff=[self.w.staff[i] for i in who], clients=[self.w.client])
        except BookingError:
            db.session.rollback()
            return
        db.session.commit()
        enqueue_export(appt.id)

    @rule(k=st.integers(0, 20), d=days, h=hours, drop=st.booleans())
    def sundial_change(self, k, d, h, drop):
        appts = self._appts()
        if not appts:
            return
        appt = appts[k % len(appts)]
        try:
            cancel(appt) if drop else reschedule(appt, future(d, h))
        except BookingError:
            db.session.rollback()
            return
        db.session.commit()
        enqueue_export(appt.id)

    # ----- machinery ----------------------------------------------------------------------------------
    @rule(i=st.integers(0, 1), fault=st.sampled_from([None, None, "after_create", "before_commit", "throttle"]))
    def run_jobs(self, i, fault):
        if fault == "throttle":
            self.w.sim.faults.server_busy(n=1, backoff_ms=300)
        elif fault:
            FAULTS[fault] = crash
        enqueue_incremental_sync(self._who(i).id, "notification")
        try:
            self._run()
        except Crash:
            pass

    @rule(i=st.integers(0, 1))
    def server_forgets_sync_state(self, i):
        """ErrorInvalidSyncStateData on the next sync: a full re-scan must still see every change."""
        ms = db.session.get(MailboxState, self._who(i).id)
        if ms is not None and ms.sync_state:
            ms.sync_state = "Zm9yZ290dGVu"
            db.session.commit()

    @invariant()
    def never_duplicated_in_exchange(self):
        for who in self.w.staff:
            ids = Counter(v for item in self.w.items(who) for v in (item.extended or {}).values())
            assert all(n == 1 for n in ids.values()), ids

    def teardown(self):
        """A quiet sync: no faults; the safety net and change notifications run; then both sides must agree.
        (The safety net alone waits out the back-off after an error; a notification-triggered sync does not.)"""
        FAULTS.clear()
        self.w.sim.faults.clear()
        for _ in range(3):
            tick()
            for who in self.w.staff:
                enqueue_incremental_sync(who.id, "notification")
            self.w.run(scheduled=True)
        check_agreement(self.w)


def busy_in_exchange(world, who):
    return sorted((i.start, i.end) for i in world.items(who) if i.free_busy in BLOCKING)


def busy_in_sundial(world, who):
    db.session.expire_all()
    absences = [(a.start, a.end) for a in world.absences(who) if a.free_busy in BLOCKING]
    appts = [(a.start, a.end) for a in db.session.execute(db.select(Appointment).where(
        Appointment.status == "booked")).scalars() if who in a.staff]
    return sorted(absences + appts)


def check_agreement(world):
    for who in world.staff:
        assert busy_in_exchange(world, who) == busy_in_sundial(world, who), who.email
        links = db.session.execute(db.select(ExchangeLink).where(ExchangeLink.staff_id == who.id)).scalars().all()
        absence_ids = [ln.absence_id for ln in links if ln.absence_id]
        assert len(absence_ids) == len(set(absence_ids)) == len(world.absences(who))
        for appt in db.session.execute(db.select(Appointment).where(Appointment.status == "booked")).scalars():
            if who in appt.staff:  # nothing Sundial-owned lost: exactly one copy each
                copies = [i for i in world.items(who) if str(appt.id) in (i.extended or {}).values()]
                assert len(copies) == 1 and (copies[0].start, copies[0].end) == (appt.start, appt.end)


def test_property_both_sides_agree_after_a_quiet_sync(world):
    world.app.config["EXPORT_RETRY_GRACE_SECONDS"] = 0
    run_state_machine_as_test(
        lambda: SyncMachine(world),
        settings=settings(max_examples=12, stateful_step_count=15, deadline=None, database=None,
                          suppress_health_check=list(HealthCheck)))
    _ = timedelta
