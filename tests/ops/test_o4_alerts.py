"""O4: admins are emailed (real SMTP to a local aiosmtpd server) and a webhook is called when the integration
pauses, a mailbox stays in error or throttled for 30 minutes, notifications fall back to polling, or the outbox
cannot deliver — once per incident, reminders after 1, 3, 7 days, and a "resolved" message."""
from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from ews_simulator.testing import running_simulator
from portal.crypto import encrypt
from portal.extensions import db
from portal.models import AlertIncident, ExchangeIntegration, MailboxState, OutboxMessage, StaffMember, utcnow
from portal.ops.alerts import evaluate
from tests.conftest import login, make_user

BASE = "/settings/integrations/exchange"


def authorize(client, sim):
    acc = sim.service_account
    data = {"auth_type": "ntlm", "username": acc.upn, "password": acc.password, "version": "2016",
            "server_url": sim.url, "server_url_source": "manual", "allow_http": "y", "display_name": "Exchange",
            "impersonation": "y", "block_busy": "y", "block_oof": "y", "block_tentative": "y",
            "sync_interval_minutes": "5"}
    resp = client.post(f"{BASE}/authorize", data=data)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    assert ExchangeIntegration.get().state == "connected"


def test_o4_a_paused_integration_sends_exactly_one_email_and_resolved_after_authorize(app, ops_redis, smtp_inbox):
    """Real Authorize and a real sync against the simulator over NTLM; jobs run inline (RQ's synchronous queue),
    delivery goes through the outbox to the SMTP server."""
    from portal.ews_soap.transport import close_pools
    from portal.jobs.queues import enqueue_incremental_sync

    app.config.update(RQ_ASYNC=False, EXCHANGE_PROBE_TIMEOUT=(3, 10))
    admin = make_user("ops-admin@example.test", role="admin")
    make_user("not-an-admin@example.test", role="staff")
    with running_simulator(version="2016", auth="ntlm") as sim:
        sim.add_mailbox(sim.service_account.upn, name="Sundial service")
        sim.add_mailbox("alice@example.com", name="Alice Able")
        alice = StaffMember(name="Alice Able", email="alice@example.com", timezone="UTC", takes_appointments=True)
        db.session.add(alice)
        db.session.commit()
        client = login(app.test_client(), admin)
        authorize(client, sim)
        assert smtp_inbox.messages == []  # nothing to report while connected

        integ = ExchangeIntegration.get()
        integ.password_encrypted = encrypt("the password someone changed in AD")
        db.session.commit()
        close_pools()
        enqueue_incremental_sync(alice.id, "periodic")  # the worker's 401 pauses everyone (G4)
        assert ExchangeIntegration.get().state == "paused"
        evaluate()
        evaluate()  # two more safety-net ticks: still one incident, nothing sent again
        assert smtp_inbox.subjects() == ["[Sundial] Alert: Exchange syncing is paused for everyone"]
        assert smtp_inbox.messages[0].rcpt_tos == ["ops-admin@example.test"]
        page = client.get(f"{BASE}/").get_data(as_text=True)
        assert 'id="alerts"' in page and 'data-alert-kind="integration_paused"' in page

        close_pools()
        authorize(client, sim)  # the admin authorizes again: the alert check runs right after
        close_pools()
    assert smtp_inbox.subjects() == ["[Sundial] Alert: Exchange syncing is paused for everyone",
                                     "[Sundial] Resolved: Exchange syncing is paused for everyone"]
    assert all(e.rcpt_tos == ["ops-admin@example.test"] for e in smtp_inbox.messages)
    assert AlertIncident.query.filter(AlertIncident.resolved_at.is_(None)).count() == 0
    assert 'data-alert-kind' not in client.get(f"{BASE}/").get_data(as_text=True)


def _admin_outbox():
    return [m.subject for m in db.session.execute(db.select(OutboxMessage).where(
        OutboxMessage.audience == "admins").order_by(OutboxMessage.id)).scalars()]


def test_o4_reminders_after_1_3_and_7_days_then_silence(app, ops_redis):
    make_user("ops-admin@example.test", role="admin")
    db.session.add(ExchangeIntegration(id=1, state="paused", paused_reason="Exchange rejected the password."))
    db.session.commit()
    t0 = utcnow()
    for hours in (0, 1, 23, 25, 50, 73, 100, 24 * 7 + 1, 24 * 30):
        evaluate(now=t0 + timedelta(hours=hours))
    subjects = _admin_outbox()
    assert [s.split(":")[0] for s in subjects] == ["[Sundial] Alert", "[Sundial] Reminder", "[Sundial] Reminder",
                                                   "[Sundial] Reminder"]


def test_o4_a_mailbox_in_error_is_reported_only_after_30_minutes(app, ops_redis):
    make_user("ops-admin@example.test", role="admin")
    staff = StaffMember(name="Bo Busy", email="bo@example.test", timezone="UTC")
    db.session.add_all([staff, MailboxState(staff=staff, state="error", last_error="The mailbox is busy.")])
    db.session.commit()
    t0 = utcnow()
    evaluate(now=t0)
    evaluate(now=t0 + timedelta(minutes=29))
    assert _admin_outbox() == []
    evaluate(now=t0 + timedelta(minutes=31))
    assert _admin_outbox() == ["[Sundial] Alert: Bo Busy's calendar is error"]
    staff.mailbox_state.state = "synced"
    db.session.commit()
    evaluate(now=t0 + timedelta(minutes=40))
    assert _admin_outbox()[-1] == "[Sundial] Resolved: Bo Busy's calendar is error"


def test_o4_short_error_clears_silently(app, ops_redis):
    make_user("ops-admin@example.test", role="admin")
    staff = StaffMember(name="Cy", email="cy@example.test", timezone="UTC")
    db.session.add_all([staff, MailboxState(staff=staff, state="throttled")])
    db.session.commit()
    evaluate()
    staff.mailbox_state.state = "synced"
    db.session.commit()
    evaluate()
    assert _admin_outbox() == []
    assert AlertIncident.query.one().resolved_at is not None


class _Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook(app):
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    _Hook.received = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    app.config["ALERT_WEBHOOK_URL"] = f"http://127.0.0.1:{server.server_port}/hook"
    yield _Hook.received
    server.shutdown()


def test_o4_webhook_called_for_polling_fallback_and_failing_outbox(app, ops_redis, webhook):
    make_user("ops-admin@example.test", role="admin")
    ops_redis.hset("sundial:listener:stats:host:1", mapping={
        "connections": 0, "subscriptions": 0, "fallback": "3 mailboxes exceed the streaming connection limit."})
    db.session.add(OutboxMessage(audience="clients", recipient="x@example.test", subject="s", body="b",
                                 status="failed", last_error="550 relay denied"))
    db.session.commit()
    evaluate()
    evaluate()
    assert sorted((h["stage"], h["kind"]) for h in webhook) == [("alert", "outbox_failing"),
                                                                 ("alert", "polling_fallback")]
    ops_redis.delete("sundial:listener:stats:host:1")
    evaluate()
    assert ("resolved", "polling_fallback") in [(h["stage"], h["kind"]) for h in webhook]
    assert "550 relay denied" in next(h["detail"] for h in webhook if h["kind"] == "outbox_failing")


def test_o4_a_webhook_that_is_down_does_not_stop_the_email(app, ops_redis):
    app.config["ALERT_WEBHOOK_URL"] = "http://127.0.0.1:1/hook"
    make_user("ops-admin@example.test", role="admin")
    db.session.add(ExchangeIntegration(id=1, state="paused"))
    db.session.commit()
    evaluate()
    assert _admin_outbox() == ["[Sundial] Alert: Exchange syncing is paused for everyone"]


def test_o4_the_listener_reports_a_fallback_from_streaming_but_not_delegate_polling():
    from types import SimpleNamespace

    from portal.listener.groups import Group, Plan, Target
    from portal.ops.state_metrics import fallback_sentence

    a, b = Target("a@example.com", 1), Target("b@example.com", 2)
    streaming = Group("s1", "streaming", (a,))
    pulled = Group("p1", "pull", (b,))
    world = SimpleNamespace(connected=True, plan=Plan("streaming", "2 over the limit.", (streaming, pulled)))
    assert fallback_sentence(world).startswith("1 mailbox(es) are read by pull notifications")
    world.plan = Plan("streaming", "", (streaming,))
    assert fallback_sentence(world) == ""
    world.plan = Plan("polling", "delegate access", ())
    assert fallback_sentence(world) == ""  # a configuration, not an incident
