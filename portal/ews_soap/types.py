"""Plain dataclasses that cross the portal/ews_soap boundary (docs/CONTRACTS.md).

Nothing here is a zeep object. Every datetime is timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # pragma: no cover
    from .errors import EwsError

AuthKind = Literal["auto", "ntlm", "basic", "negotiate"]
WsdlSource = Literal["sundial", "microsoft", "server"]


@dataclass(frozen=True)
class Credentials:
    """The service account. The password never appears in repr() (ARCHITECTURE habit 3)."""

    username: str
    password: str = field(repr=False)
    auth: AuthKind = "auto"
    # S10: Exchange rejected this very password before (the caller compared keyed fingerprints): no request
    # carrying it is sent at all, by anything — the client raises AuthenticationFailed instead.
    rejected: bool = False
    realm: str | None = None  # S12: optional Kerberos realm (or REALM@kdc-host[:port]); else from DNS

    def __repr__(self) -> str:  # explicit so no dataclass option can leak it
        return f"Credentials(username={self.username!r}, password='***', auth={self.auth!r}, rejected={self.rejected})"


@dataclass(frozen=True)
class ServerConfig:
    """How to reach one Exchange server (SPEC S2-S4)."""

    url: str
    credentials: Credentials
    version: str = "2016"  # a label of versions.VERSIONS: "2010", "2010_SP1", ..., "2019"
    impersonation: bool = False
    ca_bundle_pem: str | None = None  # admin-supplied internal CA (PEM text); verification is always on
    allow_http: bool = False  # S4: plain http only when the admin explicitly allows it
    wsdl: WsdlSource = "sundial"
    timeout: tuple[float, float] = (5, 60)  # (connect, read) seconds
    max_response_bytes: int = 20 * 1024 * 1024


# The stored Exchange settings (the Configuration tab's fields) a ServerConfig is made from.
SETTINGS_FIELDS = ("server_url", "username", "auth_type", "kerberos_realm", "version", "impersonation", "ca_cert_pem",
                   "allow_http", "wsdl_source")


def server_config_from(settings, password: str, timeout: tuple[float, float], rejected: bool = False) -> ServerConfig:
    """The one mapping from Sundial's Exchange settings (a dict with SETTINGS_FIELDS) to a ServerConfig."""
    return ServerConfig(
        url=settings["server_url"],
        credentials=Credentials(settings["username"], password, auth=settings["auth_type"] or "auto",
                                rejected=rejected, realm=settings.get("kerberos_realm") or None),
        version=settings["version"], impersonation=bool(settings["impersonation"]),
        ca_bundle_pem=settings.get("ca_cert_pem") or None, allow_http=bool(settings["allow_http"]),
        wsdl=settings.get("wsdl_source") or "sundial", timeout=tuple(timeout))


@dataclass(frozen=True)
class ServerVersion:
    """Numbers read from ServerVersionInfo (EWS-FACTS §9: parse numbers, not the Version string)."""

    major: int
    minor: int
    build: int = 0
    revision: int = 0
    schema: str | None = None  # the Version attribute as sent ("V2017_07_11", "Exchange2010_SP2", ...)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.build}.{self.revision}"


@dataclass(frozen=True)
class FolderInfo:
    folder_id: str
    change_key: str | None
    total_count: int | None = None
    display_name: str | None = None


@dataclass(frozen=True)
class ResolvedMailbox:
    primary_smtp: str
    display_name: str | None = None


@dataclass(frozen=True)
class ProbeResult:
    """Outcome of the Authorize probe (SPEC S6). probe() raises a typed EwsError on the first failing check."""

    server_version: str  # "15.1.2176.12"
    version_header: str  # what was sent: "Exchange2016"
    version_label: str  # what the admin chose: "2019"
    suggested_version: str | None = None  # a label, when the server's real version differs from the chosen one
    calendar: FolderInfo | None = None
    impersonated: str | None = None  # the mailbox whose calendar was reached by impersonation
    auth_used: str | None = None  # "ntlm" | "basic" | "kerberos" (the mechanism that signed in, S12)
    checks: tuple[str, ...] = ()  # checks passed, in order ("reach", "tls", "credentials", ...)
    tls_end_point: str | None = None  # S11: hex tls-server-end-point hash of the certificate Sundial saw
    build_name: str | None = None  # S13: "Exchange Server SE RTM", "Exchange 2019 CU14", ...
    build_supported: bool | None = None  # S13: Microsoft still supports this build (versions.BUILD_NAMES)
    staff_checked: tuple[str, ...] = ()  # the sample of staff mailboxes whose calendar was opened (S6, I1)
    staff_reached: tuple[str, ...] = ()
    # (address, ResponseCode, sentence, User Accounts state) of each sampled mailbox not reached
    staff_failed: tuple[tuple[str, str, str, str | None], ...] = ()


@dataclass(frozen=True)
class ModifiedOccurrence:
    """One entry of a master's ModifiedOccurrences (t:OccurrenceInfoType): an occurrence moved or edited."""

    original_start: datetime
    start: datetime
    end: datetime
    item_id: str | None = None
    change_key: str | None = None


@dataclass(frozen=True)
class SeriesPattern:
    """A recurring master's t:Recurrence, ModifiedOccurrences, DeletedOccurrences and StartTimeZone, read with
    GetItem so Sundial can expand a series the server did not (SPEC U6). Names follow RecurrenceType."""

    pattern: str  # DailyRecurrence, WeeklyRecurrence, Absolute/RelativeMonthlyRecurrence, Absolute/RelativeYearly…
    interval: int = 1
    days_of_week: tuple[str, ...] = ()  # Monday … Sunday, or Day / Weekday / WeekendDay (relative patterns)
    day_of_week_index: str | None = None  # First, Second, Third, Fourth, Last
    day_of_month: int | None = None
    month: str | None = None  # January … December
    first_day_of_week: str | None = None
    range: str = "NoEndRecurrence"  # NoEndRecurrence | EndDateRecurrence | NumberedRecurrence
    start_date: date | None = None
    end_date: date | None = None
    count: int | None = None
    time_zone: str | None = None  # IANA name of the series' StartTimeZone (None: unknown → UTC)
    modified: tuple[ModifiedOccurrence, ...] = ()
    deleted: tuple[datetime, ...] = ()  # original starts of deleted occurrences


@dataclass
class CalendarEvent:
    item_id: str
    change_key: str | None = None
    subject: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    is_all_day: bool = False
    free_busy: str = "Busy"  # Busy, Free, Tentative, OOF, WorkingElsewhere, NoData
    sensitivity: str = "Normal"  # Normal, Personal, Private, Confidential
    location: str | None = None
    organizer: str | None = None  # the organizer's SMTP address (or name when no address is sent)
    body_text: str | None = None  # plain text; HTML converted
    categories: list[str] = field(default_factory=list)
    item_type: str = "Single"  # Single, Occurrence, Exception, RecurringMaster
    uid: str | None = None
    recurrence_id: datetime | None = None  # original start of an occurrence/exception
    master_item_id: str | None = None
    appointment_id: int | None = None  # Sundial's extended property (CONTRACTS.md)
    parent_folder_id: str | None = None
    last_modified: datetime | None = None
    attendees: list[tuple[str | None, str | None]] = field(default_factory=list)
    unreadable: str | None = None  # why a field could not be read (the item is then skipped, G11)
    series: SeriesPattern | None = None  # a recurring master's pattern, when read with the series shape


@dataclass
class NewEvent:
    subject: str
    start: datetime
    end: datetime
    location: str | None = None
    body_text: str | None = None
    attendees: list[tuple[str | None, str]] = field(default_factory=list)
    appointment_id: int | None = None
    free_busy: str = "Busy"
    time_zone: str | None = None  # IANA name; sent as StartTimeZone/EndTimeZone (Windows id)
    is_all_day: bool = False


@dataclass
class EventUpdate:
    """Fields left as None are not touched (no SetItemField is sent for them)."""

    item_id: str
    change_key: str | None = None
    subject: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    location: str | None = None
    body_text: str | None = None
    attendees: list[tuple[str | None, str]] | None = None
    appointment_id: int | None = None
    free_busy: str | None = None
    time_zone: str | None = None


@dataclass(frozen=True)
class ItemRef:
    item_id: str
    change_key: str | None = None


@dataclass
class ItemResult:
    """Per-item outcome of a batch write: error is an EwsError instance, never raised."""

    item_id: str | None
    change_key: str | None = None
    error: EwsError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class ItemError:
    """Per-item failure inside a batched read (GetItem)."""

    item_id: str | None
    error: EwsError


@dataclass
class SyncChange:
    kind: str  # "create", "update", "delete", "read_flag"
    item_id: str
    change_key: str | None = None
    event: CalendarEvent | None = None


@dataclass
class SyncPage:
    changes: list[SyncChange]
    sync_state: str
    includes_last: bool


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    mailbox: str | None = None
    watermark: str | None = None  # pull only; streaming subscriptions carry none (EWS-FACTS §8)
    kind: str = "streaming"  # "streaming" | "pull"
    affinity_cookie: str | None = None  # X-BackEndOverrideCookie to replay (EWS-FACTS §6)


@dataclass(frozen=True)
class MailboxEvent:
    """One notification event (CreatedEvent, ModifiedEvent, DeletedEvent, MovedEvent, ...)."""

    kind: str  # "created", "modified", "deleted", "moved", "copied", "new_mail", "free_busy_changed", "status"
    watermark: str | None = None
    timestamp: datetime | None = None
    item_id: str | None = None
    change_key: str | None = None
    folder_id: str | None = None  # set instead of item_id when the event is about a folder
    parent_folder_id: str | None = None
    old_item_id: str | None = None
    old_parent_folder_id: str | None = None


@dataclass
class EventBatch:
    subscription_id: str
    events: list[MailboxEvent]
    watermark: str | None
    more_events: bool = False


@dataclass
class StreamItem:
    """One notification, status or error delivered on a GetStreamingEvents connection."""

    subscription_id: str | None = None
    events: list[MailboxEvent] = field(default_factory=list)
    connection_status: str | None = None  # "OK" | "Closed" when the server reports it
    error: EwsError | None = None  # e.g. SubscriptionLost for ErrorInvalidSubscription
    error_subscription_ids: list[str] = field(default_factory=list)
