"""The Redis-backed EWS gate (SPEC G3): back-off shared by every worker per server, concurrency cap, G4 pause."""
from __future__ import annotations

import threading
import time

import pytest
import redis as redis_lib

from portal.engine.throttle import RedisGate, paused_key
from portal.ews_soap.errors import AuthenticationFailed, Throttled


@pytest.fixture
def conn(redis_url):
    c = redis_lib.Redis.from_url(redis_url)
    c.flushdb()
    return c


def test_g3_backoff_is_shared_by_all_workers_of_a_server(conn):
    worker_a, worker_b = RedisGate(conn, "srv1"), RedisGate(conn, "srv1")
    other_server = RedisGate(conn, "srv2")
    worker_a.backoff(30)
    with pytest.raises(Throttled) as exc:
        worker_b.acquire()  # no request before the back-off expires
    assert 29 < exc.value.backoff_seconds <= 30
    other_server.acquire()  # another server is not held back
    other_server.release()


def test_g3_short_backoff_is_waited_inline(conn):
    gate = RedisGate(conn, "srv1", max_inline_wait=2.0)
    gate.backoff(0.2)
    gate.acquire()  # sleeps the remaining back-off, then proceeds
    assert gate.backoff_remaining() == 0
    gate.release()


def test_g3_a_shorter_backoff_never_shortens_a_longer_one(conn):
    gate = RedisGate(conn, "srv1")
    gate.backoff(60)
    gate.backoff(1)
    assert gate.backoff_remaining() > 50


def test_g3_concurrency_cap_across_workers(conn):
    cap, peak, active, lock = 3, [0], [0], threading.Lock()

    def request():
        gate = RedisGate(conn, "srv1", cap=cap)
        gate.acquire()
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.02)
        with lock:
            active[0] -= 1
        gate.release()

    threads = [threading.Thread(target=request) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == cap
    assert RedisGate(conn, "srv1").in_flight() == 0


def test_g3_a_killed_workers_slot_expires(conn):
    dead = RedisGate(conn, "srv1", cap=1, slot_seconds=0.2)
    dead.acquire()  # never released: the worker was killed
    time.sleep(0.25)
    alive = RedisGate(conn, "srv1", cap=1, max_queue_wait=1)
    alive.acquire()
    alive.release()


def test_g4_paused_server_refuses_every_request(conn):
    conn.set(paused_key("srv1"), "2026-01-01")
    with pytest.raises(AuthenticationFailed):
        RedisGate(conn, "srv1").acquire()
