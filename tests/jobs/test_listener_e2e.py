"""G2 end to end: the simulator over HTTP with NTLM, a real RQ queue on the private Redis drained by an
in-process burst worker, the listener running in a thread. No periodic sync runs in these tests: every
change reaches Sundial because a notification (or the listener's catch-up after a failure) enqueued it."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from test_listener_harness import Sundial, drop_connections, listener_thread, open_streams, wait_for

from ews_simulator.testing import running_simulator

pytestmark = pytest.mark.slow
ALICE, BOB = "alice@example.com", "bob@example.com"


def slot(days=3, hour=10):
    d = (datetime.now(UTC) + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return d, d + timedelta(hours=1)


@pytest.fixture
def sim():
    with running_simulator(version="2016", auth="ntlm", heartbeat_s=1.0) as handle:
        for email in (ALICE, BOB):
            handle.add_mailbox(email, name=email.split("@")[0].title())
        yield handle


@pytest.fixture
def sundial(app, sim, redis_url):
    s = Sundial(app, sim, redis_url, [ALICE, BOB])
    s.initial()
    yield s
    s.close()


def streaming(listener, sim, connections=1):
    """The listener holds its streams and the catch-up syncs it enqueued on subscribing have been queued."""
    return wait_for(lambda: listener.runners and all(r.stats["connections"] >= connections
                                                     for r in listener.runners.values())
                    and sim.counters["GetStreamingEvents"] >= connections)


def settle(sundial, listener, reason_part="catch-up"):
    """Run the catch-up syncs the listener enqueued (after subscribing or recovering) so later jobs stand out."""
    wait_for(lambda: sundial.queued() > 0)
    return sundial.run()


def visible(sundial, email, start):
    return any(a.start == start for a in sundial.absences(email))


def test_g2_outlook_change_reaches_sundial_through_a_notification(sundial, sim, app, redis_url):
    with listener_thread(app, redis_url) as listener:
        assert streaming(listener, sim)
        settle(sundial, listener)
        start, end = slot()
        sim.outlook(ALICE).create("Dentist", start, end)
        assert wait_for(lambda: sundial.queued() >= 1)
        ran = sundial.run()
        alice = sundial.by_email(ALICE).id
        assert ("sync_mailbox", (alice, "notification")) in ran
        assert [r for r in ran if r[0] == "sync_mailbox" and r[1][1] != "notification"] == []
        assert visible(sundial, ALICE, start)
        assert sundial.absences(BOB) == []


def test_g2_many_notifications_for_one_mailbox_enqueue_one_sync(sundial, sim, app, redis_url):
    with listener_thread(app, redis_url) as listener:
        assert streaming(listener, sim)
        settle(sundial, listener)
        outlook = sim.outlook(BOB)
        starts = []
        for day in range(5):
            start, end = slot(days=4 + day)
            outlook.create(f"Busy {day}", start, end)
            starts.append(start)
        assert wait_for(lambda: sum(r.stats["events"] for r in listener.runners.values()) >= 5)
        # the runner counts the events just before it triggers the sync: wait for the trigger too
        assert wait_for(lambda: sundial.queued() >= 1)
        assert sundial.queued() == 1  # coalesced while waiting: the one job reads all five changes
        sundial.run()
        assert all(visible(sundial, BOB, s) for s in starts)


def test_g2_dropped_connection_recovers_with_no_missed_change(sundial, sim, app, redis_url):
    with listener_thread(app, redis_url) as listener:
        assert streaming(listener, sim)
        settle(sundial, listener)
        runner = next(iter(listener.runners.values()))
        assert drop_connections(sim) >= 1
        start, end = slot(days=5)
        sim.outlook(ALICE).create("Made while the connection was down", start, end)
        assert wait_for(lambda: runner.stats["dropped"] >= 1 and runner.stats["connections"] >= 2)
        assert wait_for(lambda: sundial.queued() >= 1)
        ran = sundial.run()
        assert any(r[1][1].startswith("listener catch-up: connection dropped") for r in ran)
        assert visible(sundial, ALICE, start)
        # The simulator's dead connection lingers until its next heartbeat write fails; once only the new one
        # is open, the next change must arrive over it.
        assert wait_for(lambda: open_streams(sim) == 1)
        start2, end2 = slot(days=6)
        sim.outlook(BOB).create("After reconnecting", start2, end2)
        assert wait_for(lambda: sundial.queued() >= 1)
        sundial.run()
        assert visible(sundial, BOB, start2)


def test_g2_server_connection_timeout_reopens_with_no_missed_change(sundial, sim, app, redis_url):
    with listener_thread(app, redis_url) as listener:
        assert streaming(listener, sim)
        settle(sundial, listener)
        runner = next(iter(listener.runners.values()))
        subscribes = sim.counters["Subscribe"]
        sim.faults.force_streaming_timeout()  # ConnectionTimeout reached: ConnectionStatus Closed
        start, end = slot(days=7)
        sim.outlook(BOB).create("Made around the renewal", start, end)
        assert wait_for(lambda: runner.stats["renewed"] >= 1 and sim.counters["GetStreamingEvents"] >= 2)
        assert wait_for(lambda: sundial.queued() >= 1)
        sundial.run()
        assert visible(sundial, BOB, start)
        assert sim.counters["Subscribe"] == subscribes  # the subscriptions were kept, not made again


def test_g2_lost_subscription_is_renewed_and_caught_up_with_no_missed_change(sundial, sim, app, redis_url):
    with listener_thread(app, redis_url) as listener:
        assert streaming(listener, sim)
        settle(sundial, listener)
        subscribes = sim.counters["Subscribe"]
        sim.faults.lose_subscription()  # every subscription, as after a CAS restart
        start, end = slot(days=8)
        sim.outlook(ALICE).create("Made while unsubscribed", start, end)  # no subscription hears this one
        assert wait_for(lambda: sim.counters["Subscribe"] >= subscribes + 2)
        assert wait_for(lambda: sundial.queued() >= 1)
        ran = sundial.run()
        alice = sundial.by_email(ALICE).id
        assert ("sync_mailbox", (alice, "listener catch-up: subscription lost")) in ran
        assert visible(sundial, ALICE, start)


def test_g2_a_scheduled_safety_net_run_does_not_delay_a_notification(sundial, sim, app, redis_url):
    """The safety net spreads its runs over the interval (RQ scheduled jobs, same job id as a notification's
    sync): a change must not wait minutes for that slot; the listener moves the run to now."""
    from portal.jobs.queues import enqueue_incremental_sync

    with listener_thread(app, redis_url) as listener:
        assert streaming(listener, sim)
        settle(sundial, listener)
        bob = sundial.by_email(BOB).id
        job = enqueue_incremental_sync(bob, "periodic", delay=240)
        assert job.get_status(refresh=True) == "scheduled"
        start, end = slot(days=9)
        sim.outlook(BOB).create("Must not wait four minutes", start, end)
        assert wait_for(lambda: sundial.queued() >= 1)
        ran = sundial.run()
        assert ("sync_mailbox", (bob, "notification")) in ran
        assert visible(sundial, BOB, start)


def test_g2_a_silently_dead_connection_is_found_by_missed_heartbeats_with_no_missed_change(sundial, sim, app,
                                                                                           redis_url):
    """A firewall drops the hanging connection without a FIN: nothing arrives, not even keep-alives. The
    listener gives up on it after heartbeat_timeout_seconds (5 s here, 90 s in production), not at the
    30-minute ConnectionTimeout, reconnects and catches up."""
    with listener_thread(app, redis_url) as listener:
        assert streaming(listener, sim)
        settle(sundial, listener)
        runner = next(iter(listener.runners.values()))
        sim.faults.stall_streams()
        start, end = slot(days=9)
        sim.outlook(ALICE).create("Made while the connection was silently dead", start, end)
        assert wait_for(lambda: runner.stats["dropped"] >= 1, timeout=30)
        sim.faults.stall_streams(False)
        assert wait_for(lambda: runner.stats["connections"] >= 2)
        assert wait_for(lambda: sundial.queued() >= 1)
        ran = sundial.run()
        assert any(r[1][1].startswith("listener catch-up: connection dropped") for r in ran)
        assert visible(sundial, ALICE, start)
