"""O3: log lines are human-readable by default and JSON lines when asked; each carries the request id or job
id, the mailbox and the operation; a full run (Authorize + initial sync + booking export through a real RQ
worker process, real HTTP + NTLM to the simulator) never logs the Exchange password or the session secret."""
from __future__ import annotations

import io
import json
import logging
import re
from datetime import UTC, datetime, timedelta

from ews_simulator.testing import running_simulator
from portal.extensions import db
from portal.models import AppointmentChange, Client, Location, MailboxState, Service, StaffMember
from portal.ops.logs import log_context, make_handler, register_secret
from tests.conftest import login, make_user
from tests.ops.conftest import wait_for

BASE = "/settings/integrations/exchange"


def _capture(fmt: str):
    stream = io.StringIO()
    handler = make_handler(fmt, stream)
    root = logging.getLogger()
    root.addHandler(handler)
    return stream, handler


def test_o3_text_by_default_json_when_asked_with_context(app):
    assert app.config["LOG_FORMAT"] == "text"
    stream, handler = _capture("json")
    try:
        with app.test_request_context("/x", headers={"X-Request-ID": "abc123"}):
            from flask import g

            g.request_id = "abc123"
            with log_context(mailbox="staff-7", operation="sync_mailbox"):
                logging.getLogger("portal.test").warning("hello %s", "there")
    finally:
        logging.getLogger().removeHandler(handler)
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["message"] == "hello there" and line["request_id"] == "abc123"
    assert line["mailbox"] == "staff-7" and line["operation"] == "sync_mailbox" and line["level"] == "WARNING"
    text, handler = _capture("text")
    try:
        logging.getLogger("portal.test").warning("plain")
    finally:
        logging.getLogger().removeHandler(handler)
    assert text.getvalue().rstrip().endswith("[- mailbox=- op=-] plain")


def test_o3_known_secrets_are_redacted_even_in_tracebacks(app):
    register_secret("Very-Secret-Pa55word")
    stream, handler = _capture("json")
    try:
        try:
            raise RuntimeError("login failed for Very-Secret-Pa55word")
        except RuntimeError:
            logging.getLogger("portal.test").exception("oops Very-Secret-Pa55word")
    finally:
        logging.getLogger().removeHandler(handler)
    assert "Very-Secret-Pa55word" not in stream.getvalue() and "***" in stream.getvalue()


def test_o3_a_response_carries_its_request_id(app):
    resp = app.test_client().get("/healthz", headers={"X-Request-ID": "req-42"})
    assert resp.headers["X-Request-ID"] == "req-42"
    assert len(app.test_client().get("/healthz").headers["X-Request-ID"]) == 16


def test_o2_o3_a_full_run_never_logs_the_password_or_the_session_secret(app, processes, tmp_path, monkeypatch):
    """Also O2 across processes: the worker process writes its metrics to the multi-process directory and this
    process's /metrics reports them."""
    app.config.update(EXCHANGE_PROBE_TIMEOUT=(3, 10), METRICS_TOKEN="o2-token")
    prom = tmp_path / "prom"
    prom.mkdir()
    processes.env["PROMETHEUS_MULTIPROC_DIR"] = str(prom)
    stream, handler = _capture("json")
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level, root.level = root.level, logging.DEBUG
    try:
        with running_simulator(version="2016", auth="ntlm") as sim:
            secrets = _full_run(app, sim, processes)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    worker_logs = processes.logs()
    ours = stream.getvalue()
    for secret in secrets:
        assert secret not in worker_logs and secret not in ours
    for logs in (worker_logs, ours):  # NTLM messages (crackable offline) never reach a log line either
        assert not re.search(r"(NTLM|Negotiate|Basic) [A-Za-z0-9+/=]{20,}", logs)
    lines = [json.loads(x) for x in worker_logs.splitlines() if x.startswith("{")]
    job_lines = [x for x in lines if x.get("job_id")]
    assert job_lines and all(x["operation"] != "-" for x in job_lines), worker_logs[-3000:]
    assert any(x["mailbox"].startswith("staff-") and x["job_id"] for x in lines), worker_logs[-2000:]
    assert any(x["message"].startswith("EWS CreateItem: ok") and x["operation"] == "export_appointment"
               for x in job_lines), [(x["message"], x["operation"]) for x in job_lines if "EWS" in x["message"]]
    web = [json.loads(x) for x in ours.splitlines() if '"request_id": "' in x]
    assert any(x["operation"] == "exchange_settings.authorize_view" for x in web)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(prom))
    metrics = app.test_client().get("/metrics", headers={"Authorization": "Bearer o2-token"}).get_data(as_text=True)
    assert re.search(r'sundial_ews_requests_total\{operation="CreateItem",outcome="ok"\} [1-9]', metrics)
    assert re.search(r"sundial_sundial_to_exchange_delay_seconds_count [1-9]", metrics)


def _full_run(app, sim, processes) -> list[str]:
    from portal.booking.appointments import book
    from portal.jobs.queues import enqueue_export

    acc = sim.service_account
    sim.add_mailbox(acc.upn, name="Sundial service")
    sim.add_mailbox("alice@example.com", name="Alice Able")
    loc = Location(name="Main", address="1 Main St", timezone="UTC")
    alice = StaffMember(name="Alice Able", email="alice@example.com", timezone="UTC", takes_appointments=True,
                        primary_location=loc, locations=[loc])
    db.session.add_all([loc, alice, Service(name="Consultation", duration_minutes=60),
                        Client(name="Jo", email="jo@example.test")])
    db.session.commit()
    processes.start("worker", "worker", "--queues", "sync,export,notify,default", SUNDIAL_LOG_FORMAT="json",
                    SUNDIAL_LOG_LEVEL="DEBUG")
    client = login(app.test_client(), make_user("ops-admin@example.test", role="admin"))
    resp = client.post(f"{BASE}/authorize", data={
        "auth_type": "ntlm", "username": acc.upn, "password": acc.password, "version": "2016", "server_url": sim.url,
        "server_url_source": "manual", "allow_http": "y", "display_name": "Exchange", "impersonation": "y",
        "block_busy": "y", "sync_interval_minutes": "5"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]

    def state():
        db.session.expire_all()
        ms = db.session.get(MailboxState, alice.id)
        return ms is not None and ms.state == "synced"

    wait_for(state, timeout=90)
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2, hours=3)
    appt = book(service=Service.query.one(), location=loc, start=start, staff=[alice], clients=[Client.query.one()])
    db.session.commit()
    enqueue_export(appt.id)

    def exported():
        db.session.expire_all()
        return db.session.execute(db.select(AppointmentChange).where(
            AppointmentChange.appointment_id == appt.id, AppointmentChange.exported_at.is_not(None))).first()

    wait_for(exported, timeout=90)
    assert sim.counters.total("CreateItem") >= 1
    return [acc.password, app.config["SECRET_KEY"]]
