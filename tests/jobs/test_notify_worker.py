"""G6 end to end: a booking's messages are delivered by a real RQ worker (`flask sundial worker --burst`,
its own process) to a real SMTP server, on SQLite and on PostgreSQL."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis
from rq import Queue
from test_notify import Inbox, _free_port

from portal.extensions import db
from portal.models import Client, Location, OutboxMessage, Service, StaffMember
from portal.notifications import notify_appointment, queue_delivery
from portal.schedule.booking import book

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def inbox():
    from aiosmtpd.controller import Controller

    handler, port = Inbox(), _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    handler.port = port
    yield handler
    controller.stop()


def test_g6_worker_delivers_booking_notifications(any_app, redis_url, inbox, tmp_path):
    queue_url = redis_url.rsplit("/", 1)[0] + "/8"  # a Redis database of its own: no other test's jobs
    conn = redis.Redis.from_url(queue_url)
    conn.flushdb()
    any_app.config["REDIS_URL"] = queue_url
    any_app.extensions.pop("sundial_redis", None)

    loc = Location(name="Main Street", address="1 Main St", timezone="America/New_York")
    sam = StaffMember(name="Sam Staff", email="sam@example.test", timezone="America/New_York",
                      primary_location=loc, locations=[loc])
    svc = Service(name="Consultation", duration_minutes=30)
    clients = [Client(name="Jo Client", email="jo@client.test"), Client(name="Max Client", email="max@client.test")]
    db.session.add_all([loc, sam, svc, *clients])
    db.session.flush()
    appt = book(service=svc, location=loc, start=datetime(2026, 3, 9, 9, 0, tzinfo=ZoneInfo("America/New_York")),
                staff=[sam], clients=clients)
    msgs = notify_appointment(appt, "booked")
    db.session.commit()
    assert queue_delivery(msgs)
    assert Queue("notify", connection=conn).count == 3

    env = dict(os.environ, SUNDIAL_DATABASE_URL=any_app.config["SQLALCHEMY_DATABASE_URI"],
               SUNDIAL_REDIS_URL=queue_url, SUNDIAL_SMTP_HOST="127.0.0.1", SUNDIAL_SMTP_PORT=str(inbox.port),
               SUNDIAL_SMTP_SENDER="Sundial <no-reply@sundial.test>", SUNDIAL_INSTANCE_PATH=str(tmp_path / "worker"))
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "sundial", "worker", "--burst",
                           "--without-scheduler", "--queues", "notify"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]

    db.session.expire_all()
    rows = db.session.execute(db.select(OutboxMessage).order_by(OutboxMessage.id)).scalars().all()
    assert [(m.recipient, m.status, m.attempts) for m in rows] == [
        ("jo@client.test", "sent", 1), ("max@client.test", "sent", 1), ("sam@example.test", "sent", 1)]
    assert sorted(e.rcpt_tos[0] for e in inbox.messages) == ["jo@client.test", "max@client.test", "sam@example.test"]
    assert all(b"Subject: Confirmed: Consultation on Mon 9 Mar at 09:00 EDT" in e.content for e in inbox.messages)
    assert Queue("notify", connection=conn).count == 0
    assert all(m.sent_at - m.created_at < timedelta(hours=1) for m in rows)
    conn.flushdb()
