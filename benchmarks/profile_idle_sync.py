"""Where an idle safety-net check spends its CPU: the warm worker's per-job path, in one process, under cProfile.

    .venv/bin/python benchmarks/profile_idle_sync.py [--staff 40] [--loops 5] [--mode MODE] [--out FILE]

The simulator (NTLM, its own process), a fresh PostgreSQL database and a private Redis, as in bench_idle_sync.py.
Every mailbox is initialized first (not measured); then `--loops` times every mailbox is checked:

- job: sync_mailbox() per mailbox the way a warm worker runs it (a fresh app context per job, the process's warm
  EWS session), without RQ's own bookkeeping;
- batch: sync_batch() per slice of --batch-size mailboxes, likewise;
- rq-job / rq-batch: the same jobs queued in Redis and run by Sundial's WarmWorker in this process (burst mode),
  so RQ's dequeue, status changes, results and heartbeat thread are in the profile too.

Prints CPU ms per check and the top of the profile (cumulative and own time, CPU clock); `--out` keeps the
pstats file.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_idle_sync import PG, serve_simulator  # noqa: E402
from benchutil import admin_sql, bench_env, print_profile, seed_org, simulator_process  # noqa: E402

DBNAME = f"sundial_prof_idle_{os.getpid()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--staff", type=int, default=40)
    ap.add_argument("--loops", type=int, default=5)
    ap.add_argument("--mode", choices=("job", "batch", "rq-job", "rq-batch"), default="job")
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--out")
    ap.add_argument("--top", type=int, default=45)
    args = ap.parse_args()
    tmp, redis_proc, redis_url = bench_env("sundial-prof-idle-")
    sim_proc, parent = simulator_process(serve_simulator, args.staff)
    admin_sql(f"CREATE DATABASE {DBNAME}")
    try:
        profile(args, redis_url, parent)
    finally:
        parent.send("stop")
        sim_proc.join(10)
        redis_proc.terminate()
        admin_sql(f"DROP DATABASE IF EXISTS {DBNAME} WITH (FORCE)")
        shutil.rmtree(tmp, ignore_errors=True)


def profile(args, redis_url: str, sim_pipe) -> None:
    url, upn, password = sim_pipe.recv()
    from portal import create_app
    from portal.engine import session as warm
    from portal.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": PG.format(DBNAME), "REDIS_URL": redis_url, "RQ_ASYNC": True})
    with app.app_context():
        ids = seed_org(url, upn, password, args.staff)
    warm.enable(True)
    from portal.jobs.initial_sync import initial_sync
    from portal.jobs.preload import preload
    from portal.jobs.sync_mailbox import sync_mailbox

    preload(app)
    for sid in ids:
        with app.app_context():
            initial_sync(sid)
            db.session.remove()

    def one_loop():
        if args.mode == "job":
            for sid in ids:
                with app.app_context():
                    sync_mailbox(sid, "periodic")
                    db.session.remove()
        elif args.mode == "batch":
            from portal.jobs.sync_batch import sync_batch

            for i in range(0, len(ids), args.batch_size):
                with app.app_context():
                    sync_batch(i, ids[i:i + args.batch_size])
                    db.session.remove()
        else:
            drain_with_worker(app, ids, args.batch_size if args.mode == "rq-batch" else 0)

    one_loop()  # warm-up: sign-in, pools, lazy imports
    sim_pipe.send("counters")
    req0 = sim_pipe.recv()
    prof = cProfile.Profile(time.process_time)  # CPU, not wall: waiting on a socket costs nothing
    c0 = time.process_time()
    prof.enable()
    for _ in range(args.loops):
        one_loop()
    prof.disable()
    cpu = time.process_time() - c0
    sim_pipe.send("counters")
    req1 = sim_pipe.recv()
    n = args.loops * len(ids)
    # an unprofiled run for the real per-check CPU (cProfile inflates it)
    c1 = time.process_time()
    for _ in range(args.loops):
        one_loop()
    plain = time.process_time() - c1
    print(f"{args.mode}: {n} checks; CPU {plain * 1000 / n:.2f} ms per check unprofiled, {cpu * 1000 / n:.2f} ms "
          f"profiled; {(req1 - req0) / n:.2f} requests per check; load {os.getloadavg()[0]:.2f}")
    print_profile(pstats.Stats(prof), args.top, args.out)


def drain_with_worker(app, ids: list[int], batch: int) -> None:
    """Queue one check per mailbox (sync-<id> jobs, or sync-batch-<n> jobs of `batch`) and run them with the
    warm worker `flask sundial worker` uses, in burst mode, in this process."""
    from portal.extensions import redis_connection
    from portal.jobs.queues import enqueue_incremental_sync, get_queue
    from portal.jobs.worker import make_worker

    with app.app_context():
        if batch:
            from portal.jobs.queues import enqueue_batch

            for n, i in enumerate(range(0, len(ids), batch)):
                enqueue_batch(n, ids[i:i + batch])
        else:
            for sid in ids:
                enqueue_incremental_sync(sid, "periodic")
        worker = make_worker([get_queue("sync")], redis_connection(), fork=False, worker_ttl=25, app=app)
        worker.work(burst=True, with_scheduler=False, logging_level="WARNING")


if __name__ == "__main__":
    main()
