"""The notification listener (SPEC G2): `flask sundial listener`.

One long-running process, separate from the RQ workers. Every few seconds it re-reads which mailboxes are
connected, plans groups of ≤ 200 mailboxes (listener_groups), takes the groups it can lease in Redis
(listener_coord) and runs one thread per group (listener_runners). A notification only enqueues the
mailbox's incremental sync; the sync job does the reading. The periodic safety-net sync stays on in
every mode, so a listener that is down costs latency, never data.

Modes: streaming (Exchange 2010 SP1 and later, impersonation on), pull subscriptions polled every 7 s
(Exchange 2010 RTM, and mailboxes beyond the server's streaming connection limit), none with delegate
access (Exchange refuses subscriptions through delegate access: the safety net alone, logged once).
"""
from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass

from .affinity import LISTENED_STATES, AffinityRefresher, listened_rows
from .coord import PREFIX, Coordinator, SyncTrigger, rq_trigger
from .groups import Plan, Target, plan_groups
from .pull import PullRunner
from .runners import StreamRunner

log = logging.getLogger("portal.listener")

__all__ = ["LISTENED_STATES", "Listener", "ListenerSettings", "World", "read_world", "run_listener"]


@dataclass
class ListenerSettings:
    refresh_seconds: float = 15.0  # re-read connected mailboxes and the integration's state
    tick_seconds: float = 1.0  # lease renewal, fair share and watchdog cadence
    lease_ms: int = 30_000  # a crashed listener's groups are taken over after this
    connection_timeout_minutes: int = 30  # GetStreamingEvents ConnectionTimeout, 1..30 (EWS-FACTS §8)
    # Exchange writes a keep-alive (ConnectionStatus OK) into an idle stream; the EWS Managed API expects one
    # every 45 s (GetStreamingEventsRequest.HeartbeatFrequencyDefault). Two missed → the connection is dead.
    heartbeat_timeout_seconds: float = 90.0
    pull_interval_seconds: float = 7.0
    min_backoff_seconds: float = 1.0
    max_backoff_seconds: float = 30.0
    max_per_group: int = 200
    connection_limit: int | None = None  # None: the version's HangingConnectionLimit

    @classmethod
    def from_config(cls, config) -> ListenerSettings:
        s = cls()
        for name in s.__dataclass_fields__:
            key = f"LISTENER_{name.upper()}"
            if key in config:
                setattr(s, name, config[key])
        return s


@dataclass(frozen=True)
class World:
    """What the database says right now."""

    connected: bool
    fingerprint: str
    plan: Plan
    server_config: object | None = None
    server_url: str = ""


def read_world(settings: ListenerSettings) -> World:
    from ..engine.connect import server_config
    from ..engine.record import clear_stale_pause
    from ..extensions import db
    from ..models import ExchangeIntegration

    integration = ExchangeIntegration.get()
    if integration is None or integration.state != "connected":
        db.session.rollback()
        return World(False, "", Plan("off", "The Exchange integration is not connected.", ()))
    rows = listened_rows()
    clear_stale_pause(integration)  # authorized again after a pause: the gate may send requests again
    server = integration.server_url.lower()  # until Autodiscover told the mailbox's own (listener_affinity)
    targets = [Target(r.primary_smtp.lower(), r.staff_id, r.affinity or server) for r in rows]
    plan = plan_groups(targets, integration.version, integration.impersonation,
                       settings.max_per_group, settings.connection_limit)
    parts = (integration.server_url, integration.username, integration.password_encrypted or "",
             integration.auth_type, integration.version, str(integration.impersonation),
             integration.ca_cert_pem or "", str(integration.allow_http), integration.wsdl_source,
             str(integration.authorized_at))
    fingerprint = hashlib.sha256("\x00".join(parts).encode()).hexdigest()
    world = World(True, fingerprint, plan, server_config(integration), integration.server_url)
    db.session.rollback()  # end the read transaction; nothing is written here (affinity: listener_affinity)
    return world


def default_session_factory(world: World):
    """One ExchangeSession per runner thread, behind the workers' shared Redis gate (back-off, pause: G3/G4)."""
    from types import SimpleNamespace

    from ..engine.throttle import RedisGate
    from ..ews_soap import ExchangeSession

    def make():  # runs in the runner's thread, inside an app context
        return ExchangeSession(world.server_config,
                               gate=RedisGate.for_integration(SimpleNamespace(server_url=world.server_url)))

    return make


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
        self.trigger = trigger or rq_trigger(redis, prefix)
        self.session_factory_for = session_factory_for
        self.world_reader = world_reader
        self.runners: dict[str, object] = {}
        self.world: World | None = None
        self.blocked_fingerprint: str | None = None  # credentials rejected for this configuration
        self._last_refresh = 0.0
        self._last_mode_note = ""

    # ---- one pass
    def step(self, force_refresh: bool = False) -> None:
        now = time.monotonic()
        if force_refresh or self.world is None or now - self._last_refresh >= self.settings.refresh_seconds:
            with self.app.app_context():
                self._apply_world(self.world_reader(self.settings))
            self._last_refresh = now
        self.coord.heartbeat()
        self._renew_leases()
        self._check_runners()
        self._balance()

    def _apply_world(self, world: World) -> None:
        old = self.world
        self.world = world
        if world.plan.reason != self._last_mode_note:
            log.info("listener mode: %s", world.plan.reason)
            self._last_mode_note = world.plan.reason
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
            if not runner.is_alive():
                log.warning("group %s: thread ended; starting it again", key)
                self.runners.pop(key)
                self._start(key)
            elif getattr(runner, "_aborter", None) is not None and runner.silent_for() > limit:
                # only an open stream owes keep-alives (not the Subscribe phase, nor a pull round)
                log.warning("group %s: no data for %.0f s (heartbeat missed); reconnecting", key, runner.silent_for())
                runner.last_data = time.monotonic()
                runner.abort()

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
        affinity.pass_once()  # before any connection: groups start by server affinity (no lease held yet)
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
