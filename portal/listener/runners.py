"""One thread per group: a streaming connection (GetStreamingEvents) or a pull loop (GetEvents).

A notification carries no data: the runner only asks the SyncTrigger to sync that mailbox. Recovery
(EWS-FACTS §8, MSDOC handling-notification-related-errors-in-ews-in-exchange):
- the server closes the stream at ConnectionTimeout (ConnectionStatus Closed) → reopen at once with the same
  subscriptions; events raised in between wait on the subscription, so nothing is lost and no sync is needed;
- the connection drops or goes silent (no keep-alive within `heartbeat_timeout_seconds`: the socket's read
  timeout, and the listener's watchdog calls `abort()` as a second guard) → reopen and enqueue a catch-up
  sync for every mailbox of the group, since events written to the dead socket are gone;
- a subscription is lost (ErrorInvalidSubscription, ErrorSubscriptionNotFound, expired, missed events) →
  a **new** subscription without the old watermark, then a catch-up sync of that mailbox (SyncFolderItems
  finds whatever happened in between).
Credentials rejected → the runner stops at once and never retries the password (SPEC G4).
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from contextlib import nullcontext

from ..ews_soap import (
    AccessDenied,
    AuthenticationFailed,
    EwsError,
    ImpersonationDenied,
    MailboxNotFound,
    RequestRejected,
    SubscriptionLost,
    Throttled,
)
from .groups import Group, Target

log = logging.getLogger("portal.listener")

NOT_A_CHANGE = frozenset({"status"})
# Errors about one mailbox only: it is skipped for a while; the rest of its group keeps listening.
MAILBOX_ERRORS = (MailboxNotFound, AccessDenied, ImpersonationDenied, RequestRejected)
MAILBOX_RETRY_SECONDS = 300.0


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
        self._failures = 0
        self._group_lock = threading.Lock()
        self._pending_group: Group | None = None
        self._skip_until: dict[Target, float] = {}  # mailboxes whose subscription failed, retried later

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
        if targets:
            self.stats["catch_up"] += len(targets)
            self.trigger.trigger_many([t.staff_id for t in targets], f"listener catch-up: {why}")

    def _notify(self, target: Target | None, events: int = 1) -> None:
        if target is not None:
            self.stats["notifications"] += 1
            self.stats["events"] += events
            self.trigger.trigger(target.staff_id, "notification")

    def _skipped(self, target: Target) -> bool:
        return self._skip_until.get(target, 0.0) > time.monotonic()

    def _mailbox_failed(self, target: Target, exc: EwsError) -> None:
        log.warning("%s: cannot listen (%s); trying again in %.0f s", target.mailbox, exc, MAILBOX_RETRY_SECONDS)
        self.stats["mailbox_errors"] += 1
        self._skip_until[target] = time.monotonic() + MAILBOX_RETRY_SECONDS

    def _pause_after(self, exc: Exception) -> None:
        """Back off after a failure: the server's BackOffMilliseconds, else 1, 2, 4 … 30 s."""
        self._failures += 1
        if isinstance(exc, Throttled) and exc.backoff_seconds:
            delay = exc.backoff_seconds
        else:
            delay = min(self.settings.max_backoff_seconds,
                        self.settings.min_backoff_seconds * 2 ** (self._failures - 1))
        self.stop_event.wait(delay)

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


class StreamRunner(GroupRunner):
    """Up to 200 streaming subscriptions read over one hanging GetStreamingEvents connection."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._aborter = None
        self._aborting = False
        self.cookie: str | None = None  # X-BackEndOverrideCookie of the group's first Subscribe (EWS-FACTS §6)
        self._owed: dict[Target, str] = {}  # catch-up syncs to enqueue once the next connection is open
        self.subs: dict[str, Target] = {}  # SubscriptionId → mailbox

    def abort(self) -> None:
        """Close the open connection from another thread (watchdog, new members, stop)."""
        self._aborting = True
        aborter = self._aborter
        if aborter is not None:
            try:
                aborter()
            except Exception:  # noqa: BLE001 - best effort from another thread
                log.debug("abort of %s failed", self.group.key, exc_info=True)

    def _on_open(self, aborter) -> None:
        """The server answered 200: our subscriptions now belong to this connection. Only from here can a
        catch-up sync not miss an event written to the previous (dead) connection."""
        self._aborter = aborter
        owed, self._owed = self._owed, {}
        for why in sorted(set(owed.values())):
            self._catch_up([t for t, w in owed.items() if w == why], why)
        if self._aborting:  # asked while the connection was being opened
            aborter()

    def update(self, group: Group) -> None:
        added = set(group.members) - set(self.group.members)
        with self._group_lock:
            self._pending_group = group
        if added:  # new members need a new connection; removed ones are dropped at the next reopen
            self.abort()

    def _subscribe_missing(self, session) -> None:
        self._take_update()
        wanted = set(self.group.members)
        self.subs = {sid: t for sid, t in self.subs.items() if t in wanted}
        have = set(self.subs.values())
        for target in [t for t in self.group.members if t not in have and not self._skipped(t)]:
            try:  # one Subscribe per mailbox either way (impersonation); one bad mailbox must not stop 199
                (sub,) = session.subscribe_streaming([target.mailbox], self.group.anchor)
            except MAILBOX_ERRORS as exc:
                self._mailbox_failed(target, exc)
                continue
            self.cookie = self.cookie or sub.affinity_cookie
            self.subs[sub.subscription_id] = target
            self.stats["subscribed"] += 1
            self._owed[target] = "new subscription"

    def loop(self) -> None:
        session = self.session_factory()
        while not self.stopped:
            self._aborting = False
            try:
                self._subscribe_missing(session)
                if not self.subs:
                    self.stop_event.wait(self.settings.min_backoff_seconds)
                    continue
                self._read_stream(session)
                self._failures = 0
            except AuthenticationFailed:
                raise
            except SubscriptionLost as exc:
                log.warning("group %s: subscriptions lost (%s); subscribing again", self.group.key, exc.code)
                self.stats["lost"] += len(self.subs)
                self.subs.clear()
                self._pause_after(exc)
            except Exception as exc:  # noqa: BLE001 - a dropped or aborted connection of any kind
                if self.stopped:
                    break
                self._owed.update({t: "connection dropped" for t in self.subs.values()})
                self.stats["dropped"] += 1
                if self._aborting:
                    log.info("group %s: connection closed by the listener; reconnecting", self.group.key)
                else:
                    log.warning("group %s: stream ended abnormally (%s); reconnecting", self.group.key, exc)
                    self._pause_after(exc)
            finally:
                self._aborter = None

    def _read_stream(self, session) -> None:
        self.last_data = time.monotonic()
        self.stats["connections"] += 1
        extra = {"cookie": self.cookie} if self.cookie else {}
        stream = session.stream_events(list(self.subs), self.group.anchor, self.settings.connection_timeout_minutes,
                                       on_open=self._on_open, idle_timeout=self.settings.heartbeat_timeout_seconds,
                                       **extra)
        try:
            for item in stream:
                self.last_data = time.monotonic()
                if self.stopped:
                    return
                if (item.error is not None or item.error_subscription_ids) and self._lost(item):
                    return  # reopen: resubscribe the lost ones, keep the others
                changes = _changes(item.events) if item.subscription_id else 0
                if changes:
                    self._notify(self.subs.get(item.subscription_id), changes)
                if item.connection_status == "Closed":
                    break
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001 - already closed
                    pass
        if self._aborting:
            raise ConnectionAbortedError("closed by the listener")
        self.stats["renewed"] += 1

    def _lost(self, item) -> bool:
        """Forget the subscriptions an error names (all of them when it names none); they are made again."""
        if not isinstance(item.error, SubscriptionLost | type(None)) and not item.error_subscription_ids:
            raise item.error
        ids = item.error_subscription_ids or list(self.subs)
        lost = [self.subs.pop(i) for i in ids if i in self.subs]
        self.stats["lost"] += len(lost)
        log.warning("group %s: %d subscriptions lost (%s); subscribing again", self.group.key, len(lost),
                    getattr(item.error, "code", "error"))
        return True
