"""O2: Prometheus /metrics — token or allowed address only, queues and jobs, EWS requests by operation and
outcome, failed sign-ins, mailboxes by state, listener connections; counts add up across processes."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families

from portal.extensions import db
from portal.models import MailboxState, StaffMember

REMOTE = {"REMOTE_ADDR": "198.51.100.7"}
TOKEN = "metrics-token-for-the-o2-test"


def samples(text: str) -> dict:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def scrape(app) -> dict:
    resp = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, environ_base=REMOTE)
    assert resp.status_code == 200, resp.status_code
    return samples(resp.get_data(as_text=True))


@pytest.fixture
def metrics_app(app, ops_redis):
    app.config.update(METRICS_TOKEN=TOKEN, METRICS_ADDRESSES=["192.0.2.10"])
    return app


def test_o2_metrics_need_the_token_or_an_allowed_address(metrics_app):
    client = metrics_app.test_client()
    assert client.get("/metrics", environ_base=REMOTE).status_code == 403
    assert client.get("/metrics").status_code == 403  # localhost is not allowed unless configured
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"}, environ_base=REMOTE)
    assert wrong.status_code == 403 and b"sundial_" not in wrong.data
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.10"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.10"},
                      headers={"X-Forwarded-For": "203.0.113.1"}).status_code == 403
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"},
                      environ_base=REMOTE).status_code == 200


def test_o2_queue_depth_oldest_age_and_mailboxes_by_state(metrics_app, ops_redis):
    from portal.jobs.queues import get_queue

    for i in range(3):
        get_queue("sync").enqueue("portal.jobs.sync_mailbox.sync_mailbox", i, "periodic", job_id=f"o2-{i}")
    for i, state in enumerate(["synced", "synced", "error"]):
        staff = StaffMember(name=f"S{i}", email=f"s{i}@example.test", timezone="UTC")
        db.session.add_all([staff, MailboxState(staff=staff, state=state)])
    db.session.commit()
    got = scrape(metrics_app)
    assert got[("sundial_rq_queue_depth", (("queue", "sync"),))] == 3
    assert got[("sundial_rq_queue_depth", (("queue", "export"),))] == 0
    assert got[("sundial_rq_oldest_job_age_seconds", (("queue", "sync"),))] >= 0
    assert got[("sundial_rq_jobs", (("outcome", "failed"), ("queue", "sync")))] == 0
    assert got[("sundial_mailboxes", (("state", "synced"),))] == 2
    assert got[("sundial_mailboxes", (("state", "error"),))] == 1
    assert got[("sundial_listener_connections", ())] == 0


def test_o2_listener_connections_and_subscriptions_come_from_every_listener(metrics_app, ops_redis):
    from types import SimpleNamespace

    from portal.ops.state_metrics import publish_listener_stats

    runners = {"g1": SimpleNamespace(_aborter=object(), subs={"a": 1, "b": 2}),
               "g2": SimpleNamespace(_aborter=None, subs={})}
    publish_listener_stats(ops_redis, "host:1", runners, 15_000)
    publish_listener_stats(ops_redis, "host:2", {"g3": SimpleNamespace(_aborter=object(), subs={"c": 3})}, 15_000)
    got = scrape(metrics_app)
    assert got[("sundial_listener_connections", ())] == 2
    assert got[("sundial_listener_subscriptions", ())] == 3


def test_o2_ews_requests_by_operation_and_outcome_and_failed_signins(metrics_app):
    """Real EWS requests to the simulator over NTLM; the ews_soap package reports them through an observer."""
    from ews_simulator.testing import running_simulator
    from portal.ews_soap.errors import AuthenticationFailed
    from portal.ews_soap.transport import close_pools
    from tests.ews_soap.ews_simkit import populate, session

    before = scrape(metrics_app)
    key_ok = ("sundial_ews_requests_total", (("operation", "GetFolder"), ("outcome", "ok")))
    key_bad = ("sundial_ews_requests_total", (("operation", "GetFolder"), ("outcome", "AuthenticationFailed")))
    with running_simulator(version="2016", auth="ntlm") as sim:
        populate(sim)
        session(sim).primary_calendar(None)
        with pytest.raises(AuthenticationFailed):
            session(sim, password="Not-The-Password-1").primary_calendar(None)
        close_pools()
    after = scrape(metrics_app)
    assert after[key_ok] - before.get(key_ok, 0) == 1
    assert after[key_bad] - before.get(key_bad, 0) == 1
    signins = ("sundial_failed_signins_total", ())
    assert after[signins] - before.get(signins, 0) == 1


def test_o2_counts_from_several_processes_add_up(metrics_app, tmp_path, monkeypatch):
    """Multi-process mode: two other processes (as gunicorn workers or RQ job processes would) each record one
    request; /metrics in this process sums their files."""
    mp_dir = tmp_path / "prom"
    mp_dir.mkdir()
    code = ("from portal.ops.metrics import observe_ews, throttled\n"
            "observe_ews('SyncFolderItems', 'Throttled', 0.2)\nthrottled(30)\n")
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(mp_dir)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(mp_dir))
    got = scrape(metrics_app)
    assert got[("sundial_ews_requests_total", (("operation", "SyncFolderItems"), ("outcome", "Throttled")))] == 2
    assert got[("sundial_throttled_seconds_total", ())] == 60
    assert got[("sundial_rq_queue_depth", (("queue", "sync"),))] == 0  # scrape-time state still there
