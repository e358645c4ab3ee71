"""Coordination between listener processes and the sync queue, through Redis.

- Leases: a group of mailboxes is listened to by exactly one process. `SET key owner NX PX ttl` takes it,
  a compare-and-renew script keeps it, a crashed process's lease simply expires and another takes it.
- A listener that died on this machine (kill -9, OOM) is known dead at once: its owner name carries host and pid,
  so a process on the same host takes its leases and forgets its liveness without waiting for them to expire
  (a restarted listener resumes in a second, not after the 30 s lease; SPEC R4). Another host's still expire.
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
import os
import socket
import threading
import time
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
_STEAL = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3])
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
        self._steal = redis.register_script(_STEAL)

    def _lease(self, group_key: str) -> str:
        return f"{self.prefix}:lease:{group_key}"

    def heartbeat(self) -> None:
        self.redis.set(f"{self.prefix}:alive:{self.owner}", "1", px=self.lease_ms)

    def leave(self) -> None:
        self.redis.delete(f"{self.prefix}:alive:{self.owner}")

    def live_processes(self) -> int:
        names = list(self.redis.scan_iter(match=f"{self.prefix}:alive:*", count=100))
        dead = [n for n in names if dead_here(_text(n).rsplit(":alive:", 1)[-1])]
        if dead:  # a crashed peer on this host: it counts for nothing, so the survivor takes its whole share now
            self.redis.delete(*dead)
        return max(1, len(names) - len(dead))

    def fair_share(self, n_groups: int) -> int:
        return math.ceil(n_groups / self.live_processes()) if n_groups else 0

    def acquire(self, group_key: str) -> bool:
        """Take a free lease (SET NX PX semantics), or keep one this process already holds."""
        key = self._lease(group_key)
        if self._acquire(keys=[key], args=[self.owner, self.lease_ms]):
            return True
        holder = _text(self.redis.get(key))
        if holder and dead_here(holder) and self._steal(keys=[key], args=[holder, self.owner, self.lease_ms]):
            log.info("group %s: taken over from %s, which is no longer running on this host", group_key, holder)
            return True
        return False

    def renew(self, group_key: str) -> bool:
        return bool(self._renew(keys=[self._lease(group_key)], args=[self.owner, self.lease_ms]))

    def release(self, group_key: str) -> None:
        self._release(keys=[self._lease(group_key)], args=[self.owner])

    def owner_of(self, group_key: str) -> str | None:
        value = self.redis.get(self._lease(group_key))
        return value.decode() if isinstance(value, bytes) else value


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")


def dead_here(owner: str) -> bool:
    """True when `owner` (host:pid:nonce, see Listener) names a process of this host that no longer runs. Any
    doubt (another host, a foreign name, a pid that is reused or not ours to signal) counts as alive: then the
    lease simply expires."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


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
            self.redis.set(f"{key}:ran", f"{time.time():.3f}", px=window_ms)
            return self.trigger(staff_id, reason)
        remaining_ms = max(self.redis.pttl(key), 1)
        if self.redis.set(f"{key}:trailing", "1", nx=True, px=remaining_ms):
            self.redis.pexpire(key, remaining_ms + window_ms)  # the trailing run opens the next window
            if self.enqueue_later is not None:
                self.enqueue_later(staff_id, reason, remaining_ms / 1000)
        self.coalesced += 1
        return False

    def catch_up_many(self, staff_ids, reason: str, debounce_s: float) -> list[int]:
        """The debounced catch-up of each mailbox; returns those deferred to a trailing run."""
        return [s for s in staff_ids if not self.catch_up(s, reason, debounce_s)]

    def flush_trailing(self, staff_ids, reason: str, min_gap_s: float, debounce_s: float) -> list[int]:
        """The connection is healthy again (R4): a deferred trailing catch-up runs now rather than at its
        window's end, if this mailbox's last catch-up ran at least `min_gap_s` ago — so a connection that fails
        again and again still costs at most one catch-up per mailbox per `min_gap_s` (G9), and the end of an
        outage is caught up within about `min_gap_s`, not the whole window. Returns the mailboxes still
        waiting for their gap; one whose trailing run already happened is done."""
        waiting, now = [], time.time()
        window_ms = max(int(debounce_s * 1000), 1)
        for staff_id in staff_ids:
            key = f"{self.prefix}:catch-up:{staff_id}"
            if not self.redis.exists(f"{key}:trailing"):
                continue
            ran = self.redis.get(f"{key}:ran")
            if ran is not None and now - float(ran) < min_gap_s:
                waiting.append(staff_id)
                continue
            self.redis.delete(f"{key}:trailing")
            self.redis.set(key, "1", px=window_ms)  # this run opens the next window
            self.redis.set(f"{key}:ran", f"{now:.3f}", px=window_ms)
            self.trigger(staff_id, reason)  # promotes the scheduled trailing run to now (same job id)
        return waiting


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
