"""A Redis-backed gate around every EWS request (the ews_soap `gate` hook), shared by all workers (SPEC G3).

- Back-off: when a server throttles (ErrorServerBusy/BackOffMilliseconds, HTTP 503/429) `backoff(s)` stores
  "not before now+s" for that server; `acquire()` then sends nothing to it before that moment. A short wait is
  slept; a long one raises Throttled so the job records "throttled until …" and re-enqueues itself.
- Concurrency: at most `cap` requests in flight per server across all workers — a Redis sorted-set semaphore
  whose entries expire, so a killed worker's slot is freed (EWS-FACTS §7: EWSMaxConcurrency 10 on 2010).
- Pause (G4): once the credentials are rejected no worker sends another request until an admin re-authorizes.
- Recovery (R4): a failure to answer (throttling, 5xx, no connection) marks the server "in trouble"; the first
  answer after that leaves a "recovered" mark, from which the workers' maintenance runs every retry that waits out
  a back-off at once (jobs/recovery.py) — so the end of an outage, not the end of a back-off that grew during
  it, decides when the work gets done.
"""
from __future__ import annotations

import hashlib
import time
import uuid

from flask import current_app

from ..ews_soap.errors import AuthenticationFailed, Throttled
from ..extensions import redis_connection

# KEYS: paused, back-off, slots. With ARGV[5] == "1" the pause (-1) and a back-off in force (its ms left) are
# answered first, as acquire() asks before its first try; then a slot is taken (1) or the cap is reached (0).
# One round trip for a request that goes ahead (issue 15: it was three).
_ACQUIRE = """
if ARGV[5] == '1' then
  if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
  local wait = redis.call('PTTL', KEYS[2])
  if wait > 0 then return wait + 1 end
end
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
if redis.call('ZCARD', KEYS[3]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[3]), ARGV[4])
  redis.call('PEXPIRE', KEYS[3], math.floor(tonumber(ARGV[3]) * 1000) + 1000)
  return 1
end
return 0
"""
_BACKOFF = """
local want = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[1]) < want then
  redis.call('SET', KEYS[1], '1', 'PX', want)
  redis.call('INCR', KEYS[2])
end
return redis.call('PTTL', KEYS[1])
"""


def server_key(integration) -> str:
    """Identifies one Exchange server for the shared throttling state (back-off, concurrency cap)."""
    return hashlib.sha1(integration.server_url.lower().encode()).hexdigest()[:16]


def recovered_key(server: str) -> str:
    return f"sundial:ews:{server}:recovered"


def paused_key(server: str) -> str:
    return f"sundial:ews:{server}:paused"


class RedisGate:
    def __init__(self, redis, server: str, cap: int = 8, slot_seconds: float = 120.0, max_inline_wait: float = 2.0,
                 max_queue_wait: float = 300.0):
        self.redis, self.server, self.cap = redis, server, cap
        self.slot_seconds, self.max_inline_wait, self.max_queue_wait = slot_seconds, max_inline_wait, max_queue_wait
        self._tokens: list[str] = []
        self.throttled_requests = 0
        self._acquire = redis.register_script(_ACQUIRE)
        self._backoff = redis.register_script(_BACKOFF)

    @classmethod
    def for_integration(cls, integration) -> RedisGate:
        cfg = current_app.config
        return cls(redis_connection(), server_key(integration), cap=int(cfg["EWS_MAX_CONCURRENT_REQUESTS"]),
                   max_inline_wait=float(cfg["EWS_MAX_INLINE_BACKOFF_SECONDS"]))

    @property
    def backoff_key(self) -> str:
        return f"sundial:ews:{self.server}:backoff"

    def backoff_remaining(self) -> float:
        return max(self.redis.pttl(self.backoff_key), 0) / 1000.0

    def acquire(self) -> None:
        token = uuid.uuid4().hex
        keys = [paused_key(self.server), self.backoff_key, self.slots_key]
        got = self._acquire(keys=keys, args=[time.time(), self.cap, self.slot_seconds, token, 1])
        if got == -1:
            raise AuthenticationFailed("integration paused after a credentials failure; no request sent")
        if got > 1:  # a back-off in force (ms + 1): too long to wait here, or slept out before the slot
            remaining = (got - 1) / 1000.0
            if remaining > self.max_inline_wait:
                raise Throttled("server back-off in force; no request sent", backoff_seconds=remaining)
            time.sleep(remaining)
            got = 0
        deadline = time.monotonic() + self.max_queue_wait
        while got != 1:
            got = self._acquire(keys=keys, args=[time.time(), self.cap, self.slot_seconds, token, 0])
            if got == 1:
                break
            if time.monotonic() > deadline:
                raise Throttled("too many concurrent requests to this server", backoff_seconds=5.0)
            time.sleep(0.005)
        self._tokens.append(token)

    @property
    def slots_key(self) -> str:
        return f"sundial:ews:{self.server}:slots"

    def release(self) -> None:
        if self._tokens:
            self.redis.zrem(self.slots_key, self._tokens.pop())

    def backoff(self, seconds: float) -> None:
        self.throttled_requests += 1
        self.trouble()
        self._backoff(keys=[self.backoff_key, f"sundial:ews:{self.server}:throttled"],
                      args=[max(int(seconds * 1000), 1)])

    @property
    def trouble_key(self) -> str:
        return f"sundial:ews:{self.server}:trouble"

    def trouble(self) -> None:
        self.redis.set(self.trouble_key, "1", ex=86400)

    def healthy(self) -> None:
        """Called after each answered request; cheap when nothing was wrong (one DEL of a missing key)."""
        if self.redis.delete(self.trouble_key):
            self.redis.set(recovered_key(self.server), "1", ex=3600)

    def in_flight(self) -> int:
        self.redis.zremrangebyscore(self.slots_key, "-inf", time.time())
        return self.redis.zcard(self.slots_key)
