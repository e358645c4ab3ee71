"""S10 on the Configuration tab: a password Exchange rejected is never sent again until an admin types another
one (or states that the account was unlocked), and a rejection soon after another reads as "probably locked".

Active Directory answers a locked account with the same 401 as a wrong password (EWS-FACTS; the simulator's
lockout switch), so "locked" is an inference from timing, said as such.
Typical policies: Microsoft suggests a 15-minute lockout duration (MSDOC windows/security/threat-protection/
security-policy-settings/account-lockout-duration); Windows 11 22H2 and later default to 10 bad sign-ins and
10 minutes (MSDOC .../account-lockout-threshold). Organisations commonly use 3 to 10 attempts.
"""
from __future__ import annotations

from datetime import timedelta

from ...crypto import password_fingerprint
from ...models import ExchangeIntegration, utcnow

# A different password rejected within this time after a rejection suggests a lock, not a second typo.
LOCK_WINDOW = timedelta(minutes=30)

REJECTED_BEFORE = ("Exchange already rejected this password {ago}, so Sundial did not send it again: every wrong "
                   "password counts towards the Active Directory lockout. Type the current password; if an Exchange "
                   "or AD administrator has just unlocked the account and this password is right, tick \"Send "
                   "this password once more\".")
PROBABLY_LOCKED = ("Exchange rejected this password too, {ago} after rejecting another one, so the service account "
                   "is probably locked: a typical Active Directory policy locks an account for 10 to 30 minutes "
                   "after 3 to 10 wrong passwords. An Exchange or AD administrator can unlock it at once; authorize "
                   "again when it is unlocked.")
# S11: Extended Protection binds NTLM/Kerberos to the TLS certificate the client saw; a proxy that re-encrypts TLS
# shows Sundial another certificate, so Exchange refuses even the right password (MSDOC exchange-extended-protection:
# "SSL offloading is not supported").
EP_INTERCEPTED = ("Exchange's Extended Protection refused the sign-in because something between Sundial and "
                  "Exchange re-encrypts TLS (Sundial now sees a different certificate than at the last successful "
                  "sign-in): let Sundial reach Exchange without TLS inspection or offloading, or have that device "
                  "pass TLS through unchanged.")
RESEND_LABEL = "An administrator has unlocked the account and this password is right: send it once more"


def fingerprint_of(values: dict, password: str) -> str:
    return password_fingerprint(values["username"], password)


def _ago(at) -> str:
    minutes = int((utcnow() - at).total_seconds() // 60) if at else 0
    return "just now" if minutes < 1 else f"{minutes} minute{'s' if minutes != 1 else ''} ago"


def refusal(integ: ExchangeIntegration | None, fp: str, resend: bool) -> str | None:
    """The sentence to show instead of sending a password Exchange already rejected; None: it may be sent."""
    if integ is None or resend or not integ.rejected_password_fp or integ.rejected_password_fp != fp:
        return None
    return REJECTED_BEFORE.format(ago=_ago(integ.rejected_at))


def remember_rejection(integ: ExchangeIntegration, fp: str) -> str | None:
    """Record the rejected password's fingerprint; returns the "probably locked" sentence when Exchange rejected
    a password it had not seen rejected shortly after an earlier rejection."""
    now = utcnow()
    previous_fp, previous_at = integ.rejected_password_fp, integ.rejected_at
    integ.rejected_password_fp, integ.rejected_at = fp, now
    if previous_fp and previous_fp != fp and previous_at and now - previous_at <= LOCK_WINDOW:
        return PROBABLY_LOCKED.format(ago=_ago(previous_at).removesuffix(" ago").replace("just now", "moments"))
    return None


def forget_rejection(integ: ExchangeIntegration) -> None:
    integ.rejected_password_fp = integ.rejected_at = None


def intercepted(integ: ExchangeIntegration | None, values: dict, exc) -> bool:
    """A 401 to NTLM/Negotiate over https while the same host shows another certificate than at the last
    successful Authorize: Extended Protection refused a binding made for the interceptor's certificate."""
    from urllib.parse import urlsplit

    seen = getattr(exc, "tls_end_point", None)
    if integ is None or not seen or not integ.tls_end_point or seen == integ.tls_end_point:
        return False
    return urlsplit(values["server_url"]).hostname == urlsplit(integ.server_url or "").hostname


# S12: the mechanism that really signed in (Negotiate may have fallen back to NTLM)
MECHANISMS = {"kerberos": "Kerberos", "ntlm": "NTLM", "basic": "Basic"}


def mechanism_sentence(auth_used: str | None) -> str:
    name = MECHANISMS.get(auth_used or "")
    return f" Signed in with {name}." if name else ""
