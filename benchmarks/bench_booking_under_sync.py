"""G8: booking → Exchange item while an initial sync of N mailboxes runs, with `make run`'s worker classes
("split": sync workers + a fast worker) against the former layout ("single": the same number of workers, each
taking every queue, sync first). Runs alternate split/single, each repeated, on a fresh simulator, Redis and
database every time.

    .venv/bin/python benchmarks/bench_booking_under_sync.py [--quick] [--mailboxes 200 --events 50 --runs 3]

Prints a Markdown table and writes benchmarks/results/booking_under_sync.md. The simulator runs in its own
process (10 ms latency per request, ≤ 10 concurrent requests per account); the workers are real
`flask sundial worker` processes; the database is a fresh PostgreSQL database when one is reachable, else SQLite.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchutil import free_port, start_redis  # noqa: E402  (benchmarks/ is on sys.path as a script)

CAP, LATENCY_MS, GIVE_UP = 10, 10, 180.0
BOOKER = "booker@example.com"
LAYOUTS = {"split": lambda n: [("sync",)] * n + [("export", "notify", "default")],
           "single": lambda n: [("sync", "export", "notify", "default")] * (n + 1)}


def serve_simulator(port: int, mailboxes: int, events: int, conn) -> None:
    from ews_simulator.testing import running_simulator

    with running_simulator(version="2016", auth="ntlm", port=port, validate_requests=False) as sim:
        base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
        sim.add_mailbox(BOOKER, name="Booker")
        for n in range(mailboxes):
            email = f"staff{n:04d}@example.com"
            sim.add_mailbox(email, name=f"Staff {n}")
            for k in range(events):
                start = base + timedelta(days=k % 150, hours=8 + (k // 150) % 9)
                sim.outlook(email).create(f"Meeting {k}", start, start + timedelta(hours=1))
        sim.faults.latency_ms, sim.faults.concurrency_cap = LATENCY_MS, CAP
        conn.send((sim.url, sim.service_account.upn, sim.service_account.password))
        while (cmd := conn.recv()) != "stop":  # ("copies", appointment id) → how many items carry it
            items = sim.outlook(BOOKER).items()
            conn.send(sum(str(cmd[1]) in map(str, i.extended.values()) for i in items))


def database_url(tmp: Path) -> tuple[str, callable]:
    try:
        import psycopg2

        admin = psycopg2.connect("postgresql://postgres@127.0.0.1:5432/test", connect_timeout=3)
    except Exception:  # noqa: BLE001 - no PostgreSQL here: SQLite
        return f"sqlite:///{tmp / f'bench-{uuid.uuid4().hex[:6]}.db'}", lambda: None
    admin.autocommit = True
    name = f"sundial_bench_{uuid.uuid4().hex[:8]}"
    admin.cursor().execute(f'CREATE DATABASE "{name}"')

    def drop():
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

    return f"postgresql://postgres@127.0.0.1:5432/{name}", drop


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its waited-for children (the forked job processes)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def one_run(layout: str, args, tmp: Path) -> dict:
    from portal import create_app
    from portal.booking.appointments import book
    from portal.crypto import encrypt
    from portal.extensions import db
    from portal.jobs.queues import enqueue_export, enqueue_initial_sync
    from portal.models import Client, ExchangeIntegration, Location, MailboxState, Service, StaffMember

    redis_proc, redis_url = start_redis(tmp)
    parent, child = mp.Pipe()
    sim = mp.get_context("fork").Process(target=serve_simulator, daemon=True,
                                         args=(free_port(), args.mailboxes, args.events, child))
    sim.start()
    url, upn, password = parent.recv()
    db_url, drop = database_url(tmp)
    app = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "REDIS_URL": redis_url, "EWS_MAX_CONCURRENT_REQUESTS": CAP})
    procs, latencies = [], []
    try:
        with app.app_context():
            db.create_all()
            loc, svc = Location(name="HQ", address="1 Main Street", timezone="UTC"), Service(name="Advice",
                                                                                              duration_minutes=30)
            cli = Client(name="Cleo", email="cleo@example.net")
            booker = StaffMember(name="Booker", email=BOOKER, timezone="UTC", primary_location=loc)
            db.session.add_all([loc, svc, cli, booker, ExchangeIntegration(
                id=1, auth_type="ntlm", username=upn, password_encrypted=encrypt(password), version="2016",
                server_url=url, allow_http=True, impersonation=True, state="connected")])
            db.session.add_all([StaffMember(name=f"Staff {n}", email=f"staff{n:04d}@example.com", timezone="UTC",
                                            primary_location=loc) for n in range(args.mailboxes)])
            db.session.commit()
            env = dict(os.environ, SUNDIAL_DATABASE_URL=db_url, SUNDIAL_REDIS_URL=redis_url, SUNDIAL_ENV="development",
                       SUNDIAL_EWS_MAX_CONCURRENT_REQUESTS=str(CAP))
            enqueue_initial_sync(booker.id)
            for queues in LAYOUTS[layout](args.sync_workers):
                procs.append(subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "sundial", "worker",
                                               "--queues", ",".join(queues)], cwd=ROOT, env=env,
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            while db.session.execute(db.select(MailboxState.state).where(
                    MailboxState.staff_id == booker.id)).scalar() != "synced":
                time.sleep(0.2)
                db.session.rollback()
            others = db.session.execute(db.select(StaffMember.id).where(StaffMember.id != booker.id)).scalars()
            for staff_id in others:
                enqueue_initial_sync(staff_id)
            time.sleep(2)  # the sync workers are busy with the backlog now
            cpu0 = sum(cpu_seconds(p.pid) for p in procs)
            first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2, hours=1)
            for k in range(args.bookings):
                appt = book(service=svc, location=loc, start=first + timedelta(hours=k), clients=[cli],
                            staff=[booker], end=first + timedelta(hours=k, minutes=30))
                db.session.commit()
                t0 = time.perf_counter()
                enqueue_export(appt.id)
                while not _arrived(parent, appt.id) and time.perf_counter() - t0 < GIVE_UP:
                    time.sleep(0.05)
                latencies.append(time.perf_counter() - t0)
                time.sleep(args.gap)
            synced = db.session.execute(db.select(db.func.count()).where(MailboxState.state == "synced")).scalar()
            cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu0
    finally:
        for p in procs:
            p.kill()
            p.wait()
        parent.send("stop")
        sim.join(10)
        redis_proc.terminate()
        with app.app_context():
            db.engine.dispose()
        drop()
    return {"latencies": latencies, "synced_meanwhile": synced - 1, "cpu": cpu, "load": os.getloadavg()[0]}


def _arrived(pipe, appointment_id: int) -> bool:
    pipe.send(("copies", appointment_id))
    return pipe.recv() > 0


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="30 mailboxes × 20 events, 6 bookings per run")
    ap.add_argument("--mailboxes", type=int, default=200)
    ap.add_argument("--events", type=int, default=50)
    ap.add_argument("--bookings", type=int, default=12)
    ap.add_argument("--gap", type=float, default=1.0, help="seconds between bookings")
    ap.add_argument("--sync-workers", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if args.quick or os.environ.get("SUNDIAL_BENCH_QUICK"):
        args.mailboxes, args.events, args.bookings = 30, 20, 6
    from cryptography.fernet import Fernet

    os.environ.setdefault("SUNDIAL_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    tmp = Path(tempfile.mkdtemp(prefix="sundial-bench-g8-"))
    os.environ["SUNDIAL_INSTANCE_PATH"] = str(tmp / "instance")
    results = {name: [] for name in LAYOUTS}
    try:
        for i in range(args.runs):
            for layout in LAYOUTS:  # interleaved: split, single, split, single …
                print(f"run {i + 1}/{args.runs}: {layout} …", flush=True)
                results[layout].append(one_run(layout, args, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write_table(args, results)


def write_table(args, results) -> None:
    lines = [f"## G8: booking → Exchange item during an initial sync of {args.mailboxes} mailboxes × {args.events} "
             f"events ({args.bookings} bookings per run, {args.runs} interleaved runs per layout)", "",
             "| workers | p95 per run | median of the p95s | worst | mailboxes synced meanwhile | worker CPU s "
             "(median) | load (1 min) |", "|---|---|---|---|---|---|---|"]
    for layout, runs in results.items():
        p95s = [p95(r["latencies"]) for r in runs]
        workers = " + ".join(",".join(q) for q in LAYOUTS[layout](args.sync_workers))
        lines.append(f"| {layout}: {workers} | {', '.join(f'{v:.2f} s' for v in p95s)} | "
                     f"{statistics.median(p95s):.2f} s | {max(max(r['latencies']) for r in runs):.2f} s | "
                     f"{statistics.median(r['synced_meanwhile'] for r in runs):.0f} | "
                     f"{statistics.median(r['cpu'] for r in runs):.1f} | "
                     f"{', '.join(format(r['load'], '.1f') for r in runs)} |")
    lines += ["", f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} shared cores; a booking that "
              f"had not arrived after {GIVE_UP:.0f} s counts as {GIVE_UP:.0f} s. Target (SPEC G8): p95 ≤ 5 s.", ""]
    text = "\n".join(lines)
    print(text)
    name = "booking_under_sync_quick.md" if args.mailboxes < 200 else "booking_under_sync.md"
    out = ROOT / "benchmarks" / "results" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


if __name__ == "__main__":
    main()
