"""Issue #4 (7): replies that are not SOAP end in a typed error within the timeout — no crash, no file or network
access, no unbounded memory. A tiny local HTTP server plays the hostile or broken endpoint."""

from __future__ import annotations

import gzip
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from portal.ews_soap import Credentials, ExchangeSession, ServerConfig
from portal.ews_soap.errors import ProtocolError, ServerUnreachable, TransientServerError

ENVELOPE_HEAD = (b'<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
                 b'<m:GetFolderResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">')
BOMB = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lollollollollollollollollollol">'
        + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i else b"&lol;") * 10) for i in range(1, 10))
        + b']><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>&lol9;</s:Body></s:Envelope>')
XXE = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
       b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><x>&secret;</x></s:Body></s:Envelope>')
XXE_NET = (b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://127.0.0.1:9/evil.dtd">'
           b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>')


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str | None]] = []

    def log_message(self, *args):
        pass

    def _send(self, status, body=b"", headers=(), length=True):
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):  # noqa: N802 - http.server naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Handler.seen.append((self.path, self.headers.get("Authorization")))
        path = self.path
        if path == "/html":
            self._send(200, b"<html><body><h1>Welcome to IIS</h1></body></html>", [("Content-Type", "text/html")])
        elif path == "/html500":
            self._send(500, b"<html><body>Runtime Error</body></html>", [("Content-Type", "text/html")])
        elif path == "/redirect":
            self._send(302, b"", [("Location", "/error-page")])
        elif path == "/truncated":
            self._send(200, ENVELOPE_HEAD + b"<m:ResponseMessages><m:GetFolderResponseMessage Respo",
                       [("Content-Type", "text/xml")])
        elif path == "/huge":
            self._send(200, ENVELOPE_HEAD + b" " * (50 * 1024 * 1024), [("Content-Type", "text/xml")])
        elif path == "/huge-chunked":
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b" " * (1024 * 1024)
            try:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(ENVELOPE_HEAD), ENVELOPE_HEAD))
                for _ in range(50):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif path == "/gzip-bomb":
            body = gzip.compress(ENVELOPE_HEAD + b" " * (50 * 1024 * 1024))
            self._send(200, body, [("Content-Type", "text/xml"), ("Content-Encoding", "gzip")])
        elif path == "/bomb":
            self._send(200, BOMB, [("Content-Type", "text/xml")])
        elif path == "/xxe":
            self._send(200, XXE, [("Content-Type", "text/xml")])
        elif path == "/xxe-net":
            self._send(200, XXE_NET, [("Content-Type", "text/xml")])
        elif path == "/slow":
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            try:
                for _ in range(40):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.25)
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif path == "/empty":
            self._send(200, b"", [("Content-Type", "text/xml")])
        elif path == "/not-soap":
            self._send(200, b'<?xml version="1.0"?><root/>', [("Content-Type", "text/xml")])
        else:
            self._send(404, b"not found")


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def call(server, path, timeout=(2, 2)):
    config = ServerConfig(url=server + path, credentials=Credentials("svc@example.com", "pw", "basic"),
                          allow_http=True, timeout=timeout)
    return ExchangeSession(config).primary_calendar(None)


@pytest.mark.parametrize("path", ["/html", "/truncated", "/empty", "/not-soap", "/huge", "/huge-chunked",
                                  "/gzip-bomb", "/bomb", "/xxe", "/xxe-net"])
def test_non_soap_reply_is_protocol_error(server, path):
    started = time.monotonic()
    with pytest.raises(ProtocolError) as info:
        call(server, path)
    assert time.monotonic() - started < 10
    assert info.value.sentence


def test_entities_are_never_expanded_nor_files_read(server):
    with pytest.raises(ProtocolError) as info:
        call(server, "/xxe")
    assert "root:" not in str(info.value) and "DTD" in str(info.value)
    started = time.monotonic()
    with pytest.raises(ProtocolError):
        call(server, "/bomb")
    assert time.monotonic() - started < 2  # a billion laughs would take far longer (and gigabytes)


def test_redirect_is_not_followed_with_credentials(server):
    Handler.seen.clear()
    with pytest.raises(ProtocolError) as info:
        call(server, "/redirect")
    assert "/error-page" in info.value.sentence
    assert [p for p, _ in Handler.seen] == ["/redirect"]  # nothing sent to the redirect target


def test_html_error_page_with_500_is_transient(server):
    with pytest.raises(TransientServerError):
        call(server, "/html500")


def test_slow_drip_ends_within_the_timeout(server):
    started = time.monotonic()
    with pytest.raises((ServerUnreachable, ProtocolError)):
        call(server, "/slow", timeout=(1, 1))
    assert time.monotonic() - started < 5


def test_unknown_path_404_is_protocol_error(server):
    with pytest.raises(ProtocolError) as info:
        call(server, "/EWS/nothing")
    assert info.value.code == "HTTP404"
