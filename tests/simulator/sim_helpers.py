"""Shared helpers for the simulator tests (imported as a top-level module by pytest's rootdir mode)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from ews_simulator.schema import default_schema_dir

SCHEMA_DIR = default_schema_dir()
SAMPLES_DIR = Path(os.environ.get("EWS_SAMPLES_DIR") or Path(__file__).resolve().parents[3] / "shared" / "ews-samples")
needs_schema = pytest.mark.skipif(SCHEMA_DIR is None, reason="../shared/ews-schema is absent (Microsoft's EWS "
                                                             "schema is reference data outside this repository)")
needs_samples = pytest.mark.skipif(not SAMPLES_DIR.exists(),
                                   reason="../shared/ews-samples is absent")


ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"


def populate(sim):
    sim.add_mailbox(ALICE, name="Alice Smith", aliases=["a.smith@example.com"])
    sim.add_mailbox(BOB, name="Bob Jones")
    sim.add_mailbox(CAROL, name="Carol White")
    upn = sim.service_account.upn
    sim.grant(ALICE, upn, "author")
    sim.grant(BOB, upn, "reviewer")
    return sim


def account(sim, mailbox, access="impersonation", auth="ntlm", version=None, upn=None, password=None):
    """An exchangelib Account against the simulator; version=None lets exchangelib guess."""
    from exchangelib import BASIC, DELEGATE, IMPERSONATION, NTLM, Account, Build, Configuration, Credentials, Version
    from exchangelib.protocol import BaseProtocol, close_connections  # noqa: F401
    sa = sim.service_account
    user = upn or (f"{sa.domain}\\{sa.username}" if auth == "ntlm" else sa.upn)
    creds = Credentials(user, password or sa.password)
    kwargs = {}
    if version is not None:
        kwargs["version"] = Version(build=Build(*version) if isinstance(version, tuple) else version)
    config = Configuration(service_endpoint=sim.url, credentials=creds, auth_type=NTLM if auth == "ntlm" else BASIC,
                           max_connections=4, **kwargs)
    return Account(mailbox, config=config, autodiscover=False,
                   access_type=IMPERSONATION if access == "impersonation" else DELEGATE)
