"""User Accounts tab (S8), live states, actions, activity log, delays, disconnect (S9), audit log."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from portal.extensions import db
from portal.models import AuditEvent, ExchangeIntegration, MailboxState, SyncActivity, utcnow
from tests.conftest import login
from tests.web.exchange_helpers import FakeProbe, add_staff, form_data, install_probe

BASE = "/settings/integrations/exchange"


@pytest.fixture(autouse=True)
def _private_queues(queue_redis):
    """Jobs enqueued here go to a Redis database of their own (tests/web/conftest.py), never to another
    test's worker."""
    return queue_redis


@pytest.fixture
def admin(client, admin_user):
    return login(client, admin_user)


@pytest.fixture
def connected(admin, monkeypatch):
    install_probe(monkeypatch, FakeProbe())
    resp = admin.post(BASE + "/authorize", data=form_data(display_name="Head Office Exchange"))
    assert resp.status_code == 302
    return ExchangeIntegration.get()


def set_state(staff, state, **fields):
    row = db.session.get(MailboxState, staff.id) or MailboxState(staff_id=staff.id)
    row.state = state
    for k, v in fields.items():
        setattr(row, k, v)
    db.session.add(row)
    db.session.commit()
    return row


@pytest.fixture
def team(app):
    names = ["Ann Archer", "Ben Brook", "Cat Cole", "Dan Dale", "Eve East", "Fay Fox", "Gus Gale", "Hal Hill",
             "Ivy Ince"]
    return [add_staff(n, n.split()[0].lower() + "@example.com") for n in names]


def test_s8_every_state_is_shown_with_its_details(admin, team, connected):
    now = utcnow()
    set_state(team[0], "not_connected")
    set_state(team[1], "mailbox_not_found", tried_address="ben.brook@example.com",
              last_error="This email address is an alias; the staff member's email must be the mailbox's primary "
                         "address. (tried ben.brook@example.com)")
    set_state(team[2], "initializing", progress_imported=40, progress_exported=10, progress_total=200)
    set_state(team[3], "synced", last_sync_at=now - timedelta(minutes=3), last_delay_seconds=2.4)
    set_state(team[4], "throttled", throttled_until=now + timedelta(minutes=4))
    set_state(team[5], "error", last_error="The mailbox database is temporarily unavailable.")
    set_state(team[6], "paused")
    set_state(team[7], "excluded", excluded=True)
    set_state(team[8], "needs_confirmation")
    html = admin.get(BASE + "/accounts").get_data(as_text=True)
    assert "<th>Head Office Exchange</th>" in html
    for label in ("Not connected", "Mailbox not found", "Initializing", "Synced", "Throttled", "Error", "Paused",
                  "Excluded", "Needs confirmation"):
        assert f">{label}</span>" in html, label
    assert "Tried <b>ben.brook@example.com</b>: This email address is an alias;" in html
    assert "primary address. (tried" not in html.replace("&#39;", "'")
    assert "40 imported · 10 exported · 25%" in html and 'aria-valuenow="25"' in html
    assert "Last sync 3 min ago" in html and "Last change arrived 2.4 s after it was made in Exchange" in html
    assert "until " in html and "min more" in html
    assert "The mailbox database is temporarily unavailable." in html
    assert "/confirm-empty" in html


def test_s8_counts_filter_and_search(admin, team, connected):
    set_state(team[0], "synced", last_sync_at=utcnow())
    set_state(team[1], "synced", last_sync_at=utcnow())
    set_state(team[2], "error", last_error="boom")
    html = admin.get(BASE + "/accounts").get_data(as_text=True)
    counts = dict(re.findall(r'data-count="(\w+)" href="[^"]*"><b>(\d+)</b>', html))
    assert counts["all"] == "9" and counts["synced"] == "2" and counts["error"] == "1"
    assert counts["initializing"] == "6" and counts["excluded"] == "0"
    synced = admin.get(BASE + "/accounts?state=synced").get_data(as_text=True)
    assert "Ann Archer" in synced and "Ben Brook" in synced and "Cat Cole" not in synced
    found = admin.get(BASE + "/accounts?q=cole").get_data(as_text=True)
    assert "Cat Cole" in found and "Ann Archer" not in found
    assert "No staff member matches." in admin.get(BASE + "/accounts?q=zzz").get_data(as_text=True)


def test_s8_states_json_for_live_refresh(admin, team, connected):
    set_state(team[0], "initializing", progress_imported=5, progress_exported=0, progress_total=None)
    data = admin.get(BASE + "/accounts/states.json").get_json()
    assert data["live"] is True
    assert data["rows"][str(team[0].id)]["state"] == "initializing"
    assert "5 imported · 0 exported" in data["rows"][str(team[0].id)]["html"]
    assert data["counts"]["initializing"] == 9
    for staff in team:
        set_state(staff, "synced", last_sync_at=utcnow())
    data = admin.get(BASE + "/accounts/states.json").get_json()
    assert data["live"] is False and data["counts"]["synced"] == 9


def test_s8_exclude_include_and_resync_are_audited(admin, team, connected):
    from portal.jobs.queues import get_queue

    staff = team[0]
    set_state(staff, "synced", last_sync_at=utcnow(), initialized_on=utcnow().date())
    assert admin.post(f"{BASE}/accounts/{staff.id}/exclude").status_code == 302
    row = db.session.get(MailboxState, staff.id)
    assert row.excluded and row.state == "excluded"
    get_queue("sync").empty()
    admin.post(f"{BASE}/accounts/{staff.id}/resync")
    assert get_queue("sync").count == 0  # an excluded staff member is not synced
    admin.post(f"{BASE}/accounts/{staff.id}/include")
    row = db.session.get(MailboxState, staff.id)
    assert not row.excluded and row.state == "initializing"
    assert [j.func_name for j in get_queue("sync").get_jobs()] == ["portal.jobs.initial_sync.initial_sync"]
    get_queue("sync").empty()
    set_state(staff, "synced", last_sync_at=utcnow(), initialized_on=utcnow().date())
    admin.post(f"{BASE}/accounts/{staff.id}/resync")
    jobs = get_queue("sync").get_jobs()
    assert [(j.func_name, j.args) for j in jobs] == [("portal.jobs.sync_mailbox.sync_mailbox", (staff.id, "admin"))]
    actions = [e.action for e in AuditEvent.query.order_by(AuditEvent.id)]
    assert actions[-3:] == ["excluded", "included", "resync"]
    html = admin.get(BASE + "/audit").get_data(as_text=True)
    assert "Excluded" in html and "Ann Archer &lt;ann@example.com&gt;" in html and "Ada Admin" in html


def test_s8_excluded_staff_stay_excluded_on_reauthorize(admin, team, connected):
    set_state(team[0], "excluded", excluded=True)
    assert admin.post(BASE + "/authorize", data=form_data(password="")).status_code == 302
    assert db.session.get(MailboxState, team[0].id).state == "excluded"


def test_needs_confirmation_confirm_lets_the_sync_proceed(admin, team, connected):
    from portal.jobs.queues import get_queue

    staff = team[0]
    set_state(staff, "needs_confirmation", last_error="All 12 events vanished from Exchange.")
    get_queue("sync").empty()
    assert admin.post(f"{BASE}/accounts/{staff.id}/confirm-empty").status_code == 302
    row = db.session.get(MailboxState, staff.id)
    assert row.confirmed_empty_at is not None and row.state == "needs_confirmation"
    assert [j.args for j in get_queue("sync").get_jobs()] == [(staff.id, "confirmed")]
    assert AuditEvent.query.filter_by(action="confirmed_empty").count() == 1
    html = admin.get(BASE + "/accounts").get_data(as_text=True)
    assert "the sync is applying the emptied calendar" in html and "/confirm-empty" not in html
    assert admin.get(BASE + "/accounts/states.json").get_json()["live"] is True


def test_activity_log_and_delay_percentiles(admin, team, connected):
    staff = team[0]
    now = utcnow()
    for i, delay in enumerate([1.0, 2.0, 3.0, 4.0, 100.0]):
        db.session.add(SyncActivity(staff_id=staff.id, at=now - timedelta(minutes=i), action="imported",
                                    subject=f"Meeting {i}", reason="Busy event in the primary calendar",
                                    rule="C1", delay_seconds=delay))
    db.session.add(SyncActivity(staff_id=staff.id, at=now - timedelta(hours=2), action="imported", delay_seconds=999))
    db.session.add(SyncActivity(staff_id=staff.id, at=now, action="skipped", subject="Lunch", rule="I3",
                                reason="Free events never block time"))
    db.session.commit()
    html = admin.get(f"{BASE}/accounts/{staff.id}/activity").get_data(as_text=True)
    assert "Free events never block time" in html and "Lunch" in html and ">I3<" in html
    assert "p50 3.0 s · p95 100 s" in html
    found = admin.get(f"{BASE}/accounts/{staff.id}/activity?q=lunch").get_data(as_text=True)
    assert "Lunch" in found and "Meeting 1" not in found
    skipped = admin.get(f"{BASE}/accounts/{staff.id}/activity?action=skipped").get_data(as_text=True)
    assert "Free events never block time" in skipped and "Meeting 1" not in skipped
    assert "p50 <b data-p50>3.0 s</b> · p95 <b data-p95>100 s</b>" in admin.get(BASE + "/accounts").get_data(
        as_text=True)


def test_s9_disconnect_confirms_stops_sync_and_removes_nothing(admin, team, connected):
    set_state(team[0], "synced", last_sync_at=utcnow(), sync_state="opaque-state")
    page = admin.get(BASE + "/disconnect").get_data(as_text=True)
    assert "Nothing is removed" in page and 'id="confirm-disconnect"' in page
    assert ExchangeIntegration.get().state == "connected"  # GET changes nothing
    resp = admin.post(BASE + "/disconnect")
    assert resp.status_code == 302
    html = admin.get(resp.headers["Location"]).get_data(as_text=True)
    assert "nothing was removed from Sundial or from Exchange" in html
    integ = ExchangeIntegration.get()
    assert integ.state == "disconnected" and integ.password_encrypted and integ.username
    row = db.session.get(MailboxState, team[0].id)
    assert row.state == "not_connected" and row.sync_state == "opaque-state"
    assert AuditEvent.query.filter_by(action="disconnected").count() == 1


def test_audit_log_lists_changed_fields_never_the_password(admin, connected):
    from tests.web.exchange_helpers import PASSWORD

    admin.post(BASE + "/authorize", data=form_data(password="Another-Pass-1", show_titles="y", version="2019",
                                                      display_name="Head Office Exchange"))
    html = admin.get(BASE + "/audit").get_data(as_text=True)
    assert "password changed, Exchange version changed, display event titles changed" in html
    assert PASSWORD not in html and "Another-Pass-1" not in html


def test_s8_authorize_and_accounts_on_postgresql(app, pg_app, admin_user, monkeypatch):
    """The same flow on PostgreSQL: rows, counts, search (ILIKE) and the activity filter."""
    pg_app.config["REDIS_URL"] = app.config["REDIS_URL"]  # the private queue database (_private_queues)
    client = login(pg_app.test_client(), admin_user)
    staff = add_staff("Pat Postgres", "pat@example.com")
    install_probe(monkeypatch, FakeProbe())
    assert client.post(BASE + "/authorize", data=form_data()).status_code == 302
    db.session.add(SyncActivity(staff_id=staff.id, action="skipped", subject="Team Lunch", reason="Free", rule="I3"))
    db.session.commit()
    html = client.get(BASE + "/accounts?q=PAT").get_data(as_text=True)
    assert "Pat Postgres" in html and ">Initializing</span>" in html
    assert "Team Lunch" in client.get(f"{BASE}/accounts/{staff.id}/activity?q=lunch&action=skipped").get_data(
        as_text=True)
