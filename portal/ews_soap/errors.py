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

    # The User Accounts state a mailbox takes when this error stops its sync (S8); None: the generic "error".
    mailbox_state: str | None = None

    def __init__(self, detail: str | None = None, *, code: str | None = None, sentence: str | None = None,
                 operation: str | None = None):
        self.code = code or self.default_code
        self.detail = detail
        self.operation = operation  # the EWS operation that got this answer, when known ("GetFolder")
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


class PasswordExpired(AuthenticationFailed):
    sentence = ("The service account's password has expired (or must be changed at next sign-in); set a new one in "
                "Active Directory, then enter it here and authorize again.")
    default_code = "ErrorPasswordExpired"


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
    mailbox_state = "no_access"


class AccessDenied(EwsError):
    sentence = "The service account has no access to this mailbox's calendar; give it editor rights on the calendar."
    default_code = "ErrorAccessDenied"
    mailbox_state = "no_access"


class MailboxNotFound(EwsError):
    sentence = "No Exchange mailbox has this email address."
    default_code = "ErrorNonExistentMailbox"
    mailbox_state = "mailbox_not_found"

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


class MailboxUnavailable(TransientServerError):
    """One mailbox cannot be opened right now (moving to another database, database failing over, store down)."""

    sentence = ("This staff member's mailbox cannot be opened right now (it is being moved, or its database is "
                "offline); Sundial tries again later.")
    default_code = "ErrorMailboxStoreUnavailable"
    mailbox_state = "mailbox_unavailable"


class ProtocolError(EwsError):
    sentence = "The server at this address did not answer like Exchange Web Services; check the server address."
    default_code = "ProtocolError"


class RequestRejected(EwsError):
    """A ResponseCode that means Sundial sent something the server would not take (schema, property, id).

    Its sentence names the code and the operation (`template`), so an admin can report exactly what happened."""

    template = ("Exchange refused {req} as invalid ({code}); this is a Sundial problem, please "
                "report it with this code.")
    default_code = "ErrorInvalidRequest"
    _sentence: str | None = None

    @property
    def sentence(self) -> str:
        if self._sentence:
            return self._sentence
        from .codes import family_hint

        req = f"Sundial's {self.operation} request" if self.operation else "a request from Sundial"
        return self.template.format(req=req, code=self.code, hint=family_hint(self.code))

    @sentence.setter
    def sentence(self, value: str) -> None:
        self._sentence = value


class ItemRejected(RequestRejected):
    """Exchange would not save or read one calendar item as sent (its values, not the request's shape)."""

    template = "Exchange refused one calendar item in {req} ({code}: {hint})."
    default_code = "ErrorCalendarInvalidPropertyValue"


class UnhandledResponse(RequestRejected):
    """A ResponseCode without a class of its own: the sentence names the code and the operation that got it,
    so nothing a server answers ends as an anonymous "Sundial problem"."""

    template = "Exchange answered {code} to {req} ({hint})."
    default_code = "ErrorUnknown"


# The ResponseCode tables live in codes.py (imported last: they name the classes above).
from .codes import CODE_SENTENCES, CODE_TABLE, DEFAULT_BACKOFF_SECONDS, error_for_code, is_known  # noqa: E402

__all__ = [name for name, obj in list(globals().items()) if isinstance(obj, type) and issubclass(obj, EwsError)] + [
    "CODE_TABLE", "CODE_SENTENCES", "error_for_code", "is_known", "DEFAULT_BACKOFF_SECONDS"]
