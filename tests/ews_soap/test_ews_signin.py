"""Sign-in scheme discovery (S12, issue item "whichever the server offers") and one failed sign-in per action (S10).

Against the simulator over real HTTP: the scheme comes from the 401 to an unauthenticated POST of a real EWS
request, never from a GET, and a wrong password is sent with one scheme only.
"""
from __future__ import annotations

from dataclasses import replace

import pytest

from ews_simulator.testing import running_simulator
from portal.ews_soap import AuthenticationFailed, Credentials, ExchangeSession, ProtocolError, ServerConfig, probe
from portal.ews_soap.signin import choose, offered
from tests.ews_soap.ews_simkit import populate, session


@pytest.fixture(scope="module")
def both():
    with running_simulator(version="2016", auth="both") as sim:
        yield populate(sim)


@pytest.fixture(autouse=True)
def _reset(both):
    both.faults.clear()
    both.unlock(both.service_account.upn)


def test_s12_scheme_learnt_from_the_401_to_a_post_when_get_answers_405(both):
    """The field server: GET /EWS/Exchange.asmx → 405 without WWW-Authenticate. "auto" still signs in."""
    both.faults.get_405()
    import requests

    assert requests.get(both.url, timeout=5).status_code == 405
    assert "WWW-Authenticate" not in requests.get(both.url, timeout=5).headers
    result = probe.run_probe(session(both, auth="auto"))
    assert result.auth_used == "ntlm" and "credentials" in result.checks


@pytest.mark.parametrize("offer", ["ntlm", "basic"])
def test_s12_auto_uses_the_one_scheme_offered(offer):
    with running_simulator(version="2016", auth=offer) as sim:
        populate(sim)
        sim.faults.get_405()
        assert probe.run_probe(session(sim, auth="auto")).auth_used == offer


def test_s10_wrong_password_with_auto_costs_one_failed_signin_on_a_server_offering_both(both):
    upn = both.service_account.upn
    before = both.failed_signins(upn)
    with pytest.raises(AuthenticationFailed):
        probe.run_probe(session(both, auth="auto", password="Wrong-Pa55"))
    assert both.failed_signins(upn) - before == 1


@pytest.mark.parametrize("switch, path, code, words", [
    ("none", "/EWS/Nothing.asmx", "HTTP404", "There is no Exchange Web Services endpoint at this address (HTTP 404)"),
    ("html_page", "/EWS/Exchange.asmx", "HtmlPage", "answered with a web page instead of Exchange Web Services"),
])
def test_s6_not_ews_answers_have_their_own_sentence(both, switch, path, code, words):
    if switch != "none":
        getattr(both.faults, switch)()
    for auth in ("auto", "ntlm"):
        s = session(both, auth=auth)
        s = ExchangeSession(replace(s.config, url=both.base_url + path))
        with pytest.raises(ProtocolError) as err:
            probe.run_probe(s)
        assert err.value.code == code and words in err.value.sentence


def test_s6_a_405_to_the_ews_post_has_its_own_sentence():
    """A web server that refuses POST (a static site at the address) answers 405: said as such."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Refuse(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            self.send_response(405)
            self.send_header("Allow", "GET")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/EWS/Exchange.asmx"
        for auth in ("auto", "basic"):
            config = ServerConfig(url, Credentials("svc@example.com", "pw", auth), allow_http=True, timeout=(3, 5))
            with pytest.raises(ProtocolError) as err:
                probe.run_probe(ExchangeSession(config))
            assert err.value.code == "HTTP405" and "(HTTP 405 Method Not Allowed)" in err.value.sentence
    finally:
        server.shutdown()


@pytest.mark.parametrize("header, kinds, auto", [
    ("NTLM", {"ntlm"}, "ntlm"),
    ('Negotiate, NTLM, Basic realm="mail.example.com"', {"negotiate", "ntlm", "basic"}, "ntlm"),
    ('Basic realm="a, b"', {"basic"}, "basic"),
    ("Negotiate", {"negotiate"}, "ntlm"),
    ('Bearer authorization_uri="https://login.example"', {"bearer"}, None),
])
def test_s12_offer_parsing(header, kinds, auto):
    assert offered({"WWW-Authenticate": header}) == kinds
    assert choose("auto", kinds) == auto


def test_s12_auto_learns_the_scheme_before_fetching_the_servers_own_wsdl(both):
    """wsdl='server': the WSDL is fetched (authenticated) before zeep can build any request, so the offer is
    learnt with a fixed GetFolder request; GET still answers 405 here."""
    both.faults.get_405()
    result = probe.run_probe(session(both, auth="auto", wsdl="server"))
    assert result.auth_used == "ntlm" and "credentials" in result.checks
