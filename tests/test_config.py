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
