"""G2: one group's connection lifecycle against a scripted EWS session (no network)."""
from __future__ import annotations

import pytest
from listener_fakes import changed, wait_for

from portal.ews_soap import AuthenticationFailed, MailboxNotFound, StreamItem, SubscriptionLost
from portal.listener.groups import Group, Target
from portal.listener.process import ListenerSettings
from portal.listener.pull import PullRunner
from portal.listener.runners import StreamRunner

SETTINGS = ListenerSettings(min_backoff_seconds=0.01, max_backoff_seconds=0.05, pull_interval_seconds=0.05,
                            lost_backoff_seconds=0.01,
                            connection_timeout_minutes=5)
MEMBERS = (Target("a@example.com", 1), Target("b@example.com", 2), Target("c@example.com", 3))


@pytest.fixture
def runner_for(fake_session, recorder):
    made = []

    def make(cls=StreamRunner, members=MEMBERS):
        runner = cls(Group("streaming:default:1:0", "streaming", members), lambda: fake_session, recorder, SETTINGS)
        made.append(runner)
        runner.start()
        return runner

    yield make
    for r in made:
        r.stop()
        r.join(2)
        assert not r.is_alive()


def started_stream_runner(session, trigger, **settings) -> StreamRunner:
    """A StreamRunner of MEMBERS with SETTINGS changed by `settings`, started (the test stops it)."""
    from dataclasses import replace

    runner = StreamRunner(Group("streaming:default:1:0", "streaming", MEMBERS), lambda: session, trigger,
                          replace(SETTINGS, **settings))
    runner.start()
    return runner


def sub_of(runner, mailbox):
    return next(s for s, t in runner.subs.items() if t.mailbox == mailbox)


def test_g2_one_connection_for_the_group_anchored_on_its_first_mailbox(runner_for, fake_session, recorder):
    runner = runner_for()
    wait_for(lambda: fake_session.streams)
    assert fake_session.calls[:3] == [("subscribe_streaming", (m,), "a@example.com")
                                      for m in ("a@example.com", "b@example.com", "c@example.com")]
    call = fake_session.calls[3]
    assert call[0] == "stream_events" and len(call[1]) == 3 and call[2] == "a@example.com" and call[3] == 5
    assert recorder.staff("new subscription") == [1, 2, 3]  # catch-up for the time before listening
    fake_session.streams[0].items.put(changed(sub_of(runner, "b@example.com")))
    assert wait_for(lambda: recorder.staff("notification") == [2])


def test_g2_status_heartbeats_enqueue_nothing(runner_for, fake_session, recorder):
    runner = runner_for()
    wait_for(lambda: fake_session.streams)
    stream = fake_session.streams[0]
    stream.items.put(StreamItem(connection_status="OK"))
    stream.items.put(changed(sub_of(runner, "a@example.com"), kind="status"))
    stream.items.put(changed(sub_of(runner, "c@example.com"), kind="created"))
    assert wait_for(lambda: recorder.staff("notification") == [3])
    assert recorder.staff("notification") == [3]


def test_g2_server_timeout_reopens_with_the_same_subscriptions_and_no_catch_up(runner_for, fake_session, recorder):
    runner_for()
    wait_for(lambda: fake_session.streams)
    first = fake_session.streams[0]
    first.items.put(StreamItem(connection_status="Closed"))
    assert wait_for(lambda: len(fake_session.streams) == 2)
    assert fake_session.streams[1].ids == first.ids
    assert fake_session.count("subscribe_streaming") == 3  # one per mailbox, at the start only
    assert recorder.staff("catch-up: connection") == []


def test_g2_dropped_connection_reconnects_and_catches_up_every_mailbox(runner_for, fake_session, recorder):
    runner = runner_for()
    wait_for(lambda: fake_session.streams)
    fake_session.streams[0].items.put(ConnectionResetError("peer reset"))
    assert wait_for(lambda: len(fake_session.streams) == 2)
    assert wait_for(lambda: recorder.staff("connection dropped") == [1, 2, 3])
    assert runner.stats["dropped"] == 1
    fake_session.streams[1].items.put(changed(sub_of(runner, "a@example.com")))
    assert wait_for(lambda: recorder.staff("notification") == [1])


def test_g2_watchdog_abort_of_a_silent_connection_reconnects_and_catches_up(runner_for, fake_session, recorder):
    runner = runner_for()
    wait_for(lambda: fake_session.streams)
    runner.abort()  # what the listener does when no data came within timeout + slack
    assert wait_for(lambda: len(fake_session.streams) == 2)
    assert wait_for(lambda: recorder.staff("connection dropped") == [1, 2, 3])


def test_g2_lost_subscription_is_made_again_without_watermark_and_caught_up(runner_for, fake_session, recorder):
    runner = runner_for()
    wait_for(lambda: fake_session.streams)
    lost = sub_of(runner, "b@example.com")
    kept = {sub_of(runner, "a@example.com"), sub_of(runner, "c@example.com")}
    fake_session.streams[0].items.put(StreamItem(error=SubscriptionLost("x", code="ErrorSubscriptionNotFound"),
                                                 error_subscription_ids=[lost]))
    assert wait_for(lambda: len(fake_session.streams) == 2)
    assert fake_session.calls[-2][0:2] == ("subscribe_streaming", ("b@example.com",))
    assert kept < set(fake_session.streams[1].ids) and lost not in fake_session.streams[1].ids
    assert recorder.staff("new subscription") == [1, 2, 3]  # the start
    assert recorder.staff("subscription lost") == [2]  # its own reason: never flushed early (flush_if_stable)


def test_g2_stream_refused_as_lost_resubscribes_the_whole_group(runner_for, fake_session, recorder):
    runner_for()
    wait_for(lambda: fake_session.streams)
    fake_session.streams[0].items.put(SubscriptionLost("x", code="ErrorInvalidSubscription"))
    assert wait_for(lambda: len(fake_session.streams) == 2)
    assert fake_session.count("subscribe_streaming") == 6
    assert recorder.staff("new subscription") == [1, 1, 2, 2, 3, 3]


def test_g2_new_members_join_without_resubscribing_the_others(runner_for, fake_session, recorder):
    runner = runner_for()
    wait_for(lambda: fake_session.streams)
    runner.update(Group(runner.group.key, "streaming", MEMBERS + (Target("d@example.com", 4),)))
    assert wait_for(lambda: len(fake_session.streams) == 2)
    assert fake_session.subscribed().count("a@example.com") == 1
    assert len(fake_session.streams[1].ids) == 4
    assert recorder.staff("new subscription") == [1, 2, 3, 4]


def test_g2_rejected_credentials_stop_the_runner_without_retrying(runner_for, fake_session, recorder):
    fake_session.subscribe_errors.append(AuthenticationFailed("401"))
    runner = runner_for()
    runner.join(2)
    assert not runner.is_alive() and isinstance(runner.fatal, AuthenticationFailed)
    assert fake_session.count("subscribe_streaming") == 1


def test_g2_pull_subscriptions_poll_and_trigger_on_change(runner_for, fake_session, recorder):
    from portal.ews_soap import MailboxEvent

    runner = runner_for(PullRunner)
    assert wait_for(lambda: fake_session.count("get_events") >= 6)
    assert recorder.staff("new subscription") == [1, 2, 3] and recorder.staff("notification") == []
    with fake_session.lock:
        fake_session.events["b@example.com"] = [MailboxEvent("created", item_id="i")]
    assert wait_for(lambda: recorder.staff("notification") == [2])
    watermarks = [c[3] for c in fake_session.calls if c[0] == "get_events" and c[1] == "a@example.com"]
    assert watermarks[:3] == ["w0", "w0+", "w0++"]  # each call carries the previous watermark
    assert runner.stats["polls"] >= 6


def test_g2_lost_pull_subscription_is_renewed_and_caught_up(runner_for, fake_session, recorder):
    runner_for(PullRunner)
    wait_for(lambda: fake_session.count("get_events") >= 3)
    with fake_session.lock:
        fake_session.lost_pull.add("c@example.com")
    assert wait_for(lambda: recorder.staff("new subscription") == [1, 2, 3, 3])
    assert fake_session.count("subscribe_pull") == 4


def test_g2_one_mailbox_that_cannot_subscribe_does_not_silence_its_group(runner_for, fake_session, recorder):
    fake_session.mailbox_errors["b@example.com"] = MailboxNotFound("gone", address="b@example.com")
    runner = runner_for()
    assert wait_for(lambda: fake_session.streams)
    assert sorted(t.mailbox for t in runner.subs.values()) == ["a@example.com", "c@example.com"]
    assert runner.stats["mailbox_errors"] == 1
    fake_session.streams[0].items.put(changed(sub_of(runner, "c@example.com")))
    assert wait_for(lambda: recorder.staff("notification") == [3])


def deferring_trigger():
    """A trigger whose debounce defers every catch-up after the first (a trailing run, minutes away) and which
    records what the listener flushes early."""
    from listener_fakes import RecordingTrigger

    class Deferring(RecordingTrigger):
        def __init__(self):
            super().__init__()
            self.flushed: list[list[int]] = []

        def catch_up_many(self, staff_ids, reason, debounce_s):
            return list(staff_ids)

        def flush_trailing(self, staff_ids, reason, min_gap_s, debounce_s):
            self.flushed.append(sorted(staff_ids))
            return []

    return Deferring()


def test_r4_g9_catch_ups_deferred_by_the_debounce_are_flushed_once_the_stream_is_healthy(fake_session):
    """A connection dropped again within the debounce window defers its catch-ups (G9); the listener's main loop
    flushes them once the new connection has been healthy for `catch_up_stable_seconds` (R4), not before."""
    import time

    trigger = deferring_trigger()
    runner = started_stream_runner(fake_session, trigger, catch_up_stable_seconds=0.4)
    try:
        wait_for(lambda: fake_session.streams)
        assert wait_for(lambda: trigger.staff("new subscription") == [1, 2, 3])  # the first ones run at once
        fake_session.streams[0].items.put(ConnectionResetError("peer reset"))
        assert wait_for(lambda: len(fake_session.streams) == 2)
        wait_for(lambda: runner._aborter is not None)
        runner.settle_if_open(0.0)  # the new connection is open: what it owes is settled (and deferred)
        assert wait_for(lambda: len(runner._trailing) == 3)
        runner.flush_if_stable()
        assert trigger.flushed == []  # not yet healthy long enough
        time.sleep(0.5)
        runner.flush_if_stable()
        assert trigger.flushed == [[1, 2, 3]] and not runner._trailing
        runner.flush_if_stable()
        assert trigger.flushed == [[1, 2, 3]]  # once
    finally:
        runner.stop()
        runner.join(2)


def test_r4_g9_a_stream_that_stayed_open_ends_the_failure_streak(fake_session, recorder):
    """The soak's late change: a group that had failed many times over a long run waited a back-off of minutes
    after one more drop, though its last connection had streamed for a long while. A connection open for
    `stream_stable_seconds` ends the streak; one that drops at once keeps counting (G9)."""
    import time

    runner = started_stream_runner(fake_session, recorder, stream_stable_seconds=0.2)
    try:
        wait_for(lambda: fake_session.streams)
        runner.backoff.failures = 8  # a long history of passing faults
        first = fake_session.streams[0]
        first.items.put(StreamItem(connection_status="OK"))  # open
        first.items.put(ConnectionResetError("peer reset"))  # ... and dropped at once: still the same streak
        assert wait_for(lambda: len(fake_session.streams) == 2)
        assert runner.backoff.failures == 9
        second = fake_session.streams[1]
        second.items.put(StreamItem(connection_status="OK"))
        time.sleep(0.3)
        second.items.put(StreamItem(connection_status="OK"))  # a keep-alive after the stable time
        assert wait_for(lambda: runner.backoff.failures == 0)
        second.items.put(ConnectionResetError("peer reset"))
        assert wait_for(lambda: len(fake_session.streams) == 3)
        assert runner.backoff.failures == 1  # the first failure of a new streak: a back-off from the start
    finally:
        runner.stop()
        runner.join(2)


def test_g9_catch_ups_after_subscriptions_lost_on_an_open_connection_wait_for_their_trailing_run(fake_session):
    """A CAS restart loses subscriptions but the connection stays healthy: flushing those deferred catch-ups
    early would cost a Subscribe and a sync per mailbox per lost round (G9's storm test: a server losing them
    every minute went over two requests per mailbox per minute). They keep the debounce's trailing run."""
    trigger = deferring_trigger()
    runner = started_stream_runner(fake_session, trigger, catch_up_stable_seconds=0.0)
    try:
        wait_for(lambda: fake_session.streams)
        assert wait_for(lambda: trigger.staff("new subscription") == [1, 2, 3])
        lost = sub_of(runner, "b@example.com")
        fake_session.streams[0].items.put(StreamItem(error=SubscriptionLost("x", code="ErrorSubscriptionNotFound"),
                                                     error_subscription_ids=[lost]))
        assert wait_for(lambda: len(fake_session.streams) == 2)
        fake_session.streams[1].items.put(StreamItem(connection_status="OK"))  # open: the loss is settled
        assert wait_for(lambda: not runner._owed)
        runner.flush_if_stable()
        assert trigger.flushed == [] and not runner._trailing
    finally:
        runner.stop()
        runner.join(2)
