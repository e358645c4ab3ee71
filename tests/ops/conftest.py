"""Operations test fixtures: real `flask sundial …` processes against a Redis database of their own."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


class Processes:
    """Starts `flask sundial <args>` in its own process group (RQ's scheduler is a child of the worker)."""

    def __init__(self, env: dict, logdir: Path):
        self.env, self.logdir, self.procs = env, logdir, []

    def start(self, name: str, *args: str, **env) -> subprocess.Popen:
        log = open(self.logdir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen([sys.executable, "-m", "flask", "sundial", *args], cwd=ROOT,
                                env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs.append((proc, log))
        return proc

    def kill(self, proc: subprocess.Popen, sig=signal.SIGKILL) -> None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:  # a warm shutdown still finishing its job: stop it now
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logdir.glob("*.log")))

    def stop_all(self) -> None:
        for proc, log in self.procs:
            if proc.poll() is None:
                self.kill(proc, signal.SIGTERM)
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # RQ's scheduler child, if it outlived the worker
            except (ProcessLookupError, PermissionError):
                pass
            log.close()


@pytest.fixture
def ops_redis(app, redis_url):
    """The app's queues on a Redis database of their own (emptied before and after)."""
    import redis

    url = redis_url.rsplit("/", 1)[0] + "/9"
    app.config["REDIS_URL"] = url
    app.extensions.pop("sundial_redis", None)
    conn = redis.Redis.from_url(url)
    conn.flushdb()
    yield conn
    conn.flushdb()


@pytest.fixture
def processes(app, ops_redis, tmp_path):
    env = {**os.environ, "FLASK_APP": "wsgi.py", "SUNDIAL_INSTANCE_PATH": app.instance_path,
           "SUNDIAL_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "SUNDIAL_REDIS_URL": app.config["REDIS_URL"],
           "PYTHONUNBUFFERED": "1"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    logdir = tmp_path / "proc-logs"
    logdir.mkdir()
    procs = Processes(env, logdir)
    yield procs
    procs.stop_all()


def wait_for(predicate, timeout: float, step: float = 0.5):
    """Poll until predicate() is truthy; returns (value, seconds waited) or fails with the last value."""
    start = time.monotonic()
    value = None
    while time.monotonic() - start < timeout:
        value = predicate()
        if value:
            return value, time.monotonic() - start
        time.sleep(step)
    raise AssertionError(f"not reached within {timeout} s; last value {value!r}")


class Inbox:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 Message accepted for delivery"

    def subjects(self, to: str | None = None) -> list[str]:
        import email

        return [email.message_from_bytes(e.content)["Subject"] for e in self.messages
                if to is None or to in e.rcpt_tos]


@pytest.fixture
def smtp_inbox(app):
    """A real SMTP server (aiosmtpd) on localhost; the app delivers its outbox to it."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as s:  # aiosmtpd's start() connects to its port to check it is up: no port 0
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_SENDER="Sundial <no-reply@sundial.test>")
    yield inbox
    controller.stop()
