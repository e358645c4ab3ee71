"""The suite-wide response check (ews_simulator/checking.py, installed by tests/conftest.py) really catches
invalid responses: a made-up ResponseCode, a missing or wrong ServerVersionInfo header, an element the schema
does not allow - in ordinary replies, SOAP faults and streamed messages."""
from __future__ import annotations

import pytest
import requests
from lxml import etree
from sim_helpers import ALICE, SCHEMA_DIR, needs_schema, populate

from ews_simulator import core
from ews_simulator.checking import ResponseChecker
from ews_simulator.faults import busy
from ews_simulator.operations import HANDLERS
from ews_simulator.soap import SoapFault, envelope, fault_envelope, msub, response_root
from ews_simulator.testing import running_simulator
from ews_simulator.versions import get_version

pytestmark = needs_schema
V2016 = get_version("2016")
GET_FOLDER = (b'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
              b'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
              b'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header>'
              b'<t:RequestServerVersion Version="Exchange2016"/></s:Header><s:Body><m:GetFolder><m:FolderShape>'
              b'<t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="calendar"/>'
              b'</m:FolderIds></m:GetFolder></s:Body></s:Envelope>')


@pytest.fixture
def checker():
    return ResponseChecker(SCHEMA_DIR)


def _ok_body():
    root, messages = response_root("GetFolder")
    msg = msub(messages, "GetFolderResponseMessage", ResponseClass="Success")
    msub(msg, "ResponseCode", "NoError")
    return root


def test_valid_reply_and_published_fault_shapes_pass(checker):
    assert checker.problems(envelope(_ok_body(), V2016), V2016) == []
    assert checker.problems(fault_envelope(busy(297749), V2016), V2016) == []
    schema_fault = SoapFault("ErrorSchemaValidation", "The request failed schema validation: x",
                             {"LineNumber": 11, "LinePosition": 33, "Violation": "x"})
    assert checker.problems(fault_envelope(schema_fault, V2016), V2016) == []  # no header, like the sample


def test_reply_without_server_version_info_fails(checker):
    assert checker.problems(envelope(_ok_body(), None), V2016) == ["no s:Header/t:ServerVersionInfo"]


def test_server_version_info_must_match_the_configured_version(checker):
    problems = checker.problems(envelope(_ok_body(), get_version("2013")), V2016)
    assert "ServerVersionInfo@MajorBuildNumber='775', server is 2176" in problems


def test_invalid_reply_body_fails(checker):
    root = _ok_body()
    msub(root[0][0], "Folders")
    msub(root[0][0], "NoSuchElement", "x")
    [problem] = checker.problems(envelope(root, V2016), V2016)
    assert "NoSuchElement" in problem


def test_fault_with_a_made_up_response_code_fails(checker):
    problems = checker.problems(fault_envelope(SoapFault("ErrorMadeUp", "Nope."), V2016), V2016)
    assert any("fault detail" in p and "ErrorMadeUp" in p for p in problems)


def test_fault_code_must_name_the_response_code(checker):
    data = fault_envelope(SoapFault("ErrorServerBusy", "Busy.", faultcode="a:ErrorAccessDenied"), V2016)
    assert checker.problems(data, V2016) == ["faultcode 'a:ErrorAccessDenied' is not a:ErrorServerBusy (a = types ns)"]


def test_not_soap_fails(checker):
    assert checker.problems(b"<html/>", V2016) == ["root is html, not a SOAP 1.1 Envelope"]


def test_a_broken_handler_is_caught_over_http(monkeypatch):
    """End to end: a simulator reply the schema rejects is recorded by an installed checker."""
    local = ResponseChecker(SCHEMA_DIR)
    monkeypatch.setattr(core, "RESPONSE_HOOKS", [])  # keep the suite-wide checker out of this deliberate failure
    local.install()

    def broken(ctx, op):
        root = _ok_body()
        etree.SubElement(root[0][0], "{http://schemas.microsoft.com/exchange/services/2006/messages}Bogus")
        return root

    monkeypatch.setitem(HANDLERS, "GetFolder", broken)
    with running_simulator(version="2016", auth="basic") as sim:
        populate(sim)
        r = requests.post(sim.url, data=GET_FOLDER, auth=(ALICE, "Password1!"), timeout=10)
        assert r.status_code == 200
        sim.faults.server_busy(1, 500)
        r = requests.post(sim.url, data=GET_FOLDER, auth=(ALICE, "Password1!"), timeout=10)
        assert r.status_code == 500
    assert local.checked == 2
    [failure] = local.take_new()
    assert failure.startswith("GetFolderResponse:") and "Bogus" in failure
    assert local.take_new() == []
