"""S12 against a real MIT Kerberos KDC (Debian krb5-kdc, throwaway realm on a free port) with the simulator as
the Kerberos acceptor (an HTTP/localhost keytab): Negotiate signs in with Kerberos using the password alone,
bound to TLS under Extended Protection Require, and says which mechanism signed in; a wrong password costs one
failed pre-authentication at the KDC and is never retried with NTLM (S10)."""
from __future__ import annotations

import os
from dataclasses import replace

import pytest

from ews_simulator.testing import running_simulator
from portal.ews_soap import AuthenticationFailed, probe
from tests import kdc as kdc_kit
from tests.ews_soap.ews_simkit import populate, session

WHY = kdc_kit.missing()
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"no Kerberos KDC here: {WHY}")


@pytest.fixture(scope="module")
def kdc(tmp_path_factory):
    server = kdc_kit.start(tmp_path_factory.mktemp("kdc"))
    saved = {k: os.environ.get(k) for k in ("KRB5_CONFIG", "KRB5_KTNAME")}
    os.environ["KRB5_CONFIG"] = server.env["KRB5_CONFIG"]
    yield server
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def krb_sim(kdc):
    with running_simulator(version="SE", auth="ntlm", tls=True) as sim:
        populate(sim)
        kdc.add_user("svc-sundial", sim.service_account.password)
        sim.use_kerberos(kdc.add_service("HTTP/localhost"))
        yield sim


def _negotiate(sim, realm, password=None):
    """Authorize's probe (a fresh connection each time) with Negotiate."""
    s = session(sim, auth="negotiate", ca_bundle_pem=sim.ca_pem, password=password)
    url = sim.url.replace("127.0.0.1", "localhost")  # the SPN names the host: HTTP/localhost
    creds = replace(s.config.credentials, realm=realm)
    return probe.probe(replace(s.config, url=url, credentials=creds))


@pytest.fixture(autouse=True)
def _reset(krb_sim):
    krb_sim.faults.clear()
    krb_sim.faults.extended_protection("require")


def test_s12_negotiate_signs_in_with_kerberos_under_extended_protection(krb_sim, kdc):
    before = krb_sim.signed_in_with("kerberos")
    result = (_negotiate(krb_sim, realm=f"EXAMPLE.COM@{kdc.kdc}"))
    assert result.auth_used == "kerberos" and "credentials" in result.checks
    assert krb_sim.signed_in_with("kerberos") > before


def test_s12_negotiate_falls_back_to_ntlm_without_a_kdc(krb_sim, kdc):
    """A realm no KDC serves: Kerberos cannot be tried, so NTLM (inside Negotiate) signs in."""
    result = (_negotiate(krb_sim, realm="NO-KDC.INVALID@127.0.0.1:9"))
    assert result.auth_used == "ntlm"


def test_s10_s12_wrong_password_costs_one_kdc_failure_and_no_ntlm_try(krb_sim, kdc):
    upn = krb_sim.service_account.upn
    ntlm_before, kdc_before = krb_sim.failed_signins(upn), kdc.failed_preauth("svc-sundial")
    with pytest.raises(AuthenticationFailed):
        (_negotiate(krb_sim, realm=f"EXAMPLE.COM@{kdc.kdc}", password="Wrong-Pa55"))
    assert kdc.failed_preauth("svc-sundial") - kdc_before == 1
    assert krb_sim.failed_signins(upn) == ntlm_before
