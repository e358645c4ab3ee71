"""O6: deploy/ (systemd units for web, workers per queue class, scheduler, listener; an environment template)
start the same commands as `make run`, pass systemd's own checker, and a pg_dump backup restored into a fresh
PostgreSQL database still decrypts the stored Exchange password with the backed-up keys (and after rotation)."""
from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.ops.conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
ENV_FILE = ROOT / "deploy" / "sundial.env.example"


def env_template() -> dict:
    pairs = [line.split("=", 1) for line in ENV_FILE.read_text().splitlines() if line and not line.startswith("#")]
    return {k: v for k, v in pairs}


def exec_start(unit: str, instance: str = "") -> list[str]:
    text = (UNITS / unit).read_text()
    (line,) = [x for x in text.splitlines() if x.startswith("ExecStart=")]
    env = env_template()
    command = line.split("=", 1)[1].replace("%i", instance)
    command = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], command)
    return command.replace("/opt/sundial/.venv/bin/", "").split()


def test_o6_units_start_the_same_commands_as_make_run():
    assert exec_start("sundial-worker@.service", "sync") == ["flask", "sundial", "worker", "--queues", "sync"]
    assert exec_start("sundial-worker@.service", "fast") == ["flask", "sundial", "worker", "--queues",
                                                             "export,notify,default"]
    assert exec_start("sundial-listener.service") == ["flask", "sundial", "listener"]
    assert exec_start("sundial-scheduler.service") == ["flask", "sundial", "scheduler"]
    web = exec_start("sundial-web.service")
    assert web[0] == "gunicorn" and web[-1] == "wsgi:app"
    run_sh = (ROOT / "scripts" / "run.sh").read_text()
    assert "sundial listener" in run_sh and "gunicorn" in run_sh and "wsgi:app" in run_sh
    assert "sundial worker --queues sync" in run_sh and "sundial worker --queues export,notify,default" in run_sh
    wanted = (UNITS / "sundial.target").read_text()
    for unit in ("sundial-web", "sundial-worker@sync", "sundial-worker@fast", "sundial-scheduler", "sundial-listener"):
        assert f"{unit}.service" in wanted


def test_o6_every_command_the_units_run_exists(app):
    commands = app.cli.commands["sundial"].commands
    for name in ("worker", "listener", "scheduler", "status", "doctor", "rotate-keys"):
        assert name in commands


def test_o6_environment_template_names_every_production_secret(tmp_path):
    from portal.config import ConfigError, load_config

    env = env_template()
    for key in ("SUNDIAL_SECRET_KEY", "SUNDIAL_ENCRYPTION_KEYS", "SUNDIAL_DATABASE_URL", "SUNDIAL_REDIS_URL",
                "SUNDIAL_METRICS_TOKEN", "PROMETHEUS_MULTIPROC_DIR", "SUNDIAL_LOG_FORMAT"):
        assert key in env
    assert env["SUNDIAL_ENV"] == "production"
    cfg = load_config(str(tmp_path), env)  # the template's names are the ones the app reads
    assert cfg["SECRET_KEY"] == env["SUNDIAL_SECRET_KEY"] and cfg["LOG_FORMAT"] == "json"
    with pytest.raises(ConfigError):
        load_config(str(tmp_path), {k: v for k, v in env.items() if k != "SUNDIAL_SECRET_KEY"})


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_o6_units_pass_systemd_analyze_verify(tmp_path):
    for unit in UNITS.iterdir():
        text = unit.read_text().replace("/opt/sundial", str(ROOT)).replace("/etc/sundial/sundial.env", str(ENV_FILE))
        (tmp_path / unit.name).write_text(text)
    shutil.copy(tmp_path / "sundial-worker@.service", tmp_path / "sundial-worker@sync.service")
    units = [str(tmp_path / n) for n in ("sundial-web.service", "sundial-listener.service",
                                         "sundial-scheduler.service", "sundial-worker@sync.service")]
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", *units], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and "Unknown" not in done.stderr, done.stderr


def test_o6_the_scheduler_unit_command_holds_the_scheduler(app, processes):
    from portal.ops.health import current_readiness

    processes.start("scheduler", "scheduler")
    wait_for(lambda: {c.name: c for c in current_readiness()}["scheduler"].ok, timeout=60)


# -- backup and restore -----------------------------------------------------------------------------------------

def _pg_tools():
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump/pg_restore are not installed")


def test_o6_restored_backup_still_decrypts_the_exchange_password(pg_app, tmp_path, redis_url):
    """pg_dump of a live database, restored into a fresh database, read by a new app with the backed-up keys."""
    from sqlalchemy.engine import make_url

    from portal.crypto import decrypt, encrypt
    from portal.extensions import db
    from portal.models import ExchangeIntegration

    _pg_tools()
    keys = pg_app.config["ENCRYPTION_KEYS"]
    db.session.add(ExchangeIntegration(id=1, username="svc@example.com", server_url="https://mail.example.com/EWS",
                                       password_encrypted=encrypt("Backup-Me-2026!"), state="connected"))
    db.session.commit()
    source = make_url(pg_app.config["SQLALCHEMY_DATABASE_URI"])
    dump = tmp_path / "sundial.dump"
    conn = ["-h", source.host, "-p", str(source.port or 5432), "-U", source.username]
    subprocess.run(["pg_dump", "-Fc", *conn, "-f", str(dump), source.database], check=True, timeout=120)

    fresh = f"sundial_restore_{uuid.uuid4().hex[:8]}"
    subprocess.run(["createdb", *conn, fresh], check=True, timeout=60)
    try:
        subprocess.run(["pg_restore", *conn, "--no-owner", "-d", fresh, str(dump)], check=True, timeout=120)
        from portal import create_app

        restored = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": str(source.set(database=fresh)),
                               "REDIS_URL": redis_url, "ENCRYPTION_KEYS": keys})
        with restored.app_context():
            token = ExchangeIntegration.get().password_encrypted
            assert decrypt(token) == "Backup-Me-2026!"
            with pytest.raises(ValueError, match="SUNDIAL_ENCRYPTION_KEYS"):
                decrypt(token, ["0" * 43 + "="])  # a database without its keys is no use
            _rotate_after_restore(restored, keys, token)
            db.session.remove()
            db.engine.dispose()
    finally:
        subprocess.run(["dropdb", *conn, "--force", fresh], timeout=60)


def _rotate_after_restore(app, old_keys, token):
    """Key rotation on the restored copy: new key first, rotate-keys, then the old key can go."""
    from cryptography.fernet import Fernet

    from portal.crypto import decrypt
    from portal.extensions import db
    from portal.models import ExchangeIntegration

    new = Fernet.generate_key().decode()
    app.config["ENCRYPTION_KEYS"] = [new, *old_keys]
    out = CliRunner().invoke(app.cli, ["sundial", "rotate-keys"])
    assert out.exit_code == 0, out.output
    db.session.expire_all()
    rotated = ExchangeIntegration.get().password_encrypted
    assert rotated != token and decrypt(rotated, [new]) == "Backup-Me-2026!"


def test_o6_gunicorn_settings_load(tmp_path):
    import os
    import sys

    gunicorn = Path(sys.executable).with_name("gunicorn")
    env = {**os.environ, "SUNDIAL_INSTANCE_PATH": str(tmp_path / "instance")}
    done = subprocess.run([str(gunicorn), "--check-config", "-c", "deploy/gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
