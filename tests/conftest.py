"""Shared fixtures: apps on SQLite and PostgreSQL, a private Redis, users and logins.

Each test session gets its own PostgreSQL database and its own redis-server, so several
sessions (or engineers) can run at once without touching each other's data.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from ews_simulator.checking import ResponseChecker

SHARED = Path(__file__).resolve().parents[2] / "shared"
if not SHARED.exists():
    SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PG_URL = os.environ.get("SUNDIAL_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not (SHARED / "ews-schema" / "messages.xsd").exists():
        pytest.skip("../shared (Microsoft's EWS schema and samples) is not beside this checkout")
    return SHARED


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A private redis-server for this test session (SUNDIAL_TEST_REDIS_URL overrides)."""
    if os.environ.get("SUNDIAL_TEST_REDIS_URL"):
        yield os.environ["SUNDIAL_TEST_REDIS_URL"]
        return
    exe = shutil.which("redis-server")
    if not exe:
        pytest.fail("redis-server is not installed; `make test` installs it (apt-get install redis-server)")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    conn = redis.Redis(port=port)
    for _ in range(100):
        try:
            conn.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(5)


@pytest.fixture(scope="session")
def pg_database_url():
    """A private PostgreSQL database for this session, dropped at the end."""
    try:
        import psycopg2
        from sqlalchemy.engine import make_url

        base = make_url(PG_URL)
        admin = psycopg2.connect(host=base.host, port=base.port or 5432, user=base.username,
                                 password=base.password, dbname=base.database, connect_timeout=3)
    except Exception as exc:  # noqa: BLE001 - any failure means "no PostgreSQL here"
        pytest.skip(f"no PostgreSQL reachable at {PG_URL}: {exc}")
    admin.autocommit = True
    name = f"sundial_test_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    yield str(base.set(database=name))
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def _make_app(tmp_path, db_url, redis_url, **extra):
    from portal import create_app

    os.environ["SUNDIAL_INSTANCE_PATH"] = str(tmp_path / "instance")
    cfg = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": db_url,
        "REDIS_URL": redis_url,
        "WTF_CSRF_ENABLED": True,
        "RATELIMIT_ENABLED": True,
        "SERVER_NAME": "sundial.test",
    }
    cfg.update(extra)
    app = create_app(cfg)
    from portal.extensions import limiter

    if limiter.enabled:
        limiter.reset()  # R3: sign-in counters live in this session's Redis; each test starts from zero
    return app


@pytest.fixture
def app_factory(tmp_path, redis_url):
    """Build apps with overrides: app_factory(WTF_CSRF_ENABLED=False)."""
    made = []

    def make(db_url=None, **extra):
        url = db_url or f"sqlite:///{tmp_path / 'sundial.db'}"
        app = _make_app(tmp_path, url, redis_url, **extra)
        from portal.extensions import db

        with app.app_context():
            db.create_all()
        made.append(app)
        return app

    yield make
    from portal.extensions import db

    for app in made:
        with app.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()


@pytest.fixture
def app(app_factory):
    app = app_factory(WTF_CSRF_ENABLED=False)
    with app.app_context():
        yield app


@pytest.fixture
def csrf_app(app_factory):
    app = app_factory(WTF_CSRF_ENABLED=True)
    with app.app_context():
        yield app


@pytest.fixture
def pg_app(app_factory, pg_database_url):
    app = app_factory(pg_database_url, WTF_CSRF_ENABLED=False)
    with app.app_context():
        yield app


@pytest.fixture(params=["sqlite", "postgresql"])
def any_app(request, app_factory):
    """Runs a test on both databases."""
    if request.param == "sqlite":
        app = app_factory(WTF_CSRF_ENABLED=False)
    else:
        app = app_factory(request.getfixturevalue("pg_database_url"), WTF_CSRF_ENABLED=False)
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


def make_user(email, role="staff", password="correct horse battery", staff=None, name=None):
    from portal.extensions import db
    from portal.models import User

    user = User(email=email, role=role, name=name or email.split("@")[0], staff=staff)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


@pytest.fixture
def admin_user(app):
    return make_user("admin@example.test", role="admin", name="Ada Admin")


@pytest.fixture
def staff_user(app):
    from portal.extensions import db
    from portal.models import Location, StaffMember

    loc = Location(name="Main Street", address="1 Main Street, Springfield", timezone="America/New_York")
    staff = StaffMember(name="Sam Staff", email="sam@example.test", timezone="America/New_York",
                        primary_location=loc, locations=[loc])
    db.session.add_all([loc, staff])
    db.session.commit()
    return make_user("sam@example.test", role="staff", staff=staff, name="Sam Staff")


def login(client, user, password="correct horse battery"):
    """Log a test client in through the real login form."""
    resp = client.post("/login", data={"email": user.email, "password": password})
    assert resp.status_code == 302, resp.data[:500]
    return client


@pytest.fixture
def login_as():
    return login


# -- every EWS simulator response in the suite is checked (ARCHITECTURE.md "EWS schema") -------------------------
# Each envelope any simulator of this process sends (replies, faults, streamed messages) is validated against
# Microsoft's messages.xsd and must carry a ServerVersionInfo header (ews_simulator/checking.py); the schema loads
# once, on the first response. An invalid response, or an unexpected exception inside a simulator, fails the test
# during which it happened. Without ../shared/ews-schema nothing is validated (internal errors still fail).
RESPONSES = ResponseChecker()


def pytest_configure(config):
    RESPONSES.install()


@pytest.fixture(autouse=True)
def ews_simulator_responses_are_valid():
    yield
    invalid, crashes = RESPONSES.take_new(), RESPONSES.take_internal_errors()
    assert not crashes, "ews_simulator internal errors:\n" + "\n".join(crashes)
    assert not invalid, "ews_simulator responses failed Microsoft's schema:\n" + "\n".join(invalid)


WORKERS = {"checked": 0, "invalid": 0, "late": []}  # under pytest-xdist: what the worker sessions checked


def pytest_sessionfinish(session):
    late = RESPONSES.take_new() + RESPONSES.take_internal_errors()  # sent after the last test's check
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller reports and fails the run
        workeroutput.update(sundial_checked=RESPONSES.checked, sundial_invalid=len(RESPONSES.failures),
                            sundial_late=late)
        return
    late += WORKERS["late"]
    if late:
        print("\news_simulator: invalid responses or internal errors after the last test:\n" + "\n".join(late))
        session.exitstatus = 1


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    out = getattr(node, "workeroutput", None) or {}
    WORKERS["checked"] += out.get("sundial_checked", 0)
    WORKERS["invalid"] += out.get("sundial_invalid", 0)
    WORKERS["late"] += out.get("sundial_late", [])


def pytest_terminal_summary(terminalreporter):
    checked = RESPONSES.checked + WORKERS["checked"]
    if checked:
        terminalreporter.write_line(f"ews_simulator: {checked} response envelopes validated against "
                                    f"messages.xsd, {len(RESPONSES.failures) + WORKERS['invalid']} invalid")
