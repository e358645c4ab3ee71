"""G9 figure (issue 12): requests Sundial sends per mailbox per minute while the server fails, per failure mode.

    .venv/bin/python benchmarks/bench_storm.py            # full: the real 10 minutes per mode (≈ 25 min in all)
    .venv/bin/python benchmarks/bench_storm.py --quick    # time compressed 1/60: 10 s per mode, 3 repetitions
    (or BENCH_QUICK=1 in the environment: `make bench BENCH_QUICK=1`)

Every failure mode the EWS simulator can produce (tests/jobs/storm_harness.py, MODES) is measured in its own
child process with its own simulator, private redis-server and SQLite database: 3 mailboxes streaming, then the
fault is switched on and the open streams end, and for the window the real listener (in a thread) and the sync
jobs it enqueues (a real RQ queue drained by an in-process worker every 20 ms) run while the simulator counts
every request, 401 handshakes and refusals included. Figure = requests ÷ 3 mailboxes ÷ minutes. The safety net's
periodic sync is not part of it (≤ 1 SyncFolderItems per mailbox per interval, skipped while a mailbox fails).
Children run `--parallel` at a time (they mostly sleep in back-offs). Prints a Markdown table with the median of
the repetitions, CPU seconds of the children and the machine's load, and writes benchmarks/results/storm.md
(storm-quick.md for a compressed run).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "jobs"))
RESULTS = ROOT / "benchmarks" / "results" / "storm.md"


def run_one(mode_key: str, scale: float) -> dict:
    """One mode in this process; returns the measurement as a dict."""
    from benchutil import start_redis
    from cryptography.fernet import Fernet

    tmp = Path(tempfile.mkdtemp(prefix="sundial-storm-"))
    redis_proc, redis_url = start_redis(tmp)
    keys = os.environ.get("SUNDIAL_ENCRYPTION_KEYS") or Fernet.generate_key().decode()
    os.environ.update(SUNDIAL_INSTANCE_PATH=str(tmp / "instance"), SUNDIAL_SECRET_KEY="bench-" + "x" * 40,
                      SUNDIAL_ENCRYPTION_KEYS=keys)
    try:
        from storm_harness import MAILBOXES, MODES, StormBench, scale_jobs

        from ews_simulator.testing import running_simulator
        from portal import create_app
        from portal.extensions import db

        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'storm.db'}",
                          "REDIS_URL": redis_url, "SERVER_NAME": "sundial.bench"})
        mode = next(m for m in MODES if m.key == mode_key)
        scale_jobs(lambda obj, name, value, raising=True: setattr(obj, name, value), scale)
        with app.app_context():
            db.create_all()
            with running_simulator(version="2016", auth="ntlm", minute_s=60 * scale, heartbeat_s=30 * scale,
                                   validate_requests=False) as sim:
                for email in MAILBOXES:
                    sim.add_mailbox(email, name=email.split("@")[0].title())
                result = StormBench(app, sim, redis_url, scale).measure(mode)
        return {"mode": mode.key, "label": mode.label, "requests": result.requests,
                "per_mailbox_minute": result.per_mailbox_minute, "by_operation": result.by_operation,
                "notes": result.notes}
    finally:
        redis_proc.terminate()
        redis_proc.wait(10)


def run_all(args) -> list[dict]:
    from storm_harness import MODES

    keys = [m.key for m in MODES if not args.modes or m.key in args.modes.split(",")]
    jobs = [(k, rep) for rep in range(args.repeat) for k in keys]  # interleaved: every mode once, then again
    running, done = [], []
    out_dir = Path(tempfile.mkdtemp(prefix="sundial-storm-results-"))
    while jobs or running:
        while jobs and len(running) < args.parallel:
            key, rep = jobs.pop(0)
            out = out_dir / f"{key}-{rep}.json"  # (the children log a lot: no pipe to fill up)
            proc = subprocess.Popen([sys.executable, __file__, "--one", key, "--scale", str(args.scale),
                                     "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            running.append((key, rep, proc, time.monotonic(), out))
        for item in list(running):
            key, rep, proc, started, out = item
            if proc.poll() is None:
                continue
            running.remove(item)
            if out.exists():
                row = json.loads(out.read_text())
                row["wall_s"] = time.monotonic() - started
                done.append(row)
            else:
                done.append({"mode": key, "error": f"exit {proc.returncode}"})
        time.sleep(0.5)
    return done


def table(rows: list[dict], args, cpu_s: float, load: tuple) -> str:
    from storm_harness import MODES

    window = "10 min" if args.scale == 1 else f"10 min compressed ×{args.scale:g} ({600 * args.scale:g} s)"
    lines = [f"G9 storm figure — {window}, 3 mailboxes, {args.repeat} repetition(s), median; children's CPU "
             f"{cpu_s:.1f} s; load average before/after {load[0]:.2f}/{load[1]:.2f}", "",
             "| failure mode | requests (median) | requests / mailbox / minute (median, max) "
             "| by operation (last run) |",
             "|---|---|---|---|"]
    for mode in MODES:
        mine = [r for r in rows if r.get("mode") == mode.key and "requests" in r]
        if not mine:
            continue
        per = [r["per_mailbox_minute"] for r in mine]
        ops = ", ".join(f"{k} {v}" for k, v in mine[-1]["by_operation"].items())
        lines.append(f"| {mode.label} | {statistics.median(r['requests'] for r in mine):g} | "
                     f"{statistics.median(per):.2f} ({max(per):.2f}) | {ops} |")
    errors = [r for r in rows if "error" in r]
    lines += [f"\nfailed: {r['mode']}: {r['error']}" for r in errors]
    notes = sorted({n for r in rows for n in r.get("notes", [])})
    if notes:
        lines += ["", "User Accounts tab, field-server mode:"] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="time compressed 1/60 (10 s windows), 3 repetitions")
    p.add_argument("--scale", type=float, default=None, help="time factor (1 = real time)")
    p.add_argument("--repeat", type=int, default=None)
    p.add_argument("--parallel", type=int, default=6)
    p.add_argument("--modes", default="", help="comma-separated mode keys (default: all)")
    p.add_argument("--one", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.quick = args.quick or os.environ.get("BENCH_QUICK") == "1"  # `make bench BENCH_QUICK=1`
    args.scale = args.scale or (1 / 60 if args.quick else 1.0)
    args.repeat = args.repeat or (3 if args.quick else 1)
    if args.one:
        row = json.dumps(run_one(args.one, args.scale))
        Path(args.out).write_text(row) if args.out else print(row, flush=True)
        return 0
    load_before = os.getloadavg()[0]
    before = os.times()
    rows = run_all(args)
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    text = table(rows, args, cpu, (load_before, os.getloadavg()[0]))
    print(text)
    results = RESULTS.with_name("storm-quick.md") if args.scale != 1 else RESULTS
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(text)
    bad = [r for r in rows if "error" in r or r.get("per_mailbox_minute", 0) > 2.0]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
