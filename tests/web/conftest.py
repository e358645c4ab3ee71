"""Web test fixtures: `world` holds one of each object (so URL int arguments get real ids)."""
from __future__ import annotations

import pytest
from webtools import build_world


@pytest.fixture
def world(app, staff_user):
    return build_world(staff_user)


@pytest.fixture
def queue_redis(app, redis_url):
    """Point the app's queues at a Redis database of their own (emptied), so jobs from these tests
    never reach another test's worker. Returns a connection to it."""
    import redis

    url = redis_url.rsplit("/", 1)[0] + "/7"
    app.config["REDIS_URL"] = url
    app.extensions.pop("sundial_redis", None)
    conn = redis.Redis.from_url(url)
    conn.flushdb()
    yield conn
    conn.flushdb()
