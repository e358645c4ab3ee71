"""Authorize (S6, S7): probe with the submitted values, and only on success save, connect and start syncing.

The previous working configuration stays untouched when the probe fails: candidate values live in a
plain dict until the probe has passed, so nothing reaches the ORM row (and no autoflush) before that.
"""
from __future__ import annotations

import logging

from flask import current_app
from flask_login import current_user

from ...crypto import decrypt, encrypt
from ...engine.record import mark_error, mark_excluded, mark_initializing, mark_mailbox_problem
from ...ews_soap.errors import MailboxNotFound
from ...extensions import db
from ...jobs.after_commit import enqueue_after_commit
from ...models import ExchangeIntegration, MailboxState, StaffMember, SyncActivity, utcnow
from . import audit, connection, messages

log = logging.getLogger(__name__)

SETTING_FIELDS = ("auth_type", "username", "kerberos_realm", "version", "server_url", "server_url_source", "allow_http",
                  "display_name", "impersonation", "show_titles", "block_busy", "block_oof", "block_tentative",
                  "ca_cert_pem", "sync_interval_minutes")


def integration() -> ExchangeIntegration:
    """The singleton row, created (disconnected, defaults) on first use."""
    integ = ExchangeIntegration.get()
    if integ is None:
        integ = ExchangeIntegration(id=1)
        db.session.add(integ)
        db.session.flush()
    return integ


def stored_password(integ: ExchangeIntegration | None) -> str | None:
    if integ is None or not integ.password_encrypted:
        return None
    return decrypt(integ.password_encrypted)


def _stored_or_none(integ: ExchangeIntegration | None) -> str | None:
    """The stored password for comparison only; one no key can decrypt any more counts as none."""
    try:
        return stored_password(integ)
    except ValueError:
        return None


def candidate_values(form, integ: ExchangeIntegration) -> dict:
    values = {name: getattr(form, name).data for name in SETTING_FIELDS if hasattr(form, name)}
    if form.use_version.data:
        values["version"] = form.use_version.data
    if form.remove_ca_cert.data:
        values["ca_cert_pem"] = None
    elif form.ca_pem:
        values["ca_cert_pem"] = form.ca_pem
    else:
        values["ca_cert_pem"] = integ.ca_cert_pem
    values["wsdl_source"] = integ.wsdl_source
    return values


def staff_to_sync() -> list[StaffMember]:
    return list(db.session.execute(
        db.select(StaffMember).where(StaffMember.takes_appointments.is_(True)).order_by(StaffMember.id)).scalars())


def staff_sample(limit: int | None = None) -> tuple[list[str], int]:
    """The staff mailboxes Authorize opens (S6, G5), and how many staff take appointments. A bounded sample,
    spread over the whole list rather than its first few, so one odd mailbox cannot fail Authorize."""
    limit = limit or int(current_app.config["EXCHANGE_PROBE_SAMPLE"])
    emails = [s.email for s in staff_to_sync() if s.mailbox_state is None or not s.mailbox_state.excluded]
    if len(emails) <= limit:
        return emails, len(emails)
    step = len(emails) / limit
    return [emails[int(i * step)] for i in range(limit)], len(emails)


def discover_with_password(values: dict, password: str) -> None:
    """Authenticated Autodiscover runs only here, as part of Authorize (S10): when the address is still the
    guess from the domain. A rejected password raises at once (one failed sign-in for the whole action)."""
    if values.get("server_url_source") != "guessed":
        return
    staff = staff_to_sync()
    found = connection.discover(values["username"], password, staff[0].email if staff else None,
                                auth=values.get("auth_type") or "auto")
    if found.source == "autodiscover":
        values["server_url"], values["server_url_source"] = found.url, "autodiscover"


def probe(values: dict, password: str):
    """Run the probe against a sample of staff mailboxes; a mailbox that is missing, moving or not granted is that
    staff member's problem (I1, S8), so Authorize succeeds when at least one is reached."""
    discover_with_password(values, password)
    config = connection.server_config(values, password)
    sample, _total = staff_sample()
    first = sample[0] if sample and values.get("impersonation") else None
    try:
        return connection.run_probe(config, impersonate=first, staff=tuple(sample))
    except MailboxNotFound as exc:
        failures = getattr(exc, "staff_failures", None)
        if failures and all(isinstance(err, MailboxNotFound) for _m, err in failures):
            exc.staff_addresses = [m for m, _err in failures]
            exc.sentence = messages.NO_STAFF_MAILBOX.format(addresses=", ".join(exc.staff_addresses))
        raise


def reach_sentence(result) -> str | None:
    """"Reached N of M staff calendars", naming those not reached and why (S6, S8)."""
    checked = getattr(result, "staff_checked", ())
    if not checked:
        return None
    _sample, total = staff_sample()
    text = messages.REACHED.format(n=len(result.staff_reached), m=len(checked),
                                   sample=messages.REACHED_SAMPLE.format(total=total) if total > len(checked) else "")
    missed = [f"{addr} — {sentence}" for addr, _code, sentence, _state in result.staff_failed]
    return text + (" " + messages.NOT_REACHED.format(list=" ".join(missed)) if missed else "")


def mark_unreached(result) -> set[str]:
    """Staff mailboxes the probe could not open get their state now (the tab is right at once); returns the
    addresses whose mailbox does not exist, which are not synced until their email changes or an admin re-syncs."""
    missing = set()
    by_email = {s.email.lower(): s for s in staff_to_sync()}
    for addr, _code, sentence, state in getattr(result, "staff_failed", ()):
        staff = by_email.get(addr.lower())
        if staff is None or staff.mailbox_state is None or staff.mailbox_state.excluded or not state:
            continue
        row = staff.mailbox_state
        mark_mailbox_problem(row, state, sentence, addr)
        if state == "mailbox_not_found":
            missing.add(addr.lower())
        db.session.add(SyncActivity(staff_id=staff.id, action=state, rule="S6",
                                    reason=f"Authorize could not open this calendar: {sentence}"))
    return missing


def changed_fields(integ: ExchangeIntegration, values: dict, new_password: str | None) -> list[str]:
    changed = []
    for name in SETTING_FIELDS:
        if name != "server_url_source" and getattr(integ, name) != values.get(name):
            changed.append(name)
        if name == "username" and new_password is not None and new_password != _stored_or_none(integ):
            changed.append("password")
    return changed


def save_authorized(integ: ExchangeIntegration, values: dict, new_password: str | None, result) -> list[int]:
    """Apply an authorized configuration; returns the staff ids whose initial sync starts after commit."""
    changed = changed_fields(integ, values, new_password)
    was = integ.state
    for name in SETTING_FIELDS:
        setattr(integ, name, values.get(name))
    if new_password is not None:
        integ.password_encrypted = encrypt(new_password)
    integ.state = "connected"
    integ.paused_reason = None
    integ.server_version_reported = result.server_version
    integ.signed_in_with = result.auth_used
    integ.tls_end_point = result.tls_end_point
    integ.authorized_by_id = current_user.id
    integ.authorized_at = utcnow()
    integ.build_checked_at = integ.authorized_at  # S13: Authorize just read the build; the daily check counts from here
    if changed:
        audit.record("settings_changed", audit.describe_changes(changed))
    reach = reach_sentence(result)
    audit.record("authorized", f"{'Resumed' if was == 'paused' else 'Connected'} with {values['server_url']} "
                               f"(server {result.server_version}).{' ' + reach if reach else ''}")
    ids = prepare_mailboxes()
    missing = mark_unreached(result)
    return [i for i in ids if db.session.get(StaffMember, i).email.lower() not in missing]


def prepare_mailboxes() -> list[int]:
    """Every staff member who takes appointments gets a MailboxState row; the not excluded start initializing."""
    ids = []
    for staff in staff_to_sync():
        state = staff.mailbox_state
        if state is None:
            state = MailboxState(staff=staff)
            db.session.add(state)
        if state.excluded:
            mark_excluded(state)
            continue
        if state.state != "synced":
            mark_initializing(state)
        state.last_error = None
        state.failures = 0
        ids.append(staff.id)
    return ids


def enqueue_initial(staff_ids: list[int]) -> bool:
    """After commit: one initial-sync job per staff id (ids only — never a secret in a payload), and the
    periodic sync (G2's safety net) from the first Authorize on."""
    if not enqueue_after_commit("the initial sync", [("initial_sync", i) for i in staff_ids], safety_net=True):
        for staff_id in staff_ids:
            row = db.session.get(MailboxState, staff_id)
            if row is not None and row.state == "initializing":
                mark_error(row, messages.QUEUE_DOWN_ROW, count=False)
        db.session.commit()
        return False
    return True
