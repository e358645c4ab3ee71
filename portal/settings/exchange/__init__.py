"""Settings → Integrations & API → Microsoft Exchange: Configuration, User Accounts, Audit log."""
from flask import Blueprint

bp = Blueprint("exchange_settings", __name__, url_prefix="/settings/integrations/exchange")

from . import accounts, views  # noqa: E402,F401
