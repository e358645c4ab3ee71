"""One sync at a time per mailbox across all workers: a Redis lock with expiry (a killed worker's lock lapses),
plus a "run again" flag so a change that arrives while a sync runs is not lost."""
from __future__ import annotations

from contextlib import contextmanager

from .queues import redis_connection

LOCK_SECONDS = 900


def lock_name(staff_id: int) -> str:
    return f"sundial:lock:mailbox:{staff_id}"


@contextmanager
def mailbox_lock(staff_id: int, wait: float = 0.0, timeout: int = LOCK_SECONDS):
    """Yields True when this job holds the mailbox, False when another job does (and `wait` ran out)."""
    lock = redis_connection().lock(lock_name(staff_id), timeout=timeout, blocking=wait > 0,
                                   blocking_timeout=wait or None)
    got = lock.acquire()
    try:
        yield got
    finally:
        if got:
            try:
                lock.release()
            except Exception:  # noqa: BLE001 - expired meanwhile: nothing to release
                pass


def request_rerun(staff_id: int) -> None:
    redis_connection().set(f"sundial:rerun:mailbox:{staff_id}", "1", ex=LOCK_SECONDS)


def take_rerun(staff_id: int) -> bool:
    return bool(redis_connection().getdel(f"sundial:rerun:mailbox:{staff_id}"))
