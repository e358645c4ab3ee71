"""Configuration tab, Authorize, Autodiscover lookup and Disconnect (SPEC S1–S7, S9, G4).

Habit 2: validate → commit → flash → redirect; jobs are enqueued only after the commit.
"""
from __future__ import annotations

import logging

from flask import flash, jsonify, redirect, render_template, request, url_for

from ...auth.access import admin_required
from ...engine.record import mark_not_connected
from ...ews_soap.errors import AccountLocked, AuthenticationFailed, EwsError, ProtocolError, VersionNotAccepted
from ...extensions import db
from ...models import ExchangeIntegration, MailboxState
from . import audit, authorize, bp, connection, messages, signin_guard
from .forms import VERSION_NAMES, ActionForm, AutodiscoverForm, ConfigurationForm

log = logging.getLogger(__name__)


def _form_for(integ: ExchangeIntegration | None) -> ConfigurationForm:
    if integ is None:
        return ConfigurationForm()
    form = ConfigurationForm(obj=integ)
    form.password.data = ""  # write-only (S5)
    return form


def version_hint(integ: ExchangeIntegration | None) -> str | None:
    """Connected, but the server reports another version than the one chosen (S3: a server on cumulative
    updates should use the newest version of its year): the label to offer, else None."""
    if integ is None or integ.state != "connected":
        return None
    label = connection.label_for_server(integ.server_version_reported)
    return label if label in VERSION_NAMES and label != integ.version else None


def _render(form, integ, failure=None, suggestion=None, status=200):
    hint = None if failure else version_hint(integ)
    return render_template(
        "settings/exchange/configuration.html", form=form, integ=integ, failure=failure, suggestion=suggestion,
        version_names=VERSION_NAMES, has_password=bool(integ and integ.password_encrypted),
        version_hint=hint, version_differs=hint and messages.VERSION_DIFFERS.format(
            server=VERSION_NAMES[hint], chosen=VERSION_NAMES.get(integ.version, integ.version)),
        action_form=ActionForm(), source_notes=messages.AUTODISCOVER_NOTES,
        build=connection.build_info(integ.server_version_reported) if integ else None,
        signed_in=signin_guard.mechanism_sentence(integ.signed_in_with if integ else None)), status


@bp.route("/")
@admin_required
def configuration():
    integ = ExchangeIntegration.get()
    return _render(_form_for(integ), integ)


@bp.route("/authorize", methods=["POST"])
@admin_required
def authorize_view():
    integ = authorize.integration()
    form = ConfigurationForm()
    if not form.validate_on_submit():
        db.session.rollback()
        return _render(form, ExchangeIntegration.get(), status=422)
    values = authorize.candidate_values(form, integ)
    new_password = form.password.data or None
    password = new_password or authorize.stored_password(integ)
    if not password:
        form.password.errors.append(messages.RETYPE_PASSWORD if form.use_version.data else messages.MISSING_PASSWORD)
        db.session.rollback()
        return _render(form, ExchangeIntegration.get(), status=422)
    attempted = audit.describe_attempt(authorize.changed_fields(integ, values, new_password),
                                       first=integ.authorized_at is None)
    fp = signin_guard.fingerprint_of(values, password)
    refused = signin_guard.refusal(integ, fp, bool(form.resend_password.data))
    if refused:  # S10: nothing is sent
        return _refused(form, values, refused, attempted)
    try:
        result = authorize.probe(values, password)
    except EwsError as exc:
        return _failed(form, values, exc, attempted, fp)
    was = integ.state
    staff_ids = authorize.save_authorized(integ, values, new_password, result)
    signin_guard.forget_rejection(integ)
    db.session.commit()
    log.info("Exchange integration authorized by user %s for %s", audit_user_id(), values["server_url"])
    if staff_ids:
        template = {"paused": messages.RESUMED, "connected": messages.REAUTHORIZED}.get(was, messages.AUTHORIZED)
        flash(template.format(server=values["server_url"], count=len(staff_ids), s="" if len(staff_ids) == 1
                              else "s") + signin_guard.mechanism_sentence(result.auth_used), "success")
    else:
        flash(messages.AUTHORIZED_NONE.format(server=values["server_url"]) +
              signin_guard.mechanism_sentence(result.auth_used), "success")
    reach = authorize.reach_sentence(result)
    if reach:
        flash(reach, "warning" if result.staff_failed else "success")
    if staff_ids:
        authorize.enqueue_initial(staff_ids)
    _recheck_alerts()
    if version_hint(integ):  # the Configuration tab offers the one-click switch to the server's own version
        return redirect(url_for(".configuration"))
    return redirect(url_for(".accounts"))


def _recheck_alerts() -> None:
    """O4: a pause that Authorize just ended gets its "resolved" message now rather than at the next tick."""
    from ...jobs.after_commit import enqueue_quietly_after_commit

    enqueue_quietly_after_commit([("alert_check",)])


def audit_user_id():
    from flask_login import current_user

    return getattr(current_user, "id", None)


def _refused(form, values, sentence: str, attempted: str):
    """S10: the password was rejected before and is not sent again; said like a failure, audited, nothing sent."""
    db.session.rollback()
    audit.record("authorize_failed", f"{values['server_url']}: {sentence} {attempted}")
    db.session.commit()
    form.password.data = ""
    form.password.errors = [*form.password.errors, "Rejected by Exchange before — not sent again."]
    return _render(form, ExchangeIntegration.get(), failure=sentence, status=422)


def _failed(form, values, exc: EwsError, attempted: str, fp: str):
    """The probe failed: one sentence, nothing saved except the audit line (S6) — which also names the
    settings that were tried (`attempted`, names only) — and, for a rejected password, its fingerprint (S10)."""
    db.session.rollback()
    sentence = messages.authorize_sentence(exc)
    if isinstance(exc, ProtocolError) and "sentence" in vars(exc):
        sentence = exc.sentence  # said for this very answer: 404, 405, an HTML page, a redirect, no usable scheme
    if isinstance(exc, AuthenticationFailed) and signin_guard.intercepted(ExchangeIntegration.get(), values, exc):
        sentence = signin_guard.EP_INTERCEPTED  # not the password's fault: nothing remembered against it
    elif isinstance(exc, AuthenticationFailed) and not isinstance(exc, AccountLocked):
        locked = signin_guard.remember_rejection(authorize.integration(), fp)
        if locked:
            sentence = locked
        elif not form.password.data:
            sentence = messages.AUTH_STORED_REJECTED
    if getattr(exc, "staff_addresses", None):
        sentence = exc.sentence
    suggestion = None
    if isinstance(exc, VersionNotAccepted):
        label = getattr(exc, "suggested_version", None) or connection.label_for_server(exc.server_version)
        if label in VERSION_NAMES and label != values["version"]:
            suggestion = label
            sentence = messages.VERSION_REJECTED.format(server=VERSION_NAMES[label])
    log.info("Exchange Authorize failed (%s) for %s at %s", exc.code, values["username"], values["server_url"])
    rejected = isinstance(exc, AuthenticationFailed)
    audit.record("authorize_rejected" if rejected else "authorize_failed",
                 f"{values['server_url']}: {sentence} {attempted}")
    db.session.commit()
    integ = ExchangeIntegration.get()
    form.password.data = ""
    marker = messages.failure_field(exc)
    if marker:  # point at the field to fix, under the sentence's explanation
        field = getattr(form, marker[0])
        field.errors = [*field.errors, marker[1]]
    return _render(form, integ, failure=sentence, suggestion=suggestion, status=422)


@bp.route("/autodiscover", methods=["POST"])
@admin_required
def autodiscover():
    """Small JSON lookup for the form's script: the EWS URL for a UPN (S4). POST + CSRF. It never sends a
    password, typed or stored (S10): an Autodiscover that needs one runs as part of Authorize."""
    form = AutodiscoverForm()
    if not form.validate_on_submit():
        return jsonify(ok=False, error="Enter the user name as user@domain."), 400
    username = form.username.data.strip()
    try:
        found = connection.discover(username, None)
    except EwsError as exc:
        log.info("Autodiscover for %s failed: %s", username.rpartition("@")[2], exc.code)
        found = connection.Discovered(connection.guess_url(username), "guessed")
    return jsonify(ok=True, url=found.url, source=found.source, note=messages.AUTODISCOVER_NOTES[found.source])


@bp.route("/disconnect", methods=["GET", "POST"])
@admin_required
def disconnect():
    """S9: stop all sync; nothing is removed from Sundial or from Exchange."""
    integ = ExchangeIntegration.get()
    form = ActionForm()
    if request.method == "POST" and form.validate_on_submit():
        if integ is not None and integ.state != "disconnected":
            integ.state = "disconnected"
            integ.paused_reason = None
            for row in db.session.execute(db.select(MailboxState)).scalars():
                if not row.excluded:
                    mark_not_connected(row)
                row.throttled_until = row.next_attempt_at = None
            audit.record("disconnected", "Disconnected; all sync stopped, nothing removed.")
            db.session.commit()
        flash("Exchange is disconnected. Syncing has stopped; nothing was removed from Sundial or from Exchange.",
              "success")
        return redirect(url_for(".configuration"))
    return render_template("settings/exchange/disconnect.html", integ=integ, form=form)


@bp.route("/audit")
@admin_required
def audit_log():
    """Who changed which setting when, who authorized, disconnected, re-synced, excluded."""
    from ...models import AuditEvent

    events = list(db.session.execute(
        db.select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(500)).scalars())
    return render_template("settings/exchange/audit.html", events=events, actions=messages.AUDIT_ACTIONS,
                           integ=ExchangeIntegration.get())
