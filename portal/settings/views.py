"""Settings: Integrations & API landing page, Notifications → Clients / Staff, and the outbox (G6)."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for

from ..auth.access import admin_required
from ..extensions import db
from ..jobs.after_commit import enqueue_after_commit
from ..models import AUDIENCES, ExchangeIntegration, NotificationSetting, OrganisationSetting, OutboxMessage
from ..notifications.reminders import reminder_hours
from . import bp
from .forms import NotificationSwitchForm

STATE_BADGES = {
    "connected": ("badge-ok", "Connected"),
    "paused": ("badge-danger", "Paused — re-authorize"),
    "disconnected": ("badge-muted", "Not connected"),
}
OUTBOX_BADGES = {"sent": "badge-ok", "pending": "badge-info", "sending": "badge-info",
                 "undelivered": "badge-warn", "failed": "badge-danger"}
BLURBS = {
    "clients": "Emails to the clients on an appointment: confirmations, reminders, changes and cancellations.",
    "staff": "Emails to the staff members on an appointment when it is booked, changed or cancelled.",
}


@bp.route("/")
@admin_required
def index():
    return redirect(url_for("settings.integrations"))


@bp.route("/integrations")
@admin_required
def integrations():
    integration = ExchangeIntegration.get()
    state = integration.state if integration else "disconnected"
    return render_template("settings/integrations.html", integration=integration,
                           state_badge=STATE_BADGES.get(state, ("badge-muted", state)))


@bp.route("/notifications/<audience>", methods=["GET", "POST"])
@admin_required
def notifications(audience: str):
    if audience not in AUDIENCES:
        abort(404)
    row = db.session.get(NotificationSetting, audience)
    enabled = True if row is None else row.enabled
    form = NotificationSwitchForm()
    if request.method == "GET":
        form.enabled.data = enabled
        form.reminder_hours.data = reminder_hours()
    form.enabled.label.text = f"Send general notifications to {audience}"
    if form.validate_on_submit():
        if row is None:
            row = NotificationSetting(audience=audience)
            db.session.add(row)
        row.enabled = bool(form.enabled.data)
        if audience == "clients" and form.reminder_hours.data is not None:
            OrganisationSetting.put("reminder_hours", str(form.reminder_hours.data))
        db.session.commit()
        flash(f"Notifications to {audience} are {'on' if row.enabled else 'off'}.", "success")
        return redirect(url_for("settings.notifications", audience=audience))
    return render_template("settings/notifications.html", form=form, audience=audience,
                           enabled=enabled, blurb=BLURBS[audience], smtp_host=current_app.config.get("SMTP_HOST"),
                           reminders=reminder_hours())


@bp.route("/notifications/outbox")
@admin_required
def outbox():
    messages = db.session.execute(
        db.select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(200)).scalars().all()
    counts = db.session.execute(
        db.select(OutboxMessage.status, db.func.count()).group_by(OutboxMessage.status)
        .order_by(OutboxMessage.status)).all()
    return render_template("settings/outbox.html", messages=messages, counts=counts, badges=OUTBOX_BADGES,
                           smtp_host=current_app.config["SMTP_HOST"])


@bp.route("/notifications/outbox/<int:message_id>")
@admin_required
def outbox_message(message_id: int):
    """P10: the whole message as it is (or will be) sent."""
    msg = db.get_or_404(OutboxMessage, message_id)
    return render_template("settings/outbox_message.html", m=msg, badges=OUTBOX_BADGES,
                           sender=current_app.config.get("SMTP_SENDER"), smtp_host=current_app.config.get("SMTP_HOST"))


@bp.route("/notifications/outbox/<int:message_id>/retry", methods=["POST"])
@admin_required
def outbox_retry(message_id: int):
    msg = db.get_or_404(OutboxMessage, message_id)
    if msg.status == "sent":
        flash("That message was already sent.", "info")
    elif enqueue_after_commit("the delivery", [("notify", msg.id)]):
        flash(f"Delivery to {msg.recipient} is queued.", "success")
    return redirect(url_for("settings.outbox"))


@bp.route("/notifications/outbox/retry", methods=["POST"])
@admin_required
def outbox_retry_all():
    """After a Redis outage or once SMTP is configured: queue every message not yet sent."""
    waiting = db.session.execute(db.select(OutboxMessage).where(OutboxMessage.status.in_(
        ("pending", "failed", "undelivered"))).order_by(OutboxMessage.id).limit(1000)).scalars().all()
    if not waiting:
        flash("Nothing to send: every message in the outbox was delivered.", "info")
    elif enqueue_after_commit("the delivery", [("notify", m.id) for m in waiting]):
        flash(f"Delivery of {len(waiting)} message{'s' if len(waiting) != 1 else ''} is queued.", "success")
    return redirect(url_for("settings.outbox"))
