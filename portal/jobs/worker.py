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
import threading
import time
import uuid

import redis
from rq import Worker
from rq.scheduler import RQScheduler
from rq.utils import now as now_utc
from rq.worker import WorkerStatus

from ..supervisor import die_with_parent
from .queues import TrackedQueue

log = logging.getLogger("portal.jobs")

HEARTBEAT_SECONDS = 5  # the parent's heartbeat while a job runs (RQ's job monitoring interval, default 30)
MAINTENANCE_SECONDS = 5  # reaping abandoned jobs, restarting a dead scheduler (RQ's default: 10 minutes)
WORKER_TTL = 25  # an idle worker blocks on Redis for WORKER_TTL - 15 s, so maintenance runs at least that often
SCHEDULER_LOCK_TTL = 15  # renewed every second by a live scheduler (RQ's default: 61 s)
SCHEDULER_RETRY_SECONDS = 5  # a scheduler missing some queue's lock tries again this often (RQ's: 120 s)


def prepare_worker_process(app, warm: bool = False) -> None:
    """Push an app context for the worker's lifetime (a forking worker's jobs inherit it; a warm worker pushes a
    fresh one per job on top of it).

    Heavy objects (the EWS client and its parsed WSDL) are preloaded here so no job pays for them again
    (ARCHITECTURE: ≈200 ms per job otherwise). `warm`: the jobs run in this process, so it keeps one
    ExchangeSession with its authenticated connections across jobs (engine/session.py).
    """
    from flask import has_app_context

    if not has_app_context():  # `flask sundial worker` already runs in one; a second push breaks its exit
        app.app_context().push()
    from ..engine import session as warm_sessions
    from .preload import preload

    warm_sessions.enable(warm)
    preload(app)


def rss_mb() -> float | None:
    """This process's resident set size in MB (Linux /proc), None where unknown."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


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
    queue_class = TrackedQueue

    def prepare_job_execution(self, job, remove_from_intermediate_queue: bool = False) -> None:
        super().prepare_job_execution(job, True)  # every dequeue went through the intermediate list

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("job_monitoring_interval", HEARTBEAT_SECONDS)
        kwargs.setdefault("maintenance_interval", MAINTENANCE_SECONDS)
        kwargs.setdefault("worker_ttl", WORKER_TTL)
        if args:  # a plain rq Queue (tests, scripts) becomes a TrackedQueue of the same name
            queues = args[0] if isinstance(args[0], list | tuple) else [args[0]]
            args = ([q if isinstance(q, TrackedQueue | str) else
                     TrackedQueue(q.name, connection=q.connection, is_async=q.is_async) for q in queues],
                    *args[1:])
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


class JobHeartbeat(threading.Thread):
    """A warm worker runs the job in its main thread, so this thread does what a forking worker's parent does
    while its work horse runs: beat every HEARTBEAT_SECONDS (R4: other workers' maintenance re-queues a started
    job whose worker has not beaten for 20 s), and if the job outlives its timeout by a minute although RQ's
    SIGALRM death penalty should have stopped it (stuck outside Python), end the process like a killed work
    horse — its supervisor starts a new worker and recovery runs the job again (bounded, recovery.MAX_RERUNS)."""

    STUCK_GRACE_SECONDS = 60.0  # past the job's timeout, before the process ends itself

    def __init__(self, worker: Worker, job):
        super().__init__(name=f"heartbeat-{job.id}", daemon=True)
        self.worker, self.job = worker, job
        self.done = threading.Event()
        self.started = time.monotonic()
        self.beats = 0

    def run(self) -> None:
        while not self.done.wait(self.worker.job_monitoring_interval):
            elapsed = time.monotonic() - self.started
            if self.done.is_set() or self.worker.execution is None:  # the job just ended: nothing to renew
                break
            try:
                self.beats += 1
                self.worker.set_current_job_working_time(elapsed)
                self.worker.maintain_heartbeats(self.job)
            except Exception as exc:  # noqa: BLE001 - Redis away: the main loop deals with it after the job
                log.warning("heartbeat for job %s failed: %s", self.job.id, exc)
            timeout = self.job.timeout or 0
            if timeout > 0 and elapsed > timeout + self.STUCK_GRACE_SECONDS and not self.done.is_set():
                log.error("job %s has run %.0f s, past its %d s timeout; ending this worker so it runs again",
                          self.job.id, elapsed, timeout)
                logging.shutdown()
                os._exit(70)

    def stop(self) -> None:
        self.done.set()


class WarmWorker(SundialWorker):
    """The default worker: jobs run one after another in this long-lived process, no fork per job — RQ's
    SimpleWorker, plus what the fork gave for free. Each job gets a fresh app context and database session
    (removed afterwards: no state leaks from one job into the next) and keeps the process's warm EWS session
    (engine/session.py); a heartbeat thread stands in for the forking parent's monitoring; a job interrupted by a
    cold shutdown runs again like a killed work horse; and the memory guard ends the process after `max_jobs`
    jobs or above `max_rss_mb` so a leak cannot grow forever (the supervisor starts a fresh one)."""

    def __init__(self, *args, app=None, max_jobs: int = 0, max_rss_mb: float = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.app, self.max_jobs, self.max_rss_mb = app, max_jobs, max_rss_mb
        self.jobs_done = 0
        self.recycled: str | None = None
        self._job_in_hand: str | None = None

    def execute_job(self, job, queue):
        from ..extensions import db

        self.prepare_execution(job)
        beat = JobHeartbeat(self, job)
        beat.start()
        self._job_in_hand = job.id
        try:
            if self.app is not None:
                with self.app.app_context():
                    try:
                        self.perform_job(job, queue)
                    finally:
                        db.session.remove()
            else:
                self.perform_job(job, queue)
        finally:
            self._job_in_hand = None
            beat.stop()
            if beat.beats:  # a short job never set it (RQ resets it to 0 before each job)
                self.set_current_job_working_time(0)
        self.set_state(WorkerStatus.IDLE)
        self.jobs_done += 1
        self.guard_memory()

    def guard_memory(self) -> None:
        rss = rss_mb() if self.max_rss_mb else None
        why = None
        if self.max_jobs and self.jobs_done >= self.max_jobs:
            why = f"it ran {self.jobs_done} jobs (SUNDIAL_WORKER_MAX_JOBS)"
        elif rss is not None and rss > self.max_rss_mb:
            why = f"its RSS is {rss:.0f} MB, above SUNDIAL_WORKER_MAX_RSS_MB={self.max_rss_mb:g}"
        if why:
            log.warning("worker %s stops for a fresh one: %s", self.name, why)
            self.recycled = why
            self._stop_requested = True

    def request_force_stop(self, signum, frame):
        """A second SIGTERM/SIGINT mid-job: the job is interrupted (SystemExit in its thread) and, as with a
        killed work horse, queued again instead of failed."""
        asked = self._shutdown_requested_date
        if self._job_in_hand and (asked is None or (now_utc() - asked).total_seconds() >= 1):
            self._crashed_job_id = self._job_in_hand
        self._stop_requested = True
        super().request_force_stop(signum, frame)


def make_worker(queues, connection, *, fork: bool, worker_ttl: int, app=None, max_jobs: int = 0,
                max_rss_mb: float = 0) -> SundialWorker:
    """The worker `flask sundial worker` runs: warm (default) or forking per job (SUNDIAL_WORKER_FORK=1)."""
    if fork:
        return SundialWorker(queues, connection=connection, worker_ttl=worker_ttl)
    return WarmWorker(queues, connection=connection, worker_ttl=worker_ttl, app=app, max_jobs=max_jobs,
                      max_rss_mb=max_rss_mb)


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
        # Asked to stop (SIGTERM/SIGINT: RQ stops an idle worker without setting _stop_requested) or the memory
        # guard's stop: the process exits, and its supervisor starts a fresh one where that is wanted.
        if burst or worker._stop_requested or worker._shutdown_requested_date is not None:
            return
        log.warning("the worker stopped after an error; a fresh one starts once Redis answers")
        time.sleep(1.0)
