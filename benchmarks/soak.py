"""The fault soak (`make soak`; SPEC R4, G8, issue 16 item 8): the whole system runs (gunicorn, a sync worker
and a fast worker each with RQ's scheduler, the listener, the EWS simulator, Redis, PostgreSQL) while a driver
books, reschedules and cancels through HTTP and changes calendars in "Outlook", and random faults hit it:
kill -9 of a worker (mid-job when one runs), the listener or a scheduler; Redis restarted empty; the simulator
restarted; 503, ErrorServerBusy and dropped-response storms; latency spikes.

    .venv/bin/python benchmarks/soak.py --faults 1000 [--seed 7] [--gap 2]

At the end both sides are compared: no Exchange item duplicated, no booking or change lost, and every change
arrived within 60 s after the last fault that ended before it arrived. Exit status 0 only when all three hold.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from soak_driver import SERVICE, Driver  # noqa: E402  (benchmarks/ is on sys.path as a script)
from soak_system import ADMIN, ROOT, System, wait_for  # noqa: E402

BOUND = 60.0
MAILBOXES = [f"soak{n}@example.com" for n in range(4)]


# ---- faults: each returns when the fault is over ------------------------------------------------------------
def kill(system, name) -> None:
    """kill -9 of a supervised process; one that is between a stop and its restart is waited for (≤ 30 s)."""
    def running():
        pid = system.pid(name)
        return pid if Path(f"/proc/{pid}").exists() else None

    pid = wait_for(running, 30)
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, TypeError):
        pass  # it stopped by itself meanwhile: the supervisor restarts it either way


def kill_worker(system, rng, name):
    wait_for(lambda: system.horse_and_scheduler(name)[0], 3)  # mid-job when a job comes within 3 s
    kill(system, name)


def kill_scheduler(system, rng):
    schedulers = system.horse_and_scheduler(rng.choice(["worker-sync", "worker-fast"]))[1]
    for pid in schedulers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def restart_redis(system, rng):
    system.kill_redis()
    time.sleep(rng.uniform(1, 4))
    system.start_redis()


def restart_simulator(system, rng):
    system.stop_sim()
    time.sleep(rng.uniform(0.5, 2))
    system.start_sim()


def storm(method, **kw):
    def run(system, rng):
        system.control("faults", method, n=100000, **kw)
        time.sleep(rng.uniform(2, 6))
        system.control("faults", "clear")
    return run


def latency_spike(system, rng):
    system.control("faults", "latency_ms", value=rng.choice([1500, 3000, 5000]))
    time.sleep(rng.uniform(2, 6))
    system.control("faults", "latency_ms", value=0)


FAULTS = {
    "kill -9 sync worker": lambda s, r: kill_worker(s, r, "worker-sync"),
    "kill -9 fast worker": lambda s, r: kill_worker(s, r, "worker-fast"),
    "kill -9 listener": lambda s, r: kill(s, "listener"),
    "kill -9 scheduler": kill_scheduler,
    "Redis restarted empty": restart_redis,
    "simulator restarted": restart_simulator,
    "HTTP 503 storm": storm("http_503"),
    "ErrorServerBusy storm": storm("server_busy", backoff_ms=2000),
    "dropped responses": storm("drop_connection"),
    "latency spike": latency_spike,
}


# ---- set-up -----------------------------------------------------------------------------------------------------
def organise(system, account) -> tuple[object, list, dict]:
    from portal import create_app
    from portal.crypto import encrypt
    from portal.extensions import db
    from portal.models import Client, ExchangeIntegration, Location, Service, StaffMember, User

    app = create_app({"SQLALCHEMY_DATABASE_URI": system.db_url, "REDIS_URL": system.redis_url})
    with app.app_context():
        db.create_all()
        loc = Location(name="Soak office", address="1 Soak Street", timezone="UTC")
        svc, cli = Service(name=SERVICE, duration_minutes=30), Client(name="Sol Client", email="sol@example.net")
        staff = [StaffMember(name=m.split("@")[0].title(), email=m, timezone="UTC", primary_location=loc,
                             locations=[loc]) for m in MAILBOXES]
        admin = User(email=ADMIN[0], name="Soak Admin", role="admin")
        admin.set_password(ADMIN[1])
        db.session.add_all([loc, svc, cli, admin, *staff, ExchangeIntegration(
            id=1, auth_type="ntlm", username=account.upn, password_encrypted=encrypt(account.password),
            version="2016", server_url=system.sim_url + "/EWS/Exchange.asmx", allow_http=True, impersonation=True,
            state="connected", show_titles=True, sync_interval_minutes=1)])
        db.session.commit()
        return app, [(s.id, s.email) for s in staff], {"service": svc.id, "location": loc.id, "client": cli.id}


def all_synced(app) -> bool:
    from portal.extensions import db
    from portal.models import MailboxState

    with app.app_context():
        states = db.session.execute(db.select(MailboxState.state)).scalars().all()
        return len(states) == len(MAILBOXES) and set(states) == {"synced"}


# ---- watching both sides ---------------------------------------------------------------------------------------
def exchange_starts(system, mailbox) -> Counter:
    items = system.control("outlook", "items", mailbox)
    return Counter(datetime.fromisoformat(i["start"]).astimezone(UTC) for i in items if i["subject"] == SERVICE)


def sundial_absences(app, staff_id) -> Counter:
    from portal.extensions import db
    from portal.models import ExternalAbsence

    with app.app_context():
        rows = db.session.execute(db.select(ExternalAbsence.title, ExternalAbsence.start).where(
            ExternalAbsence.staff_id == staff_id)).all()
    return Counter((title, start.astimezone(UTC)) for title, start in rows)


def has_arrived(change, system, app) -> bool:
    if change.kind.startswith("outlook"):
        have = {title: start for (title, start) in sundial_absences(app, change.staff_id)}
        return have.get(change.subject) == change.start if change.start else change.subject not in have
    starts = exchange_starts(system, change.mailbox)
    return (change.start is None or starts[change.start] >= 1) and (change.gone is None or not starts[change.gone])


def observe(driver, system, app) -> None:
    """Stamp each pending change that arrived. A change superseded by a later change of the same appointment or
    event (a booking rescheduled before its export ran) arrives with that later change."""
    with driver.lock:
        changes = list(driver.changes)
    latest = {c.entity: c for c in changes}
    for change in [c for c in latest.values() if c.arrived_at is None]:
        try:
            if has_arrived(change, system, app):
                change.arrived_at = time.monotonic()
        except Exception:  # noqa: BLE001 - the simulator is restarting: look again next round
            return
    for change in changes:
        if change.arrived_at is None and latest[change.entity].arrived_at is not None:
            change.arrived_at = latest[change.entity].arrived_at


def loop(stop: threading.Event, every: float, fn) -> threading.Thread:
    def run():
        while not stop.is_set():
            fn()
            stop.wait(every)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


# ---- the verdict ------------------------------------------------------------------------------------------------
def verdict(driver, system, app, faults) -> dict:
    duplicates, lost = [], [f"{c.kind} in {c.mailbox} at {c.start or c.gone}" for c in driver.changes
                            if c.arrived_at is None]
    for staff_id, mailbox in driver.staff:
        starts = exchange_starts(system, mailbox)
        duplicates += [f"{mailbox} {s}: {n} items" for s, n in starts.items() if n > 1]
        absences = sundial_absences(app, staff_id)
        duplicates += [f"absence {t} {s}: {n} rows" for (t, s), n in absences.items() if n > 1]
        for b in driver.bookings:
            if b.staff_id == staff_id and bool(starts[b.start]) == b.cancelled:
                lost.append(f"appointment {b.appointment_id} {'still in' if b.cancelled else 'missing from'} Exchange")
        titles = {t: s for (t, s) in absences}
        for subject, (_mailbox, sid, start) in driver.outlook.items():
            if sid == staff_id and titles.get(subject) != start:
                lost.append(f"Outlook event {subject} is {titles.get(subject)} in Sundial, {start} in Exchange")
    by_end = sorted(faults, key=lambda f: f[2])
    t0 = by_end[0][1] if by_end else 0.0
    delays = []
    for c in driver.changes:
        if c.arrived_at is not None:
            ended = [f for f in by_end if f[2] <= c.arrived_at]
            delays.append((c.arrived_at - max([c.made_at] + [f[2] for f in ended[-1:]]), c))

    def explain(delay, c):  # what a slow change waited for, so it can be diagnosed from the report alone
        during = [f"{n} at {s - t0:+.0f}..{e - t0:+.0f} s" for n, s, e in faults
                  if e >= c.made_at - 35 and s <= c.arrived_at]
        return (f"{c.kind} in {c.mailbox} made at {c.made_at - t0:+.0f} s, arrived {c.arrived_at - t0:+.0f} s "
                f"({delay:.0f} s); last faults before it arrived: {'; '.join(during[-4:]) or 'none'}")

    delays.sort(key=lambda d: -d[0])
    worst = delays[0][0] if delays else 0.0
    late = [explain(d, c) for d, c in delays if d > BOUND]
    slowest = [explain(d, c) for d, c in delays[:3]]
    return {"duplicates": duplicates, "lost": sorted(set(lost)), "worst": worst, "late": late, "slowest": slowest}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--faults", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--gap", type=float, default=2.0, help="mean seconds between faults")
    ap.add_argument("--settle", type=float, default=90.0, help="seconds allowed after the last fault")
    args = ap.parse_args()
    rng = random.Random(args.seed)  # the faults; the driver has its own, so the fault sequence repeats
    from cryptography.fernet import Fernet

    os.environ.setdefault("SUNDIAL_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    tmp = Path(tempfile.mkdtemp(prefix="sundial-soak-"))
    os.environ["SUNDIAL_INSTANCE_PATH"] = str(tmp / "instance")
    system = System(tmp, MAILBOXES)
    started, faults = time.monotonic(), []
    print(f"soak: seed {args.seed}, {args.faults} faults, logs in {system.run_dir}", flush=True)
    try:
        system.create_database()
        account = system.seed_simulator()
        system.start_redis()
        system.start_sim(first=True)
        app, staff, ids = organise(system, account)
        system.start_sundial()
        if not wait_for(lambda: all_synced(app), 180, step=1):
            print("soak: the initial sync did not finish within 180 s", flush=True)
            return 2
        driver = Driver(system, app, staff, ids, random.Random(args.seed + 1))
        driver.login()
        stop = threading.Event()
        threads = [loop(stop, 0.8, driver.act), loop(stop, 1.0, lambda: observe(driver, system, app))]
        for n in range(args.faults):
            name = rng.choice(list(FAULTS))
            t0 = time.monotonic()
            FAULTS[name](system, rng)
            faults.append((name, t0, time.monotonic()))
            if (n + 1) % 10 == 0:
                print(f"  {n + 1} faults, {len(driver.changes)} changes so far", flush=True)
            time.sleep(rng.uniform(0.5, 1.5) * args.gap)
        stop.set()
        for t in threads:
            t.join(60)
        last = faults[-1][2] if faults else time.monotonic()
        wait_for(lambda: (observe(driver, system, app), all(c.arrived_at for c in driver.changes))[1],
                 max(args.settle - (time.monotonic() - last), 1), step=1)
        result = verdict(driver, system, app, faults)
        if result["lost"] or result["duplicates"]:
            from soak_diagnose import diagnose

            diagnose(app, system, result["lost"], system.run_dir / "diagnosis.txt")
    finally:
        system.stop()
        system.drop_database()
    return report(args, driver, faults, result, time.monotonic() - started, tmp)


def report(args, driver, faults, result, wall, tmp) -> int:
    kinds = Counter(name for name, _s, _e in faults)
    ok = not result["duplicates"] and not result["lost"] and result["worst"] <= BOUND and not driver.http_errors \
        and not driver.anomalies
    lines = [f"## Fault soak: {len(faults)} faults, seed {args.seed}, {wall / 60:.1f} min", "",
             f"- faults survived: {len(faults)} ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))})",
             f"- changes made: {len(driver.changes)} ({len(driver.bookings)} bookings; "
             f"{Counter(c.kind for c in driver.changes)})",
             f"- duplicates: {len(result['duplicates'])}", f"- lost changes: {len(result['lost'])}",
             f"- worst catch-up delay after a fault ended: {result['worst']:.1f} s (bound {BOUND:.0f} s)",
             f"- HTTP 5xx answers or sign-in failures: {len(driver.http_errors)}",
             f"- other anomalies (an Outlook event vanished, a driver error): {len(driver.anomalies)}",
             f"- verdict: {'PASS' if ok else 'FAIL'}", ""]
    lines += [f"  duplicate: {d}" for d in result["duplicates"][:10]] + [f"  lost: {x}" for x in result["lost"][:10]]
    lines += [f"  late: {x}" for x in result.get("late", [])[:10]]
    lines += ["", "slowest changes:"] + [f"  {x}" for x in result.get("slowest", [])]
    lines += [f"  http: {x}" for x in driver.http_errors[:10]] + [f"  anomaly: {x}" for x in driver.anomalies[:10]]
    text = "\n".join(lines)
    print(text, flush=True)
    out = ROOT / "benchmarks" / "results" / ("soak.md" if len(faults) >= 100 else "soak_short.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    if ok:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"logs kept in {tmp / 'run'}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
