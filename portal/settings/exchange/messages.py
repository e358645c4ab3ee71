"""Every sentence the admin reads on the Exchange settings pages, as tables (ARCHITECTURE habit 6).

Authorize failures: error class → one plain sentence naming what is wrong and what to do (S6).
The sentences of portal.ews_soap's errors are the fallback for classes not listed here.
"""
from __future__ import annotations

from ...ews_soap import errors as ews

PLAIN_HTTP_SENTENCE = ("The server address must start with https://; plain http is refused unless you tick "
                       "\"Allow plain http (lab servers only)\".")

# Authorize (the probe) failed: what is wrong, and what to do. Looked up along the class's MRO.
AUTHORIZE_SENTENCES: dict[type, str] = {
    ews.AccountLocked: ("The service account is locked or disabled in Active Directory; ask your Exchange "
                        "administrator to unlock it, then authorize again."),
    ews.AuthenticationFailed: ("Exchange rejected the user name or password of the service account; check both "
                               "and authorize again."),
    ews.ServerUnreachable: ("Sundial could not reach the Exchange server at this address; check the address "
                            "and that the server is online and reachable from Sundial."),
    # a slow or silent server is not a wrong address: its own sentence says "did not answer within N s"
    ews.ServerTimedOut: "{own}",
    ews.TlsNotTrusted: ("The Exchange server's certificate is not trusted; upload your organisation's CA "
                        "certificate below, or give the server a publicly trusted certificate."),
    ews.PlainHttpRefused: PLAIN_HTTP_SENTENCE,
    ews.VersionNotAccepted: ("The Exchange server does not accept the selected version; choose the version "
                             "your server runs."),
    ews.ImpersonationDenied: ("The service account may not impersonate staff mailboxes; grant it the "
                              "ApplicationImpersonation role in Exchange, or turn impersonation off and give "
                              "it editor rights on each staff calendar."),
    ews.AccessDenied: ("The service account cannot open the calendar it was checked against; give it access "
                       "(editor rights on staff calendars) or turn impersonation on."),
    ews.MailboxNotFound: ("The service account has no Exchange mailbox of its own; give it a mailbox, or use an "
                          "account that has one."),
    ews.Throttled: "Exchange is busy and asked Sundial to wait; try Authorize again in a minute.",
    ews.ProtocolError: ("The server at this address did not answer like Exchange Web Services; the address "
                        "usually ends in /EWS/Exchange.asmx."),
    ews.TransientServerError: "Exchange had a temporary problem; try Authorize again in a minute.",
}

# Authorize failed: which form field to mark, and the short note under it.
FAILURE_FIELDS: dict[type, tuple[str, str]] = {
    ews.AuthenticationFailed: ("password", "Rejected by Exchange — type the password again."),
    ews.ServerUnreachable: ("server_url", "Nothing answered at this address."),
    ews.ServerTimedOut: ("server_url", "The server at this address did not answer in time."),
    ews.ProtocolError: ("server_url", "This address does not answer like Exchange Web Services."),
    ews.TlsNotTrusted: ("ca_cert", "Upload the CA certificate that signed the server's certificate."),
    ews.VersionNotAccepted: ("version", "This server does not accept this version."),
    ews.ImpersonationDenied: ("impersonation", "Exchange denied impersonation to this account."),
}

# A 401 looks the same for a wrong password and a locked AD account (EWS-FACTS; real servers and the
# simulator alike), so the sentence depends on what Sundial knows about the attempt.
AUTH_STORED_REJECTED = ("Exchange rejected the stored password, which worked before: it was changed in Active "
                        "Directory, or the account is locked. Enter the current password and authorize again.")
AUTH_PROBABLY_LOCKED = ("Exchange rejected the sign-in again: after several wrong passwords Active Directory locks "
                        "the account for a while. Ask your Exchange administrator to check and unlock the service "
                        "account before you try again — each further attempt extends the lockout.")
NO_STAFF_MAILBOX = ("Sundial could not open any staff calendar to check impersonation: no Exchange mailbox has the "
                    "address {addresses}. Make each staff member's email their mailbox's primary address.")
# Authorize opened a sample of staff calendars (S6): at least one reached is enough; the others are named.
REACHED = "Reached {n} of {m} staff calendars checked{sample}."
REACHED_SAMPLE = " (a sample of the {total} staff who take appointments)"
NOT_REACHED = "Not reached: {list} The User Accounts tab shows each of them."

# Authorize succeeded but the chosen version is not the server's own (S3's "newest version of its year").
VERSION_DIFFERS = ("The server reports {server}, but {chosen} is selected; choose {server} so Sundial uses "
                   "everything your server supports.")
VERSION_REJECTED = "The server reports {server} — choose {server}."

MISSING_PASSWORD = "Enter the service account's password; Sundial has none stored yet."
RETYPE_PASSWORD = "Type the password again: Sundial never keeps a password it has not authorized."

AUTHORIZED = "Connected to {server}. The first sync of {count} staff calendar{s} has started."
RESUMED = "Authorized again: syncing resumed for {count} staff calendar{s}."
REAUTHORIZED = "Authorized again with the new settings: {count} staff calendar{s} are being re-checked."
AUTHORIZED_NONE = "Connected to {server}. No staff member takes appointments yet, so there is nothing to sync."
QUEUE_DOWN_ROW = "The background job queue was unreachable when this sync was requested; use Re-sync."

# Autodiscover notes under the server address (S4).
AUTODISCOVER_NOTES = {
    "autodiscover": "Detected via Autodiscover.",
    "guessed": "Guessed from your domain (Autodiscover did not answer); check it with your Exchange administrator.",
    "manual": "",
}

# MailboxState.state → (badge label, badge class). Order = MAILBOX_STATES.
STATE_BADGES: dict[str, tuple[str, str]] = {
    "not_connected": ("Not connected", "badge-muted"),
    "mailbox_not_found": ("Mailbox not found", "badge-danger"),
    "mailbox_unavailable": ("Mailbox unavailable", "badge-warn"),
    "no_access": ("No access", "badge-danger"),
    "initializing": ("Initializing", "badge-info"),
    "synced": ("Synced", "badge-ok"),
    "throttled": ("Throttled", "badge-warn"),
    "error": ("Error", "badge-danger"),
    "paused": ("Paused", "badge-warn"),
    "excluded": ("Excluded", "badge-muted"),
    "needs_confirmation": ("Needs confirmation", "badge-warn"),
}

# Human labels of the audited settings (the audit log lists names, never values of secrets).
FIELD_LABELS: dict[str, str] = {
    "auth_type": "authentication type",
    "username": "user name",
    "kerberos_realm": "Kerberos realm",
    "password": "password",
    "version": "Exchange version",
    "server_url": "server address",
    "allow_http": "allow plain http",
    "display_name": "display name",
    "impersonation": "impersonation",
    "show_titles": "display event titles",
    "block_busy": "Busy blocks time",
    "block_oof": "Out of office blocks time",
    "block_tentative": "Tentative blocks time",
    "ca_cert_pem": "CA certificate",
    "sync_interval_minutes": "sync interval",
}

AUDIT_ACTIONS: dict[str, str] = {
    "settings_changed": "Changed settings",
    "authorized": "Authorized",
    "authorize_failed": "Authorize failed",
    "authorize_rejected": "Authorize failed (sign-in rejected)",
    "disconnected": "Disconnected",
    "resync": "Re-synced",
    "excluded": "Excluded",
    "included": "Included",
    "confirmed_empty": "Confirmed empty calendar",
    "keys_rotated": "Rotated encryption key",
    "paused_automatically": "Paused (Exchange rejected the password)",
    "exchange_updated": "Exchange was updated (daily build check)",
}


def authorize_sentence(error: Exception) -> str:
    for cls in type(error).__mro__:
        if cls in AUTHORIZE_SENTENCES:
            return AUTHORIZE_SENTENCES[cls].replace("{own}", getattr(error, "sentence", ""))
    return getattr(error, "sentence", None) or "Exchange answered with an error Sundial does not recognise."


def failure_field(error: Exception) -> tuple[str, str] | None:
    for cls in type(error).__mro__:
        if cls in FAILURE_FIELDS:
            return FAILURE_FIELDS[cls]
    return None
