"""G8 with real processes: `make run`'s two worker classes (portal.jobs.queues.QUEUE_CLASSES), each its own
supervised `flask sundial worker`, real Redis, PostgreSQL and the simulator over HTTP with NTLM. A backlog of
initial syncs is queued; a booking's export must reach Exchange while that backlog still waits."""
from __future__ import annotations

import time
import uuid

from rq import Queue

from portal.extensions import db
from portal.jobs.queues import QUEUE_CLASSES, enqueue_export, enqueue_initial_sync
from portal.models import StaffMember

from . import proc_helpers
from .conftest import future
from .proc_helpers import book_without_export, copies, started, supervise, wait_until, worker_command

r4_world = proc_helpers.r4_world  # the fixture: PostgreSQL, a private Redis, the simulator

BACKLOG = 12


def backlog_staff(world) -> list[int]:
    tag = uuid.uuid4().hex[:6]
    staff = []
    for n in range(BACKLOG):
        email = f"g8-{tag}-{n}@example.com"
        world.sim.add_mailbox(email, name=f"G8 {n}")
        for d in range(1, 6):
            world.sim.outlook(email).create(f"Busy {d}", future(d, 9), future(d, 10))
        staff.append(StaffMember(name=f"G8 {n}", email=email, timezone="UTC", primary_location=world.location))
    db.session.add_all(staff)
    db.session.commit()
    return [s.id for s in staff]


def test_g8_export_reaches_exchange_while_a_sync_backlog_waits(r4_world, tmp_path):
    w = r4_world
    w.initial(w.alice)
    ids = backlog_staff(w)
    w.sim.faults.latency_ms = 150  # each initial sync takes a few seconds: the backlog lasts well over a minute
    for staff_id in ids:
        enqueue_initial_sync(staff_id)
    sync_queue = Queue("sync", connection=w.redis)
    sup = supervise(w, tmp_path, **{f"worker-{name}": worker_command(",".join(queues))
                                    for name, queues in QUEUE_CLASSES.items()})
    try:
        assert wait_until(lambda: started(w, f"initial-{ids[0]}"), 60), sup.log("worker-sync")
        appt = book_without_export(w, future(3, 15))
        enqueue_export(appt.id)
        booked = time.monotonic()
        assert wait_until(lambda: copies(w, w.alice, appt), 30, step=0.2), sup.log("worker-fast")
        took = time.monotonic() - booked
        waiting = len([j for j in sync_queue.job_ids if j.startswith("initial-")])
        print(f"G8 export reached Exchange after {took:.1f} s with {waiting} of {BACKLOG} syncs still queued")
        assert waiting >= BACKLOG - 4, "the export waited for the sync backlog"
        assert took < 15
    finally:
        sup.stop()
        w.sim.faults.latency_ms = 0
