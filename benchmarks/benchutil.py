"""Pieces every benchmark needs: a free loopback port, a private redis-server, a run's temporary instance,
SQL on the local PostgreSQL (to create and drop a benchmark's own database) and an organisation to sync."""
from __future__ import annotations

import multiprocessing
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(tmp: Path) -> tuple[subprocess.Popen, str]:
    """A private redis-server (nothing persisted) for one benchmark run; returns (process, URL)."""
    import redis

    port = free_port()
    proc = subprocess.Popen([shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp)], stdout=subprocess.DEVNULL)
    for _ in range(100):
        try:
            redis.Redis(port=port).ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    return proc, f"redis://127.0.0.1:{port}/0"


def admin_sql(sql: str) -> None:
    """One statement on the local PostgreSQL's `test` database, autocommit (CREATE/DROP DATABASE)."""
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="test")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


def bench_env(prefix: str) -> tuple[Path, subprocess.Popen, str]:
    """A run's encryption key (unless set), temporary instance folder and private Redis: (tmp, redis, URL)."""
    from cryptography.fernet import Fernet

    os.environ.setdefault("SUNDIAL_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["SUNDIAL_INSTANCE_PATH"] = str(tmp / "instance")
    redis_proc, redis_url = start_redis(tmp)
    return tmp, redis_proc, redis_url


def seed_org(url: str, upn: str, password: str, staff: int) -> list[int]:
    """In an app context with an empty database: one location, the connected integration (NTLM, 2016,
    impersonation) and `staff` staff members; returns their ids."""
    from portal.crypto import encrypt
    from portal.extensions import db
    from portal.models import ExchangeIntegration, Location, StaffMember

    db.create_all()
    loc = Location(name="HQ", address="1 Main Street", timezone="UTC")
    db.session.add(loc)
    db.session.add(ExchangeIntegration(id=1, auth_type="ntlm", username=upn, password_encrypted=encrypt(password),
                                       version="2016", server_url=url, allow_http=True, impersonation=True,
                                       state="connected"))
    db.session.add_all([StaffMember(name=f"Staff {n}", email=f"staff{n:04d}@example.com", timezone="UTC",
                                    primary_location=loc) for n in range(staff)])
    db.session.commit()
    return [s.id for s in db.session.execute(db.select(StaffMember)).scalars()]


def simulator_process(serve, *args):
    """Run `serve(port, *args, conn)` (a benchmark's simulator) in its own process on a free port; returns the
    process and this end of the pipe it answers on."""
    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.Process(target=serve, args=(free_port(), *args, child), daemon=True)
    proc.start()
    return proc, parent


def print_profile(stats, top: int, out: str | None = None) -> None:
    """The top of a pstats.Stats by cumulative and by own time; `out` keeps the whole profile."""
    if out:
        stats.dump_stats(out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
