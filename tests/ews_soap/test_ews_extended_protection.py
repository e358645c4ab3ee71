"""S11 on the wire: the simulator enforces Extended Protection over https as IIS does (pyspnego's acceptor checks
the tls-server-end-point channel binding), and Sundial's NTLM sign-in passes Require — directly, not through
something that re-encrypts TLS."""
from __future__ import annotations

from dataclasses import replace

import pytest
import requests
from requests_ntlm import HttpNtlmAuth

from ews_simulator.testing import running_simulator
from portal.ews_soap import AuthenticationFailed, ExchangeSession, probe
from portal.ews_soap.signin import GET_CALENDAR, GET_CALENDAR_ACTION
from tests.ews_soap.ews_simkit import populate, session
from tests.tls_intercept import Interceptor


@pytest.fixture(scope="module")
def tls_sim():
    with running_simulator(version="2019", auth="ntlm", tls=True) as sim:
        yield populate(sim)


@pytest.fixture(autouse=True)
def _reset(tls_sim):
    tls_sim.faults.clear()
    tls_sim.faults.extended_protection("require")


def _post(sim, send_cbt: bool, url=None, ca=None) -> int:
    """One raw GetFolder with requests-ntlm, channel binding on or off, on a fresh connection."""
    acc = sim.service_account
    with requests.Session() as http:
        resp = http.post(url or sim.url, data=GET_CALENDAR.format(version="Exchange2016").encode(),
                         headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": GET_CALENDAR_ACTION},
                         auth=HttpNtlmAuth(acc.upn, acc.password, send_cbt=send_cbt), verify=_ca(ca or sim.ca_pem),
                         timeout=10)
    return resp.status_code


def _ca(pem: str) -> str:
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as fh:
        fh.write(pem)
    return fh.name


def test_s11_sundial_ntlm_passes_extended_protection_require(tls_sim):
    result = probe.run_probe(session(tls_sim, ca_bundle_pem=tls_sim.ca_pem))
    assert result.auth_used == "ntlm" and "tls" in result.checks
    assert tls_sim.ep_refusals(tls_sim.service_account.upn) == 0
    assert result.tls_end_point and len(result.tls_end_point) == 64


@pytest.mark.parametrize("mode, with_cbt, without_cbt", [
    ("require", 200, 401), ("allow", 200, 200), ("none", 200, 200),
])
def test_s11_simulator_enforces_the_iis_modes(tls_sim, mode, with_cbt, without_cbt):
    """The control: the same right password without a channel binding is refused under Require only."""
    tls_sim.faults.extended_protection(mode)
    refused = tls_sim.ep_refusals(tls_sim.service_account.upn)
    assert _post(tls_sim, send_cbt=True) == with_cbt
    assert _post(tls_sim, send_cbt=False) == without_cbt
    assert tls_sim.ep_refusals(tls_sim.service_account.upn) - refused == (1 if without_cbt == 401 else 0)


@pytest.mark.parametrize("mode, status", [("require", 401), ("allow", 401), ("none", 200)])
def test_s11_a_re_encrypting_proxy_breaks_the_binding(tls_sim, mode, status):
    """Through a TLS-intercepting proxy the binding names the proxy's certificate: Allow and Require refuse the
    right password (and AD sees no bad password), None lets it through."""
    tls_sim.faults.extended_protection(mode)
    upn = tls_sim.service_account.upn
    before = tls_sim.failed_signins(upn)
    with Interceptor(tls_sim.port, tls_sim.ca_pem) as proxy:
        assert _post(tls_sim, send_cbt=True, url=proxy.url, ca=proxy.ca_pem) == status
        if status == 401:
            with pytest.raises(AuthenticationFailed):
                config = replace(session(tls_sim).config, url=proxy.url, ca_bundle_pem=proxy.ca_pem)
                probe.run_probe(ExchangeSession(config))
        assert proxy.connections >= 1
    assert tls_sim.failed_signins(upn) == before
