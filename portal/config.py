"""Settings from SUNDIAL_* environment variables.

Production mode (SUNDIAL_ENV=production) refuses to start without its secrets; development mode
generates them once and keeps them under instance/ so restarts keep sessions and stored passwords.
"""
from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from cryptography.fernet import Fernet

from .instance_files import write_private


class ConfigError(RuntimeError):
    """Start-up stops with one sentence naming the missing or malformed setting."""


TRUE, FALSE = ("true", "yes", "1"), ("false", "no", "0")


def env_bool(env, name: str, default: bool) -> bool:
    """Booleans are true/yes/1 or false/no/0 (any case); anything else stops start-up, never means off."""
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    if raw.strip().lower() in TRUE + FALSE:
        return raw.strip().lower() in TRUE
    raise ConfigError(f"{name} is {raw!r}; use true or false (yes/no and 1/0 work too).")


def env_number(env, name: str, default, kind=int, minimum: float = 0):
    """A whole number (or a decimal for kind=float) no smaller than `minimum`; anything else stops start-up."""
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = kind(raw.strip())
    except ValueError:
        value = None
    if value is None or value < minimum:
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{name} is {raw!r}; it must be {what} of at least {minimum:g}.")
    return value


def _dev_secret(instance: Path, name: str, factory) -> str:
    path = instance / name
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = factory()
    write_private(path, value + "\n")
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
    return ops_settings(env) | {
        "ENV_MODE": mode,
        "SECRET_KEY": secret_key,
        # Comma-separated Fernet keys, newest first: the first encrypts, all decrypt (rotation).
        "ENCRYPTION_KEYS": [k.strip() for k in keys.split(",") if k.strip()],
        "SQLALCHEMY_DATABASE_URI": db_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": env.get("SUNDIAL_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "SMTP_HOST": env.get("SUNDIAL_SMTP_HOST", ""),
        "SMTP_PORT": env_number(env, "SUNDIAL_SMTP_PORT", 25, minimum=1),
        "SMTP_USERNAME": env.get("SUNDIAL_SMTP_USERNAME", ""),
        "SMTP_PASSWORD": env.get("SUNDIAL_SMTP_PASSWORD", ""),
        "SMTP_STARTTLS": env_bool(env, "SUNDIAL_SMTP_STARTTLS", False),
        "SMTP_SENDER": env.get("SUNDIAL_SMTP_SENDER", "Sundial <no-reply@sundial.local>"),
        "SYNC_INTERVAL_MINUTES": env_number(env, "SUNDIAL_SYNC_INTERVAL_MINUTES", 5, minimum=1),
        # R5: an oversized request body is refused with a sentence (413) before anything reads it.
        "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
        # Authorize opens at most this many staff calendars (S6): a sample, never every mailbox.
        "EXCHANGE_PROBE_SAMPLE": env_number(env, "SUNDIAL_EXCHANGE_PROBE_SAMPLE", 10, minimum=1),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        # Flask-Login's "remember me" cookie gets the same protection as the session cookie.
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        # R1: "Keep me signed in" lasts at most 30 days (Flask-Login's default is 365).
        "REMEMBER_COOKIE_DURATION": timedelta(days=30),
        # R3: sign-in limits are shared by every web process: Redis (SUNDIAL_REDIS_URL) unless this says
        # otherwise; create_app fills in the final REDIS_URL. memory:// only when set explicitly.
        **({"RATELIMIT_STORAGE_URI": env["SUNDIAL_RATELIMIT_STORAGE"]} if env.get("SUNDIAL_RATELIMIT_STORAGE") else {}),
        # While Redis is down, sign-in still works, limited per process (never a 500).
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RQ_ASYNC": env_bool(env, "SUNDIAL_RQ_ASYNC", True),
        **sync_settings(env),
    }


def _addresses(value: str) -> list[str]:
    return [a.strip() for a in value.split(",") if a.strip()]


def ops_settings(env) -> dict:
    """Operations (README "Operations"): health, metrics, logs, alerts, the connection doctor."""
    return {
        # /readyz: a worker, scheduler or listener whose heartbeat is older than this is not ready (O1).
        "READY_HEARTBEAT_SECONDS": env_number(env, "SUNDIAL_READY_HEARTBEAT_SECONDS", 45.0, float, minimum=1),
        "WORKER_TTL_SECONDS": env_number(env, "SUNDIAL_WORKER_TTL_SECONDS", 25, minimum=16),
        # Workers run jobs in their own long-lived process (warm EWS connections, no fork per job); true: RQ's
        # fork per job instead (each job a fresh process, with its own sign-in).
        "WORKER_FORK": env_bool(env, "SUNDIAL_WORKER_FORK", False),
        # Memory guard of a non-forking worker: it exits after this many jobs or once its RSS passes this many
        # MB (checked after each job; 0 = no limit), and its supervisor starts a fresh one.
        "WORKER_MAX_JOBS": env_number(env, "SUNDIAL_WORKER_MAX_JOBS", 5000),
        "WORKER_MAX_RSS_MB": env_number(env, "SUNDIAL_WORKER_MAX_RSS_MB", 400),
        # Addresses that see /readyz details without signing in (the supervisor on this host).
        "OPS_DETAIL_ADDRESSES": _addresses(env.get("SUNDIAL_OPS_DETAIL_ADDRESSES", "127.0.0.1,::1")),
        # /metrics: a bearer token, or one of these addresses (none by default) (O2).
        "METRICS_TOKEN": env.get("SUNDIAL_METRICS_TOKEN", ""),
        "METRICS_ADDRESSES": _addresses(env.get("SUNDIAL_METRICS_ADDRESSES", "")),
        # O3: "json" for JSON lines, "text" for human-readable lines.
        "LOG_FORMAT": env_choice(env, "SUNDIAL_LOG_FORMAT", "text", ("text", "json")),
        "LOG_LEVEL": env_choice(env, "SUNDIAL_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
        # O4: admins are emailed; this URL (optional) gets a JSON POST per alert.
        "ALERT_WEBHOOK_URL": env.get("SUNDIAL_ALERT_WEBHOOK_URL", ""),
        # O5: the whole connection doctor stops after this many seconds.
        "DOCTOR_TIMEOUT_SECONDS": env_number(env, "SUNDIAL_DOCTOR_TIMEOUT_SECONDS", 60.0, float, minimum=1),
        # S13: the server's build is read again this often (and after every Authorize).
        "EXCHANGE_BUILD_CHECK_HOURS": env_number(env, "SUNDIAL_EXCHANGE_BUILD_CHECK_HOURS", 24.0, float, minimum=1),
    }


def env_choice(env, name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (any case); anything else stops start-up."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    for choice in choices:
        if raw.lower() == choice.lower():
            return choice
    raise ConfigError(f"{name} is {raw!r}; use one of {', '.join(choices)}.")


def sync_settings(env) -> dict:
    """Sync and Exchange tuning (README "Configuration"); every default lives here, none where it is read."""
    return {
        "SYNC_HORIZON_DAYS": env_number(env, "SUNDIAL_SYNC_HORIZON_DAYS", 180, minimum=1),
        "SYNC_MAX_CHANGES": env_number(env, "SUNDIAL_SYNC_MAX_CHANGES", 512, minimum=1),  # SyncFolderItems page
        "EWS_MAX_CONCURRENT_REQUESTS": env_number(env, "SUNDIAL_EWS_MAX_CONCURRENT_REQUESTS", 8, minimum=1),
        # (connect, read) seconds: a sync's EWS requests, and Authorize's probe (an admin is waiting for it).
        "EWS_TIMEOUT": (5, env_number(env, "SUNDIAL_EWS_TIMEOUT_SECONDS", 60, float, minimum=1)),
        "EXCHANGE_PROBE_TIMEOUT": (5, env_number(env, "SUNDIAL_EXCHANGE_PROBE_TIMEOUT_SECONDS", 30, float, minimum=1)),
        "MAILBOX_LOCK_SECONDS": env_number(env, "SUNDIAL_MAILBOX_LOCK_SECONDS", 20, float, minimum=5),
        # G2: the safety net checks this many idle mailboxes per job (portal/jobs/sync_batch.py).
        "SAFETY_NET_BATCH_SIZE": env_number(env, "SUNDIAL_SAFETY_NET_BATCH_SIZE", 50, minimum=1),
        # An appointment change not exported after this long is queued again by the safety net.
        "EXPORT_RETRY_GRACE_SECONDS": env_number(env, "SUNDIAL_EXPORT_RETRY_GRACE_SECONDS", 60, float),
        "ACTIVITY_RETENTION_DAYS": env_number(env, "SUNDIAL_ACTIVITY_RETENTION_DAYS", 90, minimum=1),
        # Exchange 2010 RTM (pull subscriptions): one GetEvents per mailbox this often.
        "LISTENER_PULL_INTERVAL_SECONDS": env_number(env, "SUNDIAL_LISTENER_PULL_INTERVAL_SECONDS", 7, float,
                                                     minimum=1),
        # Most streaming connections for the service account (0: no cap set; Exchange's own limit is learnt from
        # ErrorExceededConnectionCount). Mailboxes beyond limit × 200 use pull subscriptions (issue 15).
        "LISTENER_CONNECTION_LIMIT": env_number(env, "SUNDIAL_LISTENER_CONNECTION_LIMIT", 0) or None,
        # A server's throttling back-off shorter than this is waited out inside the job; longer ones re-queue it.
        "EWS_MAX_INLINE_BACKOFF_SECONDS": 2.0,
        # Autodiscover (S4): the whole search's time budget, whether the standard candidates are tried, and an
        # internal CA for them (tests and labs set these in the app config).
        "EXCHANGE_AUTODISCOVER_TIMEOUT": 8.0,
        "EXCHANGE_AUTODISCOVER_STANDARD": True,
        "EXCHANGE_AUTODISCOVER_CA": None,
        # Lab/demo only: Autodiscover URLs to try before the standard candidates (comma-separated).
        "EXCHANGE_AUTODISCOVER_CANDIDATES": [
            u.strip() for u in env.get("SUNDIAL_AUTODISCOVER_CANDIDATES", "").split(",") if u.strip()
        ],
    }
