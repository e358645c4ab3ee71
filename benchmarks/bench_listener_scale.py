"""Issue 15 item 3: the notification listener at 5,000 mailboxes.

    .venv/bin/python benchmarks/bench_listener_scale.py            # 60 s steady window, 3 repetitions per scenario
    .venv/bin/python benchmarks/bench_listener_scale.py --quick    # 1 000 mailboxes, 60 s window, 3 repetitions
    (or QUICK=1 / BENCH_QUICK=1 in the environment)

Each run is a child process with its own EWS simulator (Exchange 2016, NTLM, 5,000 mailboxes on two database
availability groups), private redis-server and SQLite database; the listener is a real separate process (the
listener's own entry point, `Listener.run`, with its default settings). The child waits until the start is over
(every mailbox subscribed, no Subscribe for 10 s), then measures over the steady window: Subscribe and
GetStreamingEvents requests (group restarts) counted by the simulator, GetEvents per second, the listener process's
CPU (utime + stime from /proc, as a fraction of one core) and its peak RSS (VmHWM), and how many mailboxes stream
and how many are read by pull. Scenarios, interleaved (every scenario once, then again):

- documented: the simulator charges each impersonated connection to the impersonated (anchor) mailbox, as Microsoft
  documents, so every group streams;
- account-limit: the simulator charges every streaming connection to the service account, HangingConnectionLimit
  10 (2 in the quick mode; switch hanging_charged_to="account"): the listener learns the limit from
  ErrorExceededConnectionCount and reads the other mailboxes by pull subscriptions, once a minute.

Prints a Markdown table (medians, machine load before/after) and writes benchmarks/results/listener-scale.md
(listener-scale-quick.md for --quick).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "jobs"))
RESULTS = ROOT / "benchmarks" / "results" / "listener-scale.md"
SCENARIOS = {"documented": "charged to the anchor mailbox (documented)",
             "account-limit": "charged to the service account, limit {limit}"}


def account_limit(mailboxes: int) -> int:
    """HangingConnectionLimit of the account-limit scenario: Exchange 2016's 10, or 2 for the quick mode's 1,000
    mailboxes (6 groups), so the limit bites there too."""
    return 10 if mailboxes >= 3000 else 2


def _app(db_uri: str, redis_url: str):
    from portal import create_app

    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": db_uri, "REDIS_URL": redis_url,
                       "SERVER_NAME": "sundial.bench"})


def run_listener(db_uri: str, redis_url: str) -> None:
    """The listener process: the real main loop with default settings, stopped by SIGTERM."""
    import logging
    import threading

    from redis import Redis

    from portal.listener.process import Listener

    logging.basicConfig(level=logging.WARNING)
    app = _app(db_uri, redis_url)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    Listener(app, Redis.from_url(redis_url)).run(stop)


def _proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _count(sim, operation: str) -> int:
    """Requests of one operation so far (from a locked snapshot: the simulator counts from its server threads)."""
    return sum(v for (op, _), v in sim.counters.snapshot().items() if op == operation)


def run_one(scenario: str, mailboxes: int, window_s: float) -> dict:
    from benchutil import start_redis
    from cryptography.fernet import Fernet

    tmp = Path(tempfile.mkdtemp(prefix="sundial-listener-scale-"))
    redis_proc, redis_url = start_redis(tmp)
    keys = os.environ.get("SUNDIAL_ENCRYPTION_KEYS") or Fernet.generate_key().decode()
    os.environ.update(SUNDIAL_INSTANCE_PATH=str(tmp / "instance"), SUNDIAL_SECRET_KEY="bench-" + "x" * 40,
                      SUNDIAL_ENCRYPTION_KEYS=keys)
    db_uri = f"sqlite:///{tmp / 'scale.db'}"
    listener = None
    try:
        from test_listener_harness import connect_integration, mailbox_rows

        from ews_simulator.testing import running_simulator
        from portal.extensions import db

        app = _app(db_uri, redis_url)
        emails = [f"staff{i:05d}@example.com" for i in range(mailboxes)]
        extra = {"hanging_charged_to": "account", "hanging_connection_limit": account_limit(mailboxes)} \
            if scenario == "account-limit" else {}
        with app.app_context():
            db.create_all()
            with running_simulator(version="2016", auth="ntlm", validate_requests=False, **extra) as sim:
                for i, email in enumerate(emails):
                    sim.add_mailbox(email, name=f"Staff {i}", grouping="DAG-EAST" if i % 2 else "DAG-WEST")
                connect_integration(sim)
                mailbox_rows(emails)
                db.session.remove()
                started = time.monotonic()
                listener = subprocess.Popen([sys.executable, __file__, "--listener", db_uri, redis_url],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                # the start: every mailbox subscribed (streaming or pull), then no Subscribe for 10 s
                last, quiet_since = -1, time.monotonic()
                while time.monotonic() - started < 600:
                    now = _count(sim, "Subscribe")
                    if now != last:
                        last, quiet_since = now, time.monotonic()
                    elif now >= mailboxes and time.monotonic() - quiet_since >= 10:
                        break
                    time.sleep(0.5)
                start_s = time.monotonic() - started - 10
                start_counts = {op: _count(sim, op) for op in ("Subscribe", "GetStreamingEvents", "GetEvents",
                                                               "GetUserSettings")}
                cpu0, t0 = _proc_cpu_s(listener.pid), time.monotonic()
                time.sleep(window_s)
                cpu1, t1 = _proc_cpu_s(listener.pid), time.monotonic()
                counts = {op: _count(sim, op) - start_counts[op] for op in start_counts}
                hwm = _proc_hwm_mb(listener.pid)
                streaming = {s.mailbox for s in list(sim.sim.hub.subs.values()) if s.streaming}
                pulled = {mbx for (op, mbx) in sim.counters.snapshot() if op == "GetEvents"}
                minutes = (t1 - t0) / 60
                return {"scenario": scenario, "mailboxes": mailboxes, "window_s": t1 - t0, "start_s": start_s,
                        "start_subscribe": start_counts["Subscribe"],
                        "start_connections": start_counts["GetStreamingEvents"],
                        "get_user_settings": start_counts["GetUserSettings"],
                        "subscribe_per_min": counts["Subscribe"] / minutes,
                        "restarts": counts["GetStreamingEvents"], "get_events_per_s": counts["GetEvents"] / (t1 - t0),
                        "cpu_core": (cpu1 - cpu0) / (t1 - t0), "cpu_s": cpu1 - cpu0, "peak_rss_mb": hwm,
                        "streaming": len(streaming - pulled), "pull": len(pulled),
                        "open_streams": sim.sim.faults.open_streams()}
    finally:
        if listener is not None:
            listener.send_signal(signal.SIGTERM)
            try:
                listener.wait(20)
            except subprocess.TimeoutExpired:
                listener.kill()
        redis_proc.terminate()
        redis_proc.wait(10)


def table(rows: list[dict], args, load: tuple) -> str:
    lines = [f"Listener at {args.mailboxes} mailboxes (Exchange 2016 simulator, NTLM, two DAGs) — steady window "
             f"{args.window:g} s, {args.repeat} repetition(s) per scenario, interleaved, median (min–max); "
             f"load average before/after {load[0]:.2f}/{load[1]:.2f} on {os.cpu_count()} cores", "",
             "| scenario | streaming / pull mailboxes | Subscribe / min (steady) | group restarts (steady) "
             "| GetEvents / s | listener CPU (core) | listener peak RSS (MB) | start: s, Subscribe, connections |",
             "|---|---|---|---|---|---|---|---|"]

    def med(rs, k, fmt):
        values = [r[k] for r in rs]
        return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"

    for key, label in SCENARIOS.items():
        rs = [r for r in rows if r.get("scenario") == key and "cpu_core" in r]
        if not rs:
            continue
        name = label.format(limit=account_limit(args.mailboxes))
        lines.append(f"| {name} | {statistics.median(r['streaming'] for r in rs):g} / "
                     f"{statistics.median(r['pull'] for r in rs):g} | {med(rs, 'subscribe_per_min', '{:.1f}')} | "
                     f"{med(rs, 'restarts', '{:g}')} | {med(rs, 'get_events_per_s', '{:.1f}')} | "
                     f"{med(rs, 'cpu_core', '{:.3f}')} | {med(rs, 'peak_rss_mb', '{:.0f}')} | "
                     f"{statistics.median(r['start_s'] for r in rs):.0f}, "
                     f"{statistics.median(r['start_subscribe'] for r in rs):g}, "
                     f"{statistics.median(r['start_connections'] for r in rs):g} |")
    lines += [f"\nfailed: {r['scenario']}: {r['error']}" for r in rows if "error" in r]
    return "\n".join(lines) + "\n"


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--listener":
        run_listener(sys.argv[2], sys.argv[3])
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="1 000 mailboxes, 60 s window, 3 repetitions")
    p.add_argument("--mailboxes", type=int, default=None)
    p.add_argument("--window", type=float, default=None, help="steady window in seconds (≥ 60 for the figure)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--scenarios", default=",".join(SCENARIOS))
    p.add_argument("--one", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.quick = args.quick or os.environ.get("BENCH_QUICK") == "1" or os.environ.get("QUICK") == "1"
    args.mailboxes = args.mailboxes or (1000 if args.quick else 5000)
    args.window = args.window or 60.0  # pull rounds come once a minute: a shorter window may miss them
    if args.one:
        row = run_one(args.one, args.mailboxes, args.window)
        Path(args.out).write_text(json.dumps(row)) if args.out else print(json.dumps(row), flush=True)
        return 0
    load_before = os.getloadavg()[0]
    rows = []
    out_dir = Path(tempfile.mkdtemp(prefix="sundial-listener-scale-results-"))
    for rep in range(args.repeat):  # interleaved: every scenario once, then again
        for key in args.scenarios.split(","):
            out = out_dir / f"{key}-{rep}.json"
            proc = subprocess.run([sys.executable, __file__, "--one", key, "--mailboxes", str(args.mailboxes),
                                   "--window", str(args.window), "--out", str(out)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            row = json.loads(out.read_text()) if out.exists() else {"scenario": key, "error": f"exit {proc.returncode}"}
            print(json.dumps(row), flush=True)
            rows.append(row)
    text = table(rows, args, (load_before, os.getloadavg()[0]))
    print(text)
    results = RESULTS.with_name("listener-scale-quick.md") if args.quick else RESULTS
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(text)
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
