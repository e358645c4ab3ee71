"""Configuration tab and Authorize with a stand-in probe (S2–S7, S5 secrets, G4 resume, audit)."""
from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet

from portal.ews_soap import errors as ews
from portal.extensions import db
from portal.models import AuditEvent, ExchangeIntegration, MailboxState
from tests.conftest import login
from tests.web.exchange_helpers import PASSWORD, FakeProbe, add_staff, form_data, install_probe

BASE = "/settings/integrations/exchange"


@pytest.fixture(autouse=True)
def _private_queues(queue_redis):
    """Jobs enqueued here go to a Redis database of their own (tests/web/conftest.py), never to another
    test's worker."""
    return queue_redis


@pytest.fixture
def admin(client, admin_user):
    return login(client, admin_user)


def authorize(client, **over):
    return client.post(BASE + "/authorize", data=form_data(**over))


def test_s2_configuration_tab_has_every_field(admin):
    html = admin.get(BASE + "/").get_data(as_text=True)
    for name in ("auth_type", "username", "password", "version", "server_url", "allow_http", "display_name",
                 "impersonation", "show_titles", "block_busy", "block_oof", "block_tentative", "ca_cert",
                 "sync_interval_minutes"):
        assert f'name="{name}"' in html, name
    assert "OAuth (Exchange Online) — not available for on-premises Exchange" in html
    assert 'id="authorize"' in html


def test_s3_versions_offered_and_cumulative_update_hint(admin):
    html = admin.get(BASE + "/").get_data(as_text=True)
    for label in ("Exchange 2010", "Exchange 2010 SP1", "Exchange 2010 SP2", "Exchange 2013", "Exchange 2013 SP1",
                  "Exchange 2016", "Exchange 2019", "Exchange Server SE"):
        assert f">{label}</option>" in html
    assert "should choose the newest version of its year" in html
    assert "Exchange 2019 and Exchange Server SE are sent to the server as Exchange 2016" in html


def test_i3_blocking_statuses_default_on(admin):
    html = admin.get(BASE + "/").get_data(as_text=True)
    for name in ("block_busy", "block_oof", "block_tentative"):
        assert f'checked id="{name}" name="{name}"' in html or f'id="{name}" name="{name}" type="checkbox" checked' \
            in html or _checked(html, name), name


def _checked(html, name):
    import re

    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', html).group(0)
    return "checked" in tag


def test_s2_username_must_be_user_at_domain(admin, monkeypatch):
    probe = install_probe(monkeypatch, FakeProbe())
    resp = authorize(admin, username="svc-sundial")
    assert resp.status_code == 422
    assert "user@domain" in resp.get_data(as_text=True)
    assert probe.calls == []


def test_s2_display_name_required(admin, monkeypatch):
    probe = install_probe(monkeypatch, FakeProbe())
    resp = authorize(admin, display_name="")
    assert resp.status_code == 422
    assert "Enter a display name" in resp.get_data(as_text=True)
    assert probe.calls == []


def test_s4_plain_http_refused_unless_allowed(admin, monkeypatch):
    probe = install_probe(monkeypatch, FakeProbe())
    resp = authorize(admin, server_url="http://mail.example.com/EWS/Exchange.asmx")
    assert resp.status_code == 422
    assert "plain http is refused unless you tick" in resp.get_data(as_text=True)
    assert probe.calls == []
    resp = authorize(admin, server_url="http://mail.example.com/EWS/Exchange.asmx", allow_http="y")
    assert resp.status_code == 302
    assert probe.calls[0][0].allow_http is True


def test_s6_success_saves_connects_and_records_who(admin, admin_user, monkeypatch):
    install_probe(monkeypatch, FakeProbe())
    resp = authorize(admin)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/accounts")
    integ = ExchangeIntegration.get()
    assert integ.state == "connected"
    assert integ.username == "svc-sundial@example.com"
    assert integ.display_name == "Bank Exchange"
    assert integ.authorized_by_id == admin_user.id and integ.authorized_at is not None
    assert integ.server_version_reported == "15.1.2176.12"
    actions = [e.action for e in AuditEvent.query.all()]
    assert "authorized" in actions and "settings_changed" in actions


def test_s6_failure_leaves_previous_configuration_untouched(admin, monkeypatch):
    install_probe(monkeypatch, FakeProbe())
    authorize(admin)
    before = {c.name: getattr(ExchangeIntegration.get(), c.name) for c in ExchangeIntegration.__table__.columns}
    install_probe(monkeypatch, FakeProbe(error=ews.ServerUnreachable("connect refused")))
    resp = authorize(admin, server_url="https://other.example.com/EWS/Exchange.asmx", password="another-one",
                     display_name="Changed")
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "Authorize failed — nothing was changed." in html
    assert "could not reach the Exchange server" in html
    assert "The previous working configuration stays in force." in html
    db.session.expire_all()
    after = {c.name: getattr(ExchangeIntegration.get(), c.name) for c in ExchangeIntegration.__table__.columns}
    assert after == before


def test_s6_version_not_accepted_names_the_server_version_and_offers_it(admin, monkeypatch):
    probe = install_probe(monkeypatch, FakeProbe(
        error=ews.VersionNotAccepted("rejected", server_version="15.0.847.32")))
    resp = authorize(admin, version="2010")
    html = resp.get_data(as_text=True)
    assert "The server reports Exchange 2013 SP1 — choose Exchange 2013 SP1." in html
    assert 'name="use_version" value="2013_SP1"' in html
    install_probe(monkeypatch, probe.__class__())
    resp = authorize(admin, version="2010", use_version="2013_SP1")
    assert resp.status_code == 302
    assert ExchangeIntegration.get().version == "2013_SP1"


def test_s6_success_with_a_different_server_version_offers_the_one_click_switch(admin, monkeypatch):
    """Authorize succeeds with 2016 on a 2019 server: the Configuration tab says so and offers the same
    "Use Exchange 2019 and authorize again" button as a version failure; pressing it (password left blank)
    re-authorizes with 2019, after which the offer is gone."""
    import re

    add_staff("Alice Able", "alice@example.com")
    probe = install_probe(monkeypatch, FakeProbe(server_version="15.2.1118.7", suggested="2019"))
    resp = authorize(admin, version="2016")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(BASE + "/")
    html = admin.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Connected to https://mail.example.com/EWS/Exchange.asmx. The first sync of 1 staff calendar" in html
    offer = re.search(r'<div class="ex-callout ex-callout-info" id="version-differs">(.*?)</div>', html, re.S).group(1)
    assert ("The server reports Exchange 2019, but Exchange 2016 is selected; choose Exchange 2019 so Sundial uses "
            "everything your server supports.") in offer
    button = re.search(r'<button type="submit" form="exchange-config" name="use_version" value="([^"]+)"[^>]*'
                       r'id="use-suggested-version">\s*Use Exchange 2019 and authorize again</button>', offer)
    assert button and button.group(1) == "2019"
    assert ExchangeIntegration.get().version == "2016" and ExchangeIntegration.get().state == "connected"

    resp = authorize(admin, version="2016", password="", use_version=button.group(1))  # the form, as the page has it
    assert resp.status_code == 302 and resp.headers["Location"].endswith(BASE + "/accounts")
    assert probe.calls[-1][0].version == "2019" and probe.calls[-1][0].credentials.password == PASSWORD
    assert ExchangeIntegration.get().version == "2019"
    html = admin.get(BASE + "/").get_data(as_text=True)
    assert 'id="version-differs"' not in html and 'name="use_version" value=' not in html
    assert "Exchange version changed" in AuditEvent.query.filter_by(action="settings_changed").order_by(
        AuditEvent.id.desc()).first().detail


def test_s6_matching_version_is_not_offered_a_switch(admin, monkeypatch):
    install_probe(monkeypatch, FakeProbe(server_version="15.1.2176.12"))
    resp = authorize(admin, version="2016")
    assert resp.headers["Location"].endswith(BASE + "/accounts")
    assert 'id="version-differs"' not in admin.get(BASE + "/").get_data(as_text=True)


def test_s5_blank_password_keeps_the_stored_one(admin, monkeypatch):
    probe = install_probe(monkeypatch, FakeProbe())
    authorize(admin)
    stored = ExchangeIntegration.get().password_encrypted
    resp = authorize(admin, password="", display_name="Renamed")
    assert resp.status_code == 302
    assert probe.calls[-1][0].credentials.password == PASSWORD
    integ = ExchangeIntegration.get()
    assert integ.password_encrypted == stored and integ.display_name == "Renamed"
    details = " ".join(e.detail for e in AuditEvent.query.filter_by(action="settings_changed"))
    assert "display name changed" in details
    assert details.count("password changed") == 1  # the first authorize only


def test_s5_first_authorize_without_password_asks_for_it(admin, monkeypatch):
    probe = install_probe(monkeypatch, FakeProbe())
    resp = authorize(admin, password="")
    assert resp.status_code == 422
    assert "Sundial has none stored yet" in resp.get_data(as_text=True)
    assert probe.calls == [] and ExchangeIntegration.get() is None


def test_s5_password_never_rendered_or_logged(admin, staff_user, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    install_probe(monkeypatch, FakeProbe())
    bodies = [authorize(admin).get_data(as_text=True)]
    install_probe(monkeypatch, FakeProbe(error=ews.AuthenticationFailed("401")))
    bodies.append(authorize(admin, password="Wrong-" + PASSWORD).get_data(as_text=True))
    bodies.append(authorize(admin, username="not-an-upn").get_data(as_text=True))
    for path in ("/", "/accounts", "/audit", "/disconnect", "/accounts/states.json",
                 f"/accounts/{staff_user.staff.id}/activity"):
        bodies.append(admin.get(BASE + path).get_data(as_text=True))
    for body in bodies:
        assert PASSWORD not in body
    assert "Exchange rejected the user name or password" in bodies[1]
    assert caplog.records, "the feature logs its Authorize attempts"
    for record in caplog.records:
        assert PASSWORD not in record.getMessage()
    assert PASSWORD not in repr(ExchangeIntegration.get())


def test_s5_password_not_in_job_payloads(admin, staff_user, monkeypatch):
    from portal.jobs.queues import get_queue

    install_probe(monkeypatch, FakeProbe())
    get_queue("sync").empty()
    authorize(admin)
    jobs = get_queue("sync").get_jobs()
    assert [j.args for j in jobs] == [(staff_user.staff.id,)]
    for job in jobs:
        assert PASSWORD not in repr(job.args) + repr(job.kwargs) + repr(job.meta)


def test_s5_encrypted_at_rest_database_file_has_no_password(app, admin, monkeypatch):
    install_probe(monkeypatch, FakeProbe())
    authorize(admin)
    db.session.remove()
    db.engine.dispose()
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    raw = open(path, "rb").read()
    assert b"svc-sundial@example.com" in raw  # the file really holds the row
    assert PASSWORD.encode() not in raw


def test_s5_key_rotation_re_encrypts_with_the_newest_key(app, admin, monkeypatch):
    from portal.crypto import decrypt

    install_probe(monkeypatch, FakeProbe())
    authorize(admin)
    old_key = app.config["ENCRYPTION_KEYS"][0]
    new_key = Fernet.generate_key().decode()
    app.config["ENCRYPTION_KEYS"] = [new_key, old_key]
    result = app.test_cli_runner().invoke(args=["sundial", "rotate-keys"])
    assert result.exit_code == 0, result.output
    assert "Re-encrypted" in result.output and PASSWORD not in result.output
    db.session.expire_all()
    token = ExchangeIntegration.get().password_encrypted
    assert decrypt(token, keys=[new_key]) == PASSWORD
    with pytest.raises(ValueError):
        decrypt(token, keys=[old_key])
    assert AuditEvent.query.filter_by(action="keys_rotated").count() == 1


def test_s5_key_rotation_without_the_old_key_says_what_to_do(app, admin, monkeypatch):
    install_probe(monkeypatch, FakeProbe())
    authorize(admin)
    app.config["ENCRYPTION_KEYS"] = [Fernet.generate_key().decode()]
    result = app.test_cli_runner().invoke(args=["sundial", "rotate-keys"])
    assert result.exit_code != 0
    assert "keep the old key in the list" in result.output


def test_s7_authorize_creates_mailbox_rows_and_enqueues_initial_sync(admin, monkeypatch):
    from portal.jobs.queues import get_queue

    a = add_staff("Alice Able", "alice@example.com")
    b = add_staff("Bob Baker", "bob@example.com")
    add_staff("Nora Noappts", "nora@example.com", takes=False)
    install_probe(monkeypatch, FakeProbe())
    get_queue("sync").empty()
    authorize(admin)
    rows = {m.staff_id: m.state for m in MailboxState.query.all()}
    assert rows == {a.id: "initializing", b.id: "initializing"}
    jobs = get_queue("sync").get_jobs()
    assert sorted(j.args[0] for j in jobs) == [a.id, b.id]
    assert {j.func_name for j in jobs} == {"portal.jobs.initial_sync.initial_sync"}


def test_s6_impersonation_probe_targets_a_staff_mailbox(admin, monkeypatch):
    add_staff("Alice Able", "alice@example.com")
    probe = install_probe(monkeypatch, FakeProbe())
    authorize(admin)
    assert probe.calls[-1][1] == "alice@example.com"
    authorize(admin, impersonation=None)
    assert probe.calls[-1][1] is None and probe.calls[-1][0].impersonation is False


def test_s7_redis_outage_keeps_the_saved_config_and_warns(app, admin, monkeypatch):
    add_staff("Alice Able", "alice@example.com")
    install_probe(monkeypatch, FakeProbe())
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    app.extensions.pop("sundial_redis", None)
    resp = authorize(admin)
    assert resp.status_code == 302
    html = admin.get(resp.headers["Location"]).get_data(as_text=True)
    assert "background job queue (Redis) is not reachable" in html
    assert ExchangeIntegration.get().state == "connected"
    row = MailboxState.query.one()
    assert row.state == "error" and "Re-sync" in row.last_error


def test_g4_paused_integration_is_explained_and_reauthorize_resumes_everyone(admin, monkeypatch):
    a = add_staff("Alice Able", "alice@example.com")
    install_probe(monkeypatch, FakeProbe())
    authorize(admin)
    integ = ExchangeIntegration.get()
    integ.state, integ.paused_reason = "paused", "HTTP 401 at 10:02"
    db.session.get(MailboxState, a.id).state = "paused"
    db.session.commit()
    html = admin.get(BASE + "/").get_data(as_text=True)
    assert 'id="exchange-paused-banner"' in html  # base.html's banner (every page: test_exchange_paused_banner.py)
    assert "Syncing is paused for everyone." in html and "not retry it" in html and "HTTP 401 at 10:02" in html
    resp = authorize(admin, password="New-" + PASSWORD)
    assert resp.status_code == 302
    assert "Authorized again: syncing resumed for 1 staff calendar." in admin.get(resp.headers["Location"]).get_data(
        as_text=True)
    assert ExchangeIntegration.get().state == "connected"
    assert db.session.get(MailboxState, a.id).state == "initializing"
    assert "Resumed" in AuditEvent.query.filter_by(action="authorized").order_by(AuditEvent.id.desc()).first().detail


def test_ca_certificate_upload_validated_and_stored(admin, monkeypatch, tmp_path):
    import io

    from tests.web.cert_util import self_signed_pem

    probe = install_probe(monkeypatch, FakeProbe())
    bad = authorize(admin, ca_cert=(io.BytesIO(b"not a certificate"), "ca.pem"))
    assert bad.status_code == 422 and "This file is not a PEM certificate" in bad.get_data(as_text=True)
    pem = self_signed_pem()
    resp = admin.post(BASE + "/authorize", data={**form_data(), "ca_cert": (io.BytesIO(pem.encode()), "ca.pem")},
                      content_type="multipart/form-data")
    assert resp.status_code == 302
    assert probe.calls[-1][0].ca_bundle_pem == pem
    assert ExchangeIntegration.get().ca_cert_pem == pem
    authorize(admin, password="", remove_ca_cert="y")
    assert ExchangeIntegration.get().ca_cert_pem is None
