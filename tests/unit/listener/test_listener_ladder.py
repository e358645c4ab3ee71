"""G2/G9: a group the server keeps refusing backs off, then steps down the ladder — halves, one mailbox per
connection, pull, polling — and says why per mailbox."""
from __future__ import annotations

import pytest
from listener_fakes import wait_for

from portal.ews_soap import StreamItem, SubscriptionLost
from portal.listener.groups import Group, Target, plan_groups
from portal.listener.ladder import Rung, next_rung
from portal.listener.process import ListenerSettings
from portal.listener.runners import StreamRunner

SETTINGS = ListenerSettings(min_backoff_seconds=0.02, max_backoff_seconds=0.2, connection_timeout_minutes=5,
                            step_down_after=3)
FOUR = tuple(Target(f"m{i}@example.com", i) for i in range(4))


def refusal(ids):
    """What the issue-12 field server answers: one ErrorInvalidSubscription per SubscriptionId, in order."""
    return [StreamItem(connection_status="Closed", error=SubscriptionLost("x", code="ErrorInvalidSubscription"),
                       error_subscription_ids=[i]) for i in ids]


class RefusingSession:
    """Every GetStreamingEvents carrying more than one subscription is refused, per subscription."""

    def __init__(self):
        self.calls = []
        self.n = 0

    def subscribe_streaming(self, mailboxes, anchor):
        from portal.ews_soap import Subscription

        self.calls.append(("subscribe", mailboxes[0]))
        self.n += 1
        return [Subscription(f"s{self.n}", mailboxes[0])]

    def stream_events(self, ids, anchor, minutes, on_open=None, cookie=None, idle_timeout=None):
        self.calls.append(("stream", tuple(ids)))
        if on_open is not None:
            on_open(lambda: None)
        return iter(refusal(ids) if len(ids) > 1 else [StreamItem(connection_status="OK"),
                                                       StreamItem(connection_status="Closed")])


def test_g9_refused_group_backs_off_then_asks_to_step_down_without_catch_up_syncs(recorder):
    session = RefusingSession()
    runner = StreamRunner(Group("streaming:t:1:0", "streaming", FOUR), lambda: session, recorder, SETTINGS)
    runner.start()
    runner.join(5)
    assert not runner.is_alive()
    assert runner.step_down == ([t.mailbox for t in FOUR], 4, "ErrorInvalidSubscription")
    assert [c[0] for c in session.calls].count("stream") == 3  # three refusals, then it stops asking
    assert runner.stats["backoff_waits"] == 2  # it waited between them
    assert recorder.calls == []  # a refused connection never enqueued a sync


@pytest.mark.parametrize("size, mode, expect", [(4, "streaming", ("streaming", 2)), (2, "streaming", ("streaming", 1)),
                                                (1, "streaming", ("pull", 1)), (1, "pull", ("polling", 1))])
def test_g9_each_refusal_moves_one_rung_down(size, mode, expect):
    rung = next_rung(None, size, mode, "ErrorInvalidSubscription", "fp", now=0)
    assert (rung.mode, rung.cap) == expect


def test_g2_plan_splits_pulls_and_drops_stepped_down_mailboxes():
    targets = [*FOUR, Target("n@example.com", 9)]
    rungs = {"m0@example.com": Rung("streaming", 1, "ErrorInvalidSubscription", 0),
             "m1@example.com": Rung("streaming", 1, "ErrorInvalidSubscription", 0),
             "m2@example.com": Rung("pull", 1, "ErrorInvalidSubscription", 0),
             "m3@example.com": Rung("polling", 1, "ErrorInvalidSubscription", 0)}
    plan = plan_groups(targets, "2016", True, rungs=rungs)
    shapes = sorted((g.mode, tuple(g.mailboxes)) for g in plan.groups)
    assert shapes == [("pull", ("m2@example.com",)), ("streaming", ("m0@example.com",)),
                      ("streaming", ("m1@example.com",)), ("streaming", ("n@example.com",))]
    assert any(g.key.startswith("pull:fallback") for g in plan.groups)


def test_g9_reasons_name_the_code_and_the_rung():
    at = 14 * 3600 + 2 * 60
    assert Rung("streaming", 1, "ErrorInvalidSubscription", at).sentence() == (
        "Streaming refused by the server (ErrorInvalidSubscription) — split to single-mailbox connections "
        "since 14:02 UTC.")
    assert "pull subscriptions since 14:02 UTC" in Rung("pull", 1, "ErrorInvalidSubscription", at).sentence()
    assert "periodic sync only" in Rung("polling", 1, "ErrorInvalidSubscription", at).sentence()


def test_g2_g9_listener_steps_a_refused_group_down_to_single_mailbox_connections(redis_url):
    import uuid

    from flask import Flask
    from listener_fakes import RecordingTrigger
    from redis import Redis

    from portal.listener.process import Listener, World

    session = RefusingSession()
    targets = list(FOUR)
    world = World(True, "fp", plan_groups(targets, "2016", True), None, "", tuple(targets), "2016", True)
    settings = ListenerSettings(refresh_seconds=0, tick_seconds=0.01, lease_ms=2000, min_backoff_seconds=0.01,
                                max_backoff_seconds=0.05, step_down_after=2, connection_timeout_minutes=5)
    listener = Listener(Flask("t"), Redis.from_url(redis_url), settings, owner="o", trigger=RecordingTrigger(),
                        session_factory_for=lambda w: (lambda: session), world_reader=lambda s: world,
                        prefix=f"test-ladder:{uuid.uuid4().hex[:6]}")
    listener._write_notes = lambda: None  # no database in this unit test

    def settled():
        listener.step()
        return sorted(len(g.members) for g in listener.world.plan.groups) == [1, 1, 1, 1] and \
            all(len(r.subs) == 1 for r in listener.runners.values()) and len(listener.runners) == 4

    try:
        assert wait_for(settled, timeout=10)
        rungs = listener.ladder.rungs("fp")
        assert {r.cap for r in rungs.values()} == {1} and len(rungs) == 4
        streams = [c for c in session.calls if c[0] == "stream"]
        assert {len(c[1]) for c in streams} == {4, 2, 1}  # 4 → halves of 2 → singles
    finally:
        listener.close()
        listener.ladder.clear()


def test_g9_a_pull_subscription_refused_again_and_again_asks_to_step_that_mailbox_down(fake_session, recorder):
    from portal.listener.pull import PullRunner

    class Refusing(type(fake_session)):
        def get_events(self, mailbox, subscription_id, watermark):
            if mailbox == "m1@example.com":
                self.calls.append(("get_events", mailbox, subscription_id, watermark))
                raise SubscriptionLost("x", code="ErrorInvalidSubscription")
            return super().get_events(mailbox, subscription_id, watermark)

    session = Refusing()
    settings = ListenerSettings(pull_interval_seconds=0.01, fallback_pull_interval_seconds=0.01, step_down_after=3)
    runner = PullRunner(Group("pull:fallback:0", "pull", FOUR[:2]), lambda: session, recorder, settings)
    runner.start()
    try:
        assert wait_for(lambda: runner.step_down is not None)
        assert runner.step_down == (["m1@example.com"], 1, "ErrorInvalidSubscription")  # → polling (next_rung)
        assert runner.is_alive()  # the other mailbox keeps its pull subscription
    finally:
        runner.stop()
        runner.join(2)
