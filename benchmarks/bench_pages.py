"""Server time of Sundial's main pages at 1,000 staff and 100,000 appointments on PostgreSQL (issue target:
≤ 100 ms each; SPEC S8/A2: the query count does not grow with the organisation).

    .venv/bin/python benchmarks/bench_pages.py [--staff 1000 --appointments 100 --repeats 5]
    .venv/bin/python benchmarks/bench_pages.py --quick     # 100 staff × 10 appointments

A fresh database is created in the local PostgreSQL server (127.0.0.1:5432, trust) and dropped afterwards. Each
page is requested through the WSGI app in-process (Flask's test client: server time without a network hop), the
pages in rounds so every page sees the same machine load; each round is repeated and the median reported with
the CPU time, the SQL statements and the response size. Prints a Markdown table and writes
benchmarks/results/pages.md.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from benchutil import admin_sql, start_redis  # noqa: E402

PG = "postgresql+psycopg2://postgres@127.0.0.1:5432/{}"
DBNAME = f"sundial_bench_pages_{os.getpid()}"




def pages(first: int, n: int) -> dict[str, tuple[str, str, dict | None]]:
    from tests.web.org_scale import week_start

    ex = "/settings/integrations/exchange"
    monday = week_start().date().isoformat()  # the seeded appointments fill this week's working days
    return {
        "Today (admin's landing page)": ("GET", "/day", None),
        "day view (a busy day)": ("GET", f"/day?location=1&date={monday}", None),
        "week view": ("GET", f"/schedule?staff={first}", None),
        "calendar live poll": ("GET", "/schedule/changes", None),
        "booking form": ("GET", f"/appointments/new?staff={first}", None),
        "booking form, anyone at the location": ("GET", f"/appointments/new?location=1&date={monday}", None),
        "booking form, staff search (no JS)": ("POST", "/appointments/new", {
            "find": "staff", "staff_q": "staff009", "staff_q_shown": "", "service": "1", "location": "1"}),
        "picker search as you type (JSON)": ("GET", "/appointments/choices?kind=clients&q=client12", None),
        "free slots (JSON)": ("GET", f"/appointments/slots?service=1&location=1&staff={first}", None),
        "booking POST": ("POST", "/appointments/new", {
            "service": "1", "location": "1", "date": f"{datetime.now(UTC).year + 2}-01-{1 + n % 28:02d}",
            "time": f"{6 + n // 28:02d}:00", "staff": [str(first)], "clients": ["1"], "notes": ""}),
        "User Accounts tab": ("GET", f"{ex}/accounts", None),
        "User Accounts search": ("GET", f"{ex}/accounts?q=staff0099", None),
        "User Accounts live refresh": ("GET", f"{ex}/accounts/states.json", None),
        "staff list": ("GET", "/admin/staff", None),
        "staff search": ("GET", "/admin/staff?q=staff0099", None),
        "client list": ("GET", "/admin/clients", None),
        "client search": ("GET", "/admin/clients?q=client99", None),
        "outbox": ("GET", "/settings/notifications/outbox", None),
        "activity": ("GET", f"{ex}/accounts/{first}/activity", None),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--staff", type=int, default=1000)
    ap.add_argument("--appointments", type=int, default=100, help="per staff member")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.staff, args.appointments, args.repeats = 100, 10, 3
    from cryptography.fernet import Fernet

    os.environ.setdefault("SUNDIAL_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    tmp = Path(tempfile.mkdtemp(prefix="sundial-bench-pages-"))
    os.environ["SUNDIAL_INSTANCE_PATH"] = str(tmp / "instance")
    redis_proc, redis_url = start_redis(tmp)
    admin_sql(f"CREATE DATABASE {DBNAME}")
    try:
        rows, seeded = run(args, redis_url)
    finally:
        redis_proc.terminate()
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            admin_sql(f"DROP DATABASE IF EXISTS {DBNAME} WITH (FORCE)")
        except Exception as exc:  # noqa: BLE001 — the table is still worth printing
            print(f"could not drop {DBNAME}: {exc}")
    write_table(args, rows, seeded)


def run(args, redis_url: str):
    from sqlalchemy import event, func, select

    from portal import create_app
    from portal.extensions import db
    from portal.models import Appointment, ExchangeIntegration, User
    from tests.web.org_scale import grow

    app = create_app({"SQLALCHEMY_DATABASE_URI": PG.format(DBNAME), "REDIS_URL": redis_url,
                      "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
    with app.app_context():
        db.create_all()
        db.session.add(ExchangeIntegration(id=1, auth_type="ntlm", username="svc@example.com", version="2016",
                                           server_url="https://mail.example.com/EWS/Exchange.asmx",
                                           state="connected"))
        user = User(email="admin@example.com", role="admin", name="Admin")
        user.set_password("correct horse battery")
        db.session.add(user)
        db.session.commit()
        t0 = time.perf_counter()
        grow(args.staff, args.appointments)
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()
        seeded = (args.staff, db.session.execute(select(func.count(Appointment.id))).scalar(),
                  time.perf_counter() - t0)
        print(f"seeded {seeded[0]} staff, {seeded[1]} appointments in {seeded[2]:.0f} s", flush=True)
        statements = [0]
        event.listen(db.engine, "before_cursor_execute", lambda *a: statements.__setitem__(0, statements[0] + 1))
    client = app.test_client()
    resp = client.post("/login", data={"email": "admin@example.com", "password": "correct horse battery"})
    assert resp.status_code == 302, resp.status_code
    samples: dict[str, list[tuple[float, float, int, int]]] = {}
    loads = [os.getloadavg()[0]]
    for n in range(args.repeats + 1):  # round 0 warms every page and is not counted
        for name, (method, url, data) in pages(1, n).items():
            statements[0] = 0
            w0, c0 = time.perf_counter(), time.process_time()
            resp = client.open(url, method=method, data=data)
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            assert resp.status_code in (200, 302), (name, resp.status_code)
            if n:
                samples.setdefault(name, []).append((wall, cpu, statements[0], len(resp.data)))
        loads.append(os.getloadavg()[0])
    rows = [(name, statistics.median(s[0] for s in got), statistics.median(s[1] for s in got),
             max(s[2] for s in got), max(s[3] for s in got)) for name, got in samples.items()]
    return (rows, loads), seeded


def write_table(args, result, seeded) -> None:
    rows, loads = result
    lines = [f"## Pages at {seeded[0]} staff and {seeded[1]} appointments (PostgreSQL), median of {args.repeats}",
             "", "| page | server time | CPU | SQL statements | response |", "|---|---|---|---|---|"]
    for name, wall, cpu, sql, size in rows:
        lines.append(f"| {name} | {wall * 1000:.0f} ms | {cpu * 1000:.0f} ms | {sql} | {size / 1024:.0f} KB |")
    lines += ["", f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} shared cores, 1-minute load "
                  f"average {min(loads):.1f}–{max(loads):.1f}; in-process WSGI requests (no network), PostgreSQL on "
                  "the same machine. Target: ≤ 100 ms per page.", ""]
    text = "\n".join(lines)
    print(text)
    out = ROOT / "benchmarks" / "results" / ("pages_quick.md" if args.quick else "pages.md")
    out.write_text(text)


if __name__ == "__main__":
    main()
