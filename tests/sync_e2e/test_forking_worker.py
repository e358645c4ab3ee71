"""G1 through a real RQ worker process (`flask sundial worker --burst`), forking (SUNDIAL_WORKER_FORK=1: the job
runs in a forked child with the EWS client preloaded by the parent) and warm (the default: jobs run in the worker
process itself), against the simulator over HTTP with NTLM."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rq.job import Job

from portal.extensions import db
from portal.jobs.queues import enqueue_initial_sync
from portal.models import AppointmentChange

from .conftest import future

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("fork", ["1", "0"], ids=["forking", "warm"])
def test_g1_initial_sync_and_export_in_a_worker_process(world, fork):
    world.outlook(world.alice).create("Dentist", future(2, 14), future(2, 15))
    appt = world.book(start=future(4, 15))
    enqueue_initial_sync(world.alice.id)
    env = dict(os.environ, SUNDIAL_DATABASE_URL=world.app.config["SQLALCHEMY_DATABASE_URI"],
               SUNDIAL_REDIS_URL=world.app.config["REDIS_URL"], SUNDIAL_ENV="development", SUNDIAL_WORKER_FORK=fork)
    proc = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "sundial", "worker", "--burst",
                           "--queues", "sync,export"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    log = proc.stdout + proc.stderr
    assert "initial_sync" in log and "Job OK" in log
    db.session.expire_all()
    assert world.state(world.alice).state == "synced"
    assert [a.title for a in world.absences(world.alice)] == ["Dentist"]
    assert sorted(i.subject for i in world.items(world.alice)) == ["Dentist", "Mortgage advice"]
    assert db.session.get(AppointmentChange, 1).exported_at is not None
    assert appt.id


def test_g3_concurrency_cap_holds_across_separate_worker_processes(world):
    """Two worker processes (the default, warm) share one cap of concurrent requests per server (a Redis semaphore): the
    simulator never sees more of the service account's requests in progress at once than the cap, although
    the two processes' jobs ran at the same time."""
    from portal.models import StaffMember

    cap, extra = 1, [f"cap{i}@example.com" for i in range(4)]
    world.sim.faults.latency_ms = 30  # each request stays in progress a while: overlaps would show
    for email in extra:
        world.sim.add_mailbox(email, name=email.split("@")[0])
        for item in list(world.sim.outlook(email).items()):
            world.sim.outlook(email).delete(item.id)
    staff = list(world.staff) + [StaffMember(name=e.split("@")[0], email=e, timezone="UTC",
                                             primary_location=world.location) for e in extra]
    db.session.add_all(staff)
    db.session.commit()
    ids = [s.id for s in staff]
    for s in staff:
        for d in range(1, 4):
            world.sim.outlook(s.email).create(f"{s.email} {d}", future(d, 13), future(d, 14))
    db.session.commit()  # no open transaction in this process while the workers write (SQLite)
    for staff_id in ids:
        enqueue_initial_sync(staff_id)
    env = dict(os.environ, SUNDIAL_DATABASE_URL=world.app.config["SQLALCHEMY_DATABASE_URI"],
               SUNDIAL_REDIS_URL=world.app.config["REDIS_URL"], SUNDIAL_ENV="development",
               SUNDIAL_EWS_MAX_CONCURRENT_REQUESTS=str(cap))
    cmd = [sys.executable, "-m", "flask", "--app", "wsgi", "sundial", "worker", "--burst", "--without-scheduler",
           "--queues", "sync"]
    workers = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for _ in range(2)]
    logs = [w.communicate(timeout=120)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], logs[0][-2000:] + logs[1][-2000:]
    world.sim.faults.latency_ms = 0

    jobs = [Job.fetch(f"initial-{i}", connection=world.redis) for i in ids]
    assert {j.get_status() for j in jobs} == {"finished"}
    by_worker = {j.worker_name for j in jobs}
    overlapping = [(a.id, b.id) for a in jobs for b in jobs if a.worker_name < b.worker_name
                   and a.started_at < b.ended_at and b.started_at < a.ended_at]
    assert len(by_worker) == 2 and overlapping  # both processes really worked at the same time …
    assert world.sim.faults.peak_active(world.sim.service_account.upn) == cap  # … yet never over the cap
    db.session.expire_all()
    for s in staff:
        assert world.state(s).state == "synced" and len(world.absences(s)) == 3
