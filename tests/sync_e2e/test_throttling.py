"""G3 end to end: HTTP 503 / 429 with Retry-After in the middle of incremental syncs. Every worker of that server
waits as long as the server asked (nothing is sent before the back-off expires), the User Accounts tab says
"throttled until …", and afterwards every held-back mailbox and export is synced once: nothing lost, nothing
applied twice."""
from __future__ import annotations

import time
from collections import Counter

import pytest

from portal.engine.connect import server_key
from portal.extensions import db
from portal.jobs.queues import enqueue_incremental_sync
from portal.models import Appointment, ExchangeIntegration, OutboxMessage, SyncActivity

from .conftest import future

RETRY_AFTER = 3  # seconds (Retry-After is whole seconds); above the 2 s a worker would wait inline


class ArrivalSpy:
    """Wraps the simulator's request validator to note when each authenticated EWS request arrived."""

    def __init__(self, inner):
        self.inner, self.arrivals = inner, []

    def errors(self, element, copy=False):
        self.arrivals.append((time.time(), element.tag.rsplit("}", 1)[-1]))
        return self.inner.errors(element, copy=copy) if self.inner else []


def _backoff_expires_at(world) -> float:
    """When the back-off every worker shares for this server ends (its Redis key's expiry)."""
    key = f"sundial:ews:{server_key(ExchangeIntegration.get())}:backoff"
    return time.time() + max(world.redis.pttl(key), 0) / 1000.0


def _mine(world, who, appt_id):
    return [i for i in world.items(who) if str(appt_id) in (i.extended or {}).values()]


@pytest.mark.parametrize("status", [503, 429])
def test_g3_http_503_or_429_with_retry_after_waits_then_resyncs_every_held_back_change_once(
        world, client, admin_user, login_as, status):
    world.app.config["EWS_MAX_INLINE_BACKOFF_SECONDS"] = 2.0
    world.initial()
    appt = world.book(start=future(3, 15))
    world.run()
    ol_alice, ol_bob = world.outlook(world.alice), world.outlook(world.bob)
    # changes on both sides while the server is about to refuse service
    ol_alice.create("Storm", future(1, 13), future(1, 14))
    ol_alice.move(_mine(world, world.alice, appt.id)[0].id, future(4, 10), future(4, 11))  # U2 on an appointment
    ol_bob.create("Bob's storm", future(2, 9), future(2, 10))
    spy = world.sim.sim.request_validator = ArrivalSpy(world.sim.sim.request_validator)
    try:
        getattr(world.sim.faults, f"http_{status}")(1, retry_after_s=RETRY_AFTER)
        asked = time.time()
        world.sync(world.alice)  # its first request is refused with Retry-After
        expires = _backoff_expires_at(world)
        assert expires >= asked + RETRY_AFTER - 0.01  # Sundial waits at least as long as the server asked
        st = world.state(world.alice)
        assert st.state == "throttled" and st.throttled_until.timestamp() >= asked + RETRY_AFTER - 0.01
        login_as(client, admin_user)
        page = client.get("/settings/integrations/exchange/accounts").get_data(as_text=True)
        assert f"wait until {st.throttled_until:%H:%M:%S} UTC" in page  # the tab says so

        # during the back-off: another mailbox, a Sundial booking's export and the retry itself all hold back
        late = world.book(start=future(5, 11), staff=[world.bob])
        enqueue_incremental_sync(world.bob.id, "notification")
        world.run(scheduled=True)
        assert [t for t, _op in spy.arrivals if t > asked] == []  # not one request to the server
        assert world.state(world.bob).state == "throttled"

        # the retries run before the back-off is over: the last stretch is waited inline, never sent early
        time.sleep(max(expires - time.time() - 1.5, 0))
        world.run(scheduled=True)
        world.run(scheduled=True)  # the exports the syncs enqueued (U2's copy for everyone on it)
    finally:
        world.sim.sim.request_validator = spy.inner
    after = [t for t, _op in spy.arrivals if t > asked]
    assert after and min(after) >= expires - 0.01
    assert world.sim.counters[(f"({status})", "")] == 1  # one refusal, no retry loop against it

    assert world.state(world.alice).state == world.state(world.bob).state == "synced"
    assert [a.title for a in world.absences(world.alice)] == ["Storm"]
    assert [a.title for a in world.absences(world.bob)] == ["Bob's storm"]
    db.session.expire_all()
    moved = db.session.get(Appointment, appt.id)
    assert (moved.start, moved.end) == (future(4, 10), future(4, 11))
    assert [(i.start, i.end) for i in _mine(world, world.alice, appt.id)] == [(future(4, 10), future(4, 11))]
    assert len(_mine(world, world.bob, late.id)) == 1  # the held-back export: exactly one copy
    done = Counter((r.staff_id, r.action, r.subject) for r in db.session.execute(db.select(SyncActivity)).scalars()
                   if r.action in ("imported", "appointment_moved", "exported"))
    assert set(done.values()) == {1}, done  # each change applied exactly once
    assert (world.alice.id, "appointment_moved", "Mortgage advice") in done
    rescheduled = [m.recipient for m in db.session.execute(db.select(OutboxMessage)).scalars()
                   if m.subject.startswith("Rescheduled")]
    assert sorted(rescheduled) == sorted(set(rescheduled)) and "cleo@example.net" in rescheduled  # told once
