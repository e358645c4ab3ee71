"""Settings landing, Integrations & API, Notifications (foundation issue fills this in)."""
from flask import render_template

from ..auth.access import admin_required
from . import bp


@bp.route("/integrations")
@admin_required
def integrations():
    return render_template("settings/integrations.html")
