"""Initial import (G1) memory and CPU of the workers: warm (default) vs forking (SUNDIAL_WORKER_FORK=1), issue 15.

    .venv/bin/python benchmarks/bench_import_memory.py            # 200 mailboxes × 300 events, 10 workers, 3 rounds
    .venv/bin/python benchmarks/bench_import_memory.py --quick    # 20 mailboxes × 300 events, 3 rounds

The same simulator as bench_initial_sync.py (its `serve_simulator`: 10 ms latency per request, at most 10 concurrent
requests per account, NTLM, its own process) and the same memory measure (its `RssSampler`: each worker's RSS plus
the USS of its forked job child, sampled every 0.2 s; the table adds up each worker's peak). Unlike it, the workers
are the real `flask sundial worker --burst --queues sync,export --without-scheduler` processes and the database is
PostgreSQL (a fresh database per run, created and dropped). The two worker models run interleaved, alternating
which goes first. bench_initial_sync.py stays the comparison with exchangelib; this one answers issue 15's
"peak RSS of all workers ≤ 600 MB" for each worker model.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_initial_sync import CAP, RssSampler, serve_simulator  # noqa: E402
from benchutil import admin_sql, bench_env, free_port, seed_org  # noqa: E402

PG = "postgresql+psycopg2://postgres@127.0.0.1:5432/{}"




def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def one_run(fork: bool, url, upn, password, staff: int, workers: int, redis_url: str, tmp: Path, n: int) -> dict:
    from portal import create_app
    from portal.extensions import db, redis_connection
    from portal.jobs.queues import enqueue_initial_sync
    from portal.models import ExternalAbsence, MailboxState

    dbname = f"sundial_bench_import_{os.getpid()}_{n}"
    admin_sql(f"CREATE DATABASE {dbname}")
    db_url = PG.format(dbname)
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "REDIS_URL": redis_url})
        with app.app_context():
            redis_connection().flushdb()
            for sid in seed_org(url, upn, password, staff):
                enqueue_initial_sync(sid)
            db.session.commit()
            env = dict(os.environ, SUNDIAL_DATABASE_URL=db_url, SUNDIAL_REDIS_URL=redis_url, SUNDIAL_ENV="development",
                       FLASK_APP="wsgi", SUNDIAL_WORKER_FORK="1" if fork else "0", SUNDIAL_LOG_LEVEL="WARNING",
                       SUNDIAL_EWS_MAX_CONCURRENT_REQUESTS=str(CAP))
            cmd = [sys.executable, "-m", "flask", "--app", "wsgi", "sundial", "worker", "--burst", "--queues",
                   "sync,export", "--without-scheduler"]
            t0, cpu0 = time.perf_counter(), children_cpu()
            logs = [open(tmp / f"worker-{n}-{i}.log", "ab") for i in range(workers)]
            procs = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT) for log in logs]
            sampler = RssSampler([p.pid for p in procs])
            sampler.start()
            for p in procs:
                p.wait()
            wall, cpu = time.perf_counter() - t0, children_cpu() - cpu0
            sampler.stop.set()
            db.session.expire_all()
            events = db.session.execute(db.select(db.func.count(ExternalAbsence.id))).scalar()
            synced = db.session.execute(db.select(db.func.count()).where(MailboxState.state == "synced")).scalar()
            db.session.remove()
            db.engine.dispose()
    finally:
        admin_sql(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")
    return {"wall": wall, "cpu": cpu, "events": events, "synced": synced, "mem": sampler.peak / 1e6,
            "max_one": max(sampler.per_pid.values(), default=0) / 1e6, "startup_cpu": None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--staff", type=int, default=200)
    ap.add_argument("--events", type=int, default=300)
    ap.add_argument("--workers", type=int, default=10)
    ap.add_argument("--warm-workers", type=int, default=None, help="warm worker processes (default: --workers)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.staff = 20
    tmp, redis_proc, redis_url = bench_env("sundial-bench-import-")
    parent, child = mp.Pipe()
    sim = mp.Process(target=serve_simulator, args=(free_port(), args.staff, args.events, child), daemon=True)
    sim.start()
    url, upn, password = parent.recv()
    warm_n = args.warm_workers or args.workers
    modes = {f"warm (default), {warm_n} workers": (False, warm_n),
             f"forking (SUNDIAL_WORKER_FORK=1), {args.workers} workers": (True, args.workers)}
    results: dict[str, list[dict]] = {m: [] for m in modes}
    loads = [os.getloadavg()[0]]
    try:
        n = 0
        for r in range(args.repeats):
            order = list(modes) if r % 2 == 0 else list(modes)[::-1]
            for mode in order:
                fork, count = modes[mode]
                got = one_run(fork, url, upn, password, args.staff, count, redis_url, tmp, n)
                n += 1
                loads.append(os.getloadavg()[0])
                results[mode].append(got)
                print(f"round {r + 1} {mode}: {got['wall']:.1f} s, {got['cpu']:.1f} CPU s, {got['events']} events, "
                      f"{got['synced']} synced, peak {got['mem']:.0f} MB (largest worker {got['max_one']:.0f} MB), "
                      f"load {loads[-1]:.1f}", flush=True)
    finally:
        parent.send("stop")
        sim.join(10)
        redis_proc.terminate()
        shutil.rmtree(tmp, ignore_errors=True)
    lines = [f"# Initial import, workers' memory: {args.staff} mailboxes × {args.events} events, "
             f"{args.repeats} interleaved rounds", "",
             f"Load average (1 min) during the runs: {min(loads):.1f}–{max(loads):.1f} on {os.cpu_count()} cores. "
             "Peak memory: all workers together at one instant (RSS + forked job child USS), sampled every 0.2 s.", "",
             "| worker | peak memory, all workers (median; each run) | largest single worker | wall time | CPU s "
             "| events imported | mailboxes synced |", "|---|---|---|---|---|---|---|"]
    for mode, runs in results.items():
        med = {k: statistics.median(r[k] for r in runs) for k in ("mem", "max_one", "wall", "cpu")}
        each = ", ".join(f"{r['mem']:.0f}" for r in runs)
        lines.append(f"| {mode} | **{med['mem']:.0f} MB** ({each}) | {med['max_one']:.0f} MB | {med['wall']:.1f} s "
                     f"| {med['cpu']:.1f} | {min(r['events'] for r in runs)} | {min(r['synced'] for r in runs)} |")
    text = "\n".join(lines) + "\n"
    print(text)
    out = ROOT / "benchmarks" / "results" / ("import_memory_quick.md" if args.quick else "import_memory.md")
    out.write_text(text)


if __name__ == "__main__":
    main()
