"""Gauges read at scrape time (O2): RQ queues, jobs by outcome, mailboxes by state, listener connections."""
from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily

# RQ registries per queue, named as the jobs' outcome or stage.
REGISTRIES = ("started", "scheduled", "deferred", "finished", "failed")
LISTENER_STATS = "sundial:listener:stats:*"


def _oldest_age(queue, now: datetime) -> float:
    ids = queue.get_job_ids(0, 0)
    job = queue.fetch_job(ids[0]) if ids else None
    if job is None or job.enqueued_at is None:
        return 0.0
    return max((now - job.enqueued_at.replace(tzinfo=UTC)).total_seconds(), 0.0)


class StateCollector:
    """Built per scrape inside the app context; reads Redis and the database once."""

    def __init__(self, queues: list, redis, mailbox_counts: dict[str, int]):
        self.queues, self.redis, self.mailbox_counts = queues, redis, mailbox_counts

    def collect(self):
        now = datetime.now(UTC)
        depth = GaugeMetricFamily("sundial_rq_queue_depth", "Jobs waiting per RQ queue", labels=["queue"])
        age = GaugeMetricFamily("sundial_rq_oldest_job_age_seconds", "Age of the oldest waiting job",
                                labels=["queue"])
        jobs = GaugeMetricFamily("sundial_rq_jobs", "Jobs per queue by outcome (RQ registries)",
                                 labels=["queue", "outcome"])
        for q in self.queues:
            depth.add_metric([q.name], q.count)
            age.add_metric([q.name], _oldest_age(q, now))
            for name in REGISTRIES:
                jobs.add_metric([q.name, name], getattr(q, f"{name}_job_registry").count)
        yield from (depth, age, jobs)
        boxes = GaugeMetricFamily("sundial_mailboxes", "Staff mailboxes by state", labels=["state"])
        for state, n in sorted(self.mailbox_counts.items()):
            boxes.add_metric([state], n)
        yield boxes
        yield from self._listener()

    def _listener(self):
        conns, subs = 0, 0
        for key in self.redis.scan_iter(match=LISTENER_STATS, count=100):
            row = self.redis.hgetall(key)
            conns += int(row.get(b"connections", 0))
            subs += int(row.get(b"subscriptions", 0))
        yield GaugeMetricFamily("sundial_listener_connections", "Open notification connections", value=conns)
        yield GaugeMetricFamily("sundial_listener_subscriptions", "Notification subscriptions", value=subs)


def fallback_sentence(world) -> str:
    """Why some mailboxes are not on streaming notifications although the server offers them (O4 alert), or "".
    Delegate access and Exchange 2010 RTM never stream: that is their configuration, not an incident."""
    plan = getattr(world, "plan", None)
    if world is None or not world.connected or plan is None or plan.mode != "streaming":
        return ""
    pulled = sum(len(g.members) for g in plan.groups if g.mode != "streaming")
    if not pulled:
        return ""
    capacity = getattr(plan, "capacity", "")
    return f"{pulled} mailbox(es) are read by pull notifications instead of streaming. {plan.reason}" + (
        f" {capacity}" if capacity else "")


def publish_listener_stats(redis, owner: str, runners: dict, ttl_ms: int, fallback: str = "",
                           capacity: str = "") -> None:
    """Called by the listener on every pass: its open connections and subscriptions (any fallback from streaming,
    and how many mailboxes the service account can stream when Exchange limits it), expiring with it."""
    key = f"sundial:listener:stats:{owner}"
    conns = sum(1 for r in runners.values() if getattr(r, "_aborter", None) is not None)
    subs = sum(len(getattr(r, "subs", None) or {}) for r in runners.values())
    pipe = redis.pipeline()
    pipe.hset(key, mapping={"connections": conns, "subscriptions": subs, "fallback": fallback,
                            "capacity": capacity})
    pipe.pexpire(key, ttl_ms)
    pipe.execute()


def mailbox_counts() -> dict[str, int]:
    from ..extensions import db
    from ..models import MAILBOX_STATES, MailboxState

    counts = dict.fromkeys(MAILBOX_STATES, 0)
    rows = db.session.execute(db.select(MailboxState.state, db.func.count()).group_by(MailboxState.state))
    for state, n in rows:
        counts[state] = n
    return counts


def current_collector() -> StateCollector:
    from ..jobs.queues import QUEUE_NAMES, get_queue, redis_connection

    return StateCollector([get_queue(n) for n in QUEUE_NAMES], redis_connection(), mailbox_counts())
