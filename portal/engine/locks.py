"""One sync at a time per mailbox across all workers: a Redis lock with a short expiry that a keeper thread
renews while the job runs.

Why renewal rather than a long expiry: an initial sync may run for RQ's full job timeout (1800 s), longer
than any fixed lock expiry one would want a crashed worker's lock to outlive. The keeper lives in the job's
own process, so when that process dies (killed, out of memory, or killed by RQ at the job timeout) the
renewals stop and the lock lapses within `MAILBOX_LOCK_SECONDS` (default 20, so a killed job's re-run gets
the mailbox well within R4's 60 s). Renewal checks the lock's
token, so a job that lost its lock (its process was frozen past the expiry and another worker took the
mailbox) learns so and refuses to commit (`LockLost`) instead of overlapping the new holder.
"""
from __future__ import annotations

import logging
import threading
from contextlib import contextmanager

from flask import current_app
from redis.exceptions import LockError

from ..extensions import redis_connection

log = logging.getLogger("portal.jobs")


class LockLost(RuntimeError):
    """The mailbox lock expired or passed to another worker while this job worked: nothing is committed."""


def lock_name(staff_id: int) -> str:
    return f"sundial:lock:mailbox:{staff_id}"


def lock_seconds() -> float:
    return float(current_app.config["MAILBOX_LOCK_SECONDS"])


class MailboxLock:
    """Truthy when held. `check()` raises LockLost once the lock is no longer this job's."""

    def __init__(self, staff_id: int, timeout: float, keeper: LockKeeper | None = None):
        self.staff_id, self.timeout = staff_id, timeout
        self.lock = redis_connection().lock(lock_name(staff_id), timeout=timeout, thread_local=False)
        self.held = False
        self.lost = False
        self.renewals = 0
        self.shared_keeper = keeper
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None

    def __bool__(self) -> bool:
        return self.held

    def acquire(self, wait: float) -> bool:
        self.held = bool(self.lock.acquire(blocking=wait > 0, blocking_timeout=wait or None))
        if self.held and self.shared_keeper is not None:
            self.shared_keeper.hold(self)
        elif self.held:
            self._keeper = threading.Thread(target=self._keep, name=f"mailbox-lock-{self.staff_id}", daemon=True)
            self._keeper.start()
        return self.held

    def _keep(self) -> None:
        while not self._stop.wait(self.timeout / 3):
            if not self.renew():
                return

    def renew(self) -> bool:
        """Back to the full expiry, only if the token is still ours. False once the lock is lost."""
        try:
            self.lock.reacquire()
            self.renewals += 1
        except LockError:
            self.lost = True
            log.warning("mailbox lock of staff %s was lost while its job ran", self.staff_id)
            return False
        except Exception as exc:  # noqa: BLE001 - Redis unreachable for a moment: try again next round
            log.warning("could not renew the mailbox lock of staff %s: %s", self.staff_id, exc)
        return True

    def check(self) -> None:
        """Before a commit: is the mailbox still ours? (Asks Redis, not only the keeper's last answer.)"""
        if self.held and (self.lost or not self.lock.owned()):
            self.lost = True
            raise LockLost(f"the lock of mailbox {self.staff_id} passed to another job; nothing was committed")

    def release(self) -> None:
        self._stop.set()
        if self.shared_keeper is not None:
            self.shared_keeper.let_go(self)  # returns once no renewal of this lock is under way
        if self._keeper is not None:
            self._keeper.join(timeout=5)
        if self.held and not self.lost:
            try:
                self.lock.release()
            except LockError:  # expired meanwhile: nothing to release
                pass
        self.held = False


class LockKeeper:
    """One renewal thread for locks held one after another by the same job (the safety net's batches, issue 15):
    starting and joining a thread for each mailbox's lock of a batch cost more CPU than the rest of its lock
    handling. Every `interval` seconds (a third of the locks' expiry, as MailboxLock's own keeper) it renews the
    lock held at that moment, so a lock is renewed at most `interval` after it was taken, as before."""

    def __init__(self, interval: float):
        self.interval = interval
        self._held: MailboxLock | None = None
        self._mutex = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, lock: MailboxLock) -> None:
        with self._mutex:
            self._held = lock
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="mailbox-lock-keeper", daemon=True)
            self._thread.start()

    def let_go(self, lock: MailboxLock) -> None:
        with self._mutex:  # a renewal runs under the mutex: none of this lock is under way once this returns
            if self._held is lock:
                self._held = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with self._mutex:
                if self._held is not None and not self._held.renew():
                    self._held = None

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


@contextmanager
def mailbox_lock(staff_id: int, wait: float = 0.0, timeout: float | None = None, keeper: LockKeeper | None = None):
    """Yields a MailboxLock: truthy when this job holds the mailbox, falsy when another job does (and `wait`
    ran out). The lock is renewed in the background until the block ends (by `keeper` when given)."""
    held = MailboxLock(staff_id, timeout or lock_seconds(), keeper)
    held.acquire(wait)
    try:
        yield held
    finally:
        held.release()
