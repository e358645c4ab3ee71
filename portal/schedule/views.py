"""Week view, booking, rescheduling, cancelling (foundation issue fills this in)."""
from flask import redirect, render_template, url_for

from ..auth.access import login_required
from . import bp


@bp.route("/")
@login_required
def home():
    return redirect(url_for("schedule.week"))


@bp.route("/schedule")
@login_required
def week():
    return render_template("schedule/week.html")
