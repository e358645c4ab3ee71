"""Helpers for the ews_soap integration tests against the EWS simulator (ews_simulator.testing API)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from portal.ews_soap import Credentials, ExchangeSession, ServerConfig

ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def populate(sim):
    """Alice (alias a.smith@), Bob, Carol; the service account has its own mailbox and editor rights on
    Alice's and Bob's calendars (delegate access) and may impersonate (the simulator's default)."""
    acc = sim.service_account
    sim.add_mailbox(acc.upn, name="Sundial service")
    sim.add_mailbox(ALICE, name="Alice Smith", aliases=["a.smith@example.com"])
    sim.add_mailbox(BOB, name="Bob Jones")
    sim.add_mailbox(CAROL, name="Carol King")
    sim.grant(ALICE, acc.upn, "editor")
    sim.grant(BOB, acc.upn, "editor")
    return sim


def session(sim, *, auth="ntlm", impersonation=True, version="2016", password=None, username=None,
            gate=None, **kw) -> ExchangeSession:
    acc = sim.service_account
    creds = Credentials(username or acc.upn, password or acc.password, auth)
    config = ServerConfig(url=sim.url, credentials=creds, version=version, impersonation=impersonation,
                          allow_http=sim.url.startswith("http:"), **kw)
    return ExchangeSession(config, gate=gate)


class RecordingGate:
    """Stands in for the jobs' Redis gate: records acquire/release pairs and back-off requests."""

    def __init__(self):
        self.acquired = self.released = 0
        self.backoffs: list[float] = []

    def acquire(self):
        self.acquired += 1

    def release(self):
        self.released += 1

    def backoff(self, seconds: float):
        self.backoffs.append(seconds)


@contextlib.contextmanager
def counting(sim):
    """Reset the simulator's counters; yields a function returning requests by operation (401s apart)."""
    sim.counters.reset()

    def by_op():
        out: dict[str, int] = {}
        for (op, _mailbox), n in sim.counters.snapshot().items():
            out[op] = out.get(op, 0) + n
        return out
    yield by_op
