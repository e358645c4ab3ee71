"""Every Authorize failure against the EWS simulator reads as its own sentence (S6); success connects (S7).

The real probe (portal.ews_soap.probe) talks HTTP + NTLM to ews_simulator; nothing is faked here.
"""
from __future__ import annotations

import re
import socket

import pytest

from ews_simulator.testing import running_simulator
from portal.extensions import db
from portal.models import AuditEvent, ExchangeIntegration, MailboxState
from tests.conftest import login
from tests.web.exchange_helpers import add_staff

BASE = "/settings/integrations/exchange"


@pytest.fixture(autouse=True)
def _private_queues(queue_redis):
    """Jobs enqueued here go to a Redis database of their own (tests/web/conftest.py), never to another
    test's worker."""
    return queue_redis


def populate(sim):
    sim.add_mailbox(sim.service_account.upn, name="Sundial service")
    sim.add_mailbox("alice@example.com", name="Alice Able")
    sim.add_mailbox("bob@example.com", name="Bob Baker")
    return sim


@pytest.fixture(scope="module")
def sim():
    with running_simulator(version="2016", auth="ntlm") as s:
        yield populate(s)


@pytest.fixture(autouse=True)
def _reset(sim):
    sim.faults.clear()
    sim.set_impersonation(sim.service_account.upn, True)
    sim.unlock(sim.service_account.upn)
    yield


@pytest.fixture
def admin(app, client, admin_user):
    app.config["EXCHANGE_PROBE_TIMEOUT"] = (3, 10)
    add_staff("Alice Able", "alice@example.com")
    add_staff("Bob Baker", "bob@example.com")
    return login(client, admin_user)


def data_for(sim, **over):
    acc = sim.service_account
    data = {"auth_type": "ntlm", "username": acc.upn, "password": acc.password, "version": "2016",
            "server_url": sim.url, "server_url_source": "manual", "allow_http": "y" if sim.url.startswith("http:")
            else None, "display_name": "Exchange", "impersonation": "y", "block_busy": "y", "block_oof": "y",
            "block_tentative": "y", "sync_interval_minutes": "5"}
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def failure_of(resp) -> str:
    assert resp.status_code == 422, resp.status_code
    html = resp.get_data(as_text=True)
    match = re.search(r"<p data-sentence>(.*?)</p>", html, re.S)
    assert match, "no failure sentence on the page"
    return match.group(1).replace("&#39;", "'").replace("&#34;", '"').replace("&amp;", "&")


def change_password(sim, password: str) -> None:
    directory = sim.sim.directory
    directory.find_account(sim.service_account.upn).password = password
    directory.on_accounts_changed()  # the simulator's NTLM acceptor re-reads its credential file


def assert_nothing_saved():
    integ = ExchangeIntegration.get()
    assert integ is None or integ.state == "disconnected"
    assert MailboxState.query.count() == 0


def test_s6_success_against_the_simulator_connects_and_starts_initial_sync(admin, sim):
    resp = admin.post(BASE + "/authorize", data=data_for(sim))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    integ = ExchangeIntegration.get()
    assert integ.state == "connected" and integ.server_version_reported.startswith("15.1")
    assert {m.state for m in MailboxState.query.all()} == {"initializing"}


def test_s6_wrong_password(admin, sim):
    resp = admin.post(BASE + "/authorize", data=data_for(sim, password="not-the-password"))
    assert failure_of(resp) == ("Exchange rejected the user name or password of the service account; check both "
                                "and authorize again.")
    assert_nothing_saved()


def test_s6_s10_locked_account(admin, sim):
    """AD answers a locked account with the same 401 as a wrong password; a password Sundial never saw rejected,
    rejected soon after another one, reads as "probably locked" with the typical lock time and who can unlock.
    After the unlock, the right password (rejected while locked) is sent again only when the admin says so."""
    sim.faults.lockout(threshold=2, window_s=60, duration_s=60)
    for typo in ("typo-one", "typo-two"):  # two different typos: the second locks the account
        admin.post(BASE + "/authorize", data=data_for(sim, password=typo))
    resp = admin.post(BASE + "/authorize", data=data_for(sim))  # the right password, but the account is locked
    sentence = failure_of(resp)
    assert "probably locked" in sentence and "10 to 30 minutes" in sentence
    assert "An Exchange or AD administrator can unlock it" in sentence
    assert_nothing_saved()
    sim.unlock(sim.service_account.upn)
    assert admin.post(BASE + "/authorize", data=data_for(sim, resend_password="y")).status_code == 302


def test_s6_stored_password_rejected_says_it_changed_or_is_locked(admin, sim):
    assert admin.post(BASE + "/authorize", data=data_for(sim)).status_code == 302
    acc = sim.service_account
    change_password(sim, "Rotated-in-AD-1!")  # changed in Active Directory, not in Sundial
    try:
        resp = admin.post(BASE + "/authorize", data=data_for(sim, password="", display_name="Renamed"))
        assert failure_of(resp).startswith("Exchange rejected the stored password, which worked before")
        db.session.expire_all()
        assert ExchangeIntegration.get().state == "connected" and ExchangeIntegration.get().display_name == "Exchange"
    finally:
        change_password(sim, acc.password)


def test_s6_unreachable_closed_port(admin, sim):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    resp = admin.post(BASE + "/authorize", data=data_for(sim, server_url=f"http://127.0.0.1:{port}/EWS/Exchange.asmx"))
    assert failure_of(resp).startswith("Sundial could not reach the Exchange server at this address")
    assert_nothing_saved()


def test_s6_untrusted_certificate_then_trusted_with_uploaded_ca(admin):
    import io

    with running_simulator(version="2016", auth="ntlm", tls=True) as tls_sim:
        populate(tls_sim)
        assert tls_sim.url.startswith("https://")
        resp = admin.post(BASE + "/authorize", data=data_for(tls_sim))
        assert failure_of(resp).startswith("The Exchange server's certificate is not trusted; upload your "
                                           "organisation's CA certificate")
        assert_nothing_saved()
        data = data_for(tls_sim)
        data["ca_cert"] = (io.BytesIO(tls_sim.ca_pem.encode()), "internal-ca.pem")
        resp = admin.post(BASE + "/authorize", data=data, content_type="multipart/form-data")
        assert resp.status_code == 302, resp.get_data(as_text=True)[:1500]
        assert ExchangeIntegration.get().ca_cert_pem.strip() == tls_sim.ca_pem.strip()


def test_s6_version_not_accepted_offers_the_server_version(admin):
    with running_simulator(version="2013", auth="ntlm") as old:
        populate(old)
        resp = admin.post(BASE + "/authorize", data=data_for(old, version="2016"))
        sentence = failure_of(resp)
        assert sentence.startswith("The server reports Exchange 2013") and "— choose Exchange 2013" in sentence
        html = resp.get_data(as_text=True)
        label = re.search(r'name="use_version" value="([^"]+)"', html).group(1)
        assert label == "2013" and sentence == "The server reports Exchange 2013 — choose Exchange 2013."
        assert_nothing_saved()
        resp = admin.post(BASE + "/authorize", data=data_for(old, version="2016", use_version=label))
        assert resp.status_code == 302
        assert ExchangeIntegration.get().version == label


def test_s6_connected_with_an_older_version_offers_the_server_version(admin):
    """Exchange 2019 accepts the 2016 header, so Authorize with 2016 succeeds — and offers 2019 with the same
    one-click button as a failure; pressing it re-authorizes against the server with the stored password."""
    with running_simulator(version="2019", auth="ntlm") as new:
        populate(new)
        resp = admin.post(BASE + "/authorize", data=data_for(new, version="2016"))
        assert resp.status_code == 302
        html = admin.get(resp.headers["Location"]).get_data(as_text=True)
        assert "The server reports Exchange 2019, but Exchange 2016 is selected; choose Exchange 2019" in html
        label = re.search(r'name="use_version" value="([^"]+)"', html).group(1)
        assert label == "2019" and ExchangeIntegration.get().server_version_reported.startswith("15.2.")
        resp = admin.post(BASE + "/authorize", data=data_for(new, version="2016", password="", use_version=label))
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/accounts")
        assert ExchangeIntegration.get().version == "2019"
        assert 'name="use_version"' not in admin.get(BASE + "/").get_data(as_text=True)


def test_s6_impersonation_denied(admin, sim):
    sim.set_impersonation(sim.service_account.upn, False)
    resp = admin.post(BASE + "/authorize", data=data_for(sim))
    assert failure_of(resp).startswith("The service account may not impersonate staff mailboxes; grant it the "
                                       "ApplicationImpersonation role")
    assert_nothing_saved()


def test_s4_plain_http_refused(admin, sim):
    assert sim.url.startswith("http://")
    resp = admin.post(BASE + "/authorize", data=data_for(sim, allow_http=None))
    assert resp.status_code == 422
    assert "plain http is refused unless you tick" in resp.get_data(as_text=True)
    assert_nothing_saved()


def test_s6_failures_are_audited_with_the_settings_tried_never_the_password(admin, sim):
    """Each failed Authorize is audited with its sentence and the names of the settings it tried: all of them
    before anything was saved, then only those that differ from the saved configuration."""
    admin.post(BASE + "/authorize", data=data_for(sim, password="Typo-Secret-99"))
    event = AuditEvent.query.filter_by(action="authorize_rejected").one()
    assert event.detail == (
        f"{sim.url}: Exchange rejected the user name or password of the service account; check both and authorize "
        "again. Settings tried (none saved yet): authentication type, user name, password, server address, allow "
        "plain http and display name.")
    assert admin.post(BASE + "/authorize", data=data_for(sim)).status_code == 302  # saved and connected

    elsewhere = "http://127.0.0.1:9/EWS/Exchange.asmx"  # nothing listens on the discard port
    admin.post(BASE + "/authorize", data=data_for(sim, server_url=elsewhere, password="Other-Secret-77",
                                                 version="2013"))
    admin.post(BASE + "/authorize", data=data_for(sim, password="Typo-Secret-99"))
    admin.post(BASE + "/authorize", data=data_for(sim, password="", display_name="Exchange", server_url=elsewhere))
    failed = AuditEvent.query.filter(AuditEvent.action.in_(["authorize_failed", "authorize_rejected"])).order_by(
        AuditEvent.id).all()
    tried = [e.detail.rpartition(". Settings tried")[2] for e in failed[1:]]
    assert tried == [": password, Exchange version and server address changed from the saved configuration.",
                     ": password changed from the saved configuration.",
                     ": server address changed from the saved configuration."]
    assert failed[1].detail.startswith(f"{elsewhere}: Sundial could not reach the Exchange server")
    change_password(sim, "Rotated-in-AD-1!")  # the saved settings, retried as they are, now fail
    try:
        admin.post(BASE + "/authorize", data=data_for(sim, password=""))
    finally:
        change_password(sim, sim.service_account.password)
    last = AuditEvent.query.order_by(AuditEvent.id.desc()).first()
    assert last.action == "authorize_rejected" and last.detail.endswith(
        "Settings tried: the saved configuration, unchanged.")
    html = admin.get(BASE + "/audit").get_data(as_text=True)
    assert "Authorize failed (sign-in rejected)" in html and "Settings tried" in html
    for secret in ("Typo-Secret-99", "Other-Secret-77", "Rotated-in-AD-1!", sim.service_account.password):
        assert secret not in html
        assert not any(secret in e.detail for e in AuditEvent.query.all())


def test_s4_s10_autodiscover_endpoint_sends_no_password(app, admin, sim):
    """The as-you-type lookup never signs in (S10): even when a password is posted along, nothing carries it,
    so an Autodiscover that needs a sign-in (the simulator's, like IIS's) leaves the guessed address."""
    app.config["EXCHANGE_AUTODISCOVER_CANDIDATES"] = [sim.autodiscover_url]
    app.config["EXCHANGE_AUTODISCOVER_STANDARD"] = False
    acc = sim.service_account
    before = sim.failed_signins(acc.upn)
    data = admin.post(BASE + "/autodiscover", data={"username": acc.upn, "password": "Typo-While-Typing"}).get_json()
    assert data["source"] == "guessed" and data["url"] == "https://mail.example.com/EWS/Exchange.asmx"
    assert sim.failed_signins(acc.upn) == before
    guessed = admin.post(BASE + "/autodiscover", data={"username": "svc@bank.example"}).get_json()
    assert guessed["source"] == "guessed" and guessed["url"] == "https://mail.bank.example/EWS/Exchange.asmx"
    assert "Guessed from your domain" in guessed["note"]
    assert admin.post(BASE + "/autodiscover", data={"username": "nodomain"}).status_code == 400


def test_s5_password_never_logged_by_the_real_client(admin, sim, caplog):
    """With every logger at DEBUG (zeep, urllib3, requests-ntlm, the portal), neither a wrong nor the right
    password appears in any log line of an Authorize round trip."""
    import logging

    caplog.set_level(logging.DEBUG)
    admin.post(BASE + "/authorize", data=data_for(sim, password="Wrong-Secret-77"))
    admin.post(BASE + "/authorize", data=data_for(sim))
    assert ExchangeIntegration.get().state == "connected"
    assert len(caplog.records) > 5
    for record in caplog.records:
        text = record.getMessage()
        assert "Wrong-Secret-77" not in text and sim.service_account.password not in text


def test_s4_autodiscover_through_a_staff_mailbox_when_the_service_account_has_none(app, admin):
    """Impersonation-only service accounts often have no mailbox, and Autodiscover answers only for mailboxes:
    Authorize's Autodiscover (the address was only guessed) then asks for the first staff member's mailbox."""
    with running_simulator(version="2016", auth="ntlm") as bare:
        bare.add_mailbox("alice@example.com", name="Alice Able")  # no mailbox for the service account
        app.config["EXCHANGE_AUTODISCOVER_CANDIDATES"] = [bare.autodiscover_url]
        app.config["EXCHANGE_AUTODISCOVER_STANDARD"] = False
        resp = admin.post(BASE + "/authorize", data=data_for(
            bare, server_url="https://mail.example.com/EWS/Exchange.asmx", server_url_source="guessed",
            allow_http="y"))
        assert resp.status_code == 302, resp.get_data(as_text=True)[:1500]
        integ = ExchangeIntegration.get()
        assert integ.server_url == bare.url and integ.server_url_source == "autodiscover"
