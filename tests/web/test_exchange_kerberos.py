"""S12 on the Configuration tab: Authorize with "Negotiate (Kerberos, falling back to NTLM)" against a real MIT
KDC and the simulator as Kerberos acceptor, over https with Extended Protection required; the tab says which
mechanism signed in."""
from __future__ import annotations

import io

import pytest

from ews_simulator.testing import running_simulator
from portal.models import ExchangeIntegration
from tests import kdc as kdc_kit
from tests.conftest import login
from tests.web.exchange_helpers import add_staff
from tests.web.test_exchange_authorize_sim import BASE, data_for, failure_of, populate

WHY = kdc_kit.missing()
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"no Kerberos KDC here: {WHY}")


@pytest.fixture
def kdc(tmp_path, monkeypatch):
    server = kdc_kit.start(tmp_path)
    monkeypatch.setenv("KRB5_CONFIG", server.env["KRB5_CONFIG"])
    monkeypatch.setenv("KRB5_KTNAME", str(tmp_path / "none.keytab"))
    yield server
    server.stop()


@pytest.fixture
def admin(app, client, admin_user, queue_redis):
    app.config["EXCHANGE_PROBE_TIMEOUT"] = (3, 10)
    add_staff("Alice Able", "alice@example.com")
    return login(client, admin_user)


def test_s12_authorize_with_negotiate_signs_in_with_kerberos(admin, kdc):
    with running_simulator(version="SE", auth="ntlm", tls=True) as sim:
        populate(sim)
        sim.faults.extended_protection("require")
        kdc.add_user("svc-sundial", sim.service_account.password)
        sim.use_kerberos(kdc.add_service("HTTP/localhost"))
        url = sim.url.replace("127.0.0.1", "localhost")  # the SPN names the host the admin typed
        data = data_for(sim, auth_type="negotiate", server_url=url, version="SE",
                        kerberos_realm=f"EXAMPLE.COM@{kdc.kdc}")
        data["ca_cert"] = (io.BytesIO(sim.ca_pem.encode()), "internal-ca.pem")
        typo = {**data, "password": "Typo-Pa55", "ca_cert": (io.BytesIO(sim.ca_pem.encode()), "ca.pem")}
        assert failure_of(admin.post(BASE + "/authorize", data=typo, content_type="multipart/form-data"))
        assert kdc.failed_preauth("svc-sundial") == 1 and sim.failed_signins(sim.service_account.upn) == 0
        resp = admin.post(BASE + "/authorize", data=data, content_type="multipart/form-data")
        assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
        assert "Signed in with Kerberos." in admin.get(resp.headers["Location"]).get_data(as_text=True)
        integ = ExchangeIntegration.get()
        assert integ.signed_in_with == "kerberos" and integ.kerberos_realm == f"EXAMPLE.COM@{kdc.kdc}"
        html = admin.get(BASE + "/").get_data(as_text=True)
        assert "Signed in with Kerberos." in html and "Negotiate (Kerberos, falling back to NTLM)" in html
        assert sim.signed_in_with("kerberos") >= 1
