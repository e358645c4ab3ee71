"""The whole Sundial system for the fault soak, as real processes on loopback ports:

- PostgreSQL: a fresh database in the local server (dropped at the end);
- Redis: a private redis-server without persistence, which the soak kills and starts again empty;
- the EWS simulator (`python -m ews_simulator --state FILE`), which the soak stops and starts again;
- under Sundial's supervisor (portal/supervisor.py, as `make run` starts them): gunicorn, one worker per queue
  class (each with RQ's scheduler for its queues) and the notification listener.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("SUNDIAL_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
ADMIN = ("admin@soak.test", "Soak-Admin-2026!")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, timeout: float, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if got := check():
                return got
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(step)
    return None


def proc_children(pid: int) -> list[tuple[int, int]]:
    """(pid, process group) of each live child of `pid`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append((int(stat.parent.name), int(fields[2])))
    return found


class System:
    def __init__(self, tmp: Path, mailboxes: list[str]):
        self.tmp, self.mailboxes = tmp, mailboxes
        self.redis_port, self.sim_port, self.web_port = free_port(), free_port(), free_port()
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.sim_url = f"http://127.0.0.1:{self.sim_port}"
        self.web_url = f"http://127.0.0.1:{self.web_port}"
        self.db_name = f"sundial_soak_{uuid.uuid4().hex[:8]}"
        self.db_url = PG_ADMIN.rsplit("/", 1)[0] + "/" + self.db_name
        self.redis = self.sim = self.supervisor = None
        self.run_dir = tmp / "run"
        self.run_dir.mkdir(parents=True, exist_ok=True)

    # ---- PostgreSQL ------------------------------------------------------------------------------------
    def _pg(self, sql: str) -> None:
        import psycopg2

        conn = psycopg2.connect(PG_ADMIN, connect_timeout=5)
        conn.autocommit = True
        conn.cursor().execute(sql)
        conn.close()

    def create_database(self) -> None:
        self._pg(f'CREATE DATABASE "{self.db_name}"')

    def drop_database(self) -> None:
        self._pg(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')

    # ---- Redis ---------------------------------------------------------------------------------------------
    def start_redis(self) -> None:
        self.redis = subprocess.Popen([shutil.which("redis-server"), "--port", str(self.redis_port), "--bind",
                                       "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(self.tmp)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        assert wait_for(lambda: redis.Redis(port=self.redis_port).ping(), 10), "redis-server did not start"

    def kill_redis(self) -> None:
        self.redis.kill()
        self.redis.wait(10)

    # ---- the simulator ---------------------------------------------------------------------------------------
    def seed_simulator(self, events_per_mailbox: int = 3):
        """Write the simulator's state file: the mailboxes, a few events each. Returns the service account."""
        from datetime import UTC, datetime, timedelta

        from ews_simulator.outlook import Outlook
        from ews_simulator.testing import make_simulator

        sim, account = make_simulator(state_file=str(self.tmp / "sim.pickle"))
        base = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0) + timedelta(days=1)
        for email in self.mailboxes:
            sim.directory.add_mailbox(email, email.split("@")[0].title())
            sim.store.ensure_mailbox(email)
            for k in range(events_per_mailbox):
                start = base + timedelta(days=k)
                Outlook(sim, email).create(f"Early meeting {k}", start, start + timedelta(hours=1))
        sim.save()
        return account

    def start_sim(self, attempts: int = 3, first: bool = False) -> None:
        """Start the simulator; one that exits at start (the port still closing, the shared virtualenv being
        updated by someone else) is started again, up to `attempts` times. At the first start nothing knows the
        port yet, so a retry takes a fresh one: the port chosen in __init__ may since have become the local end
        of some other process's connection, which no retry on that port outlives."""
        log_path = self.run_dir / "simulator.log"
        for attempt in range(attempts):
            if first and attempt:
                self.sim_port = free_port()
                self.sim_url = f"http://127.0.0.1:{self.sim_port}"
            log = open(log_path, "ab")  # noqa: SIM115 - the child keeps it
            self.sim = subprocess.Popen([sys.executable, "-m", "ews_simulator", "--host", "127.0.0.1", "--port",
                                         str(self.sim_port), "--state", str(self.tmp / "sim.pickle"), "--no-validate",
                                         "--heartbeat-seconds", "5"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
            if wait_for(lambda: self.sim.poll() is not None or self.control("faults", "clear"), 45) \
                    and self.sim.poll() is None:
                return
            self.sim.kill()
            self.sim.wait(10)
            time.sleep(2)
        tail = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else "(no log)"
        raise RuntimeError(f"the simulator did not start on port {self.sim_port}; its log ends:\n{tail}")

    def stop_sim(self) -> None:
        """A server restart: the simulator saves its mailboxes on SIGTERM, as Exchange keeps committed data."""
        self.sim.send_signal(signal.SIGTERM)
        self.sim.wait(30)

    def control(self, target: str, method: str, mailbox: str | None = None, **kwargs):
        payload = {"target": target, "method": method, "kwargs": kwargs, **({"mailbox": mailbox} if mailbox else {})}
        req = urllib.request.Request(self.sim_url + "/_simulator/control", data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback
            body = json.load(resp)
        if not body.get("ok"):
            raise RuntimeError(body.get("error"))
        return body["result"] if body["result"] is not None else True

    # ---- Sundial's own processes ------------------------------------------------------------------------------
    def env(self) -> dict:
        return dict(os.environ, SUNDIAL_DATABASE_URL=self.db_url, SUNDIAL_REDIS_URL=self.redis_url,
                    SUNDIAL_ENV="development", SUNDIAL_INSTANCE_PATH=str(self.tmp / "instance"), FLASK_APP="wsgi")

    def start_sundial(self) -> None:
        flask = f"{sys.executable} -m flask --app wsgi sundial"
        children = {
            "web": f"{sys.executable} -m gunicorn --bind 127.0.0.1:{self.web_port} --workers 2 --threads 4 wsgi:app",
            "worker-sync": f"{flask} worker --queues sync",
            "worker-fast": f"{flask} worker --queues export,notify,default",
            "listener": f"{flask} listener",
        }
        self.supervisor = subprocess.Popen(
            [sys.executable, "-m", "portal.supervisor", "--log-dir", str(self.run_dir), "--backoff-base", "0.5",
             "--backoff-cap", "5", *[f"{k}={v}" for k, v in children.items()]], cwd=ROOT, env=self.env(),
            stdout=open(self.run_dir / "supervisor.log", "ab"), stderr=subprocess.STDOUT)  # noqa: SIM115
        assert wait_for(lambda: urllib.request.urlopen(self.web_url + "/login", timeout=5).status == 200, 60), \
            "gunicorn did not answer"

    def pid(self, name: str) -> int:
        return int((self.run_dir / f"{name}.pid").read_text())

    def horse_and_scheduler(self, worker: str) -> tuple[list[int], list[int]]:
        """A worker's work horses (their own process group) and its RQ scheduler (the worker's group)."""
        pid = self.pid(worker)
        kids = proc_children(pid)
        return [p for p, g in kids if g != pid and g == p], [p for p, g in kids if g != p]

    def stop(self) -> None:
        if self.supervisor and self.supervisor.poll() is None:
            self.supervisor.send_signal(signal.SIGTERM)
            try:
                self.supervisor.wait(30)
            except subprocess.TimeoutExpired:
                self.supervisor.kill()
        for proc in (self.sim, self.redis):
            if proc and proc.poll() is None:
                proc.kill()
                proc.wait(10)
