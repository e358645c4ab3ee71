"""Issue #4 (1): every request Sundial builds validates against Microsoft's schema, and the client works
unchanged when pointed at Microsoft's services.wsdl. Skipped with a reason when ../shared is absent."""

from __future__ import annotations

import functools

import pytest
from ews_requests import ALICE, NAMES, build_all, without_xsi_type
from ews_testkit import config, ms_schema, need_shared, schema_errors
from lxml import etree

from portal.ews_soap.client import EwsClient
from portal.ews_soap.errors import ProtocolError
from portal.ews_soap.operations import get_folder
from portal.ews_soap.versions import VERSIONS
from portal.ews_soap.wsdl_loader import REPO_WSDL, LocalTransport, get_client


@functools.lru_cache(maxsize=4)
def built(wsdl: str, impersonation: bool) -> dict[str, bytes]:
    return build_all(wsdl, impersonation)


@pytest.mark.parametrize("impersonation", [True, False], ids=["impersonation", "delegate"])
@pytest.mark.parametrize("name", NAMES)
def test_request_validates_against_microsoft_schema(name, impersonation):
    ms_schema()  # skips when ../shared is absent
    errors = schema_errors(built("sundial", impersonation)[name])
    assert errors == []


@pytest.mark.parametrize("impersonation", [True, False], ids=["impersonation", "delegate"])
@pytest.mark.parametrize("name", NAMES)
def test_microsoft_wsdl_builds_the_same_requests(name, impersonation):
    """The client pointed at Microsoft's services.wsdl (wsdl="microsoft") sends the same envelopes. The only
    difference allowed is zeep's redundant xsi:type="t:CalendarItemType" on CreateItem items (see xml.Typed)."""
    need_shared("ews-schema", "services.wsdl")
    ms, ours = built("microsoft", impersonation)[name], built("sundial", impersonation)[name]
    assert without_xsi_type(ms) == without_xsi_type(ours)
    assert schema_errors(ms) == []


def _header(data: bytes, local: str):
    root = etree.fromstring(data)
    return root.find(f"{{http://schemas.xmlsoap.org/soap/envelope/}}Header/{{*}}{local}")


@pytest.mark.parametrize("label", sorted(VERSIONS))
def test_s3_version_header_from_one_table(label):
    client = EwsClient(config(version=label))
    data, _ = client.build(get_folder.OPERATION, get_folder.body(None, False))
    assert _header(data, "RequestServerVersion").get("Version") == VERSIONS[label][0]


def test_s3_2019_sent_as_exchange2016():
    client = EwsClient(config(version="2019"))
    data, headers = client.build(get_folder.OPERATION, get_folder.body(None, False))
    assert _header(data, "RequestServerVersion").get("Version") == "Exchange2016"
    assert headers["SOAPAction"].strip('"').endswith("/GetFolder")


def test_g5_impersonation_header_and_no_mailbox_in_body():
    data = built("sundial", True)["GetFolder-calendar"]
    sid = _header(data, "ExchangeImpersonation")
    assert sid is not None and sid.findtext("{*}ConnectingSID/{*}PrimarySmtpAddress") == ALICE
    assert b"Mailbox>" not in data.split(b"Body>")[1]


def test_g5_delegate_access_names_mailbox_in_distinguished_folder():
    data = built("sundial", False)["GetFolder-calendar"]
    assert _header(data, "ExchangeImpersonation") is None
    body = etree.fromstring(data).find("{*}Body")
    assert body.findtext(".//{*}DistinguishedFolderId/{*}Mailbox/{*}EmailAddress") == ALICE


def test_e1_create_sends_no_invitations_and_carries_appointment_id():
    data = built("sundial", True)["CreateItem-batch"]
    create = etree.fromstring(data).find("{*}Body/{*}CreateItem")
    assert create.get("SendMeetingInvitations") == "SendToNone"
    prop = create.find(".//{*}ExtendedProperty")
    assert prop.find("{*}ExtendedFieldURI").get("PropertyName") == "SundialAppointmentId"
    assert prop.findtext("{*}Value") == "42"
    assert create.find(".//{*}StartTimeZone").get("Id") == "W. Europe Standard Time"
    assert _header(data, "TimeZoneContext") is not None


def test_e2_update_and_delete_send_nothing_to_attendees():
    upd = etree.fromstring(built("sundial", True)["UpdateItem-batch"]).find("{*}Body/{*}UpdateItem")
    assert upd.get("SendMeetingInvitationsOrCancellations") == "SendToNone"
    assert upd.get("ConflictResolution") == "AlwaysOverwrite"  # E3: Sundial's version wins
    dele = etree.fromstring(built("sundial", True)["DeleteItem-batch"]).find("{*}Body/{*}DeleteItem")
    assert dele.get("SendMeetingCancellations") == "SendToNone"


def test_sundial_wsdl_loads_offline_with_entity_and_dtd_protection():
    client = get_client("sundial")
    assert client.settings.forbid_dtd and client.settings.forbid_entities and client.settings.forbid_external
    transport = LocalTransport(REPO_WSDL.parent, None)
    with pytest.raises(ProtocolError):
        transport.load("http://example.com/evil.xsd")
    with pytest.raises(ProtocolError):
        transport.load("/etc/passwd")
