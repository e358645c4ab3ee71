"""EWS ResponseCode → typed error (ARCHITECTURE habit 6), covering Microsoft's whole `ResponseCodeType`.

Codes with a class of their own are listed in CODE_TABLE; every other code becomes UnhandledResponse, whose
sentence names the code, the operation and what the code's family means (FAMILY_HINTS). Sources:
MSDOC web-service-reference/responsecode (meaning of each code), EWS-FACTS.md §1-9, and the field report of an
independent EWS server that answers ErrorCannotFindUser for a mailbox that does not exist (where Microsoft's
servers answer ErrorNonExistentMailbox).
"""

from __future__ import annotations

from . import errors as e

CODE_TABLE: dict[str, type[e.EwsError]] = {
    # authentication / account (responsecode.md)
    "ErrorAccountDisabled": e.AccountLocked,
    "ErrorPasswordExpired": e.PasswordExpired,
    "ErrorPasswordChangeRequired": e.PasswordExpired,
    "ErrorAccessDenied": e.AccessDenied,
    "ErrorNotDelegate": e.AccessDenied,
    "ErrorCreateItemAccessDenied": e.AccessDenied,
    "ErrorAccessDeniedDueToCompliance": e.AccessDenied,
    "ErrorFolderNotFound": e.AccessDenied,  # delegate without folder visibility answers this (responsecode.md)
    "ErrorSubscriptionDelegateAccessNotSupported": e.AccessDenied,  # EWS-FACTS §6: needs impersonation
    "ErrorSubscriptionAccessDenied": e.SubscriptionLost,
    # impersonation (EWS-FACTS §6)
    "ErrorImpersonateUserDenied": e.ImpersonationDenied,
    "ErrorImpersonationDenied": e.ImpersonationDenied,
    "ErrorImpersonationFailed": e.ImpersonationDenied,
    # mailbox resolution (EWS-FACTS §5, §6); ErrorCannotFindUser: what some servers answer for no mailbox
    "ErrorNonExistentMailbox": e.MailboxNotFound,
    "ErrorCannotFindUser": e.MailboxNotFound,
    "ErrorNameResolutionNoMailbox": e.MailboxNotFound,
    "ErrorNameResolutionNoResults": e.MailboxNotFound,
    "ErrorInvalidSmtpAddress": e.MailboxNotFound,
    "ErrorMailRecipientNotFound": e.MailboxNotFound,
    "ErrorNonPrimarySmtpAddress": e.NotPrimaryAddress,
    # one mailbox cannot be opened right now (responsecode.md: move, store, failover, logon)
    "ErrorMailboxMoveInProgress": e.MailboxUnavailable,
    "ErrorMailboxStoreUnavailable": e.MailboxUnavailable,
    "ErrorMailboxFailover": e.MailboxUnavailable,
    "ErrorMailboxLogonFailed": e.MailboxUnavailable,
    # throttling (EWS-FACTS §7)
    "ErrorServerBusy": e.Throttled,
    "ErrorExceededConnectionCount": e.Throttled,
    "ErrorExceededSubscriptionCount": e.Throttled,
    "ErrorExceededFindCountLimit": e.Throttled,
    "ErrorTooManyObjectsOpened": e.Throttled,
    # items and change keys (EWS-FACTS §3)
    "ErrorItemNotFound": e.ItemNotFound,
    "ErrorCalendarOccurrenceIsDeletedFromRecurrence": e.ItemNotFound,
    "ErrorIrresolvableConflict": e.ChangeKeyConflict,
    "ErrorStaleObject": e.ChangeKeyConflict,
    "ErrorChangeKeyRequired": e.ChangeKeyConflict,
    "ErrorChangeKeyRequiredForWriteOperations": e.ChangeKeyConflict,
    "ErrorInvalidChangeKey": e.ChangeKeyConflict,
    # sync (EWS-FACTS §1)
    "ErrorInvalidSyncStateData": e.SyncStateInvalid,
    "ErrorSyncFolderNotFound": e.FolderNotFound,
    # notifications (EWS-FACTS §8)
    "ErrorInvalidSubscription": e.SubscriptionLost,
    "ErrorSubscriptionNotFound": e.SubscriptionLost,
    "ErrorSubscriptionUnsubscribed": e.SubscriptionLost,
    "ErrorExpiredSubscription": e.SubscriptionLost,
    "ErrorInvalidWatermark": e.SubscriptionLost,
    "ErrorMissedNotificationEvents": e.SubscriptionLost,
    "ErrorReadEventsFailed": e.SubscriptionLost,
    "ErrorProxyRequestNotAllowed": e.SubscriptionLost,
    # versions (EWS-FACTS §9)
    "ErrorInvalidServerVersion": e.VersionNotAccepted,
    "ErrorIncorrectSchemaVersion": e.VersionNotAccepted,
    "ErrorInvalidSchemaVersionForMailboxVersion": e.VersionNotAccepted,
    # transient: the server (or one it proxies to) failed, not the request
    "ErrorInternalServerError": e.TransientServerError,
    "ErrorInternalServerTransientError": e.TransientServerError,
    "ErrorConnectionFailed": e.TransientServerError,
    "ErrorTimeoutExpired": e.TransientServerError,
    "ErrorBatchProcessingStopped": e.TransientServerError,
    "ErrorADUnavailable": e.TransientServerError,
    "ErrorServiceUnavailable": e.TransientServerError,
    "ErrorInsufficientResources": e.TransientServerError,
    "ErrorNotEnoughMemory": e.TransientServerError,
    "ErrorProxyCallFailed": e.TransientServerError,
    "ErrorNoApplicableProxyCASServersAvailable": e.TransientServerError,
    "ErrorNoRespondingCASInDestinationSite": e.TransientServerError,
    # the request's shape (a Sundial problem, reported with its code)
    "ErrorSchemaValidation": e.RequestRejected,
    "ErrorInvalidRequest": e.RequestRejected,
    "ErrorInvalidPropertyRequest": e.RequestRejected,
    "ErrorInvalidIdMalformed": e.RequestRejected,
    # one calendar item's values
    "ErrorCalendarEndDateIsEarlierThanStartDate": e.ItemRejected,
    "ErrorCalendarDurationIsTooLong": e.ItemRejected,
    "ErrorCalendarInvalidPropertyValue": e.ItemRejected,
    "ErrorCalendarInvalidTimeZone": e.ItemRejected,
    "ErrorOccurrenceCrossingBoundary": e.ItemRejected,
    "ErrorOccurrenceTimeSpanTooBig": e.ItemRejected,
    "ErrorItemCorrupt": e.ItemRejected,
    "ErrorQuotaExceeded": e.ItemRejected,
    "ErrorInvalidValueForProperty": e.ItemRejected,
    "ErrorPropertyValidationFailure": e.ItemRejected,
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
    "ErrorMailboxMoveInProgress": ("This staff member's mailbox is being moved to another database "
                                   "(ErrorMailboxMoveInProgress); Sundial tries again later."),
    "ErrorMailboxStoreUnavailable": ("This staff member's mailbox database is temporarily unavailable "
                                     "(ErrorMailboxStoreUnavailable); Sundial tries again later."),
    "ErrorCannotFindUser": "Exchange found no user or mailbox with this email address (ErrorCannotFindUser).",
    "ErrorQuotaExceeded": "The staff member's mailbox is full (ErrorQuotaExceeded); the item could not be saved.",
}

# What a family of codes (by name prefix, longest first) is about: completes UnhandledResponse's sentence.
FAMILY_HINTS: tuple[tuple[str, str], ...] = (
    ("ErrorCalendar", "Exchange would not accept this calendar item or request as sent"),
    ("ErrorInvalidId", "an item or folder id was not accepted"),
    ("ErrorInvalid", "a value in the request was not accepted"),
    ("ErrorMissing", "a value the server needs was missing"),
    ("ErrorUnsupported", "the server does not support this"),
    ("ErrorProxy", "a server between the Client Access server and the mailbox failed"),
    ("ErrorAD", "Active Directory could not answer"),
    ("ErrorMailbox", "the mailbox could not be used"),
    ("ErrorFolder", "the folder could not be used"),
    ("ErrorItem", "the item could not be used"),
    ("ErrorUnifiedGroup", "an Office 365 group feature, not used by Sundial"),
    ("ErrorUnifiedMessaging", "a voice-mail feature, not used by Sundial"),
    ("ErrorPublicFolder", "a public-folder feature, not used by Sundial"),
    ("ErrorTeamMailbox", "a site-mailbox feature, not used by Sundial"),
    ("Error", "Sundial has no specific handling for it; the request is tried again at the next sync"),
)

# When throttled without a BackOffMilliseconds value, wait this long (seconds).
DEFAULT_BACKOFF_SECONDS = 30.0


def family_hint(code: str) -> str:
    return next((hint for prefix, hint in FAMILY_HINTS if (code or "").startswith(prefix)), FAMILY_HINTS[-1][1])


def is_known(code: str | None) -> bool:
    return (code or "").strip() in CODE_TABLE


def error_for_code(code: str, message: str | None = None, *, operation: str | None = None, **kw) -> e.EwsError:
    """Build the typed error for an EWS ResponseCode (codes without a class → UnhandledResponse)."""
    code = (code or "").strip()
    cls = CODE_TABLE.get(code, e.UnhandledResponse)
    if cls is e.Throttled and kw.get("backoff_seconds") is None:
        kw["backoff_seconds"] = DEFAULT_BACKOFF_SECONDS
    if cls is not e.Throttled:
        kw.pop("backoff_seconds", None)
    if cls is not e.VersionNotAccepted:
        kw.pop("server_version", None)
    if not issubclass(cls, e.MailboxNotFound):
        kw.pop("address", None)
    if cls is not e.NotPrimaryAddress:
        kw.pop("primary", None)
    return cls(message, code=code or None, sentence=CODE_SENTENCES.get(code), operation=operation, **kw)
