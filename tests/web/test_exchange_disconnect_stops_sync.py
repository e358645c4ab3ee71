"""S9 against the EWS simulator: after the admin presses Disconnect, sync jobs already waiting in the queue, a
delayed retry, an export and the periodic safety-net run send not one request to Exchange — and nothing is
removed from Sundial or from Exchange.

Real pieces: the simulator over HTTP with NTLM (it counts every request per operation, 401 handshakes
included), Redis, RQ's SimpleWorker draining the queues in this process, the Disconnect page.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rq import SimpleWorker
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from ews_simulator.testing import running_simulator
from portal.extensions import db
from portal.models import Client, ExchangeIntegration, ExternalAbsence, Location, MailboxState, Service, StaffMember
from tests.conftest import login

ALICE = "alice@example.com"
BASE = "/settings/integrations/exchange"


def future(days: int, hour: int) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


@pytest.fixture(scope="module")
def sim():
    with running_simulator(version="2016", auth="ntlm") as handle:
        handle.add_mailbox(handle.service_account.upn, name="Sundial service")
        handle.add_mailbox(ALICE, name="Alice Able")
        yield handle


class _Worker(SimpleWorker):
    """RQ's in-process worker without its pub/sub control thread (a test has no use for it)."""

    def subscribe(self):
        pass

    def unsubscribe(self):
        pass


def drain(conn, scheduled: bool = False) -> None:
    """Run every queued job; with `scheduled`, first release the jobs waiting in RQ's scheduler (delayed
    retries, the next safety-net tick) as if their time had come."""
    from portal.jobs.queues import QUEUE_NAMES, get_queue

    queues = [get_queue(n) for n in QUEUE_NAMES]
    if scheduled:
        for q in queues:
            registry = ScheduledJobRegistry(queue=q)
            for job_id in registry.get_job_ids():
                registry.remove(job_id)
                q.enqueue_job(q.fetch_job(job_id))
    _Worker(queues, connection=conn).work(burst=True, with_scheduler=False)
    for q in queues:
        assert FailedJobRegistry(queue=q).get_job_ids() == [], q.name
    db.session.expire_all()


@pytest.fixture
def org(app, queue_redis, sim):
    """A connected integration (the simulator's service account), Alice taking appointments, a service, a
    client; Alice's calendar emptied."""
    from portal.crypto import encrypt

    for item in list(sim.outlook(ALICE).items()):
        sim.outlook(ALICE).delete(item.id)
    sim.faults.clear()
    acct = sim.service_account
    loc = Location(name="Main Street", address="1 Main Street, Springfield", timezone="America/New_York")
    alice = StaffMember(name="Alice Able", email=ALICE, timezone="America/New_York", primary_location=loc,
                        locations=[loc])
    service, client = Service(name="Mortgage advice", duration_minutes=60), Client(name="Cleo", email="c@example.net")
    db.session.add_all([loc, alice, service, client, ExchangeIntegration(
        id=1, auth_type="ntlm", username=acct.upn, password_encrypted=encrypt(acct.password), version="2016",
        server_url=sim.url, allow_http=True, impersonation=True, state="connected", show_titles=True)])
    db.session.commit()
    return alice, loc, service, client


def _book(alice, loc, service, client, start):
    from portal.booking.appointments import book
    from portal.jobs.queues import enqueue_export

    appt = book(service=service, location=loc, start=start, end=start + timedelta(hours=1), staff=[alice],
                clients=[client])
    db.session.commit()
    enqueue_export(appt.id)
    return appt


def test_s9_after_disconnect_queued_jobs_and_the_safety_net_send_no_request(client, admin_user, org, sim,
                                                                             queue_redis):
    from portal.jobs.queues import enqueue_incremental_sync, enqueue_initial_sync, schedule_retry, start_safety_net

    alice, loc, service, cli = org
    outlook = sim.outlook(ALICE)
    outlook.create("Dentist", future(2, 14), future(2, 15))
    enqueue_initial_sync(alice.id)
    drain(queue_redis)
    first = _book(alice, loc, service, cli, future(3, 15))
    drain(queue_redis)
    # Connected, the same harness does reach Exchange: the counters would show a leak.
    assert sim.counters.total() > 0 and db.session.get(MailboxState, alice.id).state == "synced"
    assert sorted(i.subject for i in outlook.items()) == ["Dentist", "Mortgage advice"]

    # Work waiting when the admin disconnects: a change in Outlook with its sync queued, a delayed retry,
    # a new booking's export, and the safety net's next tick.
    outlook.create("Lunch with the auditor", future(4, 12), future(4, 13))
    enqueue_incremental_sync(alice.id, "notification")
    schedule_retry("sync", alice.id, "retry", delay=30)
    second = _book(alice, loc, service, cli, future(5, 15))
    start_safety_net()
    waiting = sum(q.count for q in _queues()) + sum(ScheduledJobRegistry(queue=q).count for q in _queues())
    assert waiting >= 4

    login(client, admin_user)
    resp = client.post(BASE + "/disconnect")
    assert resp.status_code == 302
    assert ExchangeIntegration.get().state == "disconnected"

    sim.counters.reset()
    drain(queue_redis)  # the queued sync and export
    drain(queue_redis, scheduled=True)  # the delayed retry and the safety-net tick
    drain(queue_redis, scheduled=True)  # whatever that tick queued, and its successor
    assert sim.counters.snapshot() == {}  # not one request: no sync, no export, no handshake

    assert [a.title for a in db.session.execute(db.select(ExternalAbsence)).scalars()] == ["Dentist"]  # kept
    assert "Lunch with the auditor" not in [a.title for a in db.session.execute(db.select(ExternalAbsence))
                                            .scalars()]
    assert sorted(i.subject for i in outlook.items()) == ["Dentist", "Lunch with the auditor", "Mortgage advice"]
    assert first.status == "booked" and second.status == "booked"
    assert db.session.get(MailboxState, alice.id).state == "not_connected"


def _queues():
    from portal.jobs.queues import QUEUE_NAMES, get_queue

    return [get_queue(n) for n in QUEUE_NAMES]
