"""The G9 figure's machinery (no tests here): every failure mode the simulator can produce, applied to a Sundial
whose listener is streaming, and the requests Sundial then sends, counted by the simulator.

Time is compressed by one factor `scale` applied to everything that waits: the listener's back-off base and cap,
heartbeat timeout, refresh, pull intervals, catch-up debounce and per-mailbox retry; the jobs' back-off bases and
caps; the simulator's "minute" (streaming ConnectionTimeout) and heartbeat; the BackOffMilliseconds it sends; and
the measured window (10 minutes × scale). The figure is requests ÷ mailboxes ÷ (window ÷ (60 s × scale)), i.e.
requests per mailbox per *scaled* minute. Two things are not scaled and both make a compressed run send *fewer*
requests than a real one would: the time each request takes (≈ 10 ms here, which is 1.5 s scaled at 1/150), and
RQ's one-second minimum for a scheduled retry. The benchmark (benchmarks/bench_storm.py) therefore also runs the
real ten minutes at scale 1.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from test_listener_harness import Sundial, TestListener, drop_connections, wait_for

MAILBOXES = ("alice@example.com", "bob@example.com", "carol@example.com")


@dataclass(frozen=True)
class Mode:
    key: str
    label: str
    apply: Callable  # (sim, scale) -> None


def _unavailable(sim, scale):
    for email in MAILBOXES:
        sim.faults.mailbox_unavailable(email)


MODES = (
    Mode("field-server", "subscriptions bound to the impersonated mailbox (ErrorInvalidSubscription per id)",
         lambda sim, s: sim.faults.mailbox_bound_subscriptions(True)),
    Mode("http-503", "every request HTTP 503", lambda sim, s: sim.faults.http_503(-1)),
    Mode("http-429", "every request HTTP 429", lambda sim, s: sim.faults.http_429(-1)),
    Mode("http-500", "every request HTTP 500 without a SOAP fault", lambda sim, s: sim.faults.http_500(-1)),
    Mode("busy-0", "every request ErrorServerBusy, BackOffMilliseconds 0",
         lambda sim, s: sim.faults.server_busy(-1, backoff_ms=0)),
    Mode("busy-hint", "every request ErrorServerBusy, BackOffMilliseconds 30 s",
         lambda sim, s: sim.faults.server_busy(-1, backoff_ms=max(int(30_000 * s), 1))),
    Mode("budget", "throttling budget of 20 requests per minute per account",
         lambda sim, s: sim.faults.throttle(20, window_s=60 * s)),
    Mode("drop", "every response cut off mid-body", lambda sim, s: sim.faults.drop_connection(-1)),
    Mode("stall", "open streams go silent (a firewall dropped them)", lambda sim, s: sim.faults.stall_streams(True)),
    Mode("store-unavailable", "every mailbox ErrorMailboxStoreUnavailable", _unavailable),
    Mode("lost-subscriptions", "subscriptions lost again and again (CAS restarts)", None),
    Mode("locked-out", "service account locked out in AD (every request 401)",
         lambda sim, s: sim.faults.lock_account(sim.service_account.upn)),
)


def listener_settings(scale: float) -> dict:
    from dataclasses import fields

    from portal.listener.process import ListenerSettings

    known = {f.name for f in fields(ListenerSettings)}  # (so the same harness measures an older listener too)
    return {k: v for k, v in _scaled(scale).items() if k in known}


def _scaled(scale: float) -> dict:
    return dict(refresh_seconds=15 * scale, tick_seconds=min(1.0 * scale, 0.05), lease_ms=max(int(30_000 * scale), 500),
                connection_timeout_minutes=30, heartbeat_timeout_seconds=90 * scale, pull_interval_seconds=7 * scale,
                fallback_pull_interval_seconds=60 * scale, min_backoff_seconds=1 * scale,
                max_backoff_seconds=300 * scale, catch_up_debounce_seconds=300 * scale,
                mailbox_retry_seconds=300 * scale, lost_backoff_seconds=5 * scale, stream_stable_seconds=15 * scale,
                catch_up_stable_seconds=15 * scale, catch_up_min_gap_seconds=40 * scale)


def scale_jobs(monkeypatch_setattr, scale: float) -> None:
    """Sundial's own waits outside the listener, scaled like everything else (monkeypatch.setattr or setattr):
    the jobs' back-off, and the 30 s Sundial assumes when a 503/429 or ErrorServerBusy names no wait."""
    from portal.engine import record
    from portal.ews_soap import errors, transport

    monkeypatch_setattr(transport, "DEFAULT_RETRY_AFTER", transport.DEFAULT_RETRY_AFTER * scale)
    monkeypatch_setattr(errors, "DEFAULT_BACKOFF_SECONDS", errors.DEFAULT_BACKOFF_SECONDS * scale)

    for name, seconds in (("THROTTLED_BASE_S", 5.0), ("THROTTLED_CAP_S", 1800.0), ("ERROR_BASE_S", 120.0),
                          ("ERROR_CAP_S", 3600.0)):
        monkeypatch_setattr(record, name, seconds * scale, raising=False)


def promote_due(redis) -> None:
    """What RQ's scheduler does: move scheduled jobs whose time has come to their queue."""
    from rq import Queue
    from rq.registry import ScheduledJobRegistry

    for name in ("sync", "export"):
        queue = Queue(name, connection=redis)
        registry = ScheduledJobRegistry(queue=queue)
        for job_id in registry.get_jobs_to_schedule(time.time()):
            registry.remove(job_id)
            queue.enqueue_job(queue.fetch_job(job_id)) if queue.fetch_job(job_id) else None


@dataclass
class Result:
    mode: Mode
    requests: int
    window_s: float
    scale: float
    mailboxes: int
    by_operation: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    @property
    def per_mailbox_minute(self) -> float:
        return self.requests / self.mailboxes / (self.window_s / (60 * self.scale))


class StormBench:
    """One simulator and one Sundial, reused across modes; a fresh listener per mode."""

    def __init__(self, app, sim, redis_url, scale: float):
        self.app, self.sim, self.redis_url, self.scale = app, sim, redis_url, scale
        self.sundial = Sundial(app, sim, redis_url, list(MAILBOXES))
        self.sundial.initial()

    def _reset(self) -> None:
        from portal.extensions import db
        from portal.models import MailboxState

        self.sim.faults.clear()
        for email in MAILBOXES:
            self.sim.faults.mailbox_unavailable(email, False)
        self.sundial.redis.flushdb()  # ladder, debounce windows, gate back-off and pause, queued jobs
        integ = self.sundial.integration
        db.session.refresh(integ)
        integ.state = "connected"
        for ms in db.session.execute(db.select(MailboxState)).scalars():  # as after the last mode's recovery
            ms.state, ms.failures, ms.listener_note = "synced", 0, None
            ms.next_attempt_at = ms.throttled_until = None
        db.session.commit()

    def _drain(self) -> None:
        promote_due(self.sundial.redis)
        self.sundial.run()

    def measure(self, mode: Mode, window_s: float | None = None) -> Result:
        from portal.engine import session as warm

        window = window_s or 600 * self.scale
        self._reset()
        # The jobs run as the default (warm) worker runs them: on the process's warm Exchange session, so a sync
        # job opens no connection and pays no NTLM handshake of its own (the listener's connections still do).
        warm.enable()
        listener = TestListener(self.app, self.redis_url, f"storm-{mode.key}", **listener_settings(self.scale))
        listener.thread.start()
        try:
            assert wait_for(lambda: listener.runners and all(r.stats["connections"] >= 1 and r.subs
                                                             for r in listener.runners.values()), timeout=20)
            time.sleep(0.2)
            self._drain()  # the catch-up syncs of the healthy start
            self.sim.counters.reset()
            self._fault(mode)
            deadline = time.monotonic() + window
            while time.monotonic() < deadline:
                self._drain()
                time.sleep(0.02)
            requests = self.sim.counters.total()
            by_op = _by_operation(self.sim.counters.snapshot())
        finally:
            listener.stop_event.set()
            listener.thread.join(15)
            warm.enable(False)
        return Result(mode, requests, window, self.scale, len(MAILBOXES), by_op, self._notes())

    def _fault(self, mode: Mode) -> None:
        if mode.apply is None:  # lost-subscriptions: a CAS restart every scaled minute, in a thread
            self._repeat(lambda: self.sim.faults.lose_subscription(), 60 * self.scale)
        else:
            mode.apply(self.sim, self.scale)
        self.sim.faults.force_streaming_timeout()  # the open streams end: every reconnect meets the fault
        if mode.key in ("drop", "http-500", "http-503"):
            drop_connections(self.sim)

    def _repeat(self, action, every: float) -> None:
        stop_at = time.monotonic() + 600 * self.scale

        def loop():
            while time.monotonic() < stop_at:
                action()
                time.sleep(every)

        threading.Thread(target=loop, daemon=True).start()

    def _notes(self) -> list:
        from portal.extensions import db
        from portal.models import MailboxState

        db.session.expire_all()
        return sorted({m.listener_note for m in db.session.execute(db.select(MailboxState)).scalars()
                       if getattr(m, "listener_note", None)})


def _by_operation(snapshot: dict) -> dict:
    out: dict[str, int] = {}
    for (op, _mailbox), n in snapshot.items():
        out[op] = out.get(op, 0) + n
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))
