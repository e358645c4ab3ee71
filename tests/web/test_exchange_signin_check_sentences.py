# ruff: noqa: F811  (fixtures imported from test_exchange_authorize_sim are test parameters here)
"""Misleading sentences (issue item 6): HTTP 503/429 while Sundial checks which sign-in the server offers is
throttling, not "does not offer Basic or NTLM sign-in"; a slow or silent server "did not answer within N s",
not "could not reach". Real HTTP against the EWS simulator and a real silent socket."""
from __future__ import annotations

import socket

import pytest

from portal.ews_soap import transport
from portal.ews_soap.errors import ServerTimedOut, Throttled
from portal.ews_soap.session import ExchangeSession
from portal.ews_soap.types import Credentials, ServerConfig
from tests.ews_soap.ews_simkit import session
from tests.web.test_exchange_authorize_sim import (  # noqa: F401 - fixtures
    BASE,
    _private_queues,
    _reset,
    admin,
    assert_nothing_saved,
    data_for,
    failure_of,
    sim,
)


@pytest.fixture(autouse=True)
def _fresh_offer_cache():
    transport.close_pools()  # forgets the cached sign-in offers too: every test asks the server again
    yield
    transport.close_pools()


@pytest.fixture
def silent_server():
    """Accepts TCP connections (the kernel's backlog) and never answers a byte."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield f"http://127.0.0.1:{s.getsockname()[1]}/EWS/Exchange.asmx"


@pytest.mark.parametrize("status", [503, 429])
def test_g3_busy_answer_to_the_signin_check_is_throttling(sim, status):
    (sim.faults.http_503 if status == 503 else sim.faults.http_429)(1, retry_after_s=9)
    with pytest.raises(Throttled) as info:
        session(sim, auth="auto").primary_calendar(sim.service_account.upn)
    assert info.value.backoff_seconds == 9 and "does not offer" not in info.value.sentence
    assert session(sim, auth="auto").primary_calendar(sim.service_account.upn)  # once the server has room


@pytest.mark.parametrize("status", [503, 429])
def test_s6_authorize_during_a_busy_signin_check_says_wait(admin, sim, status):
    (sim.faults.http_503 if status == 503 else sim.faults.http_429)(1, retry_after_s=9)
    sentence = failure_of(admin.post(BASE + "/authorize", data=data_for(sim, auth_type="auto")))
    assert sentence.startswith("Exchange is busy and asked Sundial to wait") and "does not offer" not in sentence
    assert_nothing_saved()


def test_s6_silent_server_did_not_answer_within_n_seconds(sim, silent_server):
    acc = sim.service_account
    config = ServerConfig(url=silent_server, credentials=Credentials(acc.upn, acc.password, "ntlm"),
                          allow_http=True, timeout=(1, 1))
    ews = ExchangeSession(config)
    with pytest.raises(ServerTimedOut) as info:
        ews.primary_calendar(sim.service_account.upn)
    assert info.value.sentence.startswith("The Exchange server did not answer within 1 s")


def test_s6_authorize_against_a_silent_server_names_the_wait(app, admin, sim, silent_server):
    app.config["EXCHANGE_PROBE_TIMEOUT"] = (1, 1)
    sentence = failure_of(admin.post(BASE + "/authorize", data=data_for(sim, server_url=silent_server)))
    assert sentence.startswith("The Exchange server did not answer within 1 s") and "could not reach" not in sentence
    assert_nothing_saved()
