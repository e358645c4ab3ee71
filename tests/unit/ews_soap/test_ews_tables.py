"""Protocol facts as tables (ARCHITECTURE habit 6): versions (S3) and ResponseCode → typed error (S6), plus the
server-served WSDL option (an admin may load /EWS/Services.wsdl from the Exchange server)."""

from __future__ import annotations

import pytest
import requests
from ews_requests import ALICE, bodies, build_all, without_xsi_type
from ews_testkit import need_shared

from portal.ews_soap import errors as E
from portal.ews_soap.client import EwsClient
from portal.ews_soap.session import ExchangeSession
from portal.ews_soap.types import Credentials, ServerConfig, ServerVersion
from portal.ews_soap.versions import VERSIONS, header_for, label_for_server, suggested_label
from portal.ews_soap.wsdl_loader import REPO_WSDL, _clients, get_client


@pytest.mark.parametrize("label,header", [("2010", "Exchange2010"), ("2010_SP1", "Exchange2010_SP1"),
                                          ("2010_SP2", "Exchange2010_SP2"), ("2013", "Exchange2013"),
                                          ("2013_SP1", "Exchange2013_SP1"), ("2016", "Exchange2016"),
                                          ("2019", "Exchange2016"), ("SE", "Exchange2016")])
def test_s3_versions_offered_and_their_headers(label, header):
    assert header_for(label) == header
    assert set(VERSIONS) == {"2010", "2010_SP1", "2010_SP2", "2013", "2013_SP1", "2016", "2019", "SE"}


@pytest.mark.parametrize("build,label", [((15, 2, 2562), "SE"), ((15, 2, 1748), "2019"),
                                         ((15, 2, 1118), "2019"), ((15, 1, 2176), "2016"), ((15, 0, 1497), "2013_SP1"),
                                         ((15, 0, 775), "2013"), ((14, 3, 123), "2010_SP2"), ((14, 1, 218), "2010_SP1"),
                                         ((14, 0, 639), "2010"), ((8, 0, 685), None)])
def test_s3_server_build_to_label(build, label):
    assert label_for_server(ServerVersion(*build)) == label


def test_s3_suggestion_only_when_different():
    assert suggested_label("2016", ServerVersion(15, 1, 2176)) is None
    assert suggested_label("2010", ServerVersion(15, 1, 2176)) == "2016"
    assert suggested_label("2016", None) is None


def test_unknown_label_is_a_programming_error():
    with pytest.raises(ValueError):
        header_for("2007")


@pytest.mark.parametrize("code", sorted(E.CODE_TABLE))
def test_s6_every_response_code_has_a_typed_error_with_a_sentence(code):
    err = E.error_for_code(code, "detail")
    assert isinstance(err, E.CODE_TABLE[code]) and err.code == code
    assert err.sentence.endswith(".") and len(err.sentence.split()) >= 6
    if isinstance(err, E.Throttled):
        assert err.backoff_seconds == E.DEFAULT_BACKOFF_SECONDS


def test_unknown_code_is_named_and_whitespace_is_stripped():
    err = E.error_for_code("ErrorSomethingNew", operation="GetItem")
    assert type(err) is E.UnhandledResponse and isinstance(err, E.RequestRejected)
    assert "ErrorSomethingNew" in err.sentence and "GetItem" in err.sentence
    assert type(E.error_for_code("\n   ErrorServerBusy\n  ")) is E.Throttled  # exchangelib fixture's padding


def test_credentials_never_show_the_password():
    creds = Credentials("svc@example.com", "Secret-Pa55")
    assert "Secret-Pa55" not in repr(creds) and "Secret-Pa55" not in repr(ServerConfig("https://x/EWS", creds))


SERVED = {"microsoft": "../shared/ews-schema (what a real Exchange serves)", "sundial": "Sundial's own wsdl/"}


@pytest.fixture(scope="module")
def wsdl_sim():
    running_simulator = pytest.importorskip("ews_simulator.testing").running_simulator
    with running_simulator(version="2016", auth="ntlm") as sim:
        sim.add_mailbox(ALICE, name="Alice")
        yield sim


@pytest.mark.parametrize("served", sorted(SERVED))
def test_wsdl_served_by_the_server_builds_the_same_envelopes_and_a_call_succeeds(wsdl_sim, served):
    """Issue #4 (1): with the wsdl_source setting "server", the client loads /EWS/Services.wsdl and the
    messages.xsd/types.xsd it imports from the Exchange server, authenticated (NTLM here), and sends the very
    envelopes Sundial's own WSDL builds."""
    folder = need_shared("ews-schema") if served == "microsoft" else REPO_WSDL.parent
    wsdl_sim.sim.config.wsdl_dir = str(folder)
    acc = wsdl_sim.service_account
    config = ServerConfig(wsdl_sim.url, Credentials(acc.upn, acc.password, "ntlm"), version="2016", wsdl="server",
                          impersonation=True, allow_http=True)
    wsdl_sim.counters.reset()
    try:
        client = EwsClient(config)
        ours = build_all("sundial", True)
        for name, (operation, body, tz) in bodies(False).items():
            data, _headers = client.build(operation, body, impersonate=ALICE, time_zone=tz)
            assert without_xsi_type(data) == without_xsi_type(ours[name]), name
        assert {op: n for (op, _), n in wsdl_sim.counters.snapshot().items() if op.startswith("GET ")} == {
            "GET services.wsdl": 1, "GET messages.xsd": 1, "GET types.xsd": 1}
        assert get_client("server", server_url=wsdl_sim.url) is client.zeep  # loaded once per process
        calendar = ExchangeSession(config).primary_calendar(ALICE)
        assert calendar.folder_id and wsdl_sim.counters[("GetFolder", ALICE)] == 1
    finally:
        _clients.pop(("server", wsdl_sim.url), None)


def test_wsdl_is_served_as_is_and_only_to_authenticated_callers(wsdl_sim):
    from requests_ntlm import HttpNtlmAuth
    wsdl_sim.sim.config.wsdl_dir = str(REPO_WSDL.parent)
    base = wsdl_sim.base_url
    acc = wsdl_sim.service_account
    assert requests.get(f"{base}/EWS/Services.wsdl", timeout=10).status_code == 401
    auth = HttpNtlmAuth(acc.down_level, acc.password)
    for name in ("Services.wsdl", "messages.xsd", "types.xsd"):
        r = requests.get(f"{base}/EWS/{name}", auth=auth, timeout=10)
        assert r.status_code == 200 and r.content == (REPO_WSDL.parent / name.lower()).read_bytes()
    assert requests.get(f"{base}/EWS/xml.xsd", auth=auth, timeout=10).status_code == 404
