"""/healthz, /readyz and /metrics: for load balancers, supervisors and Prometheus, not for people.

They need no session: /healthz says only that the process answers; /readyz names what failed and gives
details only to admins or configured local addresses; /metrics needs the bearer token or an allowed address.
"""
from __future__ import annotations

import hmac

from flask import Blueprint, abort, current_app, jsonify, request
from flask_login import current_user

from ..auth.access import admin_required

bp = Blueprint("ops", __name__)


def machine(view):
    """Access level "machine": no sign-in; each view checks its own token or address."""
    view.access = "machine"
    return view


@bp.get("/healthz")
@machine
def healthz():
    return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}


def _direct_from(addresses: list[str]) -> bool:
    """The caller's own address is listed. A request that came through a reverse proxy (X-Forwarded-For or
    Forwarded present) is not trusted by address: behind a proxy on this host everyone looks local."""
    if request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded"):
        return False
    return request.remote_addr in addresses


def _sees_details() -> bool:
    if _direct_from(current_app.config["OPS_DETAIL_ADDRESSES"]):
        return True
    return bool(current_user.is_authenticated and current_user.is_admin)


@bp.get("/readyz")
@machine
def readyz():
    from .health import current_readiness

    checks = current_readiness()
    failed = [c.name for c in checks if not c.ok]
    body = {"status": "ready" if not failed else "not ready", "failed": failed}
    if _sees_details():
        body["checks"] = [c.as_dict() for c in checks]
    resp = jsonify(body)
    resp.status_code = 503 if failed else 200
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _may_scrape() -> bool:
    token = current_app.config.get("METRICS_TOKEN") or ""
    given = request.headers.get("Authorization", "")
    if token and given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), token.encode()):
        return True
    return _direct_from(current_app.config["METRICS_ADDRESSES"])


@bp.get("/metrics")
@machine
def metrics():
    from prometheus_client import CONTENT_TYPE_LATEST

    from .metrics import render
    from .state_metrics import current_collector

    if not _may_scrape():
        abort(403)
    return render(current_collector()), 200, {"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"}


@bp.post("/settings/integrations/exchange/check-connection")
@admin_required
def check_connection():
    """The connection doctor (O5), run synchronously within DOCTOR_TIMEOUT_SECONDS; the report shows on the
    Exchange page. Read-only, except that a password found rejected pauses the integration (G4, S10)."""
    from flask import g

    from ..models import ExchangeIntegration
    from ..settings.exchange.views import _form_for, _render
    from .doctor import run_doctor_for_integration

    g.doctor_report = run_doctor_for_integration()
    integ = ExchangeIntegration.get()
    return _render(_form_for(integ), integ)
