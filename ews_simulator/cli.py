"""Command line: ``python -m ews_simulator [serve options]``, ``... outlook ...``, ``... fault ...``."""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import urllib.request


def _serve_parser(sub=None):
    p = sub or argparse.ArgumentParser(
        prog="python -m ews_simulator", description="On-premises Exchange stand-in (see ews_simulator/README.md)",
        epilog="Change a running simulator: python -m ews_simulator outlook --url URL EMAIL ACTION key=value ... | "
               "python -m ews_simulator fault --url URL SWITCH key=value ...")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--state", help="file to load the mailboxes from and save them to")
    p.add_argument("--seed", choices=["demo"], help="populate the demo organisation (when no state exists)")
    p.add_argument("--version", default="2016", help="2010, 2010_SP1, 2010_SP2, 2010_SP3, 2013, 2013_SP1, 2016, "
                                                     "2019, SE (Exchange Server SE, build 15.2.2562.17)")
    p.add_argument("--auth", default="ntlm", choices=["ntlm", "basic", "both"])
    p.add_argument("--tls", action="store_true", help="serve https on --port (self-signed certificate)")
    p.add_argument("--latency-ms", type=int, default=0)
    p.add_argument("--throttle", type=int, metavar="BUDGET", help="requests per account per --throttle-window")
    p.add_argument("--throttle-window", type=float, default=60.0)
    p.add_argument("--backoff-ms", type=int, help="BackOffMilliseconds to send when throttling")
    p.add_argument("--concurrency-cap", type=int)
    p.add_argument("--http-503", type=int, default=0, metavar="N", help="answer the next N requests with 503")
    p.add_argument("--drop", type=int, default=0, metavar="N", help="drop the next N responses mid-body")
    p.add_argument("--unavailable", action="append", default=[], metavar="EMAIL")
    p.add_argument("--lockout", default="5/300/300", metavar="N/WINDOW_S/DURATION_S")
    p.add_argument("--kerberos-keytab", metavar="FILE", help="accept Kerberos in Negotiate with this keytab's "
                                                              "HTTP/<host> keys (KRB5_CONFIG names the realm)")
    p.add_argument("--extended-protection", default="none", choices=["none", "allow", "require"],
                   help="IIS Extended Protection over https (--tls): channel binding none / allow / require")
    p.add_argument("--minute-seconds", type=float, default=60.0, help="scale streaming ConnectionTimeout")
    p.add_argument("--heartbeat-seconds", type=float, default=30.0)
    p.add_argument("--no-validate", action="store_true", help="skip schema validation of requests")
    p.add_argument("--wsdl-dir", help="folder served at /EWS/Services.wsdl (+ messages.xsd, types.xsd); default "
                                      "../shared/ews-schema when present, else Sundial's wsdl/")
    return p


def serve(args) -> int:
    from .serve import ServerThread
    from .testing import make_simulator
    options = dict(version=args.version, auth=args.auth, state_file=args.state, minute_s=args.minute_seconds,
                   heartbeat_s=args.heartbeat_seconds, validate_requests=not args.no_validate,
                   wsdl_dir=args.wsdl_dir)
    sim, _account = make_simulator(seed=None, **options)
    if not (args.state and sim.load(args.state)):
        sim, _account = make_simulator(seed=args.seed, **options)
    f = sim.faults
    f.latency_ms, f.concurrency_cap = args.latency_ms, args.concurrency_cap
    if args.throttle:
        f.throttle(args.throttle, args.throttle_window, args.backoff_ms)
    f.http_503(args.http_503)
    f.drop_connection(args.drop)
    for email in args.unavailable:
        f.mailbox_unavailable(email)
    f.lockout(*[float(x) for x in args.lockout.split("/")])
    f.extended_protection(args.extended_protection)
    port = 0 if args.tls else args.port
    server = ServerThread(sim, args.host, port).start()
    if args.kerberos_keytab:
        server.app.auth.use_kerberos(args.kerberos_keytab)
    scheme, public_port = "http", server.port
    ca_note = ""
    if args.tls:
        from .tls import TlsTerminator
        terminator = TlsTerminator(args.host, server.port, args.port).start()
        from .extended_protection import end_point_hash
        server.app.auth.cert_hash = end_point_hash(terminator.cert_der)
        public_port, scheme = terminator.port, "https"
        ca_path = os.path.abspath(f"ews-simulator-ca-{public_port}.pem")
        with open(ca_path, "w") as fh:
            fh.write(terminator.ca_pem)
        ca_note = f"  CA certificate:  {ca_path} (self-signed; paste it as the server's CA bundle)"
    upn = next((a.upn for a in sim.directory.accounts.values() if a.username == "svc-sundial"), "")
    password = sim.directory.accounts[upn].password if upn else ""
    print(f"EWS simulator ({sim.version.name}, {sim.version.build_string}, auth {args.auth})", flush=True)
    print(f"  server address:  {scheme}://{args.host}:{public_port}/EWS/Exchange.asmx", flush=True)
    print(f"  service account: {upn}  password: {password}  (domain {sim.directory.domain})", flush=True)
    if ca_note:
        print(ca_note, flush=True)
    print(f"  mailboxes: {len(sim.directory.mailboxes)}", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        while not done.wait(2.0):
            if args.state and sim.store.dirty:
                sim.save()
    except KeyboardInterrupt:
        pass
    server.stop()  # first: a change accepted after the last save would be lost on restart (Exchange keeps it)
    if args.state:
        sim.save()
    return 0


def control(url: str, payload: dict) -> dict:
    req = urllib.request.Request(url.rstrip("/") + "/_simulator/control", data=json.dumps(payload).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback control URL
            return json.load(resp)
    except urllib.error.HTTPError as exc:
        return json.load(exc)


def _kv(pairs):
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


ACTIONS = {
    "outlook": """actions (times ISO 8601, e.g. 2026-12-03T10:00:00-05:00):
  items                                       list the mailbox's calendar items (ids for the actions below)
  create subject=... start=... end=... [location=... body=... free_busy=Busy|Free|Tentative|OOF]
  move item_id=... start=... end=...          make_free / make_busy / make_tentative item_id=...
  make_private item_id=...                    rename item_id=... subject=...
  set_body item_id=... text=...               delete item_id=...
  add_calendar name=...                       move_to_calendar item_id=... name=...
  create_recurring subject=... start=... end=... pattern=Weekly days='["Monday"]' count=10
  change_recurrence item_id=... pattern=Daily count=5
  delete_occurrence item_id=... original_start=...
  move_occurrence item_id=... original_start=... start=... end=...""",
    "fault": """faults (see ews_simulator/README.md, "Fault switches"):
  http_503 n=3 [retry_after_s=5]   http_429 n=3 [retry_after_s=5]   server_busy n=2 backoff_ms=5000
  item_busy n=1   throttle budget=10 [window_s=60]   drop_connection n=1   latency_ms value=200
  concurrency_cap value=2   mailbox_unavailable email=... [unavailable=false]   lose_subscription
  cannot_find_user [on=false]      (ErrorCannotFindUser instead of ErrorNonExistentMailbox)
  impersonation_out_of_scope email=... [outside=false]   (ErrorImpersonateUserDenied for that mailbox only)
  calendar_view_unexpanded [on=false]   (CalendarView returns recurring masters, not occurrences)
  calendar_view_partial [on=false]      (CalendarView returns every other occurrence of each series)
  update_keeps_time [on=false] [always=true]   (UpdateItem of time + attendees: success, old time kept)
  force_streaming_timeout   stall_streams [stalled=false]   lockout threshold=3 window_s=60 duration_s=60
  poison_item item_id=... kind=year_0001|year_9999|inverted,
  get_405 [on=false]   html_page [on=false]   extended_protection mode=none|allow|require
  pose_as version=SE|2019|2016|...   (the server was updated: another build in ServerVersionInfo)
  http_500 n=3   lock_account upn=... [locked=false]
  mailbox_bound_subscriptions [on=false]   (a subscription belongs to the impersonated mailbox: a stream that
                                            carries several mailboxes gets ErrorInvalidSubscription per id)
  n=-1 on a counted switch (http_503, http_429, http_500, server_busy, item_busy, drop_connection): every
  request until clear
  clear""",
}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("outlook", "fault"):
        p = argparse.ArgumentParser(prog=f"python -m ews_simulator {argv[0]}", epilog=ACTIONS[argv[0]],
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--url", default="http://127.0.0.1:8765")
        if argv[0] == "outlook":
            p.add_argument("mailbox")
        p.add_argument("action")
        p.add_argument("params", nargs="*", help="key=value (values parsed as JSON when possible)")
        args = p.parse_args(argv[1:])
        payload = {"target": "outlook" if argv[0] == "outlook" else "faults", "method": args.action,
                   "kwargs": _kv(args.params), "mailbox": getattr(args, "mailbox", None)}
        result = control(args.url, payload)
        print(json.dumps(result, indent=2))
        return 0 if result.get("ok") else 1
    return serve(_serve_parser().parse_args(argv))
