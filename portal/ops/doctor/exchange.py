"""The doctor's run (O5): network steps, then EWS steps with the stored configuration.

S10: sign-in happens once; when the integration is paused (the stored password was rejected) it is not sent at
all, and a rejection found here pauses the integration so nothing else sends it again.
"""
from __future__ import annotations

from flask import current_app

from ...extensions import db
from ...models import ExchangeIntegration, MailboxState, StaffMember
from . import Clock, Report, Step, run_step, skip
from . import network as net
from .fixes import fix_for

NO_SIGNIN = "Not run: the stored password was rejected; Sundial sends it again only after an admin types a password."


def run_doctor(sample: int = 5, clock: Clock | None = None) -> Report:
    integ = ExchangeIntegration.get()
    report = Report()
    if integ is None or not integ.server_url:
        skip(report, "dns", "Exchange is not configured yet: fill in the Configuration tab first.")
        return report
    clock = clock or Clock(float(current_app.config["DOCTOR_TIMEOUT_SECONDS"]))
    url, ca = integ.server_url, integ.ca_cert_pem or None
    host, port, secure = net.target(url)
    vals = {"host": host, "port": port, "svc": integ.username, "svc_name": integ.username.split("@")[0]}
    if not run_step(report, clock, "dns", lambda t: net.dns(url, t), **vals).ok:
        return report
    if not run_step(report, clock, "tcp", lambda t: net.tcp(url, t), **vals).ok:
        return report
    if run_step(report, clock, "tls", lambda t: net.tls(url, t, ca), **vals).ok is False:
        return report
    _schemes(report, clock, integ, url, ca, vals)
    if integ.state == "paused":
        skip(report, "signin", NO_SIGNIN)
        return report
    _exchange_steps(report, clock, integ, sample, vals, secure)
    return report


def _schemes(report, clock, integ, url, ca, vals) -> None:
    def check(timeout: float) -> str:
        offered = net.offered_schemes(url, timeout, ca)
        wanted = {"ntlm": ("Ntlm", "Negotiate"), "basic": ("Basic",)}.get(integ.auth_type, ("Ntlm", "Negotiate",
                                                                                             "Basic"))
        if not set(offered) & set(wanted):
            raise SchemeMissing(wanted="/".join(wanted), offered=", ".join(offered) or "nothing")
        return "the 401 challenge offers " + ", ".join(offered)

    run_step(report, clock, "schemes", check, **vals)


class SchemeMissing(Exception):
    def __init__(self, **values):
        super().__init__("scheme not offered")
        self.values = values


def _session(integ, clock):
    from dataclasses import replace

    from ...engine.connect import server_config
    from ...ews_soap import ExchangeSession

    config = server_config(integ)
    t = clock.timeout()
    return ExchangeSession(replace(config, timeout=(min(5.0, t), t)))


def _exchange_steps(report, clock, integ, sample, vals, secure) -> None:
    from ...ews_soap.errors import AuthenticationFailed, MailboxNotFound
    from ...ews_soap.versions import label_for_server

    session = _session(integ, clock)
    signin = run_step(report, clock, "signin", lambda t: _sign_in(session), **vals)
    if signin.ok is False:
        if isinstance(getattr(signin, "error", None), AuthenticationFailed):
            _pause(signin.error)
            if secure:
                sentence, fix = fix_for("extended_protection", "fail")
                signin.sentence += " If the password is right, " + sentence[0].lower() + sentence[1:]
                signin.fix += " — or, for Extended Protection: " + fix
        return
    _extended_protection(report, secure, signin)
    version = session.server_version
    run_step(report, clock, "build", lambda t: f"{label_for_server(version) or 'unknown'} (build "
             f"{version.major}.{version.minor}.{version.build})" if version else "the server did not say", **vals)
    if isinstance(getattr(session, "own_calendar_error", None), MailboxNotFound):
        skip(report, "calendar", fix_for("calendar", "MailboxNotFound")[0])
    else:  # the sign-in request was GetFolder on this calendar: no second request needed
        report.steps.append(Step("calendar", True, "the service account's own calendar opens (checked by the "
                                 "sign-in request)"))
    staff = _sample(sample)
    for email in staff:
        run_step(report, clock, "rights", lambda t, e=email: _rights(session, e), **vals, mailbox=email)
    if not staff:
        skip(report, "rights", "No staff member takes appointments yet.")
    run_step(report, clock, "throttling", lambda t: _throttling(integ), **vals)
    if not integ.impersonation:
        skip(report, "subscribe", "Delegate access cannot subscribe to notifications; Sundial polls instead.")
    elif staff:
        run_step(report, clock, "subscribe", lambda t: _subscribe(session, staff[0]), **vals, mailbox=staff[0])


def _extended_protection(report, secure: bool, signin) -> None:
    """Whether the server requires Extended Protection is not visible before signing in; Sundial's NTLM sign-in
    over https always carries channel binding (requests-ntlm send_cbt), so a sign-in that passed over https
    passed whatever the server requires. A failed one gets the EP sentence appended above."""
    if not secure:
        skip(report, "extended_protection", "Not applicable over plain http (no TLS channel to bind to).")
    else:
        report.steps.append(Step("extended_protection", True, "sign-in over https carried channel binding and "
                                 "passed: Extended Protection, if the server requires it, is satisfied"))


def _sign_in(session) -> str:
    from ...ews_soap.errors import MailboxNotFound

    try:
        session.primary_calendar(None)
    except MailboxNotFound as exc:  # signed in, but the account has no mailbox of its own
        session.own_calendar_error = exc
    kind = session.client.auth_kind or "?"
    return f"signed in with {kind.upper()} as {session.config.credentials.username}"


def _rights(session, email: str) -> str:
    session.primary_calendar(email)
    how = "delegate rights" if session.delegate else "impersonation"
    return f"{email}: calendar opens through {how}"


def _throttling(integ) -> str:
    from ...engine.throttle import RedisGate

    wait = RedisGate.for_integration(integ).backoff_remaining()
    held = db.session.execute(db.select(db.func.count()).select_from(MailboxState).where(
        MailboxState.state == "throttled")).scalar_one()
    if wait > 0 or held:
        raise Throttling(f"back-off {wait:.0f} s left, {held} mailbox(es) held back")
    return "no back-off in force"


class Throttling(Exception):
    pass


def _subscribe(session, email: str) -> str:
    (sub,) = session.subscribe_streaming([email])
    try:
        session.unsubscribe(email, sub.subscription_id)
    except Exception:  # noqa: BLE001 - the subscription expires by itself
        pass
    return f"a streaming subscription for {email} was accepted"


def _sample(n: int) -> list[str]:
    rows = db.session.execute(db.select(StaffMember.email).outerjoin(MailboxState).where(
        StaffMember.takes_appointments.is_(True), db.or_(MailboxState.excluded.is_(None),
                                                         MailboxState.excluded.is_(False)))
        .order_by(StaffMember.id).limit(max(n, 0))).scalars()
    return [e for e in rows if e]


def _pause(exc) -> None:
    from ...engine.record import pause_integration

    pause_integration(exc)
