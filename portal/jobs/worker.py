"""Worker processes (R4): the app context every job runs in, and RQ's worker and scheduler made crash-proof.

RQ 2.6.1's defaults recover from a crash slowly: a dead scheduler's lock lives 61 s and other workers look for
it every 10 minutes (their maintenance interval), a job whose worker was killed stays "started" until its
heartbeat entry expires (job monitoring interval + 60 s) and is then only moved to the failed registry, and the
scheduler child of a worker killed with SIGKILL keeps running as an orphan. Sundial's worker changes exactly
those points; everything else is RQ's own behaviour.
"""
from __future__ import annotations

import logging
import os
import random
import signal
import time
import uuid

import redis
from rq import Worker
from rq.scheduler import RQScheduler

from ..supervisor import die_with_parent

log = logging.getLogger("portal.jobs")

HEARTBEAT_SECONDS = 5  # the parent's heartbeat while a job runs (RQ's job monitoring interval, default 30)
MAINTENANCE_SECONDS = 5  # reaping abandoned jobs, restarting a dead scheduler (RQ's default: 10 minutes)
WORKER_TTL = 25  # an idle worker blocks on Redis for WORKER_TTL - 15 s, so maintenance runs at least that often
SCHEDULER_LOCK_TTL = 15  # renewed every second by a live scheduler (RQ's default: 61 s)
SCHEDULER_RETRY_SECONDS = 5  # a scheduler missing some queue's lock tries again this often (RQ's: 120 s)


def prepare_worker_process(app) -> None:
    """Push an app context for the worker's lifetime; RQ forks per job and inherits it.

    Heavy, fork-safe objects (the EWS client and its parsed WSDL) are preloaded here so each
    forked job does not pay for them again (ARCHITECTURE: ≈200 ms per job otherwise).
    """
    from flask import has_app_context

    if not has_app_context():  # `flask sundial worker` already runs in one; a second push breaks its exit
        app.app_context().push()
    from .preload import preload

    preload(app)


class SundialScheduler(RQScheduler):
    """RQ's scheduler with a short lock that is checked, not just extended, on every heartbeat, and that stops
    when the worker that started it dies (so killing the worker never leaves an orphaned scheduler)."""

    _token = ""

    def acquire_locks(self, auto_start=False):
        self._token = self._token or f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        got = {name for name in self._queue_names - self._acquired_locks
               if self.connection.set(self.get_locking_key(name), self._token, nx=True, ex=SCHEDULER_LOCK_TTL)}
        if got:
            log.info("scheduler lock taken for %s", ", ".join(sorted(got)))
        self._acquired_locks |= got
        self._scheduled_job_registries = []
        self.lock_acquisition_time = time.monotonic()
        if self._acquired_locks and auto_start and (not self._process or not self._process.is_alive()):
            self.start()
        return got

    @property
    def should_reacquire_locks(self):
        return self._queue_names != self._acquired_locks and \
            time.monotonic() - (self.lock_acquisition_time or 0) > SCHEDULER_RETRY_SECONDS

    def heartbeat(self):
        """Renew each lock that is still ours; a lock that vanished (Redis restarted empty) is taken again if
        free, one another scheduler holds meanwhile is given up — never two schedulers for one queue."""
        for name in list(self._acquired_locks):
            key = self.get_locking_key(name)
            holder = self.connection.get(key)
            if holder is None and self.connection.set(key, self._token, nx=True, ex=SCHEDULER_LOCK_TTL):
                continue
            if holder is not None and holder.decode() == self._token:
                self.connection.expire(key, SCHEDULER_LOCK_TTL)
                continue
            self._acquired_locks.discard(name)
            self._scheduled_job_registries = []

    def release_locks(self):
        for name in self._acquired_locks:
            key = self.get_locking_key(name)
            if (self.connection.get(key) or b"").decode() == self._token:
                self.connection.delete(key)
        self._acquired_locks = set()

    def work(self):
        die_with_parent(signal.SIGTERM)  # SIGTERM: RQ's handler stops the loop and releases the locks
        parent = os.getppid()
        self._install_signal_handlers()
        while not self._stop_requested and os.getppid() == parent:
            if self.should_reacquire_locks:
                self.acquire_locks()
            self.enqueue_scheduled_jobs()
            self.heartbeat()
            time.sleep(self.interval)
        self.stop()


class SundialWorker(Worker):
    """`flask sundial worker`: short heartbeats and maintenance, abandoned jobs run again (R4)."""

    max_connection_wait_time = 5.0  # Redis unreachable: retry at most every 5 s (RQ: up to 60 s)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("job_monitoring_interval", HEARTBEAT_SECONDS)
        kwargs.setdefault("maintenance_interval", MAINTENANCE_SECONDS)
        kwargs.setdefault("worker_ttl", WORKER_TTL)
        super().__init__(*args, **kwargs)
        self._crashed_job_id = None

    def _start_scheduler(self, burst=False, logging_level="INFO", date_format=None, log_format=None):
        kw = {k: v for k, v in (("date_format", date_format), ("log_format", log_format)) if v}
        self.scheduler = SundialScheduler(self.queues, connection=self.connection, serializer=self.serializer,
                                          logging_level=logging_level or self.log.level, **kw)
        self.scheduler.acquire_locks()
        if self.scheduler.acquired_locks:
            if burst:
                self.scheduler.enqueue_scheduled_jobs()
                self.scheduler.release_locks()
            else:
                self.scheduler.start()

    def run_maintenance_tasks(self):
        from .recovery import maintain

        super().run_maintenance_tasks()
        maintain(self.connection)

    def main_work_horse(self, job, queue):
        die_with_parent(signal.SIGKILL)  # a horse outliving its worker would race the job's re-run
        super().main_work_horse(job, queue)

    def handle_work_horse_killed(self, job, retpid, ret_val, rusage):
        self._crashed_job_id = job.id
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)

    def handle_job_failure(self, job, queue, started_job_registry=None, exc_string=""):
        super().handle_job_failure(job, queue, started_job_registry=started_job_registry, exc_string=exc_string)
        if self._crashed_job_id == job.id:  # killed, not failed: run it again (bounded in rerun_crashed)
            self._crashed_job_id = None
            from .recovery import rerun_crashed

            rerun_crashed(job, queue, "its work horse was killed")


def work_through_outages(make_worker, conn, burst: bool = False, with_scheduler: bool = True) -> None:
    """Run a worker until it is asked to stop. RQ's worker quits on a Redis error outside its dequeue (a heartbeat
    after a job, its maintenance); then wait until Redis answers again — back-off with jitter, capped at 5 s — and
    start a fresh worker in this process, instead of leaving the restart to the supervisor."""
    delay = 0.5
    while True:
        try:
            conn.ping()
        except redis.exceptions.RedisError as exc:
            log.warning("Redis does not answer (%s); trying again in %.1f s", exc, delay)
            time.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, 5.0)
            continue
        delay = 0.5
        worker = make_worker()
        try:
            worker.work(burst=burst, with_scheduler=with_scheduler)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            log.warning("the worker lost Redis (%s)", exc)
        if burst or worker._stop_requested:
            return
        log.warning("the worker stopped after an error; a fresh one starts once Redis answers")
        time.sleep(1.0)
