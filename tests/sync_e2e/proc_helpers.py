"""Real processes for the R4/G8 tests: a restartable private redis-server, supervised workers, /proc lookups."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rq.job import Job

from portal.extensions import db

from .conftest import future, make_world

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float, step: float = 0.2):
    """Poll `check` until it returns something truthy; returns it, or None after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(step)
    return None


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


class RedisServer:
    """A private redis-server the test can stop and start again empty (no persistence), on one port."""

    def __init__(self, workdir: Path, port: int):
        self.workdir, self.port, self.proc = workdir, port, None
        self.url = f"redis://127.0.0.1:{port}/0"

    def start(self):
        self.proc = subprocess.Popen([shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        conn = redis.Redis(port=self.port)
        assert wait_until(lambda: _pings(conn), 10), "redis-server did not start"
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def _pings(conn) -> bool:
    import redis

    try:
        return bool(conn.ping())
    except redis.ConnectionError:
        return False


class Supervised:
    """`python -m portal.supervisor` with the given NAME=COMMAND children, as `make run` starts them."""

    def __init__(self, log_dir: Path, env: dict, children: dict[str, str]):
        self.log_dir, self.children = log_dir, children
        specs = [f"{name}={cmd}" for name, cmd in children.items()]
        self.proc = subprocess.Popen([sys.executable, "-m", "portal.supervisor", "--log-dir", str(log_dir),
                                      "--backoff-base", "0.5", *specs], cwd=ROOT, env=env,
                                     stdout=open(log_dir / "supervisor.log", "ab"), stderr=subprocess.STDOUT)

    def pid(self, name: str) -> int:
        path = self.log_dir / f"{name}.pid"
        return int(wait_until(lambda: path.exists() and path.read_text(), 20))

    def log(self, name: str = "supervisor") -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def worker_env(app, **extra) -> dict:
    env = dict(os.environ, SUNDIAL_DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
               SUNDIAL_REDIS_URL=app.config["REDIS_URL"], SUNDIAL_ENV="development", FLASK_APP="wsgi")
    env.update(extra)
    return env


def worker_command(queues: str) -> str:
    return f"{sys.executable} -m flask --app wsgi sundial worker --queues {queues}"


@pytest.fixture
def r4_world(app_factory, pg_database_url, sim, tmp_path):
    server = RedisServer(tmp_path, free_port()).start()
    app = app_factory(pg_database_url, WTF_CSRF_ENABLED=False, REDIS_URL=server.url)
    with app.app_context():
        for world in make_world(app, sim, server.url):
            world.redis_server = server
            yield world
    sim.faults.latency_ms = 0
    server.stop()


def copies(world, who, appt) -> list:
    return [i for i in world.items(who) if str(appt.id) in map(str, i.extended.values())]


def supervise(world, tmp_path, env: dict | None = None, **children) -> Supervised:
    """`env`: extra environment for every child, e.g. {"SUNDIAL_WORKER_FORK": "1"} for RQ's forking worker."""
    db.session.commit()  # nothing of this process's transaction stays open while the workers write
    logs = tmp_path / "run"
    logs.mkdir(exist_ok=True)
    return Supervised(logs, worker_env(world.app, **(env or {})), children)


def book_without_export(world, start):
    from portal.booking.appointments import book

    appt = book(service=world.service, location=world.location, start=start, clients=[world.client],
                staff=[world.alice], end=start + (future(0, 16) - future(0, 15)))
    db.session.commit()
    return appt


def started(world, job_id: str) -> bool:
    try:
        return Job.fetch(job_id, connection=world.redis).get_status(refresh=True) == "started"
    except Exception:  # noqa: BLE001 - not created yet
        return False
