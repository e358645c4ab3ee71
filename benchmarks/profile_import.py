"""Where the initial import spends its CPU: initial_sync() of each mailbox in one process, under cProfile.

    .venv/bin/python benchmarks/profile_import.py [--staff 8] [--events 300] [--out FILE] [--top 40]

The simulator of bench_initial_sync.py (its own process, NTLM, 10 ms latency), a private Redis and a SQLite
database; the warm EWS session as a warm worker keeps it. The first mailbox is imported unmeasured (sign-in,
pools, lazy imports); the others under cProfile on the CPU clock, then once more without the profiler (a fresh
database) for the true CPU per event. Prints CPU µs per event and the top of the profile.
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

from bench_initial_sync import app_config, serve_simulator  # noqa: E402
from benchutil import bench_env, print_profile, seed_org, simulator_process  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--staff", type=int, default=8)
    ap.add_argument("--events", type=int, default=300)
    ap.add_argument("--out")
    ap.add_argument("--top", type=int, default=40)
    args = ap.parse_args()
    tmp, redis_proc, redis_url = bench_env("sundial-prof-import-")
    sim, parent = simulator_process(serve_simulator, args.staff, args.events)
    try:
        url, upn, password = parent.recv()
        plain = run(args, tmp / "plain.db", redis_url, url, upn, password, profiled=False)
        prof = run(args, tmp / "prof.db", redis_url, url, upn, password, profiled=True)
        st, events = prof
        print(f"{events} events in {args.staff - 1} mailboxes: {plain[0] * 1e6 / plain[1]:.0f} µs CPU per event "
              f"unprofiled; load {os.getloadavg()[0]:.2f}")
        print_profile(st, args.top, args.out)
    finally:
        parent.send("stop")
        sim.join(10)
        redis_proc.terminate()
        shutil.rmtree(tmp, ignore_errors=True)


def run(args, db_file: Path, redis_url: str, url: str, upn: str, password: str, profiled: bool):
    from portal import create_app
    from portal.engine import session as warm
    from portal.extensions import db, redis_connection
    from portal.jobs.initial_sync import initial_sync
    from portal.models import ExternalAbsence

    app = create_app(app_config(f"sqlite:///{db_file}", redis_url))
    with app.app_context():
        redis_connection().flushdb()
        ids = seed_org(url, upn, password, args.staff)
    warm.enable(True)

    def one(sid: int) -> None:
        with app.app_context():
            initial_sync(sid)
            db.session.remove()

    one(ids[0])  # warm-up
    prof = cProfile.Profile(time.process_time) if profiled else None
    c0 = time.process_time()
    if prof:
        prof.enable()
    for sid in ids[1:]:
        one(sid)
    if prof:
        prof.disable()
    cpu = time.process_time() - c0
    with app.app_context():
        events = db.session.execute(db.select(db.func.count(ExternalAbsence.id))
                                    .where(ExternalAbsence.staff_id.in_(ids[1:]))).scalar()
    warm.enable(False)
    return (pstats.Stats(prof), events) if prof else (cpu, events)


if __name__ == "__main__":
    main()
