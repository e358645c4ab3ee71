"""Helpers (no tests) for the listener's end-to-end tests: connect Sundial to a running simulator, run a listener
thread, run a real RQ worker in burst mode."""
from __future__ import annotations

import threading
import time
import uuid
from contextlib import contextmanager


def wait_for(predicate, timeout=20.0, step=0.02):
    """Poll until predicate() is true and return its last value (assert on it; no timing is asserted)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def connect_integration(sim, version: str | None = None, impersonation: bool = True, **extra):
    from portal.crypto import encrypt
    from portal.extensions import db
    from portal.models import ExchangeIntegration

    acct = sim.service_account
    integ = ExchangeIntegration.get() or ExchangeIntegration(id=1)
    integ.auth_type, integ.username, integ.password_encrypted = "ntlm", acct.upn, encrypt(acct.password)
    integ.version, integ.server_url, integ.allow_http = version or sim.sim.config.version, sim.url, True
    integ.impersonation, integ.state, integ.show_titles = impersonation, "connected", True
    for key, value in extra.items():
        setattr(integ, key, value)
    db.session.add(integ)
    db.session.commit()
    return integ


def add_staff(emails, tz="UTC"):
    from portal.extensions import db
    from portal.models import Location, StaffMember

    loc = Location(name=f"Office {uuid.uuid4().hex[:4]}", address="1 Main Street", timezone=tz)
    staff = [StaffMember(name=e.split("@")[0], email=e, timezone=tz, primary_location=loc, locations=[loc])
             for e in emails]
    db.session.add_all([loc, *staff])
    db.session.commit()
    return staff


def mailbox_rows(emails, state="synced"):
    """Staff whose mailboxes are connected (as after an initial sync), without running one."""
    from portal.extensions import db
    from portal.models import MailboxState

    staff = add_staff(emails)
    db.session.add_all([MailboxState(staff_id=s.id, state=state, primary_smtp=s.email) for s in staff])
    db.session.commit()
    return staff


class TestListener:
    """A Listener in a thread, with a private Redis key prefix and short test timings."""

    __test__ = False

    def __init__(self, app, redis_url, owner, **settings):
        from redis import Redis

        from portal.listener.process import Listener, ListenerSettings

        base = dict(refresh_seconds=0.3, tick_seconds=0.05, lease_ms=1500, connection_timeout_minutes=1,
                    heartbeat_timeout_seconds=5, pull_interval_seconds=0.5, min_backoff_seconds=0.05,
                    max_backoff_seconds=0.5, lost_backoff_seconds=0.05)
        base.update(settings)
        self.redis = Redis.from_url(redis_url)
        prefix = app.config.setdefault("LISTENER_TEST_PREFIX", f"test-listener:{uuid.uuid4().hex[:8]}")
        self.listener = Listener(app, self.redis, ListenerSettings(**base), owner=owner, prefix=prefix)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"test-listener-{owner}", daemon=True)
        self.crashed = False

    def _run(self):
        self.listener.run(self.stop_event)

    def crash_now(self):
        """Simulate a killed process: the loop stops, threads end, leases and liveness are left to expire."""
        self.crashed = True
        self.listener.close = lambda: None  # a killed process says no goodbye
        self.stop_event.set()
        self.thread.join(10)
        self.listener.crash()

    def __getattr__(self, name):
        return getattr(self.listener, name)


@contextmanager
def listener_thread(app, redis_url, owner="L1", **settings):
    t = TestListener(app, redis_url, owner, **settings)
    t.thread.start()
    try:
        yield t
    finally:
        t.stop_event.set()
        t.thread.join(15)
        if t.crashed:
            t.listener.stop_all(release=True)
        t.redis.close()


class Sundial:
    """Sundial connected to a running simulator: staff whose emails are simulator mailboxes, a real RQ queue
    drained by an in-process burst worker (RQ's SimpleWorker), and what each executed sync job was asked."""

    def __init__(self, app, sim, redis_url, emails, version=None, impersonation=True):
        import redis as redis_lib

        self.app, self.sim = app, sim
        self.redis = redis_lib.Redis.from_url(redis_url)
        self.redis.flushdb()
        self.integration = connect_integration(sim, version, impersonation)
        self.staff = add_staff(emails)
        self.ran: list[tuple] = []  # (function name, args) of every job the worker executed

    def by_email(self, email):
        return next(s for s in self.staff if s.email == email)

    def queued(self, name="sync") -> int:
        from portal.jobs.queues import get_queue

        return get_queue(name).count

    def run(self) -> list[tuple]:
        """Drain the sync/export queues in-process; returns the jobs that ran in this burst."""
        from rq import SimpleWorker

        from portal.extensions import db
        from portal.jobs.queues import get_queue

        ran = self.ran
        before = len(ran)

        class BurstWorker(SimpleWorker):
            def subscribe(self):  # no pub/sub control thread (joining it costs ≈1 s per burst)
                pass

            def unsubscribe(self):
                pass

            def execute_job(self, job, queue):
                ran.append((job.func_name.rsplit(".", 1)[-1], tuple(job.args)))
                return super().execute_job(job, queue)

        BurstWorker([get_queue("sync"), get_queue("export")], connection=self.redis).work(
            burst=True, with_scheduler=False)
        db.session.expire_all()
        return ran[before:]

    def initial(self):
        from portal.jobs.queues import enqueue_initial_sync

        for s in self.staff:
            enqueue_initial_sync(s.id)
        self.run()

    def absences(self, email):
        from portal.extensions import db
        from portal.models import ExternalAbsence

        staff = self.by_email(email)
        db.session.expire_all()
        return db.session.execute(db.select(ExternalAbsence).where(ExternalAbsence.staff_id == staff.id)
                                  .order_by(ExternalAbsence.start)).scalars().all()

    def close(self):
        self.redis.close()


def drop_connections(sim) -> int:
    """A network blip on the server's side: shut down every open TCP connection of the simulator (the hanging
    GetStreamingEvents ones included), as a load balancer or a recycled IIS worker would."""
    import socket

    from waitress.channel import HTTPChannel

    dropped = 0
    for channel in list(sim.server.server._map.values()):
        if not isinstance(channel, HTTPChannel):
            continue
        try:
            channel.socket.shutdown(socket.SHUT_RDWR)
            dropped += 1
        except (OSError, AttributeError):  # closed meanwhile (its socket is None)
            pass
    return dropped


def open_streams(sim) -> int:
    """GetStreamingEvents connections the simulator holds open right now (white-box: its HangingConnection count)."""
    return sum(sim.sim.faults._streams.values())
