"""G6: notifications go to each audience whose switch is on; the job delivers by SMTP or keeps them undelivered."""
from __future__ import annotations

import socket
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from portal.extensions import db
from portal.jobs.notify import NO_SMTP, deliver
from portal.models import Appointment, Client, Location, NotificationSetting, OutboxMessage, Service, StaffMember
from portal.notifications import notify_appointment

NY = ZoneInfo("America/New_York")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self):
        self.messages = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(app):
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = _free_port()  # aiosmtpd's start() connects to its port to check it is up: no port 0
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_SENDER="Sundial <no-reply@sundial.test>")
    yield inbox
    controller.stop()


def _appointment():
    loc = Location(name="Main Street", address="1 Main St", timezone="America/New_York")
    sam = StaffMember(name="Sam Staff", email="sam@example.test", timezone="America/Los_Angeles",
                      primary_location=loc, locations=[loc])
    svc = Service(name="Mortgage consultation", duration_minutes=60)
    start = datetime(2026, 3, 9, 10, 0, tzinfo=NY)
    appt = Appointment(service=svc, location=loc, start=start, end=start + timedelta(hours=1), staff=[sam],
                       clients=[Client(name="Jo Client", email="jo@client.test"), Client(name="No Mail")])
    db.session.add(appt)
    db.session.commit()
    return appt


def _message(recipient="jo@client.test"):
    msg = OutboxMessage(audience="clients", recipient=recipient, subject="Confirmed: Consultation", body="Hello")
    db.session.add(msg)
    db.session.commit()
    return msg.id


@pytest.mark.parametrize("kind, subject", [
    ("booked", "Confirmed: Mortgage consultation on Mon 9 Mar at 10:00 EDT"),
    ("rescheduled", "Rescheduled: Mortgage consultation on Mon 9 Mar at 10:00 EDT"),
    ("changed_in_exchange", "Rescheduled: Mortgage consultation on Mon 9 Mar at 10:00 EDT"),
    ("cancelled", "Cancelled: Mortgage consultation on Mon 9 Mar at 10:00 EDT"),
    ("cancelled_in_exchange", "Cancelled: Mortgage consultation on Mon 9 Mar at 10:00 EDT"),
])
def test_g6_messages_for_every_kind(app, kind, subject):
    appt = _appointment()
    msgs = notify_appointment(appt, kind)
    db.session.commit()
    client_msg, staff_msg = msgs  # "No Mail" has no address
    assert (client_msg.audience, client_msg.recipient, client_msg.subject) == ("clients", "jo@client.test", subject)
    assert "Main Street, 1 Main St" in client_msg.body and "Hello Jo Client," in client_msg.body
    assert staff_msg.recipient == "sam@example.test"
    assert staff_msg.subject.endswith("at 07:00 PDT")  # the staff member's own zone
    assert {m.status for m in msgs} == {"pending"}


def test_g6_each_audience_has_its_own_switch(app):
    appt = _appointment()
    db.session.add(NotificationSetting(audience="clients", enabled=False))
    assert [m.audience for m in notify_appointment(appt, "booked")] == ["staff"]
    db.session.add(NotificationSetting(audience="staff", enabled=False))
    db.session.get(NotificationSetting, "clients").enabled = True
    assert [m.audience for m in notify_appointment(appt, "cancelled")] == ["clients"]
    with pytest.raises(ValueError):
        notify_appointment(appt, "exploded")


def test_g6_no_smtp_server_keeps_the_message_undelivered_with_the_reason(app):
    app.config["SMTP_HOST"] = ""
    msg_id = _message()
    assert deliver(msg_id) == "undelivered"
    msg = db.session.get(OutboxMessage, msg_id)
    assert (msg.status, msg.last_error, msg.attempts, msg.sent_at) == ("undelivered", NO_SMTP, 1, None)


def test_g6_delivered_to_a_real_smtp_server_exactly_once(app, smtp_server):
    msg_id = _message()
    assert deliver(msg_id) == "sent"
    assert deliver(msg_id) == "skipped"  # a second run (retry, duplicate job) sends nothing
    assert len(smtp_server.messages) == 1
    envelope = smtp_server.messages[0]
    assert envelope.rcpt_tos == ["jo@client.test"] and envelope.mail_from == "no-reply@sundial.test"
    text = envelope.content.decode()
    assert "Subject: Confirmed: Consultation" in text and "Hello" in text
    msg = db.session.get(OutboxMessage, msg_id)
    assert (msg.status, msg.attempts, msg.last_error) == ("sent", 1, None) and msg.sent_at is not None


def test_g6_smtp_failure_marks_failed_and_reraises_then_a_retry_sends(app, smtp_server):
    dead_port = _free_port()  # nobody listens there
    good_port = app.config["SMTP_PORT"]
    app.config["SMTP_PORT"] = dead_port
    msg_id = _message()
    with pytest.raises(ConnectionRefusedError):
        deliver(msg_id)
    msg = db.session.get(OutboxMessage, msg_id)
    assert (msg.status, msg.attempts) == ("failed", 1)
    assert msg.last_error.startswith("ConnectionRefusedError")
    app.config["SMTP_PORT"] = good_port
    assert deliver(msg_id) == "sent"
    assert db.session.get(OutboxMessage, msg_id).attempts == 2
    assert len(smtp_server.messages) == 1


class FlakyInbox(Inbox):
    """Receives every message's DATA (headers included) but refuses the first `refuse` of them with a 451."""

    def __init__(self, refuse: int):
        super().__init__()
        self.refuse, self.seen = refuse, []

    async def handle_DATA(self, server, session, envelope):
        self.seen.append(envelope.content)
        if len(self.seen) <= self.refuse:
            return "451 4.3.0 Mail server temporarily rejected message"
        return await super().handle_DATA(server, session, envelope)


def test_g6_a_resent_outbox_message_keeps_its_message_id(app):
    """Refused once (the server saw it), retried, then re-sent after a worker died mid-send: one Message-ID,
    stored on the row; another message gets its own."""
    import email
    import smtplib

    from aiosmtpd.controller import Controller

    from portal.jobs.notify import STALE_SENDING, recover_outbox
    from portal.jobs.queues import redis_connection
    from portal.models import utcnow

    inbox, port = FlakyInbox(refuse=1), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_SENDER="Sundial <no-reply@sundial.test>")
    redis_connection().flushdb()
    try:
        msg_id = _message()
        with pytest.raises(smtplib.SMTPDataError):
            deliver(msg_id)
        assert db.session.get(OutboxMessage, msg_id).status == "failed"
        assert deliver(msg_id) == "sent"  # the retry
        _age(msg_id, status="sending", claimed_at=utcnow() - STALE_SENDING - timedelta(seconds=1))  # a dead worker
        assert recover_outbox() == [msg_id]
        assert deliver(msg_id) == "sent"  # at-least-once: sent again
        other = _message("max@client.test")
        assert deliver(other) == "sent"
    finally:
        controller.stop()
        redis_connection().flushdb()
    ids = [email.message_from_bytes(content)["Message-ID"] for content in inbox.seen]
    assert len(ids) == 4 and ids[0] == ids[1] == ids[2] != ids[3]
    assert ids[0] == db.session.get(OutboxMessage, msg_id).message_id
    assert ids[0].startswith("<") and ids[0].endswith("@sundial.test>") and f"outbox-{msg_id}" in ids[0]
    assert [e.rcpt_tos for e in inbox.messages] == [["jo@client.test"], ["jo@client.test"], ["max@client.test"]]


def test_g6_no_smtp_attempt_leaves_the_message_id_for_the_first_real_send(app):
    app.config["SMTP_HOST"] = ""
    msg_id = _message()
    deliver(msg_id)
    assert db.session.get(OutboxMessage, msg_id).message_id is None


def test_g6_smtp_refusal_of_the_recipient_is_a_failure(app, smtp_server):
    import smtplib

    msg_id = _message(recipient="nobody@client.test")
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        deliver(msg_id)
    msg = db.session.get(OutboxMessage, msg_id)
    assert msg.status == "failed" and "No such user here" in msg.last_error
    assert smtp_server.messages == []


def test_g6_outbox_page_and_notification_switch(app, admin_user, login_as):
    client = app.test_client()
    login_as(client, admin_user)
    msg_id = _message()
    deliver(msg_id)  # no SMTP in tests by default → undelivered
    page = client.get("/settings/notifications/outbox").get_data(as_text=True)
    assert "badge-warn" in page and "undelivered" in page and "no SMTP server is configured" in page
    resp = client.post("/settings/notifications/clients", data={})  # unchecked box = off
    assert resp.status_code == 302
    assert NotificationSetting.is_enabled("clients") is False and NotificationSetting.is_enabled("staff") is True
    resp = client.post("/settings/notifications/clients", data={"enabled": "y"})
    assert NotificationSetting.is_enabled("clients") is True
    assert client.get("/settings/notifications/nobody").status_code == 404


def test_g6_send_all_waiting_after_an_outage(app, admin_user, login_as, redis_url):
    import redis
    from rq import Queue

    url = redis_url.rsplit("/", 1)[0] + "/9"  # a database of its own; emptied
    conn = redis.Redis.from_url(url)
    conn.flushdb()
    app.config["REDIS_URL"] = url
    app.extensions.pop("sundial_redis", None)
    ids = [_message(f"c{i}@client.test") for i in range(3)]
    db.session.get(OutboxMessage, ids[0]).status = "sent"
    db.session.commit()
    client = app.test_client()
    login_as(client, admin_user)
    page = client.post("/settings/notifications/outbox/retry", follow_redirects=True).get_data(as_text=True)
    assert "Delivery of 2 messages is queued." in page
    assert sorted(Queue("notify", connection=conn).job_ids) == [f"notify-{i}" for i in ids[1:]]
    conn.flushdb()


def _age(msg_id, **fields):
    msg = db.session.get(OutboxMessage, msg_id)
    for name, value in fields.items():
        setattr(msg, name, value)
    db.session.commit()


def test_g6_a_worker_killed_mid_send_leaves_a_message_the_next_tick_delivers(app, smtp_server, redis_url):
    """A `sending` claim whose worker died is taken back after STALE_SENDING and queued again; a fresh claim
    (a worker still talking to the SMTP server) is left alone, so two live workers never both send it."""
    from rq import Queue

    from portal.jobs.notify import CRASHED, STALE_SENDING, recover_outbox
    from portal.jobs.queues import redis_connection
    from portal.models import utcnow

    redis_connection().flushdb()
    fresh, dead = _message("fresh@client.test"), _message("dead@client.test")
    now = utcnow()
    _age(fresh, status="sending", attempts=1, claimed_at=now - timedelta(seconds=30))
    _age(dead, status="sending", attempts=1, claimed_at=now - STALE_SENDING - timedelta(seconds=1))
    assert deliver(fresh) == "skipped"  # a live claim is respected
    assert recover_outbox() == [dead]
    assert db.session.get(OutboxMessage, dead).last_error == CRASHED
    assert [j.args for j in Queue("notify", connection=redis_connection()).jobs] == [(dead,)]
    assert deliver(dead) == "sent"
    assert [e.rcpt_tos for e in smtp_server.messages] == [["dead@client.test"]]
    msg = db.session.get(OutboxMessage, dead)
    assert (msg.status, msg.attempts, msg.last_error) == ("sent", 2, None)
    redis_connection().flushdb()


def test_g6_lost_enqueues_and_failed_deliveries_are_queued_again_with_back_off(app, redis_url):
    """Redis down at booking time leaves `pending` rows; SMTP refusals leave `failed` rows. The tick queues
    the first after a minute and the second after 2^attempts minutes, up to MAX_AUTO_ATTEMPTS."""
    from portal.jobs.notify import MAX_AUTO_ATTEMPTS, recover_outbox
    from portal.jobs.queues import redis_connection
    from portal.models import utcnow

    redis_connection().flushdb()
    now = utcnow()
    just_booked, lost = _message("a@client.test"), _message("b@client.test")
    _age(lost, created_at=now - timedelta(minutes=2))
    failed_recently, failed_long_ago, given_up = (_message(f"{n}@client.test") for n in "cde")
    _age(failed_recently, status="failed", attempts=2, claimed_at=now - timedelta(minutes=3))  # back-off 4 min
    _age(failed_long_ago, status="failed", attempts=2, claimed_at=now - timedelta(minutes=5))
    _age(given_up, status="failed", attempts=MAX_AUTO_ATTEMPTS, claimed_at=now - timedelta(days=1))
    undelivered = _message("f@client.test")  # no SMTP configured: waits for the admin's Retry
    _age(undelivered, status="undelivered", attempts=1, created_at=now - timedelta(hours=1))
    assert sorted(recover_outbox()) == sorted([lost, failed_long_ago])
    assert just_booked not in recover_outbox()
    redis_connection().flushdb()


def test_g6_the_safety_net_tick_recovers_the_outbox_without_an_exchange_connection(app, redis_url):
    from portal.jobs.queues import get_queue, redis_connection
    from portal.jobs.safety_net import TICK_KEY, tick
    from portal.models import utcnow

    redis_connection().flushdb()
    lost = _message()
    _age(lost, created_at=utcnow() - timedelta(minutes=5))
    assert tick() == "integration not connected; 1 outbox messages queued again"
    assert [j.args for j in get_queue("notify").jobs] == [(lost,)]
    assert redis_connection().get(TICK_KEY)  # the chain goes on ticking
    redis_connection().flushdb()
