"""Microsoft Exchange settings: Configuration, User Accounts (the Exchange settings issue fills this in)."""
from flask import render_template

from ...auth.access import admin_required
from . import bp


@bp.route("/")
@admin_required
def configuration():
    return render_template("settings/integrations.html")
