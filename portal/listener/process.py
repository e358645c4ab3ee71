"""The notification listener (SPEC G2): `flask sundial listener`.

One long-running process, separate from the RQ workers. Every few seconds it re-reads which mailboxes are
connected, plans groups of ≤ 200 mailboxes (listener_groups), takes the groups it can lease in Redis
(listener_coord) and runs one thread per group (listener_runners). A notification only enqueues the
mailbox's incremental sync; the sync job does the reading. The periodic safety-net sync stays on in
every mode, so a listener that is down costs latency, never data.

Modes: streaming (Exchange 2010 SP1 and later, impersonation on), pull subscriptions polled every 7 s
(Exchange 2010 RTM; once a minute for mailboxes beyond a streaming connection limit Exchange reported, see
listener_limit), none with delegate
access (Exchange refuses subscriptions through delegate access: the safety net alone, logged once).
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import replace

from ..ops.state_metrics import fallback_sentence, publish_listener_stats
from .affinity import LISTENED_STATES, AffinityRefresher
from .coord import PREFIX, Coordinator, SyncTrigger, rq_trigger
from .groups import plan_groups
from .ladder import Ladder, write_notes
from .limit import Assignment, LearntLimit
from .pull import PullRunner
from .runners import StreamRunner
from .world import ListenerSettings, World, default_session_factory, read_world

log = logging.getLogger("portal.listener")

__all__ = ["LISTENED_STATES", "Listener", "ListenerSettings", "World", "read_world", "run_listener"]


class Listener:
    """Owns the runner threads of this process. `step()` is one pass of the main loop (tests call it)."""

    RUNNERS = {"streaming": StreamRunner, "pull": PullRunner}

    def __init__(self, app, redis, settings: ListenerSettings | None = None, owner: str | None = None,
                 trigger: SyncTrigger | None = None, session_factory_for=default_session_factory,
                 world_reader=read_world, prefix: str = PREFIX):
        self.app = app
        self.settings = settings or ListenerSettings.from_config(app.config)
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.coord = Coordinator(redis, self.owner, self.settings.lease_ms, prefix=prefix)
        self.ladder = Ladder(redis, prefix, self.settings.ladder_retry_hours)
        self.assignment = Assignment(redis, prefix)  # sticky packing, shared by every listener process
        self.learnt = LearntLimit(redis, prefix, self.settings.ladder_retry_hours)
        self.trigger = trigger or rq_trigger(redis, prefix)
        self.session_factory_for = session_factory_for
        self.world_reader = world_reader
        self.runners: dict[str, object] = {}
        self.world: World | None = None
        self.blocked_fingerprint: str | None = None  # credentials rejected for this configuration
        self._last_refresh = 0.0
        self._notes_written: dict | None = None
        self._last_mode_note = ""
        self._parked_since: dict[str, float] = {}
        self.park_at_most = max(60.0, 4 * self.settings.refresh_seconds)

    # ---- one pass
    def step(self, force_refresh: bool = False) -> None:
        now = time.monotonic()
        if force_refresh or self.world is None or now - self._last_refresh >= self.settings.refresh_seconds:
            with self.app.app_context():
                self._apply_world(self.world_reader(self.settings))
            self._last_refresh = now
        self._write_notes()
        self.coord.heartbeat()
        self._renew_leases()
        self._check_runners()
        self._balance()
        publish_listener_stats(self.coord.redis, self.owner, self.runners, self.settings.lease_ms,
                               fallback_sentence(self.world),
                               capacity=self.world.plan.capacity if self.world is not None else "")

    def connection_limit(self, fingerprint: str) -> tuple[int | None, bool]:
        """(most streaming connections, learnt from the server?): the lower of LISTENER_CONNECTION_LIMIT and the
        limit learnt from ErrorExceededConnectionCount; None when neither applies."""
        configured, learnt = self.settings.connection_limit, self.learnt.get(fingerprint)
        if learnt is not None and (configured is None or learnt < configured):
            return learnt, True
        return configured, False

    def _replan(self, world: World) -> World:
        """Plan with what Redis holds for every listener process: the previous assignment (sticky packing), the
        mailboxes the ladder moved (split groups, pull, polling) and the connection limit learnt."""
        world = self._unpark(world)
        if not world.connected or not world.targets:
            return world
        rungs = self.ladder.rungs(world.fingerprint)
        limit, learnt = self.connection_limit(world.fingerprint)
        plan = plan_groups(list(world.targets), world.version, world.impersonation, world.max_per_group,
                           limit, rungs, previous=self.assignment.load(world.fingerprint), learnt_limit=learnt,
                           refused=self.learnt.refused(world.fingerprint) if limit is not None else frozenset())
        self.assignment.save(world.fingerprint, plan.assignment)
        return replace(world, plan=plan)

    def _unpark(self, world: World) -> World:
        """A parked mailbox (affinity not asked yet) joins with the EWS server's affinity after PARK_AT_MOST:
        a stalled affinity pass costs grouping efficiency, never notifications."""
        now = time.monotonic()
        waiting = {t.mailbox for t in world.parked}
        self._parked_since = {m: t0 for m, t0 in self._parked_since.items() if m in waiting}
        late = tuple(t for t in world.parked if now - self._parked_since.setdefault(t.mailbox, now) > self.park_at_most)
        if not late:
            return world
        return replace(world, targets=world.targets + late, parked=tuple(t for t in world.parked if t not in late))

    def _apply_world(self, world: World) -> None:
        world = self._replan(world)
        old = self.world
        self.world = world
        if world.plan.reason != self._last_mode_note:
            log.info("listener mode: %s", world.plan.reason)
            self._last_mode_note = world.plan.reason
        if world.parked and (old is None or len(old.parked) != len(world.parked)):
            log.info("%d mailboxes wait for their server affinity (Autodiscover) before joining a connection",
                     len(world.parked))
        if not world.connected or (old is not None and old.fingerprint != world.fingerprint):
            if self.runners:
                log.info("integration %s; stopping %d listener connections",
                         "changed" if world.connected else "not connected", len(self.runners))
            self.stop_all(release=True)
        if self.blocked_fingerprint and (not world.connected or self.blocked_fingerprint != world.fingerprint):
            self.blocked_fingerprint = None  # paused, then authorized again (or new settings)
        groups = world.plan.by_key()
        for key, runner in list(self.runners.items()):
            group = groups.get(key)
            if group is not None and group != runner.group:
                runner.update(group)

    def _write_notes(self) -> None:
        if self.world is None or not self.world.targets:
            return
        notes = {m: r.sentence() for m, r in self.ladder.rungs(self.world.fingerprint).items()}
        if notes != self._notes_written:
            with self.app.app_context():
                write_notes(notes)
            self._notes_written = notes

    def _wanted(self) -> list[str]:
        if self.world is None or not self.world.connected or self.blocked_fingerprint:
            return []
        return sorted(self.world.plan.by_key())

    def _renew_leases(self) -> None:
        for key in list(self.runners):
            if not self.coord.renew(key):
                log.warning("group %s: lease lost to another listener; stopping it here", key)
                self._stop_runner(key, release=False)

    def _check_runners(self) -> None:
        limit = self.settings.heartbeat_timeout_seconds
        for key, runner in list(self.runners.items()):
            if getattr(runner, "fatal", None) is not None:
                self.blocked_fingerprint = self.world.fingerprint if self.world else "?"
                log.error("credentials rejected; all listener connections stop until the integration is re-authorized")
                self.stop_all(release=True)
                self.pause(runner.fatal)
                return
            if getattr(runner, "step_down", None) is not None:
                self._step_down(key, runner)
                continue
            if getattr(runner, "over_limit", False):
                self._over_limit(key)
                continue
            if not runner.is_alive():
                log.warning("group %s: thread ended; starting it again", key)
                self.runners.pop(key)
                self._start(key)
                continue
            with self.app.app_context():
                runner.flush_if_stable()
            if getattr(runner, "_aborter", None) is None:
                continue
            with self.app.app_context():  # the catch-up syncs it owes are enqueued from here
                runner.settle_if_open(min(2.0, limit / 2))
            if runner.silent_for() > limit:
                # only an open stream owes keep-alives (not the Subscribe phase, nor a pull round)
                log.warning("group %s: no data for %.0f s (heartbeat missed); reconnecting", key, runner.silent_for())
                runner.last_data = time.monotonic()
                getattr(runner, "watchdog_abort", runner.abort)()

    def _step_down(self, key: str, runner) -> None:
        """A group the server keeps refusing: its mailboxes go one rung down the ladder, then plan again."""
        mailboxes, size, code = runner.step_down
        runner.step_down = None
        if self.world is None:
            return
        moved = self.ladder.step_down(mailboxes, size, runner.group.mode, code, self.world.fingerprint)
        for mailbox, rung in sorted(moved.items()):
            log.warning("%s: %s", mailbox, rung.sentence())
        if not runner.is_alive():
            self._stop_runner(key, release=True, join=0.1)
        self._apply_world(self.world)
        self._notes_written = None  # the User Accounts tab says why, per mailbox

    def _over_limit(self, key: str) -> None:
        """Exchange refused a streaming connection with ErrorExceededConnectionCount: it charges the service account
        and its limit is reached. Lower the limit learnt by one (never retried beyond it) and plan again: the groups
        beyond it are read by pull subscriptions."""
        self._stop_runner(key, release=True, join=0.1)
        if self.world is None:
            return
        planned = sum(1 for g in self.world.plan.groups if g.mode == "streaming")
        limit = self.learnt.lower(self.world.fingerprint, planned, key)
        log.warning("group %s: Exchange refused another streaming connection (ErrorExceededConnectionCount); "
                    "streaming at most %d connections, the other groups use pull subscriptions", key, limit)
        self._apply_world(self.world)

    def _balance(self) -> None:
        from .coord import choose_groups

        wanted = self._wanted()
        share = self.coord.fair_share(len(wanted))
        acquired, to_release = choose_groups(wanted, set(self.runners), share, self.coord.acquire)
        for key in to_release:
            self._stop_runner(key, release=True)
        for key in sorted(acquired):
            self._start(key)

    # ---- runners
    def _start(self, key: str) -> None:
        group = self.world.plan.by_key().get(key) if self.world else None
        if group is None:
            self.coord.release(key)
            return
        runner_cls = self.RUNNERS[group.mode]
        runner = runner_cls(group, self.session_factory_for(self.world), self.trigger,
                            self.settings, context=self.app.app_context)
        self.runners[key] = runner
        runner.start()
        log.info("group %s: listening to %d mailboxes (%s, anchor %s)", key, len(group.members), group.mode,
                 group.anchor)

    def _stop_runner(self, key: str, release: bool, join: float = 5.0) -> None:
        runner = self.runners.pop(key, None)
        if runner is not None:
            runner.stop()
            runner.join(join)
        if release:
            self.coord.release(key)

    def pause(self, exc) -> None:
        """SPEC G4: the first rejection pauses the whole integration (workers included); never retried here."""
        try:
            with self.app.app_context():
                from ..engine.record import pause_integration

                pause_integration(exc)
        except Exception:  # noqa: BLE001 - the listener stays blocked either way
            log.exception("could not record the paused integration")

    def stop_all(self, release: bool = True) -> None:
        runners = list(self.runners)
        for key in runners:
            self.runners[key].stop()
        for key in runners:
            self._stop_runner(key, release=release)

    def crash(self) -> None:
        """Tests: stop the threads as a killed process would, leaving leases and liveness to expire."""
        for runner in self.runners.values():
            runner.stop()
        self.runners.clear()

    def close(self) -> None:
        self.stop_all(release=True)
        self.coord.leave()

    # ---- the process
    def run(self, stop_event: threading.Event | None = None) -> None:
        stop_event = stop_event or threading.Event()
        log.info("listener %s started", self.owner)
        affinity = AffinityRefresher(self.app, self.settings.refresh_seconds)
        affinity.learn_all()  # before any connection: groups start by server affinity (no lease held yet)
        affinity.start()
        try:
            while not stop_event.is_set():
                try:
                    self.step()
                except Exception:  # noqa: BLE001 - a database or Redis hiccup must not end the process
                    log.exception("listener pass failed; retrying")
                stop_event.wait(self.settings.tick_seconds)
        finally:
            affinity.stop()
            self.close()
            log.info("listener %s stopped", self.owner)


def run_listener(app) -> None:
    """Entry point of `flask sundial listener`: stops cleanly on SIGTERM/SIGINT."""
    import signal

    from ..extensions import redis_connection

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with app.app_context():
        redis = redis_connection()
    Listener(app, redis).run(stop)
