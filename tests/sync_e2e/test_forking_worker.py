"""G1 through a real forking RQ worker process (`flask sundial worker --burst`): the job runs in a forked
child with the EWS client preloaded by the parent, against the simulator over HTTP with NTLM."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from portal.extensions import db
from portal.jobs.queues import enqueue_initial_sync
from portal.models import AppointmentChange

from .conftest import future

ROOT = Path(__file__).resolve().parents[2]


def test_g1_initial_sync_and_export_in_a_forking_worker(world):
    world.outlook(world.alice).create("Dentist", future(2, 14), future(2, 15))
    appt = world.book(start=future(4, 15))
    enqueue_initial_sync(world.alice.id)
    env = dict(os.environ, SUNDIAL_DATABASE_URL=world.app.config["SQLALCHEMY_DATABASE_URI"],
               SUNDIAL_REDIS_URL=world.app.config["REDIS_URL"], SUNDIAL_ENV="development")
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
