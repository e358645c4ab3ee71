"""Idle incremental syncs (the safety net, issue 15): CPU and EWS requests per job, forking vs warm worker.

    .venv/bin/python benchmarks/bench_idle_sync.py            # 200 mailboxes, 3 rounds
    .venv/bin/python benchmarks/bench_idle_sync.py --quick    # 30 mailboxes, 3 rounds

The simulator (NTLM, its own process), PostgreSQL (a fresh database, created and dropped) and a private Redis.
Each mailbox holds a few events and is initialized first (not measured). Then, in interleaved rounds (the order
of the two modes alternates), one real `flask sundial worker --queues sync --without-scheduler` process per mode
is started with SUNDIAL_WORKER_FORK=1 or 0; after a warm-up batch of 10 jobs, one incremental sync of every
mailbox is queued and the worker's CPU time (its own plus its reaped work horses', from psutil) and the
simulator's HTTP requests (every answer, the 401s of sign-in handshakes included) are counted until the last job
finished. Nothing changed in any calendar, so each job is exactly the safety net's idle check.

Reported: median CPU ms per job, requests per job, wall ms per job; the machine's load average; and the
extrapolation to 5,000 mailboxes every 5 minutes (CPU per job × 5,000 / 300 s, as a share of one core).
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from benchutil import admin_sql, bench_env, free_port, seed_org  # noqa: E402

PG = "postgresql+psycopg2://postgres@127.0.0.1:5432/{}"
DBNAME = f"sundial_bench_idle_{os.getpid()}"
WARMUP = 10




def serve_simulator(port: int, staff: int, conn) -> None:
    from ews_simulator.testing import running_simulator

    with running_simulator(version="2016", auth="ntlm", port=port, validate_requests=False) as sim:
        base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
        for n in range(staff):
            email = f"staff{n:04d}@example.com"
            sim.add_mailbox(email, name=f"Staff {n}")
            for k in range(5):
                start = base + timedelta(days=k, hours=9)
                sim.outlook(email).create(f"Meeting {k}", start, start + timedelta(hours=1))
        acct = sim.service_account
        conn.send((sim.url, acct.upn, acct.password))
        while True:
            cmd = conn.recv()
            if cmd == "counters":
                conn.send(sim.counters.total())
            else:
                conn.send(None)
                return


def worker_env(db_url: str, redis_url: str, fork: bool) -> dict:
    return dict(os.environ, SUNDIAL_DATABASE_URL=db_url, SUNDIAL_REDIS_URL=redis_url, SUNDIAL_ENV="development",
                FLASK_APP="wsgi", SUNDIAL_WORKER_FORK="1" if fork else "0", SUNDIAL_LOG_LEVEL="WARNING")


def start_worker(db_url: str, redis_url: str, fork: bool, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "flask", "--app", "wsgi", "sundial", "worker", "--queues", "sync",
           "--without-scheduler"]
    return subprocess.Popen(cmd, cwd=ROOT, env=worker_env(db_url, redis_url, fork), stdout=open(log, "ab"),
                            stderr=subprocess.STDOUT)


def cpu_of(pid: int) -> float:
    import psutil

    t = psutil.Process(pid).cpu_times()
    return t.user + t.system + t.children_user + t.children_system


def wait_ready(conn, proc, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if conn.scard("rq:workers"):
            return
        if proc.poll() is not None:
            raise SystemExit("the worker exited at start-up; see its log")
        time.sleep(0.1)
    raise SystemExit("the worker did not register in time")


def run_batch(conn, staff_ids: list[int], timeout: float = 600) -> float:
    """Queue one incremental sync per mailbox and wait until every one finished; returns wall seconds."""
    from portal.jobs.queues import enqueue_incremental_sync

    t0 = time.perf_counter()
    for sid in staff_ids:
        enqueue_incremental_sync(sid, "periodic")
    keys = [f"rq:job:sync-{sid}" for sid in staff_ids]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pipe = conn.pipeline()
        for k in keys:
            pipe.hget(k, "status")
        statuses = pipe.execute()
        if all(s == b"finished" for s in statuses):
            return time.perf_counter() - t0
        if any(s == b"failed" for s in statuses):
            raise SystemExit("a sync job failed; see the worker log")
        time.sleep(0.05)
    raise SystemExit("the batch did not finish in time")


def one_round(fork: bool, ids: list[int], db_url: str, redis_url: str, sim_pipe, conn, logdir: Path) -> dict:
    import psutil

    proc = start_worker(db_url, redis_url, fork, logdir / f"worker-{'fork' if fork else 'warm'}.log")
    try:
        wait_ready(conn, proc)
        run_batch(conn, ids[:WARMUP])  # first sign-in, lazy imports, pools: what a long-lived worker paid once
        sim_pipe.send("counters")
        req0, cpu0 = sim_pipe.recv(), cpu_of(proc.pid)
        wall = run_batch(conn, ids)
        time.sleep(0.2)
        sim_pipe.send("counters")
        req1, cpu1 = sim_pipe.recv(), cpu_of(proc.pid)
        rss = psutil.Process(proc.pid).memory_info().rss / 1e6
    finally:
        proc.terminate()
        proc.wait(30)
        conn.delete("rq:workers", "rq:workers:sync")
    n = len(ids)
    return {"cpu_ms": (cpu1 - cpu0) * 1000 / n, "requests": (req1 - req0) / n, "wall_ms": wall * 1000 / n,
            "rss": rss}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--staff", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.staff = 30
    tmp, redis_proc, redis_url = bench_env("sundial-bench-idle-")
    parent, child = multiprocessing.Pipe()
    sim_proc = multiprocessing.Process(target=serve_simulator, args=(free_port(), args.staff, child), daemon=True)
    sim_proc.start()
    admin_sql(f"CREATE DATABASE {DBNAME}")
    loads = [os.getloadavg()[0]]
    try:
        results = run(args, redis_url, parent, tmp, loads)
    finally:
        try:
            parent.send("stop")
        except OSError:
            pass
        sim_proc.join(10)
        redis_proc.terminate()
        try:
            admin_sql(f"DROP DATABASE IF EXISTS {DBNAME} WITH (FORCE)")
        except Exception as exc:  # noqa: BLE001 - the table is still worth printing
            print(f"could not drop {DBNAME}: {exc}")
        shutil.rmtree(tmp, ignore_errors=True)
    write_table(args, results, loads)


def run(args, redis_url: str, sim_pipe, tmp: Path, loads: list[float]) -> dict[str, list[dict]]:
    url, upn, password = sim_pipe.recv()
    from portal import create_app
    from portal.extensions import db, redis_connection
    from portal.models import MailboxState

    db_url = PG.format(DBNAME)
    app = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "REDIS_URL": redis_url})
    results: dict[str, list[dict]] = {"forking (SUNDIAL_WORKER_FORK=1)": [], "warm (default)": []}
    with app.app_context():
        conn = redis_connection()
        ids = seed_org(url, upn, password, args.staff)
        from portal.jobs.queues import enqueue_initial_sync

        for sid in ids:
            enqueue_initial_sync(sid)
        env = worker_env(db_url, redis_url, False)
        subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "sundial", "worker", "--burst", "--queues",
                        "sync", "--without-scheduler"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        db.session.expire_all()
        synced = db.session.execute(db.select(db.func.count()).where(MailboxState.state == "synced")).scalar()
        if synced != len(ids):
            raise SystemExit(f"only {synced} of {len(ids)} mailboxes initialized")
        db.session.commit()
        modes = list(results)
        for r in range(args.repeats):
            order = modes if r % 2 == 0 else modes[::-1]
            for mode in order:
                got = one_round(mode.startswith("forking"), ids, db_url, redis_url, sim_pipe, conn, tmp)
                loads.append(os.getloadavg()[0])
                results[mode].append(got)
                print(f"round {r + 1} {mode}: {got['cpu_ms']:.1f} CPU ms/job, {got['requests']:.2f} requests/job, "
                      f"{got['wall_ms']:.1f} wall ms/job, RSS {got['rss']:.0f} MB, load {loads[-1]:.1f}",
                      flush=True)
    return results


def write_table(args, results: dict[str, list[dict]], loads: list[float]) -> None:
    lines = [f"# Idle incremental sync: forking vs warm worker ({args.staff} mailboxes, {args.repeats} interleaved "
             "rounds)", "",
             f"Load average (1 min) during the runs: {min(loads):.1f}–{max(loads):.1f} on {os.cpu_count()} cores. "
             "CPU: the worker process and its reaped work horses (not Redis, PostgreSQL or the simulator).", "",
             "| worker | CPU ms per job (median; each round) | requests per job (median) | wall ms per job (median) "
             "| 5,000 mailboxes / 5 min (extrapolated) | worker RSS |",
             "|---|---|---|---|---|---|"]
    for mode, runs in results.items():
        if not runs:
            continue
        cpu = statistics.median(r["cpu_ms"] for r in runs)
        req = statistics.median(r["requests"] for r in runs)
        wall = statistics.median(r["wall_ms"] for r in runs)
        share = cpu / 1000 * 5000 / 300
        each = ", ".join(f"{r['cpu_ms']:.1f}" for r in runs)
        lines.append(f"| {mode} | **{cpu:.1f}** ({each}) | {req:.2f} | {wall:.1f} | {share:.0%} of one core | "
                     f"{statistics.median(r['rss'] for r in runs):.0f} MB |")
    text = "\n".join(lines) + "\n"
    print(text)
    out = ROOT / "benchmarks" / "results" / ("idle_sync_quick.md" if args.quick else "idle_sync.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


if __name__ == "__main__":
    main()
