"""Two small fault-switch additions used by the sync engine's G3 tests: http_429 (a rate limiter's
429 Too Many Requests with Retry-After) and faults.peak_active (the most requests of an account in progress
at once, to check a client-side concurrency cap)."""
from __future__ import annotations

import threading

import pytest
import requests
from sim_helpers import ALICE, populate
from test_fault_switches import GET_FOLDER

from ews_simulator.testing import running_simulator


@pytest.fixture(scope="module")
def sim():
    with running_simulator(version="2016", auth="basic") as handle:
        yield populate(handle)


def _post(sim):
    return requests.post(sim.url, data=GET_FOLDER, auth=(ALICE, "Password1!"), timeout=10)


def test_g3_http_429_with_retry_after_then_served(sim):
    sim.faults.clear()
    sim.counters.reset()
    sim.faults.http_429(2, retry_after_s=7)
    first, second, third = _post(sim), _post(sim), _post(sim)
    assert [r.status_code for r in (first, second, third)] == [429, 429, 200]
    assert first.headers["Retry-After"] == "7" and first.reason == "Too Many Requests"
    assert sim.counters[("(429)", "")] == 2 and sim.counters[("(503)", "")] == 0
    sim.faults.http_503(1)
    assert _post(sim).status_code == 503  # the 503 switch still answers 503


def test_g3_peak_active_counts_requests_in_progress_together(sim):
    sim.faults.clear()
    assert sim.faults.peak_active(ALICE) == 0
    _post(sim)
    assert sim.faults.peak_active(ALICE) == 1
    sim.faults.latency_ms = 400  # held inside the concurrency window: three at once
    threads = [threading.Thread(target=_post, args=(sim,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sim.faults.peak_active(ALICE) == 3 and sim.faults.active(ALICE) == 0
    sim.faults.clear()
    assert sim.faults.peak_active(ALICE) == 0


def test_g9_every_fault_switch_is_listed_in_the_readme_and_the_cli_help():
    import inspect
    from pathlib import Path

    from ews_simulator.cli import ACTIONS
    from ews_simulator.faults import Faults

    readme = (Path(__file__).parents[2] / "ews_simulator" / "README.md").read_text()
    checks = {"active", "enter", "leave", "take", "open_stream", "open_streams", "close_stream", "peak_active",
              "wait_latency", "check_budget", "check_item"}
    switches = [n for n, _ in inspect.getmembers(Faults, inspect.isfunction) if not n.startswith("_")
                and n not in checks]
    assert "mailbox_bound_subscriptions" in switches
    assert [s for s in switches if f"`{s}" not in readme] == []
    assert [s for s in switches if s not in ACTIONS["fault"]] == []


def test_g9_persistent_failure_modes_last_until_cleared(sim):
    sim.faults.clear()
    sim.counters.reset()
    sim.faults.http_500(-1)
    assert [_post(sim).status_code for _ in range(4)] == [500] * 4
    assert sim.counters[("(500)", "")] == 4
    sim.faults.clear()
    sim.faults.server_busy(-1, backoff_ms=0)
    assert all("ErrorServerBusy" in _post(sim).text for _ in range(3))
    sim.faults.clear()
    sim.faults.lock_account(ALICE)
    assert _post(sim).status_code == 401  # the right password, refused while AD has the account locked
    sim.faults.lock_account(ALICE, False)
    assert _post(sim).status_code == 200
