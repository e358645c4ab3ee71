"""Item 7: the private Redis that `make run` starts (scripts/ensure-redis.sh) requires a password, kept 0600
under the run directory and never on a command line."""
from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import uuid
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def rundir():
    rel = f".run/test-{uuid.uuid4().hex[:8]}"
    yield rel
    pid_file = ROOT / rel / "redis.pid"
    if pid_file.exists():
        os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)  # the server this test started
    shutil.rmtree(ROOT / rel, ignore_errors=True)


def test_s5_private_redis_has_a_generated_password_stored_0600(rundir):
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    env = {k: v for k, v in os.environ.items() if k != "SUNDIAL_REDIS_URL"}
    out = subprocess.run(["bash", "scripts/ensure-redis.sh", rundir], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    url = out.stdout.strip()
    password = (ROOT / rundir / "redis.password").read_text().strip()
    assert len(password) >= 32 and f":{password}@127.0.0.1:" in url
    assert redis.Redis.from_url(url).ping()
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=port).ping()
    for name in ("redis.password", "redis.conf"):
        assert stat.S_IMODE((ROOT / rundir / name).stat().st_mode) == 0o600, name
    pid = (ROOT / rundir / "redis.pid").read_text().strip()
    assert password not in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
