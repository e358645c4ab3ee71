from flask import Blueprint

bp = Blueprint("exchange_settings", __name__, url_prefix="/settings/integrations/exchange")

from . import views  # noqa: E402,F401
