"""R3: sign-in limits per account and per address, in Redis, shared by every web process."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import redis

from tests.conftest import make_user

PASSWORD = "correct horse battery"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def web(app_factory):
    app = app_factory(WTF_CSRF_ENABLED=False)
    with app.app_context():
        make_user("ada@example.test", role="admin")
    return app


def _post(app, address, password, email="ada@example.test"):
    return app.test_client().post("/login", data={"email": email, "password": password},
                                  environ_base={"REMOTE_ADDR": address}).status_code


def test_r3_limits_live_in_redis_by_default(web, redis_url):
    from portal.extensions import limiter

    assert web.config["RATELIMIT_STORAGE_URI"] == web.config["REDIS_URL"] == redis_url
    assert type(limiter.storage).__name__ == "RedisStorage"
    assert _post(web, "10.0.0.1", "wrong") == 401
    keys = redis.Redis.from_url(redis_url).keys("LIMITS:sundial:signin:*")
    assert len(keys) == 2  # the account's failures and the address's failures


def test_r3_memory_storage_only_when_configured(monkeypatch, tmp_path):
    from portal.config import load_config

    assert "RATELIMIT_STORAGE_URI" not in load_config(str(tmp_path), env={})
    cfg = load_config(str(tmp_path), env={"SUNDIAL_RATELIMIT_STORAGE": "memory://"})
    assert cfg["RATELIMIT_STORAGE_URI"] == "memory://"


def test_r3_correct_password_from_an_address_that_never_failed_gets_in_after_a_burst(web):
    burst = [_post(web, "10.0.0.1", f"guess {i}") for i in range(20)]
    assert burst[0] == 401 and burst[-1] == 429
    assert _post(web, "10.0.0.1", PASSWORD) == 429  # the guessing address is held back, even when right
    assert _post(web, "10.0.0.2", PASSWORD) == 302  # the owner, elsewhere, signs in


def test_r3_account_delays_grow_and_are_capped(web):
    from portal.auth import signin_limits as sl

    waits = []
    for i in range(sl.FREE_FAILURES + 3):
        address = f"10.1.0.{i}"  # fresh addresses are always let in to try, so each failure counts
        assert _post(web, address, "wrong") == 401
        waits.append(sl.held_for("ada@example.test", address))
    assert waits[: sl.FREE_FAILURES - 1] == [0] * (sl.FREE_FAILURES - 1)
    assert waits[sl.FREE_FAILURES - 1:] == [1, 2, 4, 8]
    assert sl.delay_after(100) == sl.MAX_DELAY_S


def test_r3_per_address_limit_counts_failures_across_accounts(web):
    codes = [_post(web, "10.2.0.1", "wrong", email=f"user{i}@example.test") for i in range(12)]
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]
    assert _post(web, "10.2.0.2", PASSWORD) == 302


def test_r3_unknown_users_run_the_password_hash_too(web, monkeypatch):
    """Timing parity by construction: an unknown email checks the password against a dummy hash, so both
    paths do one scrypt/pbkdf2 run (benchmarks/signin_timing.py measures the times)."""
    from portal.auth import views

    calls = []
    real = views.check_password_hash
    monkeypatch.setattr(views, "check_password_hash", lambda h, p: calls.append(h) or real(h, p))
    assert _post(web, "10.3.0.1", PASSWORD, email="nobody@example.test") == 401
    assert calls and calls[0].split("$")[0] == web_user_hash_method(web)


def web_user_hash_method(app):
    from portal.models import User

    with app.app_context():
        return User.query.filter_by(email="ada@example.test").one().password_hash.split("$")[0]


def test_r3_a_lock_set_in_one_web_process_holds_in_another(web, tmp_path, redis_url):
    for i in range(12):  # from 12 addresses (each one is let in to try): a lock of 2**7 s
        assert _post(web, f"10.4.0.{i}", "wrong") == 401
    script = textwrap.dedent(f"""
        import os
        os.environ["SUNDIAL_INSTANCE_PATH"] = {str(tmp_path / "instance")!r}
        from portal import create_app
        app = create_app({{"TESTING": True, "WTF_CSRF_ENABLED": False, "SERVER_NAME": "sundial.test",
                          "SQLALCHEMY_DATABASE_URI": {web.config["SQLALCHEMY_DATABASE_URI"]!r},
                          "REDIS_URL": {redis_url!r}}})
        c = app.test_client()
        env = {{"REMOTE_ADDR": "10.4.0.1"}}
        print(c.post("/login", data={{"email": "ada@example.test", "password": "{PASSWORD}"}},
                     environ_base=env).status_code)
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "429", out.stderr[-2000:]


def test_r3_sign_in_still_works_while_redis_is_down(app_factory):
    """Limits fall back to each process's memory during a Redis outage: a sign-in is never a 500."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"redis://127.0.0.1:{s.getsockname()[1]}/0"
    app = app_factory(WTF_CSRF_ENABLED=False)  # the tables
    from portal import create_app

    down = create_app({**{k: app.config[k] for k in ("SQLALCHEMY_DATABASE_URI", "SERVER_NAME")}, "TESTING": True,
                       "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": True, "REDIS_URL": dead})
    with down.app_context():
        make_user("ada@example.test", role="admin")
    assert _post(down, "10.5.0.1", "wrong") == 401
    assert _post(down, "10.5.0.1", PASSWORD) == 302
