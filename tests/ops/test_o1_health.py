"""O1: /healthz (alive, no details), /readyz (database, Redis, workers per queue class, scheduler, listener)."""
from __future__ import annotations

import time

from click.testing import CliRunner

from portal.ops.health import readiness
from tests.conftest import make_user
from tests.ops.conftest import wait_for

REMOTE = {"REMOTE_ADDR": "203.0.113.9"}


def test_o1_healthz_needs_no_login_and_shows_nothing(app):
    resp = app.test_client().get("/healthz", environ_base=REMOTE)
    assert resp.status_code == 200 and resp.get_data(as_text=True) == "ok\n"


def test_o1_readyz_names_what_failed_and_keeps_details_for_localhost_and_admins(app, ops_redis):
    client = app.test_client()
    remote = client.get("/readyz", environ_base=REMOTE)
    assert remote.status_code == 503
    body = remote.get_json()
    assert body["status"] == "not ready"
    assert body["failed"] == ["worker:sync", "worker:fast", "scheduler", "listener"]
    assert "checks" not in body  # no details for an anonymous remote caller
    proxied = client.get("/readyz", headers={"X-Forwarded-For": "203.0.113.9"}).get_json()
    assert "checks" not in proxied  # through a reverse proxy on this host everyone would look local
    local = client.get("/readyz").get_json()  # the test client comes from 127.0.0.1
    details = {c["name"]: c for c in local["checks"]}
    assert details["database"]["ok"] and details["redis"]["ok"]
    assert "sync" in details["worker:sync"]["detail"] and not details["listener"]["ok"]
    make_user("ops-staff@example.test", role="staff")
    make_user("ops-admin@example.test", role="admin")
    assert not _details_for(app, "ops-staff@example.test") and _details_for(app, "ops-admin@example.test")


def _details_for(app, email: str) -> bool:
    """A signed-in remote caller, in an app context of its own (Flask-Login keeps the user in `g`)."""
    with app.app_context():
        client = app.test_client()
        client.post("/login", data={"email": email, "password": "correct horse battery"}, environ_base=REMOTE)
        return "checks" in client.get("/readyz", environ_base=REMOTE).get_json()


def test_o1_redis_down_is_named_not_a_500(app):
    import redis

    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    checks = {c.name: c for c in readiness(dead, 45)}
    assert not checks["redis"].ok and checks["database"].ok
    assert not checks["worker:sync"].ok and "Redis" in checks["worker:sync"].detail


def test_o1_default_readiness_threshold_is_at_most_60_seconds(app):
    assert app.config["READY_HEARTBEAT_SECONDS"] <= 60
    assert app.config["WORKER_TTL_SECONDS"] - 15 < app.config["READY_HEARTBEAT_SECONDS"]


def test_o1_a_stopped_worker_turns_readyz_red_within_60_seconds(app, processes):
    """Real RQ workers (one per queue class, each with RQ's scheduler) and the real listener, real Redis.
    The readiness threshold is a setting: 8 s here, with workers beating every 3 s."""
    app.config["READY_HEARTBEAT_SECONDS"] = 8
    fast = {"SUNDIAL_WORKER_TTL_SECONDS": "18"}
    sync = processes.start("worker-sync", "worker", "--queues", "sync", **fast)
    processes.start("worker-fast", "worker", "--queues", "export,notify,default", **fast)
    processes.start("listener", "listener")
    client = app.test_client()
    try:
        wait_for(lambda: client.get("/readyz").status_code == 200, timeout=90)
    except AssertionError:
        raise AssertionError(client.get("/readyz").get_json() | {"logs": processes.logs()[-3000:]}) from None
    out = CliRunner().invoke(app.cli, ["sundial", "status"])
    assert out.exit_code == 0 and out.output.strip().endswith("ready"), out.output

    processes.kill(sync)  # SIGKILL to the worker and its scheduler: nothing unregisters itself
    stopped = time.monotonic()
    body, waited = wait_for(lambda: (r := client.get("/readyz")).status_code == 503 and r.get_json(), timeout=60)
    assert time.monotonic() - stopped < 60
    print(f"O1: /readyz red {waited:.1f} s after the sync worker was killed (threshold 8 s)")
    assert "worker:sync" in body["failed"] and "worker:fast" not in body["failed"]
    out = CliRunner().invoke(app.cli, ["sundial", "status"])
    assert out.exit_code == 1 and "FAIL worker:sync" in out.output
