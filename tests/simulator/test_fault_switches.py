"""Fault switches as a client sees them: latency_ms (API; the --latency-ms start-up flag and the `fault` CLI
command are in test_server_extras.py) and concurrency_cap (EWSMaxConcurrency → ErrorExceededConnectionCount)."""
from __future__ import annotations

import threading
import time

import pytest
import requests
from sim_helpers import ALICE, BOB, populate

from ews_simulator.testing import running_simulator

GET_FOLDER = (b'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"'
              b' xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
              b'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header><t:RequestServerVersion '
              b'Version="Exchange2016"/></s:Header><s:Body><m:GetFolder><m:FolderShape><t:BaseShape>IdOnly'
              b'</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="calendar"/></m:FolderIds>'
              b'</m:GetFolder></s:Body></s:Envelope>')


@pytest.fixture(scope="module")
def sim():
    with running_simulator(version="2016", auth="basic") as handle:
        yield populate(handle)


@pytest.fixture(autouse=True)
def clear_faults(sim):
    yield
    sim.faults.clear()


def _post(sim, who=ALICE):
    began = time.monotonic()
    r = requests.post(sim.url, data=GET_FOLDER, auth=(who, "Password1!"), timeout=10)
    return r, time.monotonic() - began


def test_latency_ms_delays_every_request(sim):
    _post(sim)  # warm up
    _fast, fast_s = _post(sim)
    sim.faults.latency_ms = 300
    slow, slow_s = _post(sim)
    unauthenticated = time.monotonic()
    assert requests.post(sim.url, data=GET_FOLDER, timeout=10).status_code == 401
    unauthenticated = time.monotonic() - unauthenticated
    sim.faults.latency_ms = 0
    _again, again_s = _post(sim)
    assert slow.status_code == 200 and "NoError" in slow.text
    assert slow_s >= 0.3 and unauthenticated >= 0.3
    assert fast_s < 0.3 and again_s < 0.3


@pytest.mark.parametrize("cap", [1, 3])
def test_g3_concurrency_cap_refuses_exactly_the_extra_request(sim, cap):
    """cap requests of one account are in progress (held by latency); request cap+1 of that account is refused
    at once with the SOAP fault Exchange sends for EWSMaxConcurrency (ErrorExceededConnectionCount, EWS-FACTS
    section 7); another account is not affected; once the cap requests finish, the account is served again."""
    sim.faults.concurrency_cap, sim.faults.latency_ms = cap, 1500
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(_post(sim)[0])) for _ in range(cap)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5
    while sim.faults.active(ALICE) < cap and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sim.faults.active(ALICE) == cap
    extra, extra_s = _post(sim)
    other = threading.Thread(target=lambda: results.append(_post(sim, BOB)[0]))
    other.start()
    for t in [*threads, other]:
        t.join()
    assert extra.status_code == 500 and extra_s < 1.0  # refused without waiting for a slot
    assert "<e:ResponseCode>ErrorExceededConnectionCount</e:ResponseCode>" in extra.text
    assert "a:ErrorExceededConnectionCount</faultcode>" in extra.text
    assert [r.status_code for r in results] == [200] * (cap + 1)  # the cap in flight + Bob's
    assert sim.faults.active(ALICE) == 0
    sim.faults.latency_ms = 0
    assert _post(sim)[0].status_code == 200


def test_r4_g8_clear_between_a_take_check_and_its_decrement_never_leaves_a_storm_on():
    """The soak clears a storm while requests are being answered. A clear() landing between take()'s check
    (`> 0`) and its decrement used to leave the switch at -1, "every request until clear()": every response
    of the rest of the run was cut off. Here the taking thread is held right after its check while clear() runs."""
    from ews_simulator.faults import Faults

    checked, cleared = threading.Event(), threading.Event()
    reads: list[int] = []

    class Interleaved(Faults):
        def __getattribute__(self, name):
            value = super().__getattribute__(name)
            if name == "drop_remaining" and threading.current_thread().name == "taker":
                reads.append(value)
                if len(reads) == 2:  # after the "< 0" and "> 0" checks, before the decrement reads it again
                    checked.set()
                    cleared.wait(0.5)  # a correct clear() waits for the lock, so this times out
            return value

    faults = Interleaved()
    faults.drop_connection(1)
    taker = threading.Thread(target=faults.take, args=("drop_remaining",), name="taker")
    taker.start()
    assert checked.wait(5)
    clearer = threading.Thread(target=faults.clear)
    clearer.start()
    clearer.join(0.2)
    cleared.set()
    taker.join(5)
    clearer.join(5)
    assert faults.drop_remaining == 0
    assert not faults.take("drop_remaining")  # the storm is over for the next request
