"""Operations settings from SUNDIAL_* environment variables (merged into the app config by load_config)."""
from __future__ import annotations


def _addresses(value: str) -> list[str]:
    return [a.strip() for a in value.split(",") if a.strip()]


def ops_config(env) -> dict:
    return {
        # /readyz: a worker, scheduler or listener whose heartbeat is older than this is not ready (O1).
        # Workers beat every WORKER_TTL - 15 s while idle, every 30 s while a job runs.
        "READY_HEARTBEAT_SECONDS": float(env.get("SUNDIAL_READY_HEARTBEAT_SECONDS", "45")),
        "WORKER_TTL_SECONDS": int(env.get("SUNDIAL_WORKER_TTL_SECONDS", "35")),
        # Addresses that see /readyz details without signing in (the supervisor on this host).
        "OPS_DETAIL_ADDRESSES": _addresses(env.get("SUNDIAL_OPS_DETAIL_ADDRESSES", "127.0.0.1,::1")),
        # /metrics: a bearer token, or one of these addresses (none by default) (O2).
        "METRICS_TOKEN": env.get("SUNDIAL_METRICS_TOKEN", ""),
        "METRICS_ADDRESSES": _addresses(env.get("SUNDIAL_METRICS_ADDRESSES", "")),
        # O3: "json" for JSON lines, anything else for human-readable lines.
        "LOG_FORMAT": env.get("SUNDIAL_LOG_FORMAT", "text"),
        "LOG_LEVEL": env.get("SUNDIAL_LOG_LEVEL", "INFO").upper(),
        # O4: admins are emailed; this URL (optional) gets a JSON POST per alert.
        "ALERT_WEBHOOK_URL": env.get("SUNDIAL_ALERT_WEBHOOK_URL", ""),
        # O5: the whole connection doctor stops after this many seconds.
        "DOCTOR_TIMEOUT_SECONDS": float(env.get("SUNDIAL_DOCTOR_TIMEOUT_SECONDS", "60")),
    }
