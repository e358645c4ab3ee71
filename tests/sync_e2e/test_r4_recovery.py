"""R4 with real processes: supervised `flask sundial worker` processes, a private redis-server the test stops
and starts again empty, PostgreSQL, and the simulator over HTTP with NTLM.

Each test measures from the fault to the moment the change is in Exchange (or in Sundial) and holds it to
R4's 60 s; each also checks that nothing arrived twice.
"""
from __future__ import annotations

import os
import signal
import time

import pytest

from portal.extensions import db
from portal.jobs.queues import enqueue_export
from portal.jobs.recovery import EPOCH_KEY
from portal.jobs.safety_net import TICK_KEY

from . import proc_helpers
from .conftest import future
from .proc_helpers import (
    alive,
    book_without_export,
    children_of,
    copies,
    started,
    supervise,
    wait_until,
    worker_command,
)

r4_world = proc_helpers.r4_world  # the fixture: PostgreSQL, a restartable private Redis, the simulator

R4_BOUND = 60


WORKER_MODELS = pytest.mark.parametrize("fork", ["0", "1"], ids=["warm", "forking"])


@WORKER_MODELS
def test_r4_worker_killed_mid_export_runs_it_again_and_its_scheduler_resumes(r4_world, tmp_path, fork):
    """kill -9 of a worker, its work horse (forking) and its scheduler together (a crash leaves no time to clean
    up): the export it was running runs again, a delayed export waiting in the dead scheduler's hands is released,
    each reaches Exchange once, within 60 s. The warm worker runs the export in its own process: killing that
    process is the crash, and the supervisor's fresh worker or recovery's reaper completes the job."""
    w = r4_world
    w.initial(w.alice)
    w.sim.faults.latency_ms = 4000  # the export is mid-request when the worker dies
    sup = supervise(w, tmp_path, env={"SUNDIAL_WORKER_FORK": fork},
                    **{"worker-fast": worker_command("export,notify,default")})
    try:
        pid = sup.pid("worker-fast")
        first = book_without_export(w, future(3, 15))
        later = book_without_export(w, future(4, 15))
        enqueue_export(first.id)
        enqueue_export(later.id, delay=6)
        assert wait_until(lambda: started(w, f"export-{first.id}"), 60), sup.log("worker-fast")
        family = children_of(pid)
        assert len(family) == (2 if fork == "1" else 1), family  # RQ's scheduler (+ the work horse when forking)
        for p in [pid, *family]:
            os.kill(p, signal.SIGKILL)
        killed_at = time.monotonic()
        w.sim.faults.latency_ms = 0
        arrived = wait_until(lambda: len(copies(w, w.alice, first)) and len(copies(w, w.alice, later)),
                             R4_BOUND + 5, step=0.5)
        delay = time.monotonic() - killed_at
        assert arrived, sup.log() + sup.log("worker-fast")
        print(f"R4 worker kill -9 → both exports in Exchange after {delay:.1f} s")
        assert delay <= R4_BOUND, f"arrived {delay:.0f} s after the kill"
        time.sleep(3)
        assert (len(copies(w, w.alice, first)), len(copies(w, w.alice, later))) == (1, 1)
        assert "runs again" in sup.log("worker-fast")
    finally:
        sup.stop()


@WORKER_MODELS
def test_r4_killing_only_the_worker_parent_leaves_no_orphan(r4_world, tmp_path, fork):
    """kill -9 of the worker's parent process alone: its scheduler child and its work horse (forking) stop too,
    and the job it was running still reaches Exchange."""
    w = r4_world
    w.initial(w.alice)
    w.sim.faults.latency_ms = 4000
    sup = supervise(w, tmp_path, env={"SUNDIAL_WORKER_FORK": fork},
                    **{"worker-fast": worker_command("export,notify,default")})
    try:
        pid = sup.pid("worker-fast")
        appt = book_without_export(w, future(3, 15))
        enqueue_export(appt.id)
        assert wait_until(lambda: started(w, f"export-{appt.id}"), 60), sup.log("worker-fast")
        family = children_of(pid)
        assert len(family) == (2 if fork == "1" else 1), family  # RQ's scheduler (+ the work horse when forking)
        os.kill(pid, signal.SIGKILL)
        assert wait_until(lambda: not any(alive(p) for p in family), 10), \
            [p for p in family if alive(p)]
        w.sim.faults.latency_ms = 0
        assert wait_until(lambda: len(copies(w, w.alice, appt)), R4_BOUND, step=0.5)
    finally:
        sup.stop()


def test_r4_redis_restarted_empty_catches_up_mailboxes_and_exports_within_60s(r4_world, tmp_path):
    """Redis stops; meanwhile a booking is saved (its export cannot be queued) and someone adds an event in
    Outlook (no listener runs here). Redis comes back empty: both arrive within 60 s, once each."""
    w = r4_world
    w.initial(w.alice)
    sup = supervise(w, tmp_path, **{"worker-sync": worker_command("sync"),
                                    "worker-fast": worker_command("export,notify,default")})
    try:
        assert wait_until(lambda: w.redis.get(EPOCH_KEY) and w.redis.get(TICK_KEY), 60), sup.log("worker-fast")
        w.redis_server.stop()
        appt = book_without_export(w, future(3, 15))
        w.outlook(w.alice).create("Dentist", future(2, 9), future(2, 10))
        time.sleep(3)
        w.redis_server.start()
        back_at = time.monotonic()

        def both():
            db.session.expire_all()
            return len(copies(w, w.alice, appt)) and [a.title for a in w.absences(w.alice)] == ["Dentist"]

        arrived = wait_until(both, R4_BOUND + 5, step=0.5)
        delay = time.monotonic() - back_at
        assert arrived, sup.log() + sup.log("worker-fast") + sup.log("worker-sync")
        print(f"R4 Redis restarted empty → export and Outlook change caught up after {delay:.1f} s")
        assert delay <= R4_BOUND, f"arrived {delay:.0f} s after Redis came back"
        assert w.redis.get(TICK_KEY), "the safety net ticks again"
        time.sleep(3)
        db.session.expire_all()
        assert len(copies(w, w.alice, appt)) == 1 and len(w.absences(w.alice)) == 1
    finally:
        sup.stop()


@WORKER_MODELS
def test_r4_sigterm_stops_an_idle_worker_at_once(r4_world, fork):
    """The supervisor and systemd stop a worker with SIGTERM: an idle one exits (it used to start a fresh worker in
    the same process and be SIGKILLed after the grace period)."""
    import subprocess
    import sys

    from .proc_helpers import ROOT, worker_env

    w = r4_world
    db.session.commit()
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "sundial", "worker", "--queues", "sync"],
                            cwd=ROOT, env=worker_env(w.app, SUNDIAL_WORKER_FORK=fork), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        def idle():  # registered, signal handlers installed, waiting for a job
            return any(w.redis.hget(k, "state") == b"idle" for k in w.redis.smembers("rq:workers"))

        assert wait_until(idle, 60)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0  # within the supervisor's and systemd's grace, even on a loaded machine
        assert "a fresh one starts" not in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
