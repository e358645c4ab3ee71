"""G2: the listener's main loop: leases split between processes, takeover, pause, re-authorization."""
from __future__ import annotations

import uuid

import pytest
import redis as redis_lib
from flask import Flask
from listener_fakes import FakeSession, RecordingTrigger, wait_for

from portal.ews_soap import AuthenticationFailed
from portal.listener.groups import Plan, Target, plan_groups
from portal.listener.process import Listener, ListenerSettings, World

SETTINGS = ListenerSettings(refresh_seconds=0, tick_seconds=0.01, lease_ms=400, min_backoff_seconds=0.01,
                            lost_backoff_seconds=0.01,
                            max_backoff_seconds=0.05)
TARGETS = [Target(f"u{i:03d}@example.com", i) for i in range(250)]


class Worldly:
    """A world reader the test can change between passes."""

    def __init__(self):
        self.world = World(True, "config-1", plan_groups(TARGETS, "2016", True), None)

    def __call__(self, settings):
        return self.world

    def disconnect(self):
        self.world = World(False, "", Plan("off", "not connected", ()))


@pytest.fixture
def env(redis_url):
    prefix = f"t{uuid.uuid4().hex[:8]}"
    r = redis_lib.Redis.from_url(redis_url)
    made = []

    def make(owner, world, session=None):
        session = session or FakeSession()
        listener = Listener(Flask(owner), r, SETTINGS, owner=owner, trigger=RecordingTrigger(),
                            session_factory_for=lambda cfg: (lambda: session), world_reader=world, prefix=prefix)
        listener.session = session
        made.append(listener)
        return listener

    yield make
    for listener in made:
        listener.close()
    r.close()


def test_g2_250_mailboxes_open_two_connections_in_one_listener(env):
    one = env("one", Worldly())
    one.step()
    assert sorted(one.runners) == sorted(g.key for g in one.world.plan.groups)
    assert wait_for(lambda: len(one.session.streams) == 2)
    assert sorted(len(s.ids) for s in one.session.streams) == sorted(len(g.members) for g in one.world.plan.groups)
    assert sum(len(s.ids) for s in one.session.streams) == 250


def test_g2_two_listeners_split_the_groups_and_one_takes_over_when_the_other_dies(env):
    world = Worldly()
    one, two = env("one", world), env("two", world)
    one.coord.heartbeat()
    two.coord.heartbeat()
    one.step()
    two.step()
    assert len(one.runners) == 1 and len(two.runners) == 1
    assert set(one.runners) | set(two.runners) == set(world.world.plan.by_key())
    taken = set(two.runners)
    two.crash()  # killed: no release, no goodbye

    def takeover():
        one.step()
        return len(one.runners) == 2

    assert wait_for(takeover, timeout=5)
    assert taken <= set(one.runners)
    assert one.coord.owner_of(next(iter(taken))) == "one"


def test_g2_a_newcomer_receives_its_share(env):
    world = Worldly()
    one = env("one", world)
    one.step()
    assert len(one.runners) == 2
    two = env("two", world)
    two.coord.heartbeat()
    one.step()  # gives one group back
    assert len(one.runners) == 1
    two.step()
    assert len(two.runners) == 1 and set(one.runners).isdisjoint(two.runners)


def test_g2_paused_or_disconnected_integration_stops_every_connection(env):
    world = Worldly()
    one = env("one", world)
    one.step()
    runners = list(one.runners.values())
    world.disconnect()
    one.step()
    assert one.runners == {} and all(not r.is_alive() for r in runners)
    assert all(one.coord.owner_of(g.key) is None for g in Worldly().world.plan.groups)


def test_g2_rejected_credentials_stop_listening_until_reauthorized(env):
    world = Worldly()
    session = FakeSession()
    session.subscribe_errors = [AuthenticationFailed("401"), AuthenticationFailed("401")]
    one = env("one", world, session)
    one.step()
    assert wait_for(lambda: all(r.fatal for r in one.runners.values()))
    one.step()
    assert one.runners == {} and one.blocked_fingerprint == "config-1"
    one.step()
    assert one.runners == {} and session.count("subscribe_streaming") == 2  # the password is not retried
    world.world = World(True, "config-2", world.world.plan, None)  # admin authorized again
    one.step()
    assert len(one.runners) == 2


def test_g2_mailboxes_joining_are_picked_up_on_refresh(env):
    world = Worldly()
    one = env("one", world)
    one.step()
    wait_for(lambda: len(one.session.streams) == 2)
    world.world = World(True, "config-1", plan_groups(TARGETS + [Target("new@example.com", 999)], "2016", True),
                        None)
    one.step()
    assert wait_for(lambda: "new@example.com" in one.session.subscribed())
    assert one.session.subscribed().count("u001@example.com") == 1


def test_g2_a_connection_silent_past_the_heartbeat_timeout_is_reopened_with_catch_up(env):
    from dataclasses import replace

    world = Worldly()
    world.world = World(True, "config-1", plan_groups(TARGETS[:3], "2016", True), None)
    one = env("one", world)
    one.settings = replace(SETTINGS, connection_timeout_minutes=30, heartbeat_timeout_seconds=0.2)
    one.step()
    assert wait_for(lambda: len(one.session.streams) == 1)

    def reopened():
        one.step()  # the watchdog runs in every pass
        return len(one.session.streams) >= 2

    assert wait_for(reopened)
    runner = next(iter(one.runners.values()))
    assert runner.stats["dropped"] >= 1
    assert one.trigger.staff("connection dropped")[:3] == [0, 1, 2]


def _dead_pid() -> int:
    import subprocess

    proc = subprocess.Popen(["true"])
    proc.wait()  # reaped: this pid names no process now
    return proc.pid


def test_r4_a_listener_killed_on_this_host_is_taken_over_at_once_not_after_its_lease(env):
    """R4: the supervisor restarts a killed listener within a second; waiting out the dead one's 30 s lease
    (its owner name says host and pid) would leave Outlook changes unseen for that long."""
    import socket

    host = socket.gethostname()
    dead = f"{host}:{_dead_pid()}:abc123"
    slow = ListenerSettings(**{**SETTINGS.__dict__, "lease_ms": 60_000})
    ghost = env(dead, Worldly())
    ghost.settings = slow
    ghost.coord.lease_ms = 60_000
    ghost.step()
    keys = sorted(ghost.runners)
    assert keys and all(ghost.coord.owner_of(k) == dead for k in keys)
    ghost.crash()  # kill -9: leases (60 s) and liveness left behind
    heir = env(f"{host}:{__import__('os').getpid()}:def456", Worldly())
    heir.step()
    assert sorted(heir.runners) == keys  # the whole share at once: the dead peer no longer counts as live
    assert all(heir.coord.owner_of(k) == heir.owner for k in keys)


def test_r4_a_live_or_remote_listener_keeps_its_lease(env):
    """Only a pid that is gone on this very host frees a lease early: a peer elsewhere (or one still running
    here) keeps its groups until its lease lapses."""
    import os
    import socket

    from portal.listener.coord import dead_here

    assert not dead_here(f"elsewhere.example:{_dead_pid()}:x")
    assert not dead_here(f"{socket.gethostname()}:{os.getppid()}:x")
    assert not dead_here("one")
    assert dead_here(f"{socket.gethostname()}:{_dead_pid()}:x")
    remote = env(f"elsewhere.example:{_dead_pid()}:x", Worldly())
    remote.step()
    keys = sorted(remote.runners)
    remote.crash()
    heir = env(f"{socket.gethostname()}:{os.getpid()}:y", Worldly())
    heir.step()
    assert not heir.runners and all(heir.coord.owner_of(k) == remote.owner for k in keys)


def test_g2_a_parked_mailbox_joins_once_its_affinity_is_known_or_after_a_while(env):
    """Issue 15: a mailbox whose server affinity is not known yet waits outside the groups (no regrouping once it is
    learnt); if Autodiscover never answers, it joins with the EWS server's affinity after park_at_most."""
    known = [Target(f"u{i:03d}@example.com", i, "dag-1") for i in range(10)]
    parked = (Target("new@example.com", 999, "https://ews.example.com"),)

    def world(parked_now=parked, extra=()):
        targets = tuple(known) + tuple(extra)
        return World(True, "config-1", plan_groups(list(targets), "2016", True), None, "", targets, "2016", True,
                     parked=parked_now)

    worldly = Worldly()
    worldly.world = world()
    one = env("one", worldly)
    one._write_notes = lambda: None  # the ladder's notes go to the database, which this test has none of
    one.step()
    members = {t.mailbox for g in one.world.plan.groups for t in g.members}
    assert "new@example.com" not in members and len(members) == 10
    first_group = {g.key: g.members for g in one.world.plan.groups}
    # its affinity is learnt: it joins a group of its own affinity, nobody else moves
    worldly.world = world((), (Target("new@example.com", 999, "dag-2"),))
    one.step()
    after = {g.key: g.members for g in one.world.plan.groups}
    assert all(after[k] == v for k, v in first_group.items())
    assert any(t.mailbox == "new@example.com" for g in one.world.plan.groups for t in g.members)
    # another never answered: after park_at_most it joins with the EWS server's affinity
    late = (Target("late@example.com", 998, "https://ews.example.com"),)
    worldly.world = world(late, (Target("new@example.com", 999, "dag-2"),))
    one.step()
    assert "late@example.com" not in {t.mailbox for g in one.world.plan.groups for t in g.members}
    one.park_at_most = 0.0
    one.step()
    assert "late@example.com" in {t.mailbox for g in one.world.plan.groups for t in g.members}
