"""S13: the server's build is re-checked daily. Exchange reports it in every reply's ServerVersionInfo, so one
GetFolder of the service account's calendar reads it; a different build means Exchange was updated (a CU or a
move to Exchange Server SE): the change is audited and Authorize's checks run again (impersonation included)."""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app

from ..engine.connect import connect
from ..engine.context import integration_ready
from ..ews_soap import probe
from ..ews_soap.errors import AuthenticationFailed, EwsError
from ..extensions import db
from ..models import AuditEvent, StaffMember, utcnow
from .queues import enqueue

log = logging.getLogger("portal.jobs")
JOB_ID = "exchange-build-check"


def due(integ) -> bool:
    """Once a day, counted from the last check or else from Authorize (which read the build itself)."""
    last = integ.build_checked_at or integ.authorized_at
    hours = float(current_app.config["EXCHANGE_BUILD_CHECK_HOURS"])
    return last is not None and last <= utcnow() - timedelta(hours=hours)


def enqueue_if_due() -> bool:
    """From the safety-net tick: at most one build check in flight (deterministic job id), once a day."""
    integ = integration_ready()
    if integ is None or not due(integ):
        return False
    enqueue("build_check")  # it talks to Exchange: the sync class, never in front of exports; one at a time
    return True


def _name(build: str | None) -> str:
    info = probe.describe_build(build, utcnow().date())
    return f"{info.name} ({build})" if info and info.name else str(build)


def _first_staff_email(integ) -> str | None:
    if not integ.impersonation:
        return None
    return db.session.execute(db.select(StaffMember.email).where(StaffMember.takes_appointments.is_(True))
                              .order_by(StaffMember.id).limit(1)).scalar()


def run() -> str:
    integ = integration_ready()
    if integ is None:
        return "integration not connected"
    before = integ.server_version_reported
    try:
        seen = probe.run_probe(connect(integ)).server_version
    except AuthenticationFailed as exc:
        from ..engine.record import pause_integration

        db.session.rollback()
        pause_integration(exc)
        return "credentials rejected; integration paused"
    except EwsError as exc:  # not reachable right now: tomorrow's check (or the next tick) tries again
        db.session.rollback()
        log.info("Exchange build check failed: %s", exc.code)
        return f"build check failed: {exc.code}"
    integ.build_checked_at = utcnow()
    if seen == before or seen == "unknown":
        db.session.commit()
        return f"build unchanged ({seen})"
    integ.server_version_reported = seen
    detail = f"Exchange was updated: {_name(before)} → {_name(seen)}."
    try:
        probe.run_probe(connect(integ), impersonate=_first_staff_email(integ))
        detail += " Authorize's checks ran again and passed."
    except EwsError as exc:
        detail += f" Authorize's checks ran again and failed: {exc.sentence}"
    db.session.add(AuditEvent(action="exchange_updated", detail=detail))
    db.session.commit()
    return detail
