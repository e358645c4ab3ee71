"""Initial sync at scale: N staff × M events in the EWS simulator (10 ms latency per request, a cap of
10 concurrent requests per account), imported by Sundial's RQ workers and — in the same run, against the same
mailboxes at the same concurrency — by a straightforward exchangelib import (10 threads, CalendarView).

    .venv/bin/python benchmarks/bench_initial_sync.py [--staff 200 --events 300 --workers 10]

Prints a Markdown table and writes benchmarks/results/initial_sync.md. The simulator runs in its own process so
neither client shares its GIL; Redis is a private redis-server; Sundial's database is SQLite. The exchangelib
import only reads (it keeps the events in memory); Sundial also writes every absence, link and log row.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
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
from benchutil import free_port, start_redis  # noqa: E402  (benchmarks/ is on sys.path as a script)

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


def run_worker(db_url: str, redis_url: str) -> None:
    """One forking RQ worker process, as `flask sundial worker --burst` runs it."""
    from rq import Worker

    from portal import create_app
    from portal.jobs.queues import get_queue, redis_connection
    from portal.jobs.worker import prepare_worker_process

    app = create_app(app_config(db_url, redis_url))
    prepare_worker_process(app)
    Worker([get_queue("sync"), get_queue("export")], connection=redis_connection()).work(burst=True)


class RssSampler(threading.Thread):
    """Peak memory of each worker: its resident set plus the unique set (USS) of its forked job child — pages the
    child shares copy-on-write with the worker are counted once."""

    def __init__(self, pids: list[int]):
        super().__init__(daemon=True)
        self.pids, self.peak, self.stop = pids, {p: 0 for p in pids}, threading.Event()

    def run(self):
        import psutil

        while not self.stop.is_set():
            for pid in self.pids:
                try:
                    proc = psutil.Process(pid)
                    rss = proc.memory_info().rss + sum(c.memory_full_info().uss for c in proc.children(recursive=True))
                    self.peak[pid] = max(self.peak[pid], rss)
                except psutil.Error:
                    pass
            time.sleep(0.2)


def sundial_run(url, upn, password, staff: int, workers: int, tmp: Path, redis_url: str) -> dict:
    from portal import create_app
    from portal.crypto import encrypt
    from portal.extensions import db
    from portal.jobs.queues import enqueue_initial_sync
    from portal.models import ExchangeIntegration, ExternalAbsence, Location, MailboxState, StaffMember

    db_url = f"sqlite:///{tmp / 'bench.db'}"
    app = create_app(app_config(db_url, redis_url))
    with app.app_context():
        db.create_all()
        loc = Location(name="HQ", address="1 Main Street", timezone="UTC")
        db.session.add(loc)
        db.session.add(ExchangeIntegration(id=1, auth_type="ntlm", username=upn, password_encrypted=encrypt(password),
                                           version="2016", server_url=url, allow_http=True, impersonation=True,
                                           state="connected"))
        db.session.add_all([StaffMember(name=f"Staff {n}", email=f"staff{n:04d}@example.com", timezone="UTC",
                                        primary_location=loc) for n in range(staff)])
        db.session.commit()
        ids = [s.id for s in db.session.execute(db.select(StaffMember)).scalars()]
        t0 = time.perf_counter()
        for sid in ids:
            enqueue_initial_sync(sid)
        procs = [subprocess.Popen([sys.executable, __file__, "--worker", db_url, redis_url], env=os.environ.copy(),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
        sampler = RssSampler([p.pid for p in procs])
        sampler.start()
        for p in procs:
            p.wait()
        wall = time.perf_counter() - t0
        sampler.stop.set()
        imported = db.session.execute(db.select(db.func.count(ExternalAbsence.id))).scalar()
        synced = db.session.execute(db.select(db.func.count()).where(MailboxState.state == "synced")).scalar()
    peaks = sorted(sampler.peak.values())
    return {"wall": wall, "events": imported, "synced": synced,
            "mem": f"{peaks[-1] / 2**20:.0f} MB peak per worker (RSS + job child USS), {sum(peaks) / 2**20:.0f} MB "
                   f"for all {workers}"}


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

    t0 = time.perf_counter()
    with ThreadPoolExecutor(CAP) as pool:
        imported = sum(pool.map(one, range(staff)))
    wall = time.perf_counter() - t0
    return {"wall": wall, "events": imported, "synced": staff,
            "mem": f"{peak[0] / 2**20:.0f} MB process peak (+{(peak[0] - base_rss) / 2**20:.0f} MB)"}


# ----- driver --------------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--staff", type=int, default=200)
    ap.add_argument("--events", type=int, default=300)
    ap.add_argument("--workers", type=int, default=CAP)
    args = ap.parse_args()
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
    rows = []
    try:
        for name, run in (("Sundial (RQ workers, ews_soap)",
                           lambda: sundial_run(url, upn, password, args.staff, args.workers, tmp, redis_url)),
                          ("exchangelib 5.6, 10 threads", lambda: exchangelib_run(url, upn, password, args.staff))):
            parent.send("reset")
            parent.recv()
            print(f"running {name} …", flush=True)
            result = run()
            parent.send("counters")
            result["requests"], result["throttled"] = parent.recv()
            rows.append((name, result))
    finally:
        parent.send("stop")
        sim_proc.join(10)
        redis_proc.terminate()
        shutil.rmtree(tmp, ignore_errors=True)
    write_table(args, rows)


def write_table(args, rows) -> None:
    lines = [f"## Initial sync: {args.staff} staff × {args.events} events (10 ms latency, ≤ {CAP} concurrent "
             f"requests per account)", "",
             "| client | wall time | busy events imported | events/s | requests | throttled requests | memory |",
             "|---|---|---|---|---|---|---|"]
    for name, r in rows:
        lines.append(f"| {name} | {r['wall']:.1f} s | {r['events']} ({r['synced']} mailboxes) | "
                     f"{r['events'] / r['wall']:.0f} | {r['requests']} | {r['throttled']} | {r['mem']} |")
    lines += ["", f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} shared cores. Sundial: "
              f"{args.workers} forking RQ workers sharing a Redis gate (cap {CAP}); every absence, link and log row "
              "written to SQLite. exchangelib: CalendarView + the full items it fetches, kept in memory only.", ""]
    text = "\n".join(lines)
    print(text)
    out = ROOT / "benchmarks" / "results" / "initial_sync.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        run_worker(sys.argv[2], sys.argv[3])
    else:
        main()
