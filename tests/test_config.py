"""Configuration from SUNDIAL_* variables; secrets required in production, generated in development."""
from __future__ import annotations

import pytest

from portal.config import ConfigError, load_config


def test_production_without_secret_key_stops_with_one_sentence(tmp_path):
    with pytest.raises(ConfigError) as exc:
        load_config(str(tmp_path), {"SUNDIAL_ENV": "production"})
    message = str(exc.value)
    assert message.startswith("SUNDIAL_SECRET_KEY is not set")
    assert message.count(".") <= 2 and "\n" not in message


def test_production_without_encryption_keys_stops(tmp_path):
    with pytest.raises(ConfigError, match="SUNDIAL_ENCRYPTION_KEYS"):
        load_config(str(tmp_path), {"SUNDIAL_ENV": "production", "SUNDIAL_SECRET_KEY": "x" * 40})


def test_development_generates_and_keeps_local_secrets(tmp_path):
    first = load_config(str(tmp_path), {})
    second = load_config(str(tmp_path), {})
    assert first["SECRET_KEY"] == second["SECRET_KEY"] and len(first["SECRET_KEY"]) > 30
    assert first["ENCRYPTION_KEYS"] == second["ENCRYPTION_KEYS"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert first["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///") and first["SESSION_COOKIE_SECURE"] is False


def test_production_cookies_are_secure_httponly_lax(tmp_path):
    from cryptography.fernet import Fernet

    cfg = load_config(str(tmp_path), {"SUNDIAL_ENV": "production", "SUNDIAL_SECRET_KEY": "k" * 40,
                                      "SUNDIAL_ENCRYPTION_KEYS": Fernet.generate_key().decode()})
    assert cfg["SESSION_COOKIE_SECURE"] and cfg["SESSION_COOKIE_HTTPONLY"]
    assert cfg["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert cfg["REMEMBER_COOKIE_SECURE"] and cfg["REMEMBER_COOKIE_HTTPONLY"]
    assert cfg["REMEMBER_COOKIE_SAMESITE"] == "Lax"


def test_a1_production_session_and_remember_cookies_are_secure_httponly_lax(tmp_path, monkeypatch, redis_url):
    """A real production-mode app (SUNDIAL_ENV=production, its secrets from the environment, nothing overridden):
    signing in with "Keep me signed in" sets both cookies with Secure, HttpOnly and SameSite=Lax."""
    import re

    from cryptography.fernet import Fernet

    from portal import create_app
    from portal.extensions import db
    from tests.conftest import make_user

    for name, value in {"SUNDIAL_ENV": "production", "SUNDIAL_SECRET_KEY": "p" * 48,
                        "SUNDIAL_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
                        "SUNDIAL_DATABASE_URL": f"sqlite:///{tmp_path / 'prod.db'}", "SUNDIAL_REDIS_URL": redis_url,
                        "SUNDIAL_INSTANCE_PATH": str(tmp_path / "instance")}.items():
        monkeypatch.setenv(name, value)
    app = create_app()
    assert app.config["ENV_MODE"] == "production" and not app.testing
    with app.app_context():
        db.create_all()
        make_user("ada@bank.example", role="admin")
        client = app.test_client()
        https = "https://sundial.bank.example"
        page = client.get("/login", base_url=https).get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        resp = client.post("/login", base_url=https, headers={"Referer": https + "/login"}, data={
            "email": "ada@bank.example", "password": "correct horse battery", "remember": "y", "csrf_token": token})
        assert resp.status_code == 302, resp.get_data(as_text=True)[:300]  # (over https Flask-WTF wants a Referer)
        cookies = {c.split("=", 1)[0]: c for c in resp.headers.getlist("Set-Cookie")}
        assert set(cookies) >= {"session", "remember_token"}, cookies
        for name in ("session", "remember_token"):
            attributes = {a.strip().split("=")[0].lower(): a.strip() for a in cookies[name].split(";")[1:]}
            assert "secure" in attributes and "httponly" in attributes, cookies[name]
            assert attributes.get("samesite") == "SameSite=Lax", cookies[name]
        db.session.remove()
        db.engine.dispose()


def test_s5_key_rotation_new_key_encrypts_old_key_still_decrypts(app):
    from cryptography.fernet import Fernet

    from portal import crypto

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = crypto.encrypt("s3cret", [old])
    assert crypto.decrypt(token, [new, old]) == "s3cret"
    rotated = crypto.rotate(token, [new, old])
    assert crypto.decrypt(rotated, [new]) == "s3cret"
    with pytest.raises(ValueError, match="cannot be decrypted"):
        crypto.decrypt(token, [new])


def test_a1_login_is_rate_limited(app):
    from tests.conftest import make_user

    make_user("someone@example.test")
    client = app.test_client()
    codes = [client.post("/login", data={"email": "someone@example.test", "password": "wrong"}).status_code
             for _ in range(12)]
    assert codes[0] == 401 and codes[-1] == 429


def test_a1_login_refuses_wrong_password_and_offsite_next(app):
    from tests.conftest import make_user

    make_user("ok@example.test")
    client = app.test_client()
    r = client.post("/login?next=https://evil.example/", data={"email": "ok@example.test",
                                                               "password": "correct horse battery"})
    assert r.status_code == 302 and "evil" not in r.headers["Location"]
    cookie = r.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_g2_pull_interval_comes_from_the_environment_into_the_listener_settings(tmp_path):
    from portal.listener.process import ListenerSettings

    default = ListenerSettings.from_config(load_config(str(tmp_path), {}))
    slower = ListenerSettings.from_config(load_config(str(tmp_path), {"SUNDIAL_LISTENER_PULL_INTERVAL_SECONDS": "30"}))
    assert default.pull_interval_seconds == 7.0
    assert slower.pull_interval_seconds == 30.0


@pytest.mark.parametrize("raw, expected", [("true", True), ("TRUE", True), ("yes", True), ("1", True),
                                           ("false", False), ("No", False), ("0", False), ("", False)])
def test_g6_smtp_starttls_accepts_true_false_yes_no_1_0(tmp_path, raw, expected):
    assert load_config(str(tmp_path), {"SUNDIAL_SMTP_STARTTLS": raw})["SMTP_STARTTLS"] is expected


@pytest.mark.parametrize("name, raw", [("SUNDIAL_SMTP_STARTTLS", "maybe"), ("SUNDIAL_RQ_ASYNC", "on?"),
                                       ("SUNDIAL_SMTP_PORT", "twenty-five"), ("SUNDIAL_SYNC_HORIZON_DAYS", "0"),
                                       ("SUNDIAL_SYNC_MAX_CHANGES", "1.5"), ("SUNDIAL_EWS_TIMEOUT_SECONDS", "x"),
                                       ("SUNDIAL_MAILBOX_LOCK_SECONDS", "-3")])
def test_a_bad_setting_stops_start_up_with_one_sentence_naming_it(tmp_path, name, raw):
    with pytest.raises(ConfigError) as exc:
        load_config(str(tmp_path), {name: raw})
    message = str(exc.value)
    assert message.startswith(f"{name} is {raw!r};") and message.endswith(".") and "\n" not in message


def test_a_bad_setting_stops_create_app_before_anything_starts(tmp_path, monkeypatch):
    from portal import create_app

    monkeypatch.setenv("SUNDIAL_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("SUNDIAL_SMTP_STARTTLS", "sometimes")
    with pytest.raises(ConfigError, match="SUNDIAL_SMTP_STARTTLS"):
        create_app()


def test_every_tuning_default_is_in_config_and_overridable(tmp_path):
    cfg = load_config(str(tmp_path), {})
    assert (cfg["SYNC_MAX_CHANGES"], cfg["MAILBOX_LOCK_SECONDS"], cfg["EXPORT_RETRY_GRACE_SECONDS"]) == (512, 20, 60)
    assert cfg["EWS_TIMEOUT"] == (5, 60) and cfg["EXCHANGE_PROBE_TIMEOUT"] == (5, 30) and cfg["RQ_ASYNC"] is True
    tuned = load_config(str(tmp_path), {"SUNDIAL_SYNC_MAX_CHANGES": "100", "SUNDIAL_EWS_TIMEOUT_SECONDS": "90",
                                        "SUNDIAL_RQ_ASYNC": "false"})
    assert (tuned["SYNC_MAX_CHANGES"], tuned["EWS_TIMEOUT"], tuned["RQ_ASYNC"]) == (100, (5, 90.0), False)


def test_no_setting_is_read_with_an_inline_default_outside_config():
    """Every default lives in config.py: `config.get("X", default)` elsewhere in portal/ is refused."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "portal"
    found = [f"{p.relative_to(root)}: {m.group(0)}" for p in root.rglob("*.py") if p.name != "config.py"
             for m in re.finditer(r"(?:config|cfg)\.get\(\s*\"[A-Z_]+\"\s*,[^)]*\)", p.read_text())]
    assert found == []


def test_s5_every_file_under_instance_is_0600(tmp_path, monkeypatch, redis_url):
    """Generated secrets and the SQLite database (with its journal) are readable by Sundial's user only."""
    import os
    import stat

    from portal import create_app
    from portal.extensions import db
    from portal.models import Location

    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    (instance / "left-by-an-old-version.txt").write_text("x")
    os.chmod(instance / "left-by-an-old-version.txt", 0o644)
    monkeypatch.setenv("SUNDIAL_INSTANCE_PATH", str(instance))
    monkeypatch.delenv("SUNDIAL_DATABASE_URL", raising=False)
    monkeypatch.delenv("SUNDIAL_SECRET_KEY", raising=False)
    monkeypatch.delenv("SUNDIAL_ENCRYPTION_KEYS", raising=False)
    app = create_app({"TESTING": True, "REDIS_URL": redis_url})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'sundial.db'}"
    with app.app_context():
        db.create_all()
        db.session.add(Location(name="Main", timezone="UTC"))
        db.session.commit()
        db.engine.dispose()
    files = sorted(p.name for p in instance.iterdir())
    assert {"sundial.db", "secret_key", "encryption_key"} <= set(files)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in instance.iterdir()}
    assert modes == {name: 0o600 for name in files}
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
