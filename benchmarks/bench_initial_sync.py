"""Initial sync at scale: N staff × M events in the EWS simulator (10 ms latency per request, a cap of
10 concurrent requests per account), imported by Sundial's RQ workers and — in the same run, against the same
mailboxes at the same concurrency — by a straightforward exchangelib import (10 threads, CalendarView).

    .venv/bin/python benchmarks/bench_initial_sync.py [--staff 200 --events 300 --workers 4 --repeats 3]
    .venv/bin/python benchmarks/bench_initial_sync.py --model fork --workers 10   # the former forking layout
    .venv/bin/python benchmarks/bench_initial_sync.py --quick      # 20 mailboxes, 3 repeats

The two clients run interleaved (S X, X S, S X, …) against the same simulator, each repeated; the table gives
medians and each run: events/s, events per CPU second (Sundial: every worker process and every forked job child,
from getrusage(RUSAGE_CHILDREN) once they have all exited, plus its private redis-server's CPU; exchangelib: its
own process, all threads), wall time, SQL statements per imported event (counted in each job), peak memory of
all Sundial processes together (sampled every 0.2 s: workers' RSS + job children's USS, summed at one instant)
and the 1-minute load average before and after each run. The simulator runs in its own process so
neither client shares its GIL; Redis is a private redis-server; Sundial's database is SQLite (a fresh file per
run). The exchangelib import only reads (it keeps the events in memory); Sundial also writes every absence, link
and log row.
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
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchutil import free_port, seed_org, start_redis  # noqa: E402  (benchmarks/ is on sys.path as a script)

CAP = 10


# ----- the simulator, in its own process ----------------------------------------------------------------
def serve_simulator(port: int, staff: int, events: int, conn) -> None:
    from ews_simulator.testing import running_simulator

    with running_simulator(version="2016", auth="ntlm", port=port, validate_requests=False) as sim:
        base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
        for n in range(staff):
            email = f"staff{n:04d}@example.com"
            sim.add_mailbox(email, name=f"Staff {n}")
            ol = sim.outlook(email)
            for k in range(events):
                start = base + timedelta(days=k % 150, hours=8 + (k // 150) % 9)
                ol.create(f"Meeting {k}", start, start + timedelta(hours=1),
                          free_busy="Free" if k % 10 == 9 else "Busy", body=f"Agenda {k}")
        sim.faults.latency_ms = 10
        sim.faults.concurrency_cap = CAP
        throttled = [0]
        enter = sim.faults.enter

        def counting_enter(upn):
            try:
                enter(upn)
            except Exception:
                throttled[0] += 1
                raise

        sim.faults.enter = counting_enter
        acct = sim.service_account
        conn.send((sim.url, acct.upn, acct.password))
        while True:
            cmd = conn.recv()
            if cmd == "reset":
                sim.counters.reset()
                throttled[0] = 0
                conn.send(None)
            elif cmd == "counters":
                conn.send((sim.counters.total(), throttled[0]))
            else:
                conn.send(None)
                return


# ----- Sundial's side -------------------------------------------------------------------------------------
def app_config(db_url: str, redis_url: str) -> dict:
    return {"SQLALCHEMY_DATABASE_URI": db_url, "REDIS_URL": redis_url, "EWS_MAX_CONCURRENT_REQUESTS": CAP,
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"timeout": 60}}, "SYNC_HORIZON_DAYS": 180}


def run_worker(db_url: str, redis_url: str, model: str = "warm") -> None:
    """One RQ worker process, as `flask sundial worker --burst` runs it: warm (the default, jobs in this process
    on its warm Exchange session) or forking (SUNDIAL_WORKER_FORK=true, a job child per job)."""
    from portal import create_app
    from portal.jobs.queues import get_queue, redis_connection
    from portal.jobs.worker import SundialWorker, WarmWorker, prepare_worker_process

    app = create_app(app_config(db_url, redis_url))
    prepare_worker_process(app, warm=model == "warm")
    statements = [0]
    with app.app_context():
        from sqlalchemy import event

        from portal.extensions import db

        @event.listens_for(db.engine, "before_cursor_execute")
        def count(*_args):
            statements[0] += 1

    base, kw = (WarmWorker, {"app": app}) if model == "warm" else (SundialWorker, {})

    class CountingWorker(base):
        """perform_job runs in the job's process (a forked child, or the warm worker itself): each job adds its
        own statement count to Redis."""

        def perform_job(self, job, queue):
            statements[0] = 0
            try:
                return super().perform_job(job, queue)
            finally:
                redis_connection().incrby("bench:sql", statements[0])

    CountingWorker([get_queue("sync"), get_queue("export")], connection=redis_connection(), **kw).work(
        burst=True, with_scheduler=False)


class RssSampler(threading.Thread):
    """Peak memory of all Sundial processes together, sampled every 0.2 s: the sum, at one instant, of each
    worker's resident set plus the unique set (USS) of its forked job child — pages a child shares copy-on-write
    with its worker are counted once. The peak of that sum is reported (not the sum of each worker's own peak)."""

    def __init__(self, pids: list[int]):
        super().__init__(daemon=True)
        self.pids, self.peak, self.stop = pids, 0, threading.Event()
        self.per_pid: dict[int, int] = {}  # each worker's own peak (its RSS + its job child's USS)

    def run(self):
        import psutil

        while not self.stop.is_set():
            total = 0
            for pid in self.pids:
                mine = 0
                try:
                    proc = psutil.Process(pid)
                    mine += proc.memory_info().rss
                    for c in proc.children(recursive=True):
                        try:
                            mine += c.memory_full_info().uss
                        except psutil.Error:
                            pass
                except psutil.Error:
                    pass
                total += mine
                self.per_pid[pid] = max(self.per_pid.get(pid, 0), mine)
            self.peak = max(self.peak, total)
            time.sleep(0.2)


def sundial_run(url, upn, password, staff: int, workers: int, tmp: Path, redis_url: str, redis_pid: int,
                model: str = "warm") -> dict:
    from portal import create_app
    from portal.extensions import db
    from portal.jobs.queues import enqueue_initial_sync
    from portal.models import ExternalAbsence, MailboxState

    db_url = f"sqlite:///{tmp / 'bench.db'}"
    app = create_app(app_config(db_url, redis_url))
    with app.app_context():
        from portal.extensions import redis_connection

        redis_connection().flushdb()  # every run starts from an empty queue, lock and counter set
        ids = seed_org(url, upn, password, staff)
        t0, cpu0, redis0 = time.perf_counter(), _children_cpu(), _process_cpu(redis_pid)
        for sid in ids:
            enqueue_initial_sync(sid)
        cmd = [sys.executable, __file__, "--worker", db_url, redis_url, model]
        procs = [subprocess.Popen(cmd, env=os.environ.copy(),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
        sampler = RssSampler([p.pid for p in procs])
        sampler.start()
        for p in procs:
            p.wait()
        wall = time.perf_counter() - t0
        cpu = _children_cpu() - cpu0 + _process_cpu(redis_pid) - redis0  # Sundial's Redis works for Sundial only
        sampler.stop.set()
        sampler.join()
        sql = int(redis_connection().getset("bench:sql", 0) or 0)
        imported = db.session.execute(db.select(db.func.count(ExternalAbsence.id))).scalar()
        synced = db.session.execute(db.select(db.func.count()).where(MailboxState.state == "synced")).scalar()
    return {"wall": wall, "cpu": cpu, "events": imported, "synced": synced, "sql": sql,
            "mem": sampler.peak / 2**20, "mem_note": f"all {workers} {model} workers together (RSS + job child USS)"}


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _process_cpu(pid: int) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def _self_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


# ----- the straightforward exchangelib import ---------------------------------------------------------------
def exchangelib_run(url, upn, password, staff: int) -> dict:
    import psutil
    from exchangelib import IMPERSONATION, NTLM, Account, Build, Configuration, Credentials, FaultTolerance, Version

    config = Configuration(service_endpoint=url, credentials=Credentials(upn, password), auth_type=NTLM,
                           version=Version(build=Build(15, 1, 2176, 12)), retry_policy=FaultTolerance(max_wait=120),
                           max_connections=CAP)
    start = datetime.now(UTC) - timedelta(days=1)
    end = start + timedelta(days=181)
    proc = psutil.Process()
    base_rss, peak = proc.memory_info().rss, [0]

    def one(n: int) -> int:
        from exchangelib import EWSDateTime

        account = Account(f"staff{n:04d}@example.com", config=config, autodiscover=False, access_type=IMPERSONATION)
        view = account.calendar.view(start=EWSDateTime.from_datetime(start), end=EWSDateTime.from_datetime(end))
        busy = [(i.subject, i.start, i.end, i.body) for i in view if i.legacy_free_busy_status != "Free"]
        peak[0] = max(peak[0], proc.memory_info().rss)
        return len(busy)

    t0, cpu0 = time.perf_counter(), _self_cpu()
    with ThreadPoolExecutor(CAP) as pool:
        imported = sum(pool.map(one, range(staff)))
    wall, cpu = time.perf_counter() - t0, _self_cpu() - cpu0
    return {"wall": wall, "cpu": cpu, "events": imported, "synced": staff, "sql": None,
            "mem": peak[0] / 2**20, "mem_note": f"process peak, +{(peak[0] - base_rss) / 2**20:.0f} MB in the run"}


# ----- driver --------------------------------------------------------------------------------------------------
SUNDIAL, EXCHANGELIB = "Sundial (RQ workers, ews_soap)", "exchangelib 5.6, 10 threads"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--staff", type=int, default=200)
    ap.add_argument("--events", type=int, default=300)
    ap.add_argument("--workers", type=int, default=4, help="worker processes (each ≈ 130 MB)")
    ap.add_argument("--model", choices=("warm", "fork"), default="warm",
                    help="warm: jobs run in the worker process (the default); fork: RQ's child per job")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="20 mailboxes (CI); still 3 interleaved repeats")
    ap.add_argument("--only", choices=("sundial", "exchangelib"),
                    help="run one client (profiling while developing; the published table needs both)")
    args = ap.parse_args()
    if args.quick:
        args.staff = min(args.staff, 20)
    from cryptography.fernet import Fernet

    os.environ.setdefault("SUNDIAL_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    tmp = Path(tempfile.mkdtemp(prefix="sundial-bench-"))
    os.environ["SUNDIAL_INSTANCE_PATH"] = str(tmp / "instance")
    redis_proc, redis_url = start_redis(tmp)
    parent, child = mp.Pipe()
    sim_proc = mp.get_context("fork").Process(target=serve_simulator,
                                              args=(free_port(), args.staff, args.events, child), daemon=True)
    sim_proc.start()
    print(f"seeding {args.staff} mailboxes × {args.events} events …", flush=True)
    url, upn, password = parent.recv()
    clients = {SUNDIAL: lambda n: sundial_run(url, upn, password, args.staff, args.workers, tmp / f"run{n}",
                                              redis_url, redis_proc.pid, args.model),
               EXCHANGELIB: lambda n: exchangelib_run(url, upn, password, args.staff)}
    results: dict[str, list[dict]] = {SUNDIAL: [], EXCHANGELIB: []}
    loads = [os.getloadavg()[0]]
    try:
        for n in range(args.repeats):
            order = (SUNDIAL, EXCHANGELIB) if n % 2 == 0 else (EXCHANGELIB, SUNDIAL)  # interleaved, alternating
            for name in order:
                if args.only and name != {"sundial": SUNDIAL, "exchangelib": EXCHANGELIB}[args.only]:
                    continue
                (tmp / f"run{n}").mkdir(exist_ok=True)
                parent.send("reset")
                parent.recv()
                print(f"run {n + 1}/{args.repeats}: {name} …", flush=True)
                load_before = os.getloadavg()[0]
                result = clients[name](n)
                parent.send("counters")
                result["requests"], result["throttled"] = parent.recv()
                result["load"] = (load_before, os.getloadavg()[0])
                loads += result["load"]
                print(f"  {result['events'] / result['wall']:.0f} events/s, {result['cpu']:.1f} CPU s, "
                      f"{result['events'] / result['cpu']:.0f} events per CPU s, {result['wall']:.1f} s wall, "
                      f"{result['mem']:.0f} MB, load {load_before:.1f}→{result['load'][1]:.1f}", flush=True)
                results[name].append(result)
    finally:
        parent.send("stop")
        sim_proc.join(10)
        redis_proc.terminate()
        shutil.rmtree(tmp, ignore_errors=True)
    if not args.only:
        write_table(args, results, loads)


def summary(runs: list[dict]) -> dict:
    med = statistics.median
    return {"rate": med(r["events"] / r["wall"] for r in runs), "per_cpu": med(r["events"] / r["cpu"] for r in runs),
            "wall": med(r["wall"] for r in runs), "cpu": med(r["cpu"] for r in runs),
            "sql": med(r["sql"] / r["events"] for r in runs) if runs[0]["sql"] is not None else None,
            "mem": max(r["mem"] for r in runs), "events": runs[0]["events"], "synced": runs[0]["synced"],
            "requests": med(r["requests"] for r in runs), "throttled": sum(r["throttled"] for r in runs),
            "each": ", ".join(f"{r['events'] / r['wall']:.0f}" for r in runs),
            "each_cpu": ", ".join(f"{r['events'] / r['cpu']:.0f}" for r in runs),
            "each_wall": ", ".join(f"{r['wall']:.0f}" for r in runs),
            "loads": ", ".join(f"{r['load'][0]:.1f}→{r['load'][1]:.1f}" for r in runs)}


def write_table(args, results: dict[str, list[dict]], loads: list[float]) -> None:
    s, x = summary(results[SUNDIAL]), summary(results[EXCHANGELIB])
    lines = [f"## Initial sync: {args.staff} staff × {args.events} events (10 ms latency, ≤ {CAP} concurrent "
             f"requests per account), median of {args.repeats} interleaved runs", "",
             "| client | wall time (each run) | CPU s | busy events imported | events/s (each run) "
             "| events per CPU s (each run) | SQL statements per event | requests | throttled | peak memory "
             "| load, 1 min, before→after each run |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in ((SUNDIAL, s), (EXCHANGELIB, x)):
        sql = f"{r['sql']:.3f}" if r["sql"] is not None else "— (reads only)"
        note = results[name][0]["mem_note"]
        lines.append(f"| {name} | {r['wall']:.1f} s ({r['each_wall']}) | {r['cpu']:.1f} | {r['events']} "
                     f"({r['synced']} mailboxes) | {r['rate']:.0f} ({r['each']}) | {r['per_cpu']:.0f} "
                     f"({r['each_cpu']}) | {sql} | {r['requests']:.0f} | {r['throttled']} | {r['mem']:.0f} MB "
                     f"({note}) | {r['loads']} |")
    lines += ["", f"Sundial ÷ exchangelib: {s['rate'] / x['rate']:.2f}× the events/s, "
                  f"{s['per_cpu'] / x['per_cpu']:.2f}× the events per CPU second.", "",
              f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} shared cores, 1-minute load "
              f"average {min(loads):.1f}–{max(loads):.1f} during the runs. Sundial: {args.workers} {args.model} "
              f"RQ workers sharing a Redis gate (cap {CAP}); every absence, link and log row written to SQLite. "
              "exchangelib: "
              "CalendarView + the full items it fetches, kept in memory only.", ""]
    text = "\n".join(lines)
    print(text)
    out = ROOT / "benchmarks" / "results" / ("initial_sync_quick.md" if args.quick else "initial_sync.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        run_worker(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        main()
