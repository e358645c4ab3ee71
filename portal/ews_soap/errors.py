"""Typed EWS errors, named after what a person or a job must do (SPEC S6).

Every error has `.code` (the EWS ResponseCode, or a transport condition such as "HTTP401") and
`.sentence` (one plain sentence for the admin). ResponseCode → class is a table (ARCHITECTURE habit 6);
sources: MSDOC web-service-reference/responsecode, exchange-web-services/ews-throttling-in-exchange,
exchange-web-services/handling-notification-related-errors-in-ews-in-exchange (see ../shared/EWS-FACTS.md).
"""

from __future__ import annotations


class EwsError(Exception):
    """Base class. `detail` is technical text for logs; `sentence` is for the admin."""

    sentence = "Exchange answered with an error Sundial does not know how to handle."
    default_code = "Error"

    def __init__(self, detail: str | None = None, *, code: str | None = None, sentence: str | None = None):
        self.code = code or self.default_code
        self.detail = detail
        if sentence:
            self.sentence = sentence
        super().__init__(f"{self.code}: {detail or self.sentence}")

    def __eq__(self, other: object) -> bool:  # values inside ItemResult compare by content
        return type(self) is type(other) and (self.code, self.detail) == (other.code, other.detail)

    def __hash__(self) -> int:
        return hash((type(self), self.code, self.detail))


class AuthenticationFailed(EwsError):
    sentence = ("Exchange rejected the service account's user name or password (or the account is locked); "
                "re-enter them and authorize again.")
    default_code = "HTTP401"


class AccountLocked(AuthenticationFailed):
    sentence = ("The service account is locked or disabled in Active Directory; ask your Exchange administrator "
                "to unlock it, then authorize again.")
    default_code = "AccountLocked"


class ServerUnreachable(EwsError):
    sentence = "Sundial could not reach the Exchange server; check the server address and that it is online."
    default_code = "Unreachable"


class ServerTimedOut(ServerUnreachable):
    """Connected or not, nothing came back within the timeout: a slow or silent server, not a wrong address."""

    sentence = "The Exchange server did not answer in time; try again or check its load."
    default_code = "Timeout"

    def __init__(self, detail: str | None = None, *, seconds: float | None = None, **kw):
        self.seconds = seconds
        if seconds is not None and "sentence" not in kw:
            kw["sentence"] = f"The Exchange server did not answer within {seconds:g} s; try again or check its load."
        super().__init__(detail, **kw)


class TlsNotTrusted(EwsError):
    sentence = ("The Exchange server's certificate is not trusted; upload your organisation's CA certificate "
                "or fix the server's certificate.")
    default_code = "TlsNotTrusted"


class PlainHttpRefused(EwsError):
    sentence = "The server address must start with https:// unless plain http is explicitly allowed for a lab server."
    default_code = "PlainHttp"


class VersionNotAccepted(EwsError):
    sentence = "The Exchange server does not accept the selected Exchange version; choose the server's version."
    default_code = "ErrorInvalidServerVersion"

    def __init__(self, detail: str | None = None, *, server_version: str | None = None, **kw):
        self.server_version = server_version
        super().__init__(detail, **kw)


class ImpersonationDenied(EwsError):
    sentence = ("The service account is not allowed to impersonate this mailbox; grant it the "
                "ApplicationImpersonation role or turn impersonation off.")
    default_code = "ErrorImpersonateUserDenied"


class AccessDenied(EwsError):
    sentence = "The service account has no access to this mailbox's calendar; give it editor rights on the calendar."
    default_code = "ErrorAccessDenied"


class MailboxNotFound(EwsError):
    sentence = "No Exchange mailbox has this email address."
    default_code = "ErrorNonExistentMailbox"

    def __init__(self, detail: str | None = None, *, address: str | None = None, **kw):
        self.address = address
        super().__init__(detail, **kw)


class NotPrimaryAddress(MailboxNotFound):
    sentence = "This email address is an alias; the staff member's email must be the mailbox's primary address."
    default_code = "NotPrimaryAddress"

    def __init__(self, detail: str | None = None, *, address: str | None = None, primary: str | None = None, **kw):
        self.primary = primary
        super().__init__(detail, address=address, **kw)


class Throttled(EwsError):
    sentence = "Exchange asked Sundial to slow down; syncing resumes automatically after the requested pause."
    default_code = "ErrorServerBusy"

    def __init__(self, detail: str | None = None, *, backoff_seconds: float | None = None, **kw):
        self.backoff_seconds = backoff_seconds
        super().__init__(detail, **kw)


class ItemNotFound(EwsError):
    sentence = "The calendar item no longer exists in Exchange."
    default_code = "ErrorItemNotFound"


class ChangeKeyConflict(EwsError):
    sentence = "The calendar item changed in Exchange in the meantime; it will be re-read and written again."
    default_code = "ErrorIrresolvableConflict"


class SyncStateInvalid(EwsError):
    sentence = "Exchange no longer accepts the saved sync position; the calendar will be re-synchronised from scratch."
    default_code = "ErrorInvalidSyncStateData"


class FolderNotFound(SyncStateInvalid):
    sentence = "The calendar folder Sundial was syncing no longer exists; it will look up the primary calendar again."
    default_code = "ErrorSyncFolderNotFound"


class SubscriptionLost(EwsError):
    sentence = "Exchange dropped the change-notification subscription; Sundial will subscribe again and re-sync."
    default_code = "ErrorInvalidSubscription"


class TransientServerError(EwsError):
    sentence = "Exchange had a temporary internal problem; the request will be retried."
    default_code = "ErrorInternalServerError"


class ProtocolError(EwsError):
    sentence = "The server at this address did not answer like Exchange Web Services; check the server address."
    default_code = "ProtocolError"


class RequestRejected(EwsError):
    """A ResponseCode that means Sundial sent something the server would not take (schema, property, id)."""

    sentence = "Exchange rejected a request from Sundial; this is a Sundial problem, please report it."
    default_code = "ErrorInvalidRequest"


# ResponseCode → class. Codes not listed fall back to RequestRejected (see error_for_code).
CODE_TABLE: dict[str, type[EwsError]] = {
    # authentication / account (responsecode.md)
    "ErrorAccountDisabled": AccountLocked,
    "ErrorAccessDenied": AccessDenied,
    "ErrorFolderNotFound": AccessDenied,  # delegate without folder visibility answers this (responsecode.md)
    "ErrorSubscriptionDelegateAccessNotSupported": AccessDenied,  # EWS-FACTS §6: needs impersonation
    "ErrorSubscriptionAccessDenied": SubscriptionLost,
    # impersonation (EWS-FACTS §6)
    "ErrorImpersonateUserDenied": ImpersonationDenied,
    "ErrorImpersonationDenied": ImpersonationDenied,
    "ErrorImpersonationFailed": ImpersonationDenied,
    # mailbox resolution (EWS-FACTS §5, §6)
    "ErrorNonExistentMailbox": MailboxNotFound,
    "ErrorNameResolutionNoResults": MailboxNotFound,
    "ErrorInvalidSmtpAddress": MailboxNotFound,
    "ErrorMailRecipientNotFound": MailboxNotFound,
    # throttling (EWS-FACTS §7)
    "ErrorServerBusy": Throttled,
    "ErrorExceededConnectionCount": Throttled,
    "ErrorExceededSubscriptionCount": Throttled,
    "ErrorExceededFindCountLimit": Throttled,
    "ErrorTooManyObjectsOpened": Throttled,
    # items and change keys (EWS-FACTS §3)
    "ErrorItemNotFound": ItemNotFound,
    "ErrorCalendarOccurrenceIsDeletedFromRecurrence": ItemNotFound,
    "ErrorIrresolvableConflict": ChangeKeyConflict,
    "ErrorStaleObject": ChangeKeyConflict,
    "ErrorChangeKeyRequired": ChangeKeyConflict,
    "ErrorChangeKeyRequiredForWriteOperations": ChangeKeyConflict,
    "ErrorInvalidChangeKey": ChangeKeyConflict,
    # sync (EWS-FACTS §1)
    "ErrorInvalidSyncStateData": SyncStateInvalid,
    "ErrorSyncFolderNotFound": FolderNotFound,
    # notifications (EWS-FACTS §8)
    "ErrorInvalidSubscription": SubscriptionLost,
    "ErrorSubscriptionNotFound": SubscriptionLost,
    "ErrorExpiredSubscription": SubscriptionLost,
    "ErrorInvalidWatermark": SubscriptionLost,
    "ErrorMissedNotificationEvents": SubscriptionLost,
    "ErrorReadEventsFailed": SubscriptionLost,
    "ErrorProxyRequestNotAllowed": SubscriptionLost,
    # versions (EWS-FACTS §9)
    "ErrorInvalidServerVersion": VersionNotAccepted,
    "ErrorIncorrectSchemaVersion": VersionNotAccepted,
    # transient
    "ErrorInternalServerError": TransientServerError,
    "ErrorInternalServerTransientError": TransientServerError,
    "ErrorMailboxStoreUnavailable": TransientServerError,
    "ErrorMailboxMoveInProgress": TransientServerError,
    "ErrorConnectionFailed": TransientServerError,
    "ErrorTimeoutExpired": TransientServerError,
    "ErrorBatchProcessingStopped": TransientServerError,
}

# Codes whose own wording is clearer than their class's sentence.
CODE_SENTENCES: dict[str, str] = {
    "ErrorSubscriptionDelegateAccessNotSupported":
        "Exchange does not send change notifications through delegate access; turn impersonation on.",
    "ErrorImpersonationDenied":
        "This Exchange server does not allow impersonation through it (ms-Exch-EPI-Impersonation).",
    "ErrorFolderNotFound": ("Exchange did not find the calendar folder, or does not show it to the service account; "
                            "check that the mailbox exists and its calendar permissions, then try again."),
    "ErrorExceededFindCountLimit": "Exchange refused to return that many items at once; Sundial will ask for fewer.",
    "ErrorMailboxStoreUnavailable": "The mailbox database is temporarily unavailable; the request will be retried.",
}

# When throttled without a BackOffMilliseconds value, wait this long (seconds).
DEFAULT_BACKOFF_SECONDS = 30.0


def error_for_code(code: str, message: str | None = None, **kw) -> EwsError:
    """Build the typed error for an EWS ResponseCode (unknown codes → RequestRejected)."""
    code = (code or "").strip()
    cls = CODE_TABLE.get(code, RequestRejected)
    if cls is Throttled and kw.get("backoff_seconds") is None:
        kw["backoff_seconds"] = DEFAULT_BACKOFF_SECONDS
    if cls is not Throttled:
        kw.pop("backoff_seconds", None)
    if cls is not VersionNotAccepted:
        kw.pop("server_version", None)
    if not issubclass(cls, MailboxNotFound):
        kw.pop("address", None)
    return cls(message, code=code or None, sentence=CODE_SENTENCES.get(code), **kw)


__all__ = [name for name, obj in list(globals().items()) if isinstance(obj, type) and issubclass(obj, EwsError)] + [
    "CODE_TABLE", "CODE_SENTENCES", "error_for_code", "DEFAULT_BACKOFF_SECONDS"]
