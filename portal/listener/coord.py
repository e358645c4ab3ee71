"""Coordination between listener processes and the sync queue, through Redis.

- Leases: a group of mailboxes is listened to by exactly one process. `SET key owner NX PX ttl` takes it,
  a compare-and-renew script keeps it, a crashed process's lease simply expires and another takes it.
- Liveness: every process refreshes `alive:<owner>`; each aims at its fair share ceil(groups / live
  processes), so two processes split the groups and a survivor takes over the rest.
- SyncTrigger: a notification only enqueues the incremental sync of that mailbox, deduplicated: while an
  enqueued job for the mailbox has not started, further notifications add nothing (that job will read them).
  Once it has started, the next notification enqueues one more, so a change made during a running sync
  is never dropped.
"""
from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable

log = logging.getLogger("portal.listener")

PREFIX = "sundial:listener"

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_ACQUIRE = """
local cur = redis.call('get', KEYS[1])
if cur == false then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if cur == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class Coordinator:
    """Group leases and process liveness for one listener process (`owner`)."""

    def __init__(self, redis, owner: str, lease_ms: int = 15_000, prefix: str = PREFIX):
        self.redis = redis
        self.owner = owner
        self.lease_ms = lease_ms
        self.prefix = prefix
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    def _lease(self, group_key: str) -> str:
        return f"{self.prefix}:lease:{group_key}"

    def heartbeat(self) -> None:
        self.redis.set(f"{self.prefix}:alive:{self.owner}", "1", px=self.lease_ms)

    def leave(self) -> None:
        self.redis.delete(f"{self.prefix}:alive:{self.owner}")

    def live_processes(self) -> int:
        names = list(self.redis.scan_iter(match=f"{self.prefix}:alive:*", count=100))
        return max(1, len(names))

    def fair_share(self, n_groups: int) -> int:
        return math.ceil(n_groups / self.live_processes()) if n_groups else 0

    def acquire(self, group_key: str) -> bool:
        """Take a free lease (SET NX PX semantics), or keep one this process already holds."""
        return bool(self._acquire(keys=[self._lease(group_key)], args=[self.owner, self.lease_ms]))

    def renew(self, group_key: str) -> bool:
        return bool(self._renew(keys=[self._lease(group_key)], args=[self.owner, self.lease_ms]))

    def release(self, group_key: str) -> None:
        self._release(keys=[self._lease(group_key)], args=[self.owner])

    def owner_of(self, group_key: str) -> str | None:
        value = self.redis.get(self._lease(group_key))
        return value.decode() if isinstance(value, bytes) else value


def choose_groups(wanted: list[str], held: set[str], share: int, acquire: Callable[[str], bool]) -> tuple[set, set]:
    """Which leases to try and which to give back, for a fair split between processes.

    Returns (acquired, to_release). Held groups that are no longer wanted are released; beyond the fair
    share, the groups held last in `wanted` order are released so a newcomer can take them.
    """
    keep = [k for k in wanted if k in held]
    to_release = {k for k in held if k not in wanted}
    if len(keep) > share:
        to_release |= set(keep[share:])
        keep = keep[:share]
    acquired: set[str] = set()
    for key in wanted:
        if len(keep) + len(acquired) >= share:
            break
        if key not in held and acquire(key):
            acquired.add(key)
    return acquired, to_release


# Waiting to start soon. "scheduled" is not among them: a delayed safety-net run must not absorb a notification.
PENDING_STATES = frozenset({"queued"})


class SyncTrigger:
    """Debounced, deduplicated per mailbox: at most one not-yet-started sync job per mailbox.

    `enqueue(staff_id, reason)` returns the RQ job (or None); `status_of(job_id)` returns RQ's status string
    or None when the job is gone. The id of the last job enqueued per mailbox is kept in Redis so every
    listener process (and a restarted one) sees it.
    """

    def __init__(self, redis, enqueue: Callable, status_of: Callable[[str], str | None],
                 prefix: str = PREFIX, memory_ms: int = 600_000, enqueue_later: Callable | None = None):
        self.redis = redis
        self.enqueue = enqueue
        self.enqueue_later = enqueue_later
        self.status_of = status_of
        self.prefix = prefix
        self.memory_ms = memory_ms
        self._lock = threading.Lock()
        self.enqueued = 0
        self.coalesced = 0

    def _key(self, staff_id: int) -> str:
        return f"{self.prefix}:queued:{staff_id}"

    def trigger(self, staff_id: int, reason: str) -> bool:
        """Enqueue the incremental sync of one mailbox unless one is already waiting. True when enqueued."""
        with self._lock:  # one decision at a time in this process; across processes a rare double is harmless
            job_id = self.redis.get(self._key(staff_id))
            if job_id is not None:
                job_id = job_id.decode() if isinstance(job_id, bytes) else job_id
                if self.status_of(job_id) in PENDING_STATES:
                    self.coalesced += 1
                    return False
            job = self.enqueue(staff_id, reason)
            new_id = getattr(job, "id", None)
            if new_id:
                self.redis.set(self._key(staff_id), new_id, px=self.memory_ms)
            self.enqueued += 1
            log.debug("sync enqueued for staff %s (%s)", staff_id, reason)
            return True

    def trigger_many(self, staff_ids, reason: str) -> int:
        return sum(1 for s in staff_ids if self.trigger(s, reason))

    def catch_up(self, staff_id: int, reason: str, debounce_s: float) -> bool:
        """A catch-up sync after a failure, debounced per mailbox (SPEC G9): the first in a window runs now;
        later ones in the window become one sync at its end, which opens the next window. So a mailbox gets at
        most one catch-up sync per `debounce_s`, however often its connection fails, and the last request is
        never dropped. True when a sync was enqueued now."""
        window_ms = max(int(debounce_s * 1000), 1)
        key = f"{self.prefix}:catch-up:{staff_id}"
        if self.redis.set(key, "1", nx=True, px=window_ms):
            return self.trigger(staff_id, reason)
        remaining_ms = max(self.redis.pttl(key), 1)
        if self.redis.set(f"{key}:trailing", "1", nx=True, px=remaining_ms):
            self.redis.pexpire(key, remaining_ms + window_ms)  # the trailing run opens the next window
            if self.enqueue_later is not None:
                self.enqueue_later(staff_id, reason, remaining_ms / 1000)
        self.coalesced += 1
        return False

    def catch_up_many(self, staff_ids, reason: str, debounce_s: float) -> int:
        return sum(1 for s in staff_ids if self.catch_up(s, reason, debounce_s))


def rq_trigger(redis, prefix: str = PREFIX) -> SyncTrigger:
    """The SyncTrigger wired to RQ: enqueue_incremental_sync (which deduplicates by job id, promotes a scheduled
    safety-net run to now and asks a running sync to run again), and RQ's job status for coalescing."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    from ..jobs.queues import enqueue_incremental_sync

    def enqueue(staff_id: int, reason: str):
        return enqueue_incremental_sync(staff_id, reason)

    def enqueue_later(staff_id: int, reason: str, delay: float):
        return enqueue_incremental_sync(staff_id, reason, delay=max(delay, 1.0))

    def status_of(job_id: str):
        try:
            return str(Job.fetch(job_id, connection=redis).get_status(refresh=True).value)
        except NoSuchJobError:
            return None

    return SyncTrigger(redis, enqueue, status_of, prefix=prefix, enqueue_later=enqueue_later)
