"""G6 end to end: a booking's messages are delivered by a real RQ worker (`flask sundial worker --burst`,
its own process) to a real SMTP server, on SQLite and on PostgreSQL.

RQ's scheduler (on by default in `flask sundial worker`, as `make run` starts it) runs jobs scheduled ahead
with enqueue_in / enqueue_at — the safety-net tick (G2), throttling back-offs (G3), outbox retries (G6) — when
they are due and not before: in burst mode and as the long-running worker's scheduler process."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis
from rq import Queue
from test_notify import Inbox, _free_port

from portal.booking.appointments import book
from portal.extensions import db
from portal.jobs.queues import enqueue_all
from portal.models import Client, Location, OutboxMessage, Service, StaffMember
from portal.notifications import notify_appointment

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
    assert enqueue_all([("notify", m.id) for m in msgs])
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


@pytest.fixture
def scheduler_env(app, redis_url, inbox, tmp_path):
    """The app's queues on a Redis database of their own, and the environment of a worker process sharing the
    app's SQLite file and delivering to `inbox`."""
    queue_url = redis_url.rsplit("/", 1)[0] + "/11"
    conn = redis.Redis.from_url(queue_url)
    conn.flushdb()
    app.config["REDIS_URL"] = queue_url
    app.extensions.pop("sundial_redis", None)
    env = dict(os.environ, SUNDIAL_DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], SUNDIAL_REDIS_URL=queue_url,
               SUNDIAL_SMTP_HOST="127.0.0.1", SUNDIAL_SMTP_PORT=str(inbox.port),
               SUNDIAL_SMTP_SENDER="Sundial <no-reply@sundial.test>", SUNDIAL_INSTANCE_PATH=str(tmp_path / "worker"))
    yield env, conn
    conn.flushdb()


def _outbox(recipient: str) -> int:
    msg = OutboxMessage(audience="clients", recipient=recipient, subject="Reminder", body="See you soon")
    db.session.add(msg)
    db.session.commit()
    return msg.id


def _worker(env, *flags, timeout=180):
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "sundial", "worker", "--queues", "notify",
                           *flags], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]


def _status(outbox_id: int) -> OutboxMessage:
    db.session.expire_all()
    return db.session.get(OutboxMessage, outbox_id)


def test_g3_g6_burst_worker_with_scheduler_runs_a_job_once_it_is_due(app, inbox, scheduler_env):
    """enqueue_in(2 s) and enqueue_at(+1 h): after 2 s, a burst worker without the scheduler runs neither; the
    default worker (scheduler on) runs the due one and leaves the other scheduled."""
    from rq.registry import ScheduledJobRegistry

    from portal.jobs.queues import get_queue

    env, conn = scheduler_env
    soon, later = _outbox("soon@client.test"), _outbox("later@client.test")
    queue = get_queue("notify")
    due = datetime.now(UTC) + timedelta(seconds=2)
    queue.enqueue_in(timedelta(seconds=2), "portal.jobs.notify.deliver", soon, job_id=f"notify-{soon}")
    queue.enqueue_at(datetime.now(UTC) + timedelta(hours=1), "portal.jobs.notify.deliver", later,
                     job_id=f"notify-{later}")
    registry = ScheduledJobRegistry(queue=queue)
    assert sorted(registry.get_job_ids()) == sorted([f"notify-{soon}", f"notify-{later}"]) and queue.count == 0
    time.sleep(max((due - datetime.now(UTC)).total_seconds(), 0) + 0.2)

    _worker(env, "--burst", "--without-scheduler")  # nothing moves scheduled jobs: nothing runs
    assert _status(soon).status == "pending" and inbox.messages == []

    _worker(env, "--burst")  # the default: RQ's scheduler on
    assert (_status(soon).status, _status(soon).attempts) == ("sent", 1)
    assert [e.rcpt_tos for e in inbox.messages] == [["soon@client.test"]]
    assert _status(later).status == "pending" and registry.get_job_ids() == [f"notify-{later}"]


def test_g3_g6_long_running_worker_scheduler_runs_a_job_when_due_and_not_before(app, inbox, scheduler_env, tmp_path):
    """`flask sundial worker` as `make run` starts it: its scheduler process enqueues a job scheduled (enqueue_at)
    2-3 s ahead at its time."""
    from rq import Worker

    from portal.jobs.queues import get_queue

    env, conn = scheduler_env
    msg_id = _outbox("soon@client.test")
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "sundial", "worker", "--queues",
                                   "notify"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not Worker.all(connection=conn) and time.monotonic() < deadline:
            assert worker.poll() is None, log.read_text()[-3000:]
            time.sleep(0.2)
        assert Worker.all(connection=conn), "the worker did not start"
        # RQ keeps scheduled times in whole seconds: a whole-second time 2-3 s ahead is exactly when it is due.
        due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
        get_queue("notify").enqueue_at(due, "portal.jobs.notify.deliver", msg_id, job_id=f"notify-{msg_id}")
        while _status(msg_id).status != "sent" and time.monotonic() < deadline:
            assert worker.poll() is None, log.read_text()[-3000:]
            time.sleep(0.2)
        msg = _status(msg_id)
        assert msg.status == "sent", msg.status
        assert msg.claimed_at >= due, (msg.claimed_at, due)  # not before its time
        assert msg.claimed_at - due < timedelta(seconds=10)
        assert [e.rcpt_tos for e in inbox.messages] == [["soon@client.test"]]
    finally:
        os.killpg(worker.pid, signal.SIGTERM)  # the worker's own process group: it, its scheduler, its jobs
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(5)
