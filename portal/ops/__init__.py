"""Operations (SPEC O1–O6): health and readiness, metrics, logs, alerts, the connection doctor.

Kept light: nothing heavy is imported here.
"""
from __future__ import annotations


def init_ops(app) -> None:
    """Called by create_app: routes, the EWS metrics observer, log format, CLI commands."""
    from . import alerts, cli, logs, metrics
    from .views import bp

    app.register_blueprint(bp)
    app.jinja_env.globals["open_alerts"] = alerts.open_incidents
    metrics.install()
    logs.install(app)
    cli.register(app)
