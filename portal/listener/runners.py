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
- the server refuses the connection itself (errors before the first OK or notification, e.g. one
  ErrorInvalidSubscription per SubscriptionId from a server that binds subscriptions to the impersonated
  mailbox) → back off; after `step_down_after` refusals in a row the runner stops and asks the listener to
  move its mailboxes one rung down the ladder (listener_ladder: split, single, pull, polling).
- the server answers ErrorExceededConnectionCount (its HangingConnectionLimit charged to the service account is
  reached) → the runner stops at once, never retrying beyond the limit; the listener lowers the limit it learnt
  (listener_limit) and the groups beyond it are read by pull subscriptions.
Every failure waits by the shared back-off (jobs/backoff: exponential, jitter, cap, server hint as a floor)
and catch-up syncs are owed until a connection is really open, so a refused round costs no sync (SPEC G9).
Credentials rejected → the runner stops at once and never retries the password (SPEC G4).
"""
from __future__ import annotations

import logging
import time

from ..engine.backoff import Backoff
from ..ews_soap import (
    AuthenticationFailed,
    SubscriptionLost,
)
from .base import DROPPED, LOST, MAILBOX_ERRORS, NOT_A_CHANGE, GroupRunner, _changes  # noqa: F401 (re-exported)
from .groups import Group, Target

log = logging.getLogger("portal.listener")

OVER_LIMIT = "ErrorExceededConnectionCount"


class StreamRunner(GroupRunner):
    """Up to 200 streaming subscriptions read over one hanging GetStreamingEvents connection."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._aborter = None
        self._aborting = False
        self.cookie: str | None = None  # X-BackEndOverrideCookie of the group's first Subscribe (EWS-FACTS §6)
        self._owed: dict[Target, str] = {}  # catch-up syncs to enqueue once the next connection is open
        self.subs: dict[str, Target] = {}  # SubscriptionId → mailbox
        self._stalled = False
        self._opened_at = 0.0
        self.over_limit = False  # ErrorExceededConnectionCount: the listener lowers the limit learnt (listener_limit)
        self.lost_backoff = Backoff(self.settings.lost_backoff_seconds, self.settings.max_backoff_seconds)

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
        """The server answered 200 (which may still be a refusal: see `_read_stream`)."""
        self._aborter = aborter
        self._opened_at = time.monotonic()
        if self._aborting:  # asked while the connection was being opened
            aborter()

    def _settle_owed(self) -> None:
        """The first OK or notification: our subscriptions now belong to this connection. Only from here can a
        catch-up sync not miss an event written to the previous (dead) connection, and a refused connection
        (errors before any OK) never costs a sync."""
        with self._group_lock:
            owed, self._owed = self._owed, {}
        for why in sorted(set(owed.values())):
            self._catch_up([t for t, w in owed.items() if w == why], why)

    def settle_if_open(self, grace: float) -> None:
        """Called by the listener's main loop: a connection open for `grace` seconds without an error is open,
        even if the server sends its first keep-alive only later."""
        opened = self._opened_at
        if self._owed and self._aborter is not None and opened and time.monotonic() - opened >= grace:
            self._settle_owed()

    def stable_for(self) -> float:
        opened = self._opened_at
        return time.monotonic() - opened if opened and self._aborter is not None and not self._owed else 0.0

    def watchdog_abort(self) -> None:
        """The listener's watchdog: the open stream owes keep-alives and sent none. Counts as a failure."""
        self._stalled = True
        self.abort()

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
            self._owed.setdefault(target, "new subscription")  # a dropped connection or a loss keeps its reason

    def loop(self) -> None:
        session = self.session_factory()
        while not self.stopped and self.step_down is None:
            self._aborting = self._stalled = False
            try:
                self._subscribe_missing(session)
                if not self.subs:
                    self.stop_event.wait(max(self.settings.min_backoff_seconds, 1.0))
                    continue
                outcome = self._read_stream(session)
                if outcome == "ok":
                    self._healthy()
                    self.lost_backoff.succeeded()
                elif outcome == "lost":
                    self._wait_after_loss()
                elif outcome == OVER_LIMIT:
                    self.over_limit = True  # never retried beyond the limit: the listener plans again
                    return
                elif self._refused(self.group.mailboxes, outcome):
                    return
            except AuthenticationFailed:
                raise
            except SubscriptionLost as exc:  # Subscribe itself answered ErrorInvalidSubscription
                self.stats["lost"] += len(self.subs)
                self.subs.clear()
                if self._refused(self.group.mailboxes, exc.code or "ErrorInvalidSubscription"):
                    return
            except Exception as exc:  # noqa: BLE001 - a dropped or aborted connection of any kind
                if self.stopped:
                    break
                self._failed_connection(exc)
            finally:
                self._aborter, self._opened_at = None, 0.0

    def _wait_after_loss(self) -> None:
        """Subscriptions lost on an open connection (a CAS restart): the next ones are made after a back-off of
        its own, from `lost_backoff_seconds`, so a server that loses them every minute gets fewer rounds than one
        a minute (each round is one Subscribe per mailbox and a GetStreamingEvents)."""
        delay = self.lost_backoff.failed()
        self.stats["backoff_waits"] += 1
        self.stop_event.wait(delay)

    def _failed_connection(self, exc: Exception) -> None:
        self._owed.update({t: DROPPED for t in self.subs.values()})
        self.stats["dropped"] += 1
        if self._aborting and not self._stalled:
            log.info("group %s: connection closed by the listener; reconnecting", self.group.key)
            return
        log.warning("group %s: stream ended abnormally (%s); reconnecting after a back-off", self.group.key, exc)
        self._pause_after(exc)

    def _read_stream(self, session) -> str:
        """One connection. Returns "ok" (closed at its timeout, or stopped), "lost" (subscriptions lost on an
        open connection) or the ResponseCode of a refusal (errors before the first OK)."""
        self.last_data = time.monotonic()
        self.stats["connections"] += 1
        extra = {"cookie": self.cookie} if self.cookie else {}
        stream = session.stream_events(list(self.subs), self.group.anchor, self.settings.connection_timeout_minutes,
                                       on_open=self._on_open, idle_timeout=self.settings.heartbeat_timeout_seconds,
                                       **extra)
        opened, refused, lost, opened_at = False, None, False, 0.0
        try:
            for item in stream:
                self.last_data = time.monotonic()
                # Open `stream_stable_seconds`: the failure streak is over (R4). Only a connection closed at its
                # timeout used to end it (30 minutes), so after a run of passing faults one more drop waited
                # minutes though the server had long recovered. G9 holds: a server that accepts and drops at once
                # backs off as before, and subscriptions lost on open connections keep their own `lost_backoff`.
                if opened and opened_at and self.last_data - opened_at >= self.settings.stream_stable_seconds:
                    opened_at = 0.0
                    self._healthy()
                if self.stopped:
                    return "ok"
                if not opened and getattr(item.error, "code", None) == OVER_LIMIT:
                    return OVER_LIMIT  # HangingConnectionLimit reached (EWS-FACTS §7)
                if item.error is not None or item.error_subscription_ids:
                    self._lost(item)
                    if not opened:
                        refused = getattr(item.error, "code", None) or "error"
                    elif item.connection_status != "Closed":
                        return "lost"  # reopen now: resubscribe the lost ones, keep the others
                    else:
                        lost = True
                    continue  # read every per-subscription message, to the end (below)
                if not opened:
                    opened, opened_at = True, time.monotonic()
                    self._settle_owed()
                changes = _changes(item.events) if item.subscription_id else 0
                if changes:
                    self._notify(self.subs.get(item.subscription_id), changes)
                # On Closed the server ends the response: reading it to its end returns the connection to the
                # pool, so the next request needs no new TCP connection and NTLM handshake (one 401 fewer).
        finally:
            if opened_at and time.monotonic() - opened_at >= self.settings.stream_stable_seconds:
                self._healthy()  # it lasted, then broke: this drop is the first of a new streak
            close = getattr(stream, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001 - already closed
                    pass
        if self._aborting:
            raise ConnectionAbortedError("closed by the listener")
        if refused:
            return refused
        if lost:
            return "lost"
        self.stats["renewed"] += 1
        return "ok"

    def _lost(self, item) -> bool:
        """Forget the subscriptions an error names (all of them when it names none); they are made again."""
        if not isinstance(item.error, SubscriptionLost | type(None)) and not item.error_subscription_ids:
            raise item.error
        ids = item.error_subscription_ids or list(self.subs)
        lost = [self.subs.pop(i) for i in ids if i in self.subs]
        for target in lost:
            self._owed.setdefault(target, LOST)
        self.stats["lost"] += len(lost)
        if lost:
            log.warning("group %s: %d subscriptions lost (%s)", self.group.key, len(lost),
                        getattr(item.error, "code", "error"))
        return True
