"""Worker start-up (portal.jobs.worker calls this before RQ forks per job): load zeep and the WSDL once —
≈ 15 ms per job afterwards instead of ≈ 200 ms (ARCHITECTURE.md) — and make sure the safety net ticks."""
from __future__ import annotations

import logging

log = logging.getLogger("portal.jobs")


def preload(app) -> None:
    from ..ews_soap.wsdl_loader import get_client
    from . import export, initial_sync, sync_mailbox  # noqa: F401 - imported once, before RQ forks

    try:
        get_client("sundial")
    except Exception as exc:  # noqa: BLE001 - a job will report the real error with its sentence
        log.warning("EWS client preload failed: %s", exc)
    with app.app_context():
        try:
            from .safety_net import ensure_tick

            ensure_tick()
        except Exception as exc:  # noqa: BLE001 - Redis down: the worker itself will say so
            log.warning("could not schedule the safety-net tick: %s", exc)
