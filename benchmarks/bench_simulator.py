"""Throughput of the EWS simulator for small requests (target: >= 300 requests/s on this machine).

Starts ``python -m ews_simulator --seed demo --auth both`` in a subprocess on a free port, then drives it from
client threads with keep-alive sessions for a few seconds per scenario and prints a table.

    .venv/bin/python benchmarks/bench_simulator.py [--seconds 4] [--threads 8]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
from requests_ntlm import HttpNtlmAuth

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import free_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MAILBOX = "olivia.bennett@sundial-demo.test"
UPN, PASSWORD, DOWN_LEVEL = "svc-sundial@sundial-demo.test", "Demo-Exchange-2026!", "SUNDIAL-DEMO\\svc-sundial"
ENVELOPE = ('<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
            'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header>'
            '<t:RequestServerVersion Version="Exchange2016"/><t:ExchangeImpersonation><t:ConnectingSID>'
            f'<t:PrimarySmtpAddress>{MAILBOX}</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>'
            '</s:Header><s:Body>{}</s:Body></s:Envelope>')
GET_FOLDER = ('<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds>'
              '<t:DistinguishedFolderId Id="calendar"/></m:FolderIds></m:GetFolder>')
CALENDAR_VIEW = ('<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape>'
                 '<m:CalendarView StartDate="{start}" EndDate="{end}"/><m:ParentFolderIds>'
                 '<t:DistinguishedFolderId Id="calendar"/></m:ParentFolderIds></m:FindItem>')


def start_server(port: int, validate: bool) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "ews_simulator", "--port", str(port), "--seed", "demo", "--auth", "both"]
    if not validate:
        cmd.append("--no-validate")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    for line in proc.stdout:
        if "mailboxes:" in line:
            return proc
    raise RuntimeError("simulator did not start")


def run(url: str, body: bytes, auth, seconds: float, threads: int):
    latencies: list[float] = []
    errors = [0]
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def worker():
        session = requests.Session()
        session.auth = auth() if callable(auth) else auth
        session.headers["Content-Type"] = "text/xml; charset=utf-8"
        mine = []
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            r = session.post(url, data=body, timeout=30)
            mine.append(time.perf_counter() - t0)
            if r.status_code != 200:
                errors[0] += 1
        with lock:
            latencies.extend(mine)

    began = time.monotonic()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.monotonic() - began
    lat = sorted(latencies)
    return {"requests": len(lat), "rps": len(lat) / elapsed, "p50": statistics.median(lat) * 1000,
            "p95": lat[int(len(lat) * 0.95) - 1] * 1000, "errors": errors[0]}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    rows = []
    for validate in (True, False):
        port = free_port()
        proc = start_server(port, validate)
        url = f"http://127.0.0.1:{port}/EWS/Exchange.asmx"
        today = time.strftime("%Y-%m-%d")
        view = CALENDAR_VIEW.format(start=f"{today}T00:00:00Z", end=f"{today}T00:00:00Z".replace(
            today, time.strftime("%Y-%m-%d", time.gmtime(time.time() + 7 * 86400))))
        scenarios = [("GetFolder, Basic", GET_FOLDER, (UPN, PASSWORD)),
                     ("GetFolder, NTLM keep-alive", GET_FOLDER, lambda: HttpNtlmAuth(DOWN_LEVEL, PASSWORD)),
                     ("FindItem CalendarView 7 days, Basic", view, (UPN, PASSWORD))]
        try:
            for name, body, auth in scenarios:
                result = run(url, ENVELOPE.format(body).encode(), auth, args.seconds, args.threads)
                rows.append((name, "on" if validate else "off", result))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    lines = [f"# EWS simulator throughput ({time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC)", "",
             f"{args.threads} client threads, {args.seconds:.0f} s per row, {os.cpu_count()} CPUs shared with the "
             "client; small requests over keep-alive connections.", "",
             f"| {'scenario':<36} | request validation | requests | req/s | p50 ms | p95 ms | errors |",
             f"|{'-' * 38}|--------------------|----------|-------|--------|--------|--------|"]
    for name, validation, r in rows:
        lines.append(f"| {name:<36} | {validation:<18} | {r['requests']:>8} | {r['rps']:>5.0f} | {r['p50']:>6.1f} | "
                     f"{r['p95']:>6.1f} | {r['errors']:>6} |")
    print("\n" + "\n".join(lines))
    out = Path(__file__).with_name("results") / "simulator.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
