"""R3: sign-in limits shared by every web process.

The counters live in Flask-Limiter's storage, which is Redis (SUNDIAL_REDIS_URL) unless
SUNDIAL_RATELIMIT_STORAGE says otherwise, so every gunicorn worker and every web host counts together.

| limit                    | key                      | rule                                                    |
|--------------------------|--------------------------|---------------------------------------------------------|
| per address              | Flask-Limiter decorator  | ADDRESS_LIMIT failed attempts (401s) per address         |
| per account              | sundial:signin:acct:*    | after FREE_FAILURES failures, a lock of 1, 2, 4 … s,     |
|                          | sundial:signin:lock:*    | at most MAX_DELAY_S, counted over WINDOW_S               |
| address "has failed"     | sundial:signin:addr:*    | only addresses that failed are held by an account lock   |

An account lock holds back addresses that have failed recently; an address that never failed is still
let in to try its password, so one burst from elsewhere (or from a NAT'd office) cannot lock the owner out.
"""
from __future__ import annotations

import hashlib
import logging
import math
import time

from ..extensions import limiter

log = logging.getLogger(__name__)

ADDRESS_LIMIT = "10 per minute; 50 per hour"
FREE_FAILURES = 5
MAX_DELAY_S = 15 * 60
WINDOW_S = 60 * 60


def delay_after(failures: int) -> int:
    """Seconds an account stays locked after its n-th failure in the window: 0 … 0, 1, 2, 4 … MAX_DELAY_S."""
    if failures < FREE_FAILURES:
        return 0
    return min(2 ** (failures - FREE_FAILURES), MAX_DELAY_S)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _keys(email: str, address: str) -> tuple[str, str, str]:
    account = _digest(email.strip().lower())
    return (f"sundial:signin:acct:{account}", f"sundial:signin:lock:{account}",
            f"sundial:signin:addr:{_digest(address or '-')}")


def held_for(email: str, address: str) -> int:
    """Seconds this address must wait before trying this account again (0: go ahead)."""
    if not limiter.enabled:  # RATELIMIT_ENABLED=False (some browser tests)
        return 0
    _, lock, addr = _keys(email, address)
    try:
        storage = limiter.storage
        if not storage.get(lock) or not storage.get(addr):
            return 0
        return max(1, math.ceil(storage.get_expiry(lock) - time.time()))
    except Exception as exc:  # noqa: BLE001 - a storage outage must not stop every sign-in
        log.warning("sign-in limits unavailable (%s); the per-process limiter still applies", exc)
        return 0


def record_failure(email: str, address: str) -> int:
    """Count a failed sign-in; returns the account's new lock in seconds (0 when none)."""
    if not limiter.enabled:
        return 0
    acct, lock, addr = _keys(email, address)
    try:
        storage = limiter.storage
        storage.incr(addr, WINDOW_S)
        delay = delay_after(storage.incr(acct, WINDOW_S))
        if delay:
            storage.clear(lock)
            storage.incr(lock, delay)
        return delay
    except Exception as exc:  # noqa: BLE001
        log.warning("sign-in failure not counted (%s)", exc)
        return 0


def record_success(email: str, address: str) -> None:
    if not limiter.enabled:
        return
    acct, lock, _ = _keys(email, address)
    try:
        limiter.storage.clear(acct)
        limiter.storage.clear(lock)
    except Exception as exc:  # noqa: BLE001
        log.warning("sign-in counters not cleared (%s)", exc)
