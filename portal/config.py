"""Settings from SUNDIAL_* environment variables.

Production mode (SUNDIAL_ENV=production) refuses to start without its secrets; development mode
generates them once and keeps them under instance/ so restarts keep sessions and stored passwords.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet


class ConfigError(RuntimeError):
    """Start-up stops with one sentence naming the missing setting."""


def _dev_secret(instance: Path, name: str, factory) -> str:
    path = instance / name
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    value = factory()
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value


def load_config(instance_path: str, env: dict | None = None) -> dict:
    env = os.environ if env is None else env
    instance = Path(instance_path)
    mode = env.get("SUNDIAL_ENV", "development")
    production = mode == "production"
    secret_key = env.get("SUNDIAL_SECRET_KEY")
    keys = env.get("SUNDIAL_ENCRYPTION_KEYS")
    if production:
        if not secret_key:
            raise ConfigError("SUNDIAL_SECRET_KEY is not set; production mode needs a long random secret key.")
        if not keys:
            raise ConfigError(
                "SUNDIAL_ENCRYPTION_KEYS is not set; production mode needs a Fernet key (generate one with: "
                "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')."
            )
    else:
        secret_key = secret_key or _dev_secret(instance, "secret_key", lambda: secrets.token_urlsafe(48))
        keys = keys or _dev_secret(instance, "encryption_key", lambda: Fernet.generate_key().decode())
    db_url = env.get("SUNDIAL_DATABASE_URL") or f"sqlite:///{instance / 'sundial.db'}"
    return {
        "ENV_MODE": mode,
        "SECRET_KEY": secret_key,
        # Comma-separated Fernet keys, newest first: the first encrypts, all decrypt (rotation).
        "ENCRYPTION_KEYS": [k.strip() for k in keys.split(",") if k.strip()],
        "SQLALCHEMY_DATABASE_URI": db_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": env.get("SUNDIAL_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "SMTP_HOST": env.get("SUNDIAL_SMTP_HOST", ""),
        "SMTP_PORT": int(env.get("SUNDIAL_SMTP_PORT", "25")),
        "SMTP_USERNAME": env.get("SUNDIAL_SMTP_USERNAME", ""),
        "SMTP_PASSWORD": env.get("SUNDIAL_SMTP_PASSWORD", ""),
        "SMTP_STARTTLS": env.get("SUNDIAL_SMTP_STARTTLS", "0") == "1",
        "SMTP_SENDER": env.get("SUNDIAL_SMTP_SENDER", "Sundial <no-reply@sundial.local>"),
        "SYNC_INTERVAL_MINUTES": int(env.get("SUNDIAL_SYNC_INTERVAL_MINUTES", "5")),
        # Authorize opens at most this many staff calendars (S6): a sample, never every mailbox.
        "EXCHANGE_PROBE_SAMPLE": int(env.get("SUNDIAL_EXCHANGE_PROBE_SAMPLE", "10")),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        # Flask-Login's "remember me" cookie gets the same protection as the session cookie.
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        "RATELIMIT_STORAGE_URI": env.get("SUNDIAL_RATELIMIT_STORAGE", "memory://"),
        "RQ_ASYNC": env.get("SUNDIAL_RQ_ASYNC", "1") == "1",
        # Sync tuning (README "Configuration").
        "SYNC_HORIZON_DAYS": int(env.get("SUNDIAL_SYNC_HORIZON_DAYS", "180")),
        "EWS_MAX_CONCURRENT_REQUESTS": int(env.get("SUNDIAL_EWS_MAX_CONCURRENT_REQUESTS", "8")),
        "ACTIVITY_RETENTION_DAYS": int(env.get("SUNDIAL_ACTIVITY_RETENTION_DAYS", "90")),
        # Exchange 2010 RTM (pull subscriptions): one GetEvents per mailbox this often (issue #7).
        "LISTENER_PULL_INTERVAL_SECONDS": float(env.get("SUNDIAL_LISTENER_PULL_INTERVAL_SECONDS", "7")),
        # Lab/demo only: Autodiscover URLs to try before the standard candidates (comma-separated).
        "EXCHANGE_AUTODISCOVER_CANDIDATES": [
            u.strip() for u in env.get("SUNDIAL_AUTODISCOVER_CANDIDATES", "").split(",") if u.strip()
        ],
    }
