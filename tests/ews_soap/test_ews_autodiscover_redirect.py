"""S4/S5: after an Autodiscover redirectUrl, credentials go only to https hosts inside the account's domain.

A real POX endpoint (plain http, lab mode) answers an authenticated request with redirectUrl; a listening
socket stands in for the host outside the domain and counts every connection Sundial opens to it."""
from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from portal.ews_soap.autodiscover import discover, https_inside

POX = ('<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/'
       'autodiscover/responseschema/2006"><Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/'
       'outlook/responseschema/2006a"><Account><Action>redirectUrl</Action><RedirectUrl>{url}</RedirectUrl>'
       '</Account></Response></Autodiscover>')


class RedirectUrlServer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    target = ""

    def log_message(self, *args):
        pass

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = POX.format(url=RedirectUrlServer.target).encode()
        if not self.headers.get("Authorization"):
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="x"')
            body = b""
        else:
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def pox_server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), RedirectUrlServer)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/autodiscover/autodiscover.xml"
    srv.shutdown()


@pytest.fixture
def outsider():
    """A host outside the account's domain: counts the connections made to it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.2)
    accepted = []

    def count():
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
                accepted.append(conn)
            except OSError:
                continue

    stop = threading.Event()
    thread = threading.Thread(target=count, daemon=True)
    thread.start()
    yield sock.getsockname()[1], accepted
    stop.set()
    thread.join(2)
    for conn in accepted:
        conn.close()
    sock.close()


@pytest.mark.parametrize("target", ["https://127.0.0.1:{port}/autodiscover/autodiscover.xml",  # outside
                                    "http://127.0.0.1:{port}/autodiscover/autodiscover.xml"])  # and plain http
def test_s4_s5_no_credentials_after_redirect_url_outside_the_domain(pox_server, outsider, target):
    port, accepted = outsider
    RedirectUrlServer.target = target.format(port=port)
    result = discover("svc@bank.example", "pw", extra_candidates=[pox_server], standard=False, allow_http=True,
                      total_timeout=3)
    assert not result.detected
    assert RedirectUrlServer.target not in result.tried
    assert accepted == []  # not even a connection to the outside host


def test_s4_s5_redirect_url_inside_the_domain_is_followed(pox_server):
    RedirectUrlServer.target = "https://autodiscover.eu.bank.example/autodiscover/autodiscover.xml"
    result = discover("svc@bank.example", "pw", extra_candidates=[pox_server], standard=False, allow_http=True,
                      total_timeout=3)
    assert RedirectUrlServer.target in result.tried  # tried (it does not resolve here), as it belongs to the domain


def test_s4_s5_inside_means_https_and_the_domain_or_a_subdomain():
    assert https_inside("https://bank.example/x", "bank.example")
    assert https_inside("https://Mail.EU.Bank.Example/x", "bank.example")
    assert not https_inside("http://mail.bank.example/x", "bank.example")
    assert not https_inside("https://evilbank.example/x", "bank.example")
    assert not https_inside("https://bank.example.evil.test/x", "bank.example")
    assert not https_inside("https://user@evil.test/x", "bank.example")
    assert not https_inside(None, "bank.example")
