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


@dataclass
class Lockout:
    threshold: int = 5
    window_s: float = 300.0
    duration_s: float = 300.0


class Faults:
    def __init__(self, sim=None):
        self._sim = sim
        self.lock = threading.Lock()
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
        self._streams: Counter = Counter()
        self.lockout_policy = Lockout()
        self.stream_generation = 0
        self.streams_stalled = False
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

    def lockout(self, threshold: int = 5, window_s: float = 300.0, duration_s: float = 300.0):
        self.lockout_policy = Lockout(threshold, window_s, duration_s)

    def clear(self):
        streams = self._streams
        self.__init__(self._sim)
        self._streams = streams  # open streams stay open

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
