"""Client overhead of portal/ews_soap: per-call build + parse for SyncFolderItems with 512
changes and GetItem with 100 items against the EWS simulator on loopback, and the process start-up cost of the
client (import + WSDL load). Prints a Markdown table and writes benchmarks/results/bench_client.md.

    .venv/bin/python benchmarks/bench_client.py [--rounds 15]

"build" = zeep serialising the request (client.build); "parse" = lxml reading the reply into dataclasses;
"round trip" = the whole call including the simulator's work and loopback HTTP. For comparison the same
512-item reply is also deserialised by zeep itself (Microsoft's WSDL), the path this client avoids.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ews_simulator.testing import running_simulator  # noqa: E402
from portal.ews_soap import Credentials, ExchangeSession, ServerConfig  # noqa: E402
from portal.ews_soap.operations import get_item, sync_folder_items  # noqa: E402
from portal.ews_soap.transport import close_pools  # noqa: E402

MAILBOX = "bench@example.com"


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f}"


def measure(ews: ExchangeSession, operation, body: dict, parse, rounds: int) -> dict[str, list[float]]:
    client = ews.client
    out: dict[str, list[float]] = {"build": [], "parse": [], "total": [], "bytes": []}
    for _ in range(rounds):
        t0 = time.perf_counter()
        data, headers = client.build(operation.OPERATION, body, impersonate=MAILBOX)
        headers["X-AnchorMailbox"] = MAILBOX
        t1 = time.perf_counter()
        reply = client.send(data, headers)
        t2 = time.perf_counter()
        parse(client.read(reply, operation.OPERATION))
        t3 = time.perf_counter()
        out["build"].append(t1 - t0)
        out["parse"].append(t3 - t2)
        out["total"].append(t3 - t0)
        out["bytes"].append(len(reply.content))
    out["last_reply"] = reply.content  # type: ignore[assignment]
    return out


def zeep_parse(reply: bytes, operation: str, rounds: int) -> list[float] | None:
    """zeep's own deserialisation of the same reply through Microsoft's WSDL (None when ../shared is absent)."""
    from portal.ews_soap.wsdl_loader import get_client, service_for
    try:
        client = get_client("microsoft")
    except FileNotFoundError:
        return None
    binding = service_for(client, "http://localhost/EWS/Exchange.asmx")._binding
    op = binding.get(operation)

    class Reply:
        status_code, headers, encoding, content = 200, {"Content-Type": "text/xml; charset=utf-8"}, "utf-8", reply

    times = []
    for _ in range(max(3, rounds // 3)):
        t0 = time.perf_counter()
        binding.process_reply(client, op, Reply())
        times.append(time.perf_counter() - t0)
    return times


def startup(source: str) -> tuple[float, float]:
    """(import of the client incl. zeep/lxml/requests, WSDL load) in a fresh interpreter, medians of 3 runs."""
    code = ("import time; t=time.perf_counter(); from portal.ews_soap.wsdl_loader import get_client; "
            f"u=time.perf_counter(); get_client({source!r}); print(u-t, time.perf_counter()-u)")
    runs = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
        runs.append(tuple(float(x) for x in out.stdout.strip().splitlines()[-1].split()))
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    rows = []
    with running_simulator(version="2016", auth="ntlm") as sim:
        sim.add_mailbox(MAILBOX, name="Bench")
        outlook = sim.outlook(MAILBOX)
        start = datetime(2027, 1, 4, 8, tzinfo=UTC)
        ids = [outlook.create(f"Client meeting {i}", start + timedelta(hours=i), start + timedelta(hours=i, minutes=45),
                              location="Branch 1", body=f"Notes for meeting {i}\nEdits above this line will be synced",
                              attendees=[("Client", f"client{i}@example.net")]) for i in range(512)]
        acc = sim.service_account
        ews = ExchangeSession(ServerConfig(url=sim.url, credentials=Credentials(acc.upn, acc.password, "ntlm"),
                                           version="2016", impersonation=True, allow_http=True))
        ews.primary_calendar(MAILBOX)  # warm: NTLM handshake, WSDL

        sync = measure(ews, sync_folder_items, sync_folder_items.body(None, MAILBOX, False, None, 512),
                       sync_folder_items.parse, args.rounds)
        assert len(sync_folder_items.parse(ews.client.read(
            ews.client.send(*ews.client.build("SyncFolderItems", sync_folder_items.body(None, MAILBOX, False, None),
                                              impersonate=MAILBOX)), "SyncFolderItems")).changes) == 512
        get = measure(ews, get_item, get_item.body(ids[:100]), get_item.parse, args.rounds)
        for name, result, n in (("SyncFolderItems, 512 changes", sync, 512), ("GetItem, 100 items", get, 100)):
            overhead = [b + p for b, p in zip(result["build"], result["parse"], strict=True)]
            rows.append((name, f"{statistics.median(result['bytes']) / 1024:.0f} KB", ms(result["build"]),
                         ms(result["parse"]), ms(overhead), ms(result["total"]),
                         f"{n / statistics.median(result['parse']):,.0f}"))
        zeep_times = zeep_parse(sync["last_reply"], "SyncFolderItems", args.rounds)
        close_pools()

    lines = ["| Call (loopback, simulator) | Reply | Build ms | Parse ms | Client overhead ms | Round trip ms "
             "| Items/s parsed |", "|---|---:|---:|---:|---:|---:|---:|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    if zeep_times:
        lines.append(f"| (same 512-change reply deserialised by zeep, Microsoft WSDL) | | | {ms(zeep_times)} | | "
                     f"| {512 / statistics.median(zeep_times):,.0f} |")
    lines += ["", "| Process start-up (fresh interpreter) | import ms | WSDL load ms |", "|---|---:|---:|"]
    sources = [("Sundial WSDL (`wsdl=\"sundial\"`)", "sundial")]
    if (ROOT.parent / "shared" / "ews-schema" / "services.wsdl").exists():
        sources.append(("Microsoft's services.wsdl (`wsdl=\"microsoft\"`, tests only)", "microsoft"))
    for label, source in sources:
        imported, loaded = startup(source)
        lines.append(f"| {label} | {imported * 1000:.0f} | {loaded * 1000:.0f} |")
    lines.append("| Later sessions in the same process (cached client) | 0 | 0 |")
    table = "\n".join(lines)
    print(table)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_client.md").write_text(f"# bench_client ({time.strftime('%Y-%m-%d %H:%M')})\n\n{table}\n")


if __name__ == "__main__":
    main()
