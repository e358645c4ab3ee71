"""What every listener runner shares (split from listener_runners.py, whose docstring tells the recovery rules):
stop/abort, liveness, the shared back-off (jobs/backoff), refusals counted towards the ladder, per-mailbox
retries, catch-up syncs through the debounced SyncTrigger."""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from contextlib import nullcontext

from ..engine.backoff import Backoff, backoff_delay
from ..ews_soap import (
    AccessDenied,
    AuthenticationFailed,
    EwsError,
    ImpersonationDenied,
    MailboxNotFound,
    RequestRejected,
    Throttled,
)
from .groups import Group, Target

log = logging.getLogger("portal.listener")

NOT_A_CHANGE = frozenset({"status"})
# Why a mailbox is owed a catch-up sync: its connection failed (DROPPED, the only reason flush_if_stable runs
# early), its subscription was lost on a connection that stayed open (LOST, a CAS restart), or it is new.
DROPPED, LOST = "connection dropped", "subscription lost"
# Errors about one mailbox only: it is skipped for a while; the rest of its group keeps listening.
MAILBOX_ERRORS = (MailboxNotFound, AccessDenied, ImpersonationDenied, RequestRejected)


def _changes(events) -> int:
    return sum(1 for e in events if getattr(e, "kind", None) not in NOT_A_CHANGE)


class GroupRunner(threading.Thread):
    """Shared plumbing: stop/abort, liveness, back-off, app context for the SyncTrigger."""

    def __init__(self, group: Group, session_factory, trigger, settings, context=None):
        super().__init__(name=f"listener[{group.key}]", daemon=True)
        self.group = group
        self.session_factory = session_factory
        self.trigger = trigger
        self.settings = settings
        self.context = context or nullcontext
        self.stop_event = threading.Event()
        self.last_data = time.monotonic()
        self.stats: Counter = Counter()
        self.fatal: EwsError | None = None  # set when the runner gave up (credentials rejected)
        self.backoff = Backoff(settings.min_backoff_seconds, settings.max_backoff_seconds)
        self.refusals = 0  # connections refused in a row
        self.step_down: tuple[list[str], int, str] | None = None  # (mailboxes, group size, code) for the ladder
        self.waiting: str = ""  # why the runner waits now (for logs and the User Accounts tab)
        self._mailbox_failures: Counter = Counter()
        self._group_lock = threading.Lock()
        self._pending_group: Group | None = None
        self._skip_until: dict[Target, float] = {}  # mailboxes whose subscription failed, retried later
        self._caught_up: set[Target] = set()  # mailboxes whose first catch-up this runner has enqueued
        self._trailing: set[Target] = set()  # catch-ups the debounce deferred (flushed once healthy again)
        self._trailing_lock = threading.Lock()

    # ---- control, called from the listener's main thread
    def stop(self) -> None:
        self.stop_event.set()
        self.abort()

    def update(self, group: Group) -> None:
        """New membership for the same group key: applied without dropping the other subscriptions."""
        with self._group_lock:
            self._pending_group = group
        self.abort()

    def abort(self) -> None:
        """Break a blocking read (overridden by the streaming runner)."""

    def silent_for(self) -> float:
        return time.monotonic() - self.last_data

    # ---- helpers for the loop
    @property
    def stopped(self) -> bool:
        return self.stop_event.is_set()

    def _take_update(self) -> bool:
        with self._group_lock:
            group, self._pending_group = self._pending_group, None
        if group is None:
            return False
        self.group = group
        return True

    def _catch_up(self, targets, why: str) -> None:
        """A mailbox's first catch-up in this runner (it starts listening) runs at once; the ones after a
        failure go through the per-mailbox debounce (SPEC G9), so a connection that fails again and again costs
        at most one sync per mailbox per window, while the first failure after starting is caught up at once."""
        if not targets:
            return
        self.stats["catch_up"] += len(targets)
        first = [t for t in targets if t not in self._caught_up]
        self._caught_up.update(targets)
        reason = f"listener catch-up: {why}"
        if first:
            self.trigger.trigger_many([t.staff_id for t in first], reason)
        again = [t for t in targets if t not in first]
        if again:
            deferred = set(self.trigger.catch_up_many([t.staff_id for t in again], reason,
                                                      self.settings.catch_up_debounce_seconds) or ())
            if why == DROPPED:  # see flush_if_stable
                with self._trailing_lock:
                    self._trailing.update(t for t in again if t.staff_id in deferred)

    def stable_for(self) -> float:
        """Seconds this runner has been receiving without a failure (0 while failing); runners override."""
        return 0.0

    def flush_if_stable(self) -> None:
        """Called by the listener's main loop: once the connection has been healthy for
        `catch_up_stable_seconds`, the catch-ups the debounce deferred run (SPEC R4: a change made during an
        outage arrives within a minute of its end), each mailbox at most once per `catch_up_min_gap_seconds`.

        Only catch-ups owed because a connection failed (DROPPED): an outage is what R4 bounds. Those deferred
        after subscriptions were lost on a connection that stayed open (a CAS restart), or new ones, wait for
        the debounce window's trailing run as before: a server that loses subscriptions every minute keeps its
        connection healthy between losses, so flushing them would cost a Subscribe and a sync per mailbox per
        minute, over G9's two requests together with the listener's own (tests/jobs/test_listener_storm.py)."""
        if not self._trailing or self.stable_for() < self.settings.catch_up_stable_seconds:
            return
        with self._trailing_lock:
            pending = list(self._trailing)
        waiting = set(self.trigger.flush_trailing([t.staff_id for t in pending], "listener catch-up: connection "
                                                  "healthy again", self.settings.catch_up_min_gap_seconds,
                                                  self.settings.catch_up_debounce_seconds))
        with self._trailing_lock:
            self._trailing.difference_update(t for t in pending if t.staff_id not in waiting)

    def _notify(self, target: Target | None, events: int = 1) -> None:
        if target is not None:
            self.stats["notifications"] += 1
            self.stats["events"] += events
            self.trigger.trigger(target.staff_id, "notification")

    def _skipped(self, target: Target) -> bool:
        return self._skip_until.get(target, 0.0) > time.monotonic()

    def _mailbox_failed(self, target: Target, exc: EwsError) -> None:
        self._mailbox_failures[target] += 1
        base = self.settings.mailbox_retry_seconds
        delay = backoff_delay(self._mailbox_failures[target], base, 12 * base)
        log.warning("%s: cannot listen (%s); trying again in %.0f s", target.mailbox, exc, delay)
        self.stats["mailbox_errors"] += 1
        self._skip_until[target] = time.monotonic() + delay

    def _pause_after(self, exc: Exception | None) -> None:
        """Back off after a failure (jobs/backoff): exponential with jitter and a cap; a server's
        BackOffMilliseconds or Retry-After is a floor (SPEC G3)."""
        hint = exc.backoff_seconds if isinstance(exc, Throttled) else None
        delay = self.backoff.failed(hint)
        self.stats["backoff_waits"] += 1
        self.waiting = f"{type(exc).__name__ if exc else 'refused'}; next attempt in {delay:.0f} s"
        self.stop_event.wait(delay)

    def _refused(self, mailboxes: list[str], code: str) -> bool:
        """The server refused this connection or subscription again. True when the runner should stop and let
        the listener step these mailboxes down the ladder; otherwise it has waited its back-off."""
        self.refusals += 1
        self.stats["refused"] += 1
        if self.refusals >= self.settings.step_down_after:
            log.warning("group %s: refused %d times in a row (%s); stepping down", self.group.key, self.refusals,
                        code)
            self.step_down = (mailboxes, len(self.group.members), code)
            return True
        log.warning("group %s: connection refused (%s); backing off", self.group.key, code)
        self._pause_after(None)
        return False

    def _healthy(self) -> None:
        self.backoff.succeeded()
        self.refusals = 0
        self.waiting = ""

    def run(self) -> None:
        with self.context():
            try:
                self.loop()
            except AuthenticationFailed as exc:
                self.fatal = exc
                log.error("group %s: credentials rejected (%s), listening stops until re-authorized: %s",
                          self.group.key, exc.detail, exc.sentence)
            except Exception:  # noqa: BLE001 - keep the traceback in the log; the listener restarts the runner
                log.exception("group %s: listener thread failed", self.group.key)

    def loop(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError
