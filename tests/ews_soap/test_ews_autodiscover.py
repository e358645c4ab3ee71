"""S4: Autodiscover (POX) finds the EWS URL in bounded time, else guesses https://mail.<domain>/EWS/Exchange.asmx;
credentials never go over plain http nor after a redirect to another host. Published POX replies parse."""

from __future__ import annotations

import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from portal.ews_soap.autodiscover import discover, guess, parse_pox, pox_request
from portal.ews_soap.transport import close_pools

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "ews_soap"))
from ews_testkit import sample  # noqa: E402

running_simulator = pytest.importorskip("ews_simulator.testing").running_simulator


@pytest.mark.parametrize("name,expected", [
    ("Autodiscover-POX-response.xml", ("settings", "https://mail.contoso.com/ews/exchange.asmx")),
    ("Autodiscover-POX-howto-response.xml", ("settings", None)),
    ("Autodiscover-POX-redirectAddr-response.xml", ("redirectAddr", "elvin@mail.contoso.com")),
    ("Autodiscover-POX-error-600.xml", ("error", "600")),
])
def test_s4_published_pox_replies(name, expected):
    action, value = parse_pox(sample(name))
    assert action == expected[0]
    if expected[1]:
        assert value == expected[1]
    else:
        assert value.startswith("https://")


def test_s4_pox_request_shape():
    body = pox_request("user@contoso.com")
    assert b"<EMailAddress>user@contoso.com</EMailAddress>" in body and b"responseschema/2006a" in body


def test_s4_guess_when_nothing_answers():
    assert guess("bank.example") == "https://mail.bank.example/EWS/Exchange.asmx"
    result = discover("svc@bank.example", "pw", standard=False)
    assert (result.url, result.detected, result.source) == (guess("bank.example"), False, "guessed")


def test_s4_detected_over_https_with_admin_ca():
    with running_simulator(version="2016", auth="ntlm", tls=True) as sim:
        acc = sim.service_account
        sim.add_mailbox(acc.upn, name="svc")
        result = discover(acc.upn, acc.password, extra_candidates=[sim.autodiscover_url], ca_bundle_pem=sim.ca_pem,
                          standard=False)
        close_pools()
        assert result.detected and result.url == sim.url and result.source == sim.autodiscover_url
        close_pools()


def test_s4_no_credentials_over_plain_http():
    with running_simulator(version="2016", auth="basic") as sim:
        acc = sim.service_account
        sim.add_mailbox(acc.upn, name="svc")
        sim.counters.reset()
        result = discover(acc.upn, acc.password, extra_candidates=[sim.autodiscover_url], standard=False)
        assert not result.detected and sim.counters.total() == 0  # nothing was even sent
        lab = discover(acc.upn, acc.password, extra_candidates=[sim.autodiscover_url], standard=False,
                       allow_http=True)
        assert lab.detected and lab.url == sim.url


class Redirector(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str | None]] = []
    target = ""

    def log_message(self, *args):
        pass

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Redirector.seen.append((self.path, self.headers.get("Authorization")))
        if not self.headers.get("Authorization"):
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="x"')
        else:
            self.send_response(302)
            self.send_header("Location", Redirector.target)
        self.send_header("Content-Length", "0")
        self.end_headers()


def test_s4_no_credentials_after_redirect_to_another_host():
    first = ThreadingHTTPServer(("127.0.0.1", 0), Redirector)
    other = ThreadingHTTPServer(("127.0.0.1", 0), Redirector)
    for srv in (first, other):
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        Redirector.seen.clear()
        Redirector.target = f"http://127.0.0.1:{other.server_address[1]}/autodiscover/autodiscover.xml"
        url = f"http://127.0.0.1:{first.server_address[1]}/autodiscover/autodiscover.xml"
        result = discover("svc@bank.example", "pw", extra_candidates=[url], standard=False, allow_http=True)
        assert not result.detected
        assert [p for p, _ in Redirector.seen] == ["/autodiscover/autodiscover.xml"] * 2  # 401, then 302: stop
    finally:
        first.shutdown()
        other.shutdown()


def test_s4_bounded_total_time():
    """An endpoint that accepts the connection and never answers cannot hold Authorize past the budget."""
    with socket.socket() as black_hole:
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(8)
        url = f"https://127.0.0.1:{black_hole.getsockname()[1]}/autodiscover/autodiscover.xml"
        started = time.monotonic()
        result = discover("svc@bank.example", "pw", extra_candidates=[url, url, url], standard=False,
                          total_timeout=1.5)
        assert not result.detected and time.monotonic() - started < 3
