"""Readiness checks (O1): database, Redis, a worker heartbeat per queue class, RQ's scheduler, the listener.

Heartbeats are read where the processes already write them:
- RQ workers register in Redis with `last_heartbeat` and the queues they listen to (idle workers beat every
  worker_ttl - 15 s, a worker running a job every 30 s);
- Sundial's RQ scheduler holds `rq:scheduler-lock:<queue>` and renews its expiry (worker.SCHEDULER_LOCK_TTL)
  every second, so the remaining TTL tells when it last beat;
- the notification listener refreshes `sundial:listener:alive:<owner>` on every pass of its main loop.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime

# Queue classes (fixed for every process): each needs at least one live worker on all of its queues.
QUEUE_CLASSES = {"sync": ("sync",), "fast": ("export", "notify", "default")}
SCHEDULER_LOCK = "rq:scheduler-lock:{}"
LISTENER_ALIVE = "sundial:listener:alive:*"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str

    def as_dict(self) -> dict:
        return asdict(self)


def _database() -> Check:
    from sqlalchemy import text

    from ..extensions import db

    try:
        db.session.execute(text("SELECT 1"))
        return Check("database", True, "answers")
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready", said in one line
        db.session.rollback()
        return Check("database", False, f"does not answer: {type(exc).__name__}")


def _worker_checks(conn, max_age: float, now: datetime) -> list[Check]:
    from rq import Worker

    live: dict[str, float] = {}  # queue name -> youngest heartbeat age among its workers
    for worker in Worker.all(connection=conn):
        beat = worker.last_heartbeat
        if beat is None:
            continue
        age = (now - beat.replace(tzinfo=UTC)).total_seconds()
        for q in worker.queue_names():
            live[q] = min(age, live.get(q, age))
    checks = []
    for cls, queues in QUEUE_CLASSES.items():
        stale = [q for q in queues if live.get(q, float("inf")) > max_age]
        ok = not stale
        detail = (f"heartbeat {max(live[q] for q in queues):.0f} s ago" if ok
                  else f"no worker heartbeat within {max_age:.0f} s on queue(s) {', '.join(stale)}")
        checks.append(Check(f"worker:{cls}", ok, detail))
    return checks


def _scheduler(conn, max_age: float) -> Check:
    from ..jobs.queues import QUEUE_NAMES
    from ..jobs.worker import SCHEDULER_LOCK_TTL  # Sundial's scheduler renews its lock to this every second

    stale = []
    for q in QUEUE_NAMES:
        ttl = conn.ttl(SCHEDULER_LOCK.format(q))
        if ttl is None or ttl < 0 or SCHEDULER_LOCK_TTL - ttl > max_age:
            stale.append(q)
    if stale:
        return Check("scheduler", False, f"no RQ scheduler holds queue(s) {', '.join(stale)}")
    return Check("scheduler", True, "running")


def _listener(conn) -> Check:
    owners = list(conn.scan_iter(match=LISTENER_ALIVE, count=100))
    if not owners:
        return Check("listener", False, "no notification listener process is alive")
    return Check("listener", True, f"{len(owners)} process(es) alive")


def readiness(redis_conn, max_age: float, now: datetime | None = None) -> list[Check]:
    """Every check, in a fixed order; nothing raises."""
    now = now or datetime.now(UTC)
    checks = [_database()]
    try:
        redis_conn.ping()
    except Exception as exc:  # noqa: BLE001
        why = f"does not answer: {type(exc).__name__}"
        checks.append(Check("redis", False, why))
        names = [f"worker:{c}" for c in QUEUE_CLASSES] + ["scheduler", "listener"]
        return checks + [Check(n, False, "unknown: Redis does not answer") for n in names]
    checks.append(Check("redis", True, "answers"))
    checks += _worker_checks(redis_conn, max_age, now)
    checks.append(_scheduler(redis_conn, max_age))
    checks.append(_listener(redis_conn))
    return checks


def current_readiness() -> list[Check]:
    """readiness() with the app's Redis and threshold (an app context is needed)."""
    from flask import current_app

    from ..jobs.queues import redis_connection

    return readiness(redis_connection(), current_app.config["READY_HEARTBEAT_SECONDS"])


def summary_lines(checks: list[Check]) -> list[str]:
    lines = [f"{'ok  ' if c.ok else 'FAIL'} {c.name:<12} {c.detail}" for c in checks]
    failed = [c.name for c in checks if not c.ok]
    lines.append("ready" if not failed else f"not ready: {', '.join(failed)}")
    return lines
