from flask import Blueprint

bp = Blueprint("schedule", __name__)

from . import booking_views, day_views, people, prefs, records, slot_views, views  # noqa: E402,F401
