"""Fault switches: throttling budgets, concurrency cap, HTTP 503/429/500, latency, dropped connections,
unavailable mailboxes, lost subscriptions, forced streaming timeouts, AD lockout policy, a locked-out service
account, and subscriptions bound to the impersonated mailbox (a field server's behaviour, below).

Counted switches take n; n=-1 means "every request until clear()" (the G9 figure's persistent failure modes).

ErrorServerBusy is sent as an HTTP 500 SOAP fault with detail/MessageXml/Value[@Name="BackOffMilliseconds"]
(EWS-FACTS section 7; ews-samples/SOAPFault-error-ErrorServerBusy.xml).
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass

from .soap import EwsError, SoapFault
from .timezones import fmt

# Dates a real mailbox can hold (imported .ics files, third-party sync tools, MAPI writes) that every client
# must survive: schema-valid xs:dateTime values, absurd as events. kind → item → (Start, End) on the wire.
POISON = {
    "year_0001": lambda item: ("0001-01-01T00:00:00Z", "0001-01-01T01:00:00Z"),
    "year_9999": lambda item: ("9999-12-31T22:00:00Z", "9999-12-31T23:00:00Z"),
    "inverted": lambda item: (fmt(item.end), fmt(item.start)),  # ends before it starts
}


@dataclass
class Lockout:
    threshold: int = 5
    window_s: float = 300.0
    duration_s: float = 300.0


class Faults:
    def __init__(self, sim=None):
        self._sim = sim
        self.lock = threading.Lock()
        self._streams: Counter = Counter()
        self._reset()

    def _reset(self) -> None:
        """Every switch off. The lock and the open streams' count are kept (see clear())."""
        self.latency_ms = 0
        self.http_503_remaining = 0
        self.http_status = 503  # what those refusals answer: 503 (IIS queue full) or 429 (rate limited)
        self.retry_after_s: int | None = None
        self.drop_remaining = 0
        self.busy_remaining = 0
        self.busy_backoff_ms = 1000
        self.item_busy_remaining = 0
        self.budget: int | None = None
        self.budget_window_s = 60.0
        self.budget_backoff_ms: int | None = None
        self._tokens: dict[str, tuple[float, float]] = {}
        self.concurrency_cap: int | None = None
        self._active: Counter = Counter()
        self._peak: Counter = Counter()
        self.lockout_policy = Lockout()
        self.stream_generation = 0
        self.get_answers_405 = False
        self.extended_protection_mode = "none"
        self.html_front_page = False
        self.streams_stalled = False
        self.calendar_view_mode = "expanded"  # | "master" | "partial" (see the calendar_view_* switches)
        self.update_keeps_time_mode: str | None = None  # None | "with_attendees" | "always"
        self.http_500_remaining = 0
        self.locked_accounts: set[str] = set()
        self.mailbox_bound = False

    # -- switches (tests, CLI) -----------------------------------------------------------------------
    def throttle(self, budget: int | None, window_s: float = 60.0, backoff_ms: int | None = None):
        """Per-account budget: ``budget`` requests per ``window_s``, recharging continuously; beyond it
        ErrorServerBusy with BackOffMilliseconds (the time until a request is affordable again)."""
        with self.lock:
            self.budget, self.budget_window_s, self.budget_backoff_ms = budget, window_s, backoff_ms
            self._tokens.clear()

    def server_busy(self, n: int = 1, backoff_ms: int = 1000):
        """The next n EWS requests answer ErrorServerBusy."""
        self.busy_remaining, self.busy_backoff_ms = n, backoff_ms

    def item_busy(self, n: int = 1):
        """The next n items of batch operations answer ErrorInternalServerError with an inner ErrorServerBusy
        inside an HTTP 200 (EWS-FACTS section 7, Table 4; ews-samples/DeleteItem-error-ErrorInternalServerError-
        inner.xml)."""
        self.item_busy_remaining = n

    def check_item(self):
        if self.take("item_busy_remaining"):
            raise EwsError("ErrorInternalServerError", "An internal server error occurred. The operation failed.",
                           {"InnerErrorMessageText": "The server cannot service this request right now. "
                                                     "Try again later.",
                            "InnerErrorResponseCode": "ErrorServerBusy", "InnerErrorDescriptiveLinkKey": 0})

    def http_503(self, n: int = 1, retry_after_s: int | None = None):
        self.http_503_remaining, self.retry_after_s, self.http_status = n, retry_after_s, 503

    def http_429(self, n: int = 1, retry_after_s: int | None = None):
        """The next n requests answer HTTP 429 Too Many Requests (a rate-limiting proxy in front of Exchange)."""
        self.http_503_remaining, self.retry_after_s, self.http_status = n, retry_after_s, 429

    def http_500(self, n: int = 1):
        """The next n requests answer a bare HTTP 500 with an HTML page and no SOAP fault, as IIS does when the
        EWS application pool crashes (before authentication)."""
        self.http_500_remaining = n

    def lock_account(self, upn: str, locked: bool = True):
        """The account is locked out in Active Directory (someone else's bad passwords): every request of it
        gets a plain 401, the right password included, until unlocked."""
        (self.locked_accounts.add if locked else self.locked_accounts.discard)(upn.lower())

    def mailbox_bound_subscriptions(self, on: bool = True):
        """A field server (issue 12) attaches each subscription to the impersonated mailbox of its request:
        a GetStreamingEvents that carries subscriptions of several mailboxes, or of another mailbox than the one
        it impersonates, is refused with one ErrorInvalidSubscription ResponseMessage per SubscriptionId, in
        request order (no ErrorSubscriptionIds); so is a Subscribe whose folders belong to another mailbox."""
        self.mailbox_bound = on

    def drop_connection(self, n: int = 1):
        """The next n EWS responses are cut off mid-body and the TCP connection is closed."""
        self.drop_remaining = n

    def mailbox_unavailable(self, email: str, unavailable: bool = True):
        self._sim.directory.mailbox(email).unavailable = unavailable

    def impersonation_out_of_scope(self, email: str, outside: bool = True):
        """ExchangeImpersonation of this one mailbox answers ErrorImpersonateUserDenied, as when the
        ApplicationImpersonation role's management scope (New-ManagementScope) leaves the mailbox out."""
        scope = self._sim.directory.out_of_scope
        scope.add(email.lower()) if outside else scope.discard(email.lower())

    def cannot_find_user(self, on: bool = True):
        """A mailbox that does not exist is answered with ErrorCannotFindUser instead of Microsoft's
        ErrorNonExistentMailbox, as an independent EWS server did in the field."""
        self._sim.directory.missing_code = "ErrorCannotFindUser" if on else "ErrorNonExistentMailbox"

    def calendar_view_unexpanded(self, on: bool = True):
        """FindItem with CalendarView returns each recurring master instead of its occurrences, as an
        independent EWS server did in the field (Microsoft's servers expand series: EWS-FACTS section 2)."""
        self.calendar_view_mode = "master" if on else "expanded"

    def calendar_view_partial(self, on: bool = True):
        """FindItem with CalendarView returns only some occurrences of each series: every other one (the 1st,
        3rd, … in the window), exceptions included."""
        self.calendar_view_mode = "partial" if on else "expanded"

    def update_keeps_time(self, on: bool = True, always: bool = False):
        """An UpdateItem that changes Start/End together with the attendees answers success but keeps the old
        time (other fields are applied), as an independent EWS server did in the field; `always`: also when
        only the time changes."""
        self.update_keeps_time_mode = ("always" if always else "with_attendees") if on else None

    def lose_subscription(self, subscription_id: str | None = None):
        self._sim.hub.lose(subscription_id)

    def force_streaming_timeout(self):
        """Every open GetStreamingEvents connection ends now with ConnectionStatus Closed."""
        self.stream_generation += 1
        with self._sim.hub.cond:
            self._sim.hub.cond.notify_all()

    def stall_streams(self, stalled: bool = True):
        """Open GetStreamingEvents connections go silent and stay open: no notification, no keep-alive, as when
        a firewall or load balancer silently drops a long-lived connection. Events wait on their subscriptions."""
        self.streams_stalled = stalled
        with self._sim.hub.cond:
            self._sim.hub.cond.notify_all()

    def extended_protection(self, mode: str = "require"):
        """Extended Protection over https as IIS enforces it: none, allow (a wrong channel binding is refused, a
        missing one accepted) or require (a missing or wrong one is refused with 401). Plain http: no effect."""
        if mode not in ("none", "allow", "require"):
            raise ValueError("extended_protection mode is none, allow or require")
        self.extended_protection_mode = mode

    def pose_as(self, version: str = "SE"):
        """Answer as another Exchange build from now on (an update was installed): ServerVersionInfo and the
        accepted RequestServerVersion values follow the new version."""
        from .versions import get_version

        self._sim.version = get_version(version)

    def get_405(self, on: bool = True):
        """GET /EWS/Exchange.asmx answers 405 Method Not Allowed without any WWW-Authenticate header, before
        authentication, as a field EWS server did: the offered schemes show only in the 401 to a POST."""
        self.get_answers_405 = bool(on)

    def html_page(self, on: bool = True):
        """Every request to /EWS/Exchange.asmx answers 200 with an HTML sign-in page, as a reverse proxy with
        forms-based pre-authentication does."""
        self.html_front_page = bool(on)

    def lockout(self, threshold: int = 5, window_s: float = 300.0, duration_s: float = 300.0):
        self.lockout_policy = Lockout(threshold, window_s, duration_s)

    def poison_item(self, item_id: str, kind: str = "year_0001"):
        """From now on the item's Start/End read as `kind` (POISON) on the wire, and it is reported as
        changed. Its stored times stay, so CalendarView and the rest keep working; `clear()` leaves it."""
        with self._sim.store.lock:
            item = self._sim.store.get(item_id)
            if item is None:
                raise ValueError(f"no item {item_id}")
            item.wire_dates = POISON[kind](item)
            self._sim.store.touch(item)
        return item.wire_dates

    def clear(self):
        """Every switch off; open streams stay open. Under the lock, as take() is: a clear() landing between
        take()'s check and its decrement used to leave a counted switch at -1, which means "every request until
        clear()" — a storm that never ended (the 200-fault soak's mailbox whose every sync broke off)."""
        with self.lock:
            if self._sim is not None:
                self.cannot_find_user(False)
                self._sim.directory.out_of_scope.clear()
                for mbx in list(self._sim.directory.mailboxes.values()):
                    mbx.unavailable = False
            self._reset()

    # -- checks used by the server -------------------------------------------------------------------
    def take(self, attr: str) -> bool:
        with self.lock:
            if getattr(self, attr) < 0:  # n=-1: until clear()
                return True
            if getattr(self, attr) > 0:
                setattr(self, attr, getattr(self, attr) - 1)
                return True
        return False

    def check_budget(self, account_upn: str):
        if self.take("busy_remaining"):
            raise busy(self.busy_backoff_ms)
        if self.budget is None:
            return
        with self.lock:
            rate = self.budget / self.budget_window_s
            now = time.monotonic()
            tokens, stamp = self._tokens.get(account_upn, (float(self.budget), now))
            tokens = min(float(self.budget), tokens + (now - stamp) * rate)
            if tokens < 1:
                self._tokens[account_upn] = (tokens, now)
                wait_ms = int((1 - tokens) / rate * 1000) + 1
                raise busy(self.budget_backoff_ms or wait_ms)
            self._tokens[account_upn] = (tokens - 1, now)

    def wait_latency(self):
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)

    def active(self, account_upn: str) -> int:
        """Requests of this account in progress right now (what concurrency_cap limits)."""
        with self.lock:
            return self._active[account_upn.lower()]

    def enter(self, account_upn: str):
        with self.lock:
            if self.concurrency_cap is not None and self._active[account_upn] >= self.concurrency_cap:
                # EWSMaxConcurrency <-> ErrorExceededConnectionCount (EWS-FACTS section 7, Table 3)
                raise SoapFault("ErrorExceededConnectionCount",
                                "You have exceeded the available concurrent connections for your account.  "
                                "Try again once your other requests have completed.")
            self._active[account_upn] += 1
            self._peak[account_upn] = max(self._peak[account_upn], self._active[account_upn])

    def peak_active(self, account_upn: str) -> int:
        """The most requests of this account in progress at once since the last clear()."""
        with self.lock:
            return self._peak[account_upn.lower()]

    def open_stream(self, key: str, limit: int) -> bool:
        with self.lock:
            if self._streams[key] >= limit:
                return False
            self._streams[key] += 1
            return True

    def open_streams(self, key: str | None = None) -> int:
        """GetStreamingEvents connections open right now (for one account/impersonated mailbox, or all)."""
        with self.lock:
            return self._streams[key.lower()] if key else sum(self._streams.values())

    def close_stream(self, key: str):
        with self.lock:
            self._streams[key] -= 1

    def leave(self, account_upn: str):
        with self.lock:
            self._active[account_upn] -= 1


def busy(backoff_ms: int) -> SoapFault:
    return SoapFault("ErrorServerBusy", "The server cannot service this request right now. Try again later.",
                     {"BackOffMilliseconds": int(backoff_ms)})
