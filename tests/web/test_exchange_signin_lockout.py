"""S10 against the simulator's Active Directory lockout: a typo never locks the service account.

Real HTTP + NTLM to ews_simulator; the simulator counts every wrong password per account (what AD's lockout
counts), so "one admin action, at most one failed sign-in" is measured on the server side.
"""
from __future__ import annotations

import pytest

from ews_simulator.testing import running_simulator
from portal.ews_soap.errors import AuthenticationFailed
from portal.ews_soap.operations import get_folder
from portal.ews_soap.signin import PasswordRejectedBefore
from portal.extensions import db
from portal.models import ExchangeIntegration
from tests.conftest import login
from tests.web.exchange_helpers import add_staff
from tests.web.test_exchange_authorize_sim import BASE, change_password, data_for, failure_of, populate

GUESS = "https://mail.example.com/EWS/Exchange.asmx"


@pytest.fixture
def sim(queue_redis):
    with running_simulator(version="2016", auth="ntlm") as s:
        s.faults.lockout(threshold=2, window_s=600, duration_s=600)  # the directory locks after 2 bad sign-ins
        yield populate(s)


@pytest.fixture
def admin(app, client, admin_user):
    app.config["EXCHANGE_PROBE_TIMEOUT"] = (3, 10)
    add_staff("Alice Able", "alice@example.com")
    return login(client, admin_user)


def failed(sim) -> int:
    return sim.failed_signins(sim.service_account.upn)


def test_s10_one_typo_costs_one_failed_signin_and_the_right_password_then_connects(admin, sim):
    """Typed as a new admin would: the user name (the as-you-type lookup fires, with the typo in the password
    field), Authorize with the typo, Authorize again with the same typo, then the right password."""
    upn = sim.service_account.upn
    admin.post(BASE + "/autodiscover", data={"username": upn, "password": "Typo-Pa55"})
    assert failed(sim) == 0
    sentence = failure_of(admin.post(BASE + "/authorize", data=data_for(sim, password="Typo-Pa55")))
    assert sentence.startswith("Exchange rejected the user name or password")
    assert failed(sim) == 1
    again = failure_of(admin.post(BASE + "/authorize", data=data_for(sim, password="Typo-Pa55")))
    assert again.startswith("Exchange already rejected this password just now, so Sundial did not send it again")
    assert failed(sim) == 1 and sim.locked_refusals(upn) == 0
    resp = admin.post(BASE + "/authorize", data=data_for(sim))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1500]
    integ = ExchangeIntegration.get()
    assert integ.state == "connected" and integ.rejected_password_fp is None and integ.signed_in_with == "ntlm"
    assert failed(sim) == 1 and sim.locked_refusals(upn) == 0


@pytest.mark.parametrize("auth", ["auto", "basic"])
def test_s10_authorize_with_autodiscover_stops_at_the_first_401(app, admin, auth):
    """The address is only guessed, so Authorize runs the authenticated Autodiscover: two candidate URLs and a
    server offering both Basic and NTLM — still exactly one failed sign-in, and the probe is never reached."""
    with running_simulator(version="2016", auth="both") as both:
        populate(both)
        both.faults.lockout(threshold=2, window_s=600, duration_s=600)
        app.config["EXCHANGE_AUTODISCOVER_CANDIDATES"] = [both.autodiscover_url,
                                                          both.base_url + "/Autodiscover/Autodiscover.xml"]
        app.config["EXCHANGE_AUTODISCOVER_STANDARD"] = False
        typo = data_for(both, auth_type=auth, password="Typo-Pa55", server_url=GUESS, server_url_source="guessed",
                        allow_http="y")
        sentence = failure_of(admin.post(BASE + "/authorize", data=typo))
        assert sentence.startswith("Exchange rejected the user name or password")
        assert failed(both) == 1
        resp = admin.post(BASE + "/authorize", data={**typo, "password": both.service_account.password})
        assert resp.status_code == 302, resp.get_data(as_text=True)[:1500]
        integ = ExchangeIntegration.get()
        assert integ.server_url == both.url and integ.signed_in_with == ("basic" if auth == "basic" else "ntlm")
        assert failed(both) == 1


def test_s10_a_password_rejected_during_sync_is_never_sent_again(app, admin, sim):
    """The password is changed in AD: the first 401 a worker meets records it, and from then on no worker,
    listener, Autodiscover or blank-password Authorize sends it — until an admin types the new one."""
    from portal.engine.connect import server_config
    from portal.engine.record import pause_integration
    from portal.ews_soap import ExchangeSession, transport
    from portal.ews_soap import autodiscover as ad

    assert admin.post(BASE + "/authorize", data=data_for(sim)).status_code == 302
    change_password(sim, "Rotated-in-AD-1!")
    transport.close_pools()  # a worker's next connection (NTLM authenticates connections, not requests)
    integ = ExchangeIntegration.get()
    with pytest.raises(AuthenticationFailed) as first:
        ExchangeSession(server_config(integ)).client.call(get_folder.OPERATION, get_folder.body(None, False))
    assert failed(sim) == 1
    pause_integration(first.value)  # what a worker and the listener do with it (G4)
    db.session.expire_all()
    integ = ExchangeIntegration.get()
    config = server_config(integ)
    assert config.credentials.rejected and integ.rejected_password_fp and integ.state == "paused"
    sent = sim.counters.total()  # every request the simulator answered, 401s included
    for _ in range(3):  # workers and listener threads build their sessions the same way
        with pytest.raises(PasswordRejectedBefore):
            ExchangeSession(config).client.call(get_folder.OPERATION, get_folder.body(None, False))
    with pytest.raises(PasswordRejectedBefore):
        ad.discover(config.credentials.username, config.credentials.password, extra_candidates=[sim.autodiscover_url],
                    allow_http=True, standard=False, rejected=True)
    sentence = failure_of(admin.post(BASE + "/authorize", data=data_for(sim, password="")))
    assert sentence.startswith("Exchange already rejected this password")
    assert failed(sim) == 1
    assert sim.counters.total() == sent
    resp = admin.post(BASE + "/authorize", data=data_for(sim, password="Rotated-in-AD-1!"))
    assert resp.status_code == 302
    db.session.expire_all()
    assert not server_config(ExchangeIntegration.get()).credentials.rejected


def test_s10_another_password_rejected_soon_after_reads_probably_locked(admin, sim):
    """Two different typos lock the account (threshold 2); the right password is then refused too and the
    sentence says the account is probably locked, for how long typically, and who can unlock it."""
    failure_of(admin.post(BASE + "/authorize", data=data_for(sim, password="typo-one")))
    second = failure_of(admin.post(BASE + "/authorize", data=data_for(sim, password="typo-two")))
    assert "probably locked" in second
    right = failure_of(admin.post(BASE + "/authorize", data=data_for(sim)))
    assert "probably locked" in right and "10 to 30 minutes" in right and "can unlock it" in right
    assert failed(sim) == 2 and sim.locked_refusals(sim.service_account.upn) == 1
    sim.unlock(sim.service_account.upn)  # the AD administrator unlocks the account
    refused = failure_of(admin.post(BASE + "/authorize", data=data_for(sim)))
    assert refused.startswith("Exchange already rejected this password")
    assert sim.locked_refusals(sim.service_account.upn) == 1
    resp = admin.post(BASE + "/authorize", data=data_for(sim, resend_password="y"))
    assert resp.status_code == 302


@pytest.mark.parametrize("switch, path, words", [
    ("get_405", "/EWS/Exchange.asmx", None),  # the field server: Authorize succeeds ("auto" learns from a POST)
    ("html_page", "/EWS/Exchange.asmx", "answered with a web page instead of Exchange Web Services"),
    (None, "/EWS/Elsewhere.asmx", "There is no Exchange Web Services endpoint at this address (HTTP 404)"),
])
def test_s6_authorize_says_what_answered_instead_of_ews(admin, sim, switch, path, words):
    if switch:
        getattr(sim.faults, switch)()
    resp = admin.post(BASE + "/authorize", data=data_for(sim, auth_type="auto", server_url=sim.base_url + path))
    if words is None:
        assert resp.status_code == 302 and ExchangeIntegration.get().signed_in_with == "ntlm"
    else:
        assert words in failure_of(resp)
    assert failed(sim) == 0


def test_s11_authorize_through_a_re_encrypting_proxy_says_extended_protection_refused(admin):
    """Connected directly over https with Extended Protection required, then the same host is reached through a
    TLS-intercepting proxy: one sentence names Extended Protection and the re-encryption, and the (right)
    password is not remembered as rejected."""
    import io

    from tests.tls_intercept import Interceptor

    with running_simulator(version="2019", auth="ntlm", tls=True) as tls_sim:
        populate(tls_sim)
        tls_sim.faults.extended_protection("require")
        data = data_for(tls_sim)
        data["ca_cert"] = (io.BytesIO(tls_sim.ca_pem.encode()), "internal-ca.pem")
        resp = admin.post(BASE + "/authorize", data=data, content_type="multipart/form-data")
        assert resp.status_code == 302, resp.get_data(as_text=True)[:1500]
        assert ExchangeIntegration.get().tls_end_point
        with Interceptor(tls_sim.port, tls_sim.ca_pem) as proxy:
            data = data_for(tls_sim, server_url=proxy.url)
            data["ca_cert"] = (io.BytesIO(proxy.ca_pem.encode()), "proxy-ca.pem")
            resp = admin.post(BASE + "/authorize", data=data, content_type="multipart/form-data")
            sentence = failure_of(resp)
        assert sentence.startswith("Exchange's Extended Protection refused the sign-in because something between "
                                   "Sundial and Exchange re-encrypts TLS")
        assert tls_sim.ep_refusals(tls_sim.service_account.upn) == 1
        assert tls_sim.failed_signins(tls_sim.service_account.upn) == 0
        db.session.expire_all()
        assert ExchangeIntegration.get().rejected_password_fp is None
