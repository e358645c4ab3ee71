"""The simulator's state in one object: directory, mailbox store, subscriptions, faults, counters."""
from __future__ import annotations

import os
import pickle
import threading
import weakref
from collections import Counter, deque
from dataclasses import dataclass, field

from .directory import Directory
from .faults import Faults
from .notifications import Hub
from .store import Store
from .versions import get_version

# Hooks run on every EWS response envelope of every simulator in the process, streamed messages included
# (test harnesses install checking.ResponseChecker here): callables(simulator, envelope bytes).
RESPONSE_HOOKS: list = []
# Every simulator of this process (tests check their internal_errors).
ALL_SIMULATORS: weakref.WeakSet = weakref.WeakSet()


@dataclass
class Config:
    version: str = "2016"
    auth: str = "ntlm"  # ntlm | basic | both
    domain: str = "EXAMPLE"
    email_domain: str = "example.com"
    minute_s: float = 60.0  # length of a "minute" for ConnectionTimeout and pull Timeout (tests shrink it)
    heartbeat_s: float = 30.0
    find_count_limit: int = 1000  # EWSFindCountLimit default (EWS-FACTS section 2)
    hanging_connection_limit: int | None = None  # open streaming connections per account; None = by version
    # Whose budget an impersonated GetStreamingEvents is charged to: "impersonated" (a copy of the impersonated
    # mailbox's, as Microsoft documents: MSDOC how-to-maintain-affinity-between-group-of-subscriptions-and-mailbox-
    # server, "What throttling values") or "account" (the service account's, as some field servers answer).
    hanging_charged_to: str = "impersonated"
    validate_requests: bool = True
    schema_dir: str | None = None
    wsdl_dir: str | None = None  # served at /EWS/Services.wsdl; None = ../shared/ews-schema if present, else wsdl/
    state_file: str | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RequestRecord:
    operation: str
    mailbox: str
    headers: dict  # HTTP request headers, lower-case names: {"x-anchormailbox": ...} (no Authorization)


class Counters:
    """Requests per (operation, mailbox); mailbox "" when none was addressed."""

    def __init__(self):
        self._c: Counter = Counter()
        self._lock = threading.Lock()

    def add(self, operation: str, mailbox: str = ""):
        with self._lock:
            self._c[(operation, mailbox.lower())] += 1

    def __getitem__(self, key) -> int:
        if isinstance(key, str):
            return sum(v for (op, _), v in self._c.items() if op == key)
        return self._c.get((key[0], key[1].lower()), 0)

    def total(self, operation: str | None = None, mailbox: str | None = None) -> int:
        return sum(v for (op, mbx), v in self._c.items()
                   if (operation is None or op == operation) and (mailbox is None or mbx == mailbox.lower()))

    def snapshot(self) -> dict:
        with self._lock:
            return dict(self._c)

    def reset(self):
        with self._lock:
            self._c.clear()


class Simulator:
    def __init__(self, config: Config | None = None):
        self.config = config or Config()
        self.version = get_version(self.config.version)
        self.directory = Directory(self.config.domain)
        self.store = Store()
        self.hub = Hub(self.store)
        self.faults = Faults(self)
        self.counters = Counters()
        self.secret = os.urandom(16)
        self.internal_errors: list[str] = []  # tracebacks of unexpected exceptions while serving
        ALL_SIMULATORS.add(self)
        self.response_hooks: list = []  # like RESPONSE_HOOKS, for this simulator only
        self.requests: deque = deque(maxlen=2000)  # RequestRecord of the latest EWS requests (tests read headers)
        self.request_validator = None
        if self.config.validate_requests:
            from .schema import load_schema
            self.request_validator = load_schema(self.config.schema_dir)

    def record_response(self, envelope: bytes) -> None:
        for hook in self.response_hooks + RESPONSE_HOOKS:
            hook(self, envelope)

    def record_request(self, operation: str, mailbox: str, environ) -> None:
        """Count the request and keep its HTTP headers (X-AnchorMailbox, X-PreferServerAffinity, ...)."""
        self.counters.add(operation, mailbox)
        headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items()
                   if key.startswith("HTTP_") and key != "HTTP_AUTHORIZATION"}
        self.requests.append(RequestRecord(operation, mailbox.lower(), headers))

    # -- persistence (--state FILE) -----------------------------------------------------------------------
    def save(self, path: str | None = None) -> None:
        path = path or self.config.state_file
        if not path:
            return
        with self.store.lock:
            data = pickle.dumps({"directory": self.directory.snapshot(), "store": self.store.snapshot(),
                                 "secret": self.secret})
            self.store.dirty = False
        tmp = path + ".tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)

    def load(self, path: str) -> bool:
        if not os.path.exists(path):
            return False
        with open(path, "rb") as fh:
            data = pickle.load(fh)  # noqa: S301 - our own state file
        self.directory.restore(data["directory"])
        self.store.restore(data["store"])
        self.secret = data["secret"]
        if self.directory.on_accounts_changed:
            self.directory.on_accounts_changed()
        return True
