"""Idle incremental syncs (the safety net, issue 15): CPU and EWS requests per mailbox check — one job per
mailbox (forking or warm worker) vs the safety net's batches (many mailboxes per job, warm worker).

    .venv/bin/python benchmarks/bench_idle_sync.py              # 200 mailboxes, 3 rounds: warm jobs vs batches
    .venv/bin/python benchmarks/bench_idle_sync.py --quick      # 50 mailboxes, 3 rounds
    .venv/bin/python benchmarks/bench_idle_sync.py --modes fork,warm,batch  # the forking worker too
    .venv/bin/python benchmarks/bench_idle_sync.py --scheduled  # every job delayed, the scheduler moves it

The simulator (NTLM, its own process), PostgreSQL (a fresh database, created and dropped) and a private Redis.
Each mailbox holds a few events and is initialized first (not measured). Then, in interleaved rounds (the order
of the two modes alternates), one real `flask sundial worker --queues sync --without-scheduler` process per mode
is started with SUNDIAL_WORKER_FORK=1 or 0; after a warm-up of 10 mailboxes, one check of every mailbox is
queued — per-job modes: one `sync-<id>` job each (what the safety net queued before issue 15); batched mode:
`sync-batch-<n>` jobs of --batch-size mailboxes (what safety_net.tick queues now) — and the worker's CPU time (its
own, its reaped work horses' and its live children's, e.g. the scheduler's, from psutil) and the simulator's HTTP
requests (every answer, the 401s of sign-in handshakes included) are counted until the last job finished.
Nothing changed in any calendar, so each check is exactly the safety net's idle check. --scheduled queues every
job with a delay (spread over a few seconds) and runs the worker with its scheduler, as in production, so moving
delayed jobs is counted too (together with the scheduler's idle polling over those seconds).

After each round the tick's own side is measured in this process (tick_cost): reading the due mailboxes and
queueing their checks, per mailbox.

Reported: median CPU ms per mailbox check, the tick's CPU ms per mailbox, requests per check, wall ms per check;
the machine's load average; and the extrapolation to 5,000 mailboxes every 5 minutes ((worker + tick CPU per
mailbox) × 5,000 / 300 s, as a share of one core; issue 15 asks for ≤ 10 %, i.e. ≤ 6 ms per mailbox).
"""
from __future__ import annotations

import argparse
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

from benchutil import admin_sql, bench_env, seed_org, simulator_process  # noqa: E402

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


def start_worker(db_url: str, redis_url: str, fork: bool, log: Path, scheduler: bool = False,
                 tree: Path = ROOT) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "flask", "--app", "wsgi", "sundial", "worker", "--queues", "sync"]
    if not scheduler:
        cmd.append("--without-scheduler")
    return subprocess.Popen(cmd, cwd=tree, env=worker_env(db_url, redis_url, fork), stdout=open(log, "ab"),
                            stderr=subprocess.STDOUT)


def cpu_of(pid: int) -> float:
    """The worker's CPU seconds: its own, its reaped children's (work horses) and its live children's (the
    scheduler)."""
    import psutil

    proc = psutil.Process(pid)
    t = proc.cpu_times()
    live = 0.0
    for child in proc.children(recursive=True):
        try:
            c = child.cpu_times()
            live += c.user + c.system
        except psutil.NoSuchProcess:
            pass
    return t.user + t.system + t.children_user + t.children_system + live


def wait_ready(conn, proc, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if conn.scard("rq:workers"):
            return
        if proc.poll() is not None:
            raise SystemExit("the worker exited at start-up; see its log")
        time.sleep(0.1)
    raise SystemExit("the worker did not register in time")


def run_checks(conn, staff_ids: list[int], batch: int, spread: float = 0.0, timeout: float = 600) -> float:
    """Queue one check of every mailbox — one `sync-<id>` job each (batch=0) or `sync-batch-<n>` jobs of `batch`
    mailboxes — spread over `spread` seconds (delayed jobs, moved by the scheduler), and wait until every job
    finished; returns wall seconds."""
    from portal.jobs.queues import enqueue_incremental_sync
    from portal.jobs.specs import SPECS

    t0 = time.perf_counter()
    if batch:
        from portal.jobs.queues import enqueue_batch

        slices = [staff_ids[i:i + batch] for i in range(0, len(staff_ids), batch)]
        for n, ids in enumerate(slices):
            enqueue_batch(n, ids, delay=spread * n / len(slices) or None)
        keys = [f"rq:job:{SPECS['sync_batch'].job_id(n)}" for n in range(len(slices))]
    else:
        for i, sid in enumerate(staff_ids):
            enqueue_incremental_sync(sid, "periodic", delay=spread * i / len(staff_ids) or None)
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
    raise SystemExit("the checks did not finish in time")


MODES = {  # name: (forking worker, mailboxes per job; 0 = one sync-<id> job per mailbox)
    "forking, one job per mailbox": (True, 0),
    "warm, one job per mailbox": (False, 0),
    "warm, batches (safety net)": (False, None),  # None: --batch-size
}
MODE_KEYS = dict(zip(("fork", "warm", "batch"), MODES, strict=True))
BASELINE = "warm, one job per mailbox, --baseline checkout"  # the worker runs another checkout's code


def one_round(mode: str, args, ids: list[int], db_url: str, redis_url: str, sim_pipe, conn, logdir: Path) -> dict:
    import psutil

    fork, batch = MODES[mode]
    batch = args.batch_size if batch is None else batch
    spread = args.spread if args.scheduled else 0.0
    tree = Path(args.baseline) if mode == BASELINE else ROOT
    proc = start_worker(db_url, redis_url, fork, logdir / f"worker-{'fork' if fork else 'warm'}-{batch}.log",
                        scheduler=args.scheduled, tree=tree)
    try:
        wait_ready(conn, proc)
        run_checks(conn, ids[:WARMUP], min(batch, WARMUP))  # first sign-in, lazy imports, pools: paid once
        time.sleep(0.2)
        sim_pipe.send("counters")
        req0, cpu0 = sim_pipe.recv(), cpu_of(proc.pid)
        wall = run_checks(conn, ids, batch, spread)
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
    ap.add_argument("--batch-size", type=int, default=50, help="mailboxes per batch job (SAFETY_NET_BATCH_SIZE)")
    ap.add_argument("--modes", default="warm,batch",
                    help="comma-separated: fork (forking worker, one job per mailbox; ≈ 100 ms per job), warm (warm "
                         "worker, one job per mailbox), batch (warm worker, the safety net's batches)")
    ap.add_argument("--baseline", help="another checkout (e.g. a git worktree of main before issue 15): its warm "
                                       "worker, one job per mailbox, is measured in the same interleaved rounds")
    ap.add_argument("--scheduled", action="store_true", help="delayed jobs moved by the worker's scheduler")
    ap.add_argument("--spread", type=float, default=5.0, help="seconds the delayed jobs are spread over")
    args = ap.parse_args()
    if args.quick:
        args.staff = 50
    tmp, redis_proc, redis_url = bench_env("sundial-bench-idle-")
    sim_proc, parent = simulator_process(serve_simulator, args.staff)
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


def tick_cost(conn, ids: list[int], batched: bool, interval: float = 300.0) -> float:
    """CPU ms per mailbox of the tick's mailbox part in this process (its outbox, reminder and alert work does not
    grow with the mailboxes): as it is now (safety_net.enqueue_due: one delayed job per batch), or what it did
    before issue 15 (the due mailboxes, one delayed `sync-<id>` job each). Whatever it queued is removed again."""
    from portal.jobs.queues import enqueue_incremental_sync
    from portal.jobs.safety_net import TICK_KEY, due_mailboxes

    t0 = time.process_time()
    if batched:
        from portal.jobs.safety_net import enqueue_due

        enqueue_due(interval)
    else:
        due = due_mailboxes()
        for i, (staff_id, _initial) in enumerate(due):
            enqueue_incremental_sync(staff_id, "periodic", delay=interval * i / len(due) or None)
    spent = time.process_time() - t0
    for key in conn.scan_iter("rq:*"):  # nothing of it is run: no worker listens now
        conn.delete(key)
    conn.delete(TICK_KEY)
    return spent * 1000 / len(ids)


def run(args, redis_url: str, sim_pipe, tmp: Path, loads: list[float]) -> dict[str, list[dict]]:
    url, upn, password = sim_pipe.recv()
    from portal import create_app
    from portal.extensions import db, redis_connection
    from portal.models import MailboxState

    db_url = PG.format(DBNAME)
    app = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "REDIS_URL": redis_url})
    modes = [MODE_KEYS[k.strip()] for k in args.modes.split(",") if k.strip()]
    if args.baseline:
        MODES[BASELINE] = (False, 0)
        modes.insert(0, BASELINE)
    results: dict[str, list[dict]] = {m: [] for m in modes}
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
        for r in range(args.repeats):
            order = modes if r % 2 == 0 else modes[::-1]
            for mode in order:
                got = one_round(mode, args, ids, db_url, redis_url, sim_pipe, conn, tmp)
                loads.append(os.getloadavg()[0])
                results[mode].append(got)
                got["tick_ms"] = tick_cost(conn, ids, batched=MODES[mode][1] != 0)
                print(f"round {r + 1} {mode}: {got['cpu_ms']:.2f} CPU ms/check, {got['requests']:.2f} "
                      f"requests/check, {got['wall_ms']:.1f} wall ms/check, tick {got['tick_ms']:.2f} ms/mailbox, "
                      f"RSS {got['rss']:.0f} MB, load {loads[-1]:.1f}", flush=True)
    return results


def write_table(args, results: dict[str, list[dict]], loads: list[float]) -> None:
    how = (f"every job delayed over {args.spread:g} s and moved by the worker's scheduler (its CPU included)"
           if args.scheduled else "jobs queued at once, worker without its scheduler")
    base = ""
    if args.baseline:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=args.baseline, capture_output=True,
                                text=True).stdout.strip()
        base = f" The --baseline checkout is commit {commit}."
    lines = [f"# Idle safety-net checks: one job per mailbox vs batches ({args.staff} mailboxes, batches of "
             f"{args.batch_size}, {args.repeats} interleaved rounds)", "",
             f"Load average (1 min) during the runs: {min(loads):.1f}–{max(loads):.1f} on {os.cpu_count()} cores. "
             "CPU: the worker process, its reaped work horses and its live children (not Redis, PostgreSQL or the "
             f"simulator). {how[0].upper() + how[1:]}.{base}", "",
             "The tick column is the safety net's own side per mailbox (reading the due mailboxes and queueing "
             "their checks: one delayed job each before issue 15, one per batch now), measured in the benchmark's "
             "process; the share of a core counts worker and tick.", "",
             "| mode | worker CPU ms per mailbox check (median; each round) | tick CPU ms per mailbox (median) "
             "| requests per check (median) | wall ms per check (median) | 5,000 mailboxes / 5 min (extrapolated) "
             "| worker RSS |",
             "|---|---|---|---|---|---|---|"]
    for mode, runs in results.items():
        if not runs:
            continue
        cpu = statistics.median(r["cpu_ms"] for r in runs)
        req = statistics.median(r["requests"] for r in runs)
        wall = statistics.median(r["wall_ms"] for r in runs)
        tick = statistics.median(r["tick_ms"] for r in runs)
        share = (cpu + tick) / 1000 * 5000 / 300
        each = ", ".join(f"{r['cpu_ms']:.2f}" for r in runs)
        lines.append(f"| {mode} | **{cpu:.2f}** ({each}) | {tick:.2f} | {req:.2f} | {wall:.1f} | "
                     f"**{share:.1%}** of one core | {statistics.median(r['rss'] for r in runs):.0f} MB |")
    text = "\n".join(lines) + "\n"
    print(text)
    name = "idle_sync" + ("_scheduled" if args.scheduled else "") + ("_quick" if args.quick else "")
    out = ROOT / "benchmarks" / "results" / f"{name}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


if __name__ == "__main__":
    main()
