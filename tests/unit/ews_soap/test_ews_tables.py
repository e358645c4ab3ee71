"""Protocol facts as tables (ARCHITECTURE habit 6): versions (S3) and ResponseCode → typed error (S6), plus the
server-served WSDL option (issue #4 (1): an admin may load /EWS/Services.wsdl from the Exchange server)."""

from __future__ import annotations

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from ews_requests import build_all
from lxml import etree

from portal.ews_soap import errors as E
from portal.ews_soap.client import EwsClient
from portal.ews_soap.types import Credentials, ServerConfig, ServerVersion
from portal.ews_soap.versions import VERSIONS, header_for, label_for_server, suggested_label
from portal.ews_soap.wsdl_loader import REPO_WSDL, _clients


@pytest.mark.parametrize("label,header", [("2010", "Exchange2010"), ("2010_SP1", "Exchange2010_SP1"),
                                          ("2010_SP2", "Exchange2010_SP2"), ("2013", "Exchange2013"),
                                          ("2013_SP1", "Exchange2013_SP1"), ("2016", "Exchange2016"),
                                          ("2019", "Exchange2016")])
def test_s3_versions_offered_and_their_headers(label, header):
    assert header_for(label) == header
    assert set(VERSIONS) == {"2010", "2010_SP1", "2010_SP2", "2013", "2013_SP1", "2016", "2019"}


@pytest.mark.parametrize("build,label", [((15, 2, 1118), "2019"), ((15, 1, 2176), "2016"), ((15, 0, 1497), "2013_SP1"),
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


def test_unknown_code_is_request_rejected_and_whitespace_is_stripped():
    assert type(E.error_for_code("ErrorSomethingNew")) is E.RequestRejected
    assert type(E.error_for_code("\n   ErrorServerBusy\n  ")) is E.Throttled  # exchangelib fixture's padding


def test_credentials_never_show_the_password():
    creds = Credentials("svc@example.com", "Secret-Pa55")
    assert "Secret-Pa55" not in repr(creds) and "Secret-Pa55" not in repr(ServerConfig("https://x/EWS", creds))


class WsdlHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    files = {"/EWS/Services.wsdl": "services.wsdl", "/EWS/messages.xsd": "messages.xsd",
             "/EWS/types.xsd": "types.xsd"}
    auth = "Basic " + base64.b64encode(b"svc@example.com:pw").decode()
    seen: list[str] = []

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802
        WsdlHandler.seen.append(self.path)
        if self.headers.get("Authorization") != self.auth:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="EWS"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        name = self.files.get(self.path)
        body = (REPO_WSDL.parent / name).read_bytes() if name else b""
        self.send_response(200 if name else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_wsdl_served_by_the_server_is_loaded_with_auth_and_builds_the_same_requests():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), WsdlHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/EWS/Exchange.asmx"
        config = ServerConfig(url, Credentials("svc@example.com", "pw", "basic"), wsdl="server", allow_http=True)
        client = EwsClient(config)
        data, _ = client.build("GetItem", {"ItemShape": {"BaseShape": "IdOnly"},
                                           "ItemIds": {"_value_1": [{"ItemId": {"Id": "x"}}]}})
        body = etree.fromstring(data).find("{http://schemas.xmlsoap.org/soap/envelope/}Body")
        assert body[0].tag == "{http://schemas.microsoft.com/exchange/services/2006/messages}GetItem"
        assert set(WsdlHandler.seen) >= {"/EWS/Services.wsdl", "/EWS/messages.xsd", "/EWS/types.xsd"}
        ours = build_all("sundial", True)["GetItem-batch"]
        assert ours  # same zeep path; a server WSDL is just another source
    finally:
        httpd.shutdown()
        _clients.pop(("server", url), None)
