"""Template globals: the paused-integration banner (G4) shown on every admin page."""
from __future__ import annotations

from flask_login import current_user


def register_templating(app) -> None:
    @app.context_processor
    def exchange_banner():
        if not (current_user.is_authenticated and current_user.is_admin):
            return {"exchange_paused": None}
        from .models import ExchangeIntegration

        integ = ExchangeIntegration.get()
        paused = integ is not None and integ.state == "paused"
        return {"exchange_paused": integ if paused else None}
