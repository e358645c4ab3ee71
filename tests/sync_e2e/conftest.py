"""End-to-end sync harness: the EWS simulator over HTTP with NTLM, a private Redis, in-process RQ workers.

`world` gives a connected integration, two staff members whose emails are simulator mailboxes, a location,
a service and a client; `world.run()` drains the queues with a burst SimpleWorker (RQ's own worker class).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from ews_simulator.testing import running_simulator

STAFF = (("Alice Archer", "alice@example.com", "America/New_York"),
         ("Bob Baker", "bob@example.com", "Europe/London"))


def future(days: int = 3, hour: int = 15) -> datetime:
    d = datetime.now(UTC) + timedelta(days=days)
    return d.replace(hour=hour, minute=0, second=0, microsecond=0)


def _burst_worker_class():
    from rq import SimpleWorker

    class BurstWorker(SimpleWorker):
        """RQ's in-process worker without the pub/sub control thread (joining it costs ≈1 s per burst)."""

        def subscribe(self):
            pass

        def unsubscribe(self):
            pass

    return BurstWorker


@dataclass
class World:
    app: object
    sim: object
    redis: object
    staff: list = field(default_factory=list)
    location: object = None
    service: object = None
    client: object = None

    @property
    def alice(self):
        return self.staff[0]

    @property
    def bob(self):
        return self.staff[1]

    def outlook(self, who):
        return self.sim.outlook(who.email)

    def run(self, scheduled: bool = False) -> None:
        """Drain every queue in-process; `scheduled` first releases jobs waiting in RQ's scheduler."""
        from rq.registry import ScheduledJobRegistry

        from portal.jobs.queues import QUEUE_NAMES, get_queue

        BurstWorker = _burst_worker_class()
        queues = [get_queue(n) for n in QUEUE_NAMES]
        if scheduled:  # sync/export retries and spread-out safety-net syncs; never the next tick itself
            for q in queues[:2]:
                reg = ScheduledJobRegistry(queue=q)
                for job_id in reg.get_job_ids():
                    reg.remove(job_id)
                    q.enqueue_job(q.fetch_job(job_id))
        BurstWorker(queues, connection=self.redis).work(burst=True, with_scheduler=False)
        from portal.extensions import db

        db.session.expire_all()

    def book(self, start=None, staff=None, minutes=60, notes=""):
        from portal.booking.appointments import book
        from portal.extensions import db
        from portal.jobs.queues import enqueue_export

        appt = book(service=self.service, location=self.location, start=start or future(), clients=[self.client],
                    staff=staff or [self.alice], end=(start or future()) + timedelta(minutes=minutes), notes=notes)
        db.session.commit()
        enqueue_export(appt.id)
        return appt

    def initial(self, *staff):
        from portal.jobs.queues import enqueue_initial_sync

        for s in staff or self.staff:
            enqueue_initial_sync(s.id)
        self.run()

    def sync(self, *staff):
        from portal.jobs.queues import enqueue_incremental_sync

        for s in staff or self.staff:
            enqueue_incremental_sync(s.id, "test")
        self.run()

    def absences(self, who):
        from portal.extensions import db
        from portal.models import ExternalAbsence

        return db.session.execute(db.select(ExternalAbsence).where(ExternalAbsence.staff_id == who.id)
                                  .order_by(ExternalAbsence.start)).scalars().all()

    def items(self, who):
        return self.outlook(who).items()

    def state(self, who):
        from portal.extensions import db
        from portal.models import MailboxState

        db.session.expire_all()
        return db.session.get(MailboxState, who.id)

    def activity(self, who, rule=None):
        from portal.extensions import db
        from portal.models import SyncActivity

        q = db.select(SyncActivity).where(SyncActivity.staff_id == who.id).order_by(SyncActivity.id)
        rows = db.session.execute(q).scalars().all()
        return [r for r in rows if rule is None or r.rule == rule]


@pytest.fixture(scope="session")
def sim():
    with running_simulator(version="2016", auth="ntlm") as handle:
        for name, email, _tz in STAFF:
            handle.add_mailbox(email, name=name)
        yield handle


@pytest.fixture
def world(app, sim, redis_url):
    yield from make_world(app, sim, redis_url)


@pytest.fixture
def pg_world(pg_app, sim, redis_url):
    yield from make_world(pg_app, sim, redis_url)


def make_world(app, sim, redis_url):
    import redis as redis_lib

    from portal.crypto import encrypt
    from portal.extensions import db
    from portal.models import Client, ExchangeIntegration, Location, Service, StaffMember

    conn = redis_lib.Redis.from_url(redis_url)
    conn.flushdb()
    sim.faults.clear()
    for _name, email, _tz in STAFF:  # fresh calendars for every test
        for folder in sim.store.calendars(email):
            for item in list(sim.store.folder_items(folder.id)):
                sim.outlook(email).delete(item.id)
    sim.counters.reset()
    loc = Location(name="Main Street", address="1 Main Street, Springfield", timezone="America/New_York")
    svc = Service(name="Mortgage advice", duration_minutes=60)
    cli = Client(name="Cleo Client", email="cleo@example.net")
    staff = [StaffMember(name=n, email=e, timezone=tz, primary_location=loc, locations=[loc]) for n, e, tz in STAFF]
    acct = sim.service_account
    integ = ExchangeIntegration(id=1, auth_type="ntlm", username=acct.upn, password_encrypted=encrypt(acct.password),
                                version="2016", server_url=sim.url, allow_http=True, impersonation=True,
                                state="connected", show_titles=True)
    db.session.add_all([loc, svc, cli, integ, *staff])
    db.session.commit()
    w = World(app, sim, conn, staff, loc, svc, cli)
    yield w
    from portal.engine.apply import FAULTS

    FAULTS.clear()
