"""The Exchange integration's own tables: configuration, per-mailbox state, item links, logs.

Owned by the Exchange settings and sync work; portal views only read them.
"""
from __future__ import annotations

from enum import StrEnum

from ..extensions import db
from .base import UTCDateTime, utcnow


class MailboxStatus(StrEnum):
    """MailboxState.state, in the order the User Accounts tab counts them (S8). Only portal/engine/record.py
    moves a mailbox from one to another. Members are strings, so rows store and compare them as text."""

    NOT_CONNECTED = "not_connected"
    MAILBOX_NOT_FOUND = "mailbox_not_found"
    MAILBOX_UNAVAILABLE = "mailbox_unavailable"  # moving, or its database is down (retried with back-off)
    NO_ACCESS = "no_access"  # impersonation or delegate rights missing for this one mailbox
    INITIALIZING = "initializing"
    SYNCED = "synced"
    THROTTLED = "throttled"
    ERROR = "error"
    PAUSED = "paused"
    EXCLUDED = "excluded"
    NEEDS_CONFIRMATION = "needs_confirmation"


MAILBOX_STATES = tuple(MailboxStatus)


class ExchangeIntegration(db.Model):
    """The single Exchange connection (row id 1). The password is stored encrypted (S5)."""

    __tablename__ = "exchange_integration"
    id = db.Column(db.Integer, primary_key=True)
    auth_type = db.Column(db.String(10), nullable=False, default="auto")  # auto (Basic/NTLM) | ntlm | basic
    username = db.Column(db.String(254), nullable=False, default="")
    password_encrypted = db.Column(db.Text, nullable=True)
    version = db.Column(db.String(10), nullable=False, default="2016")  # 2010 … 2019 (S3)
    server_url = db.Column(db.String(500), nullable=False, default="")
    server_url_source = db.Column(db.String(12), nullable=False, default="manual")  # autodiscover|guessed|manual
    allow_http = db.Column(db.Boolean, nullable=False, default=False)
    display_name = db.Column(db.String(120), nullable=False, default="Microsoft Exchange")
    impersonation = db.Column(db.Boolean, nullable=False, default=True)
    show_titles = db.Column(db.Boolean, nullable=False, default=False)
    block_busy = db.Column(db.Boolean, nullable=False, default=True)
    block_oof = db.Column(db.Boolean, nullable=False, default=True)
    block_tentative = db.Column(db.Boolean, nullable=False, default=True)
    ca_cert_pem = db.Column(db.Text, nullable=True)
    wsdl_source = db.Column(db.String(10), nullable=False, default="sundial")  # sundial | server
    sync_interval_minutes = db.Column(db.Integer, nullable=False, default=5)
    # disconnected | connected | paused (credentials rejected, G4)
    state = db.Column(db.String(14), nullable=False, default="disconnected")
    paused_reason = db.Column(db.Text, nullable=True)
    server_version_reported = db.Column(db.String(40), nullable=True)
    authorized_by_id = db.Column(db.ForeignKey("users.id"), nullable=True)
    authorized_at = db.Column(UTCDateTime, nullable=True)
    updated_at = db.Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
    # S10: keyed fingerprint (crypto.fingerprint) of the last password Exchange rejected — never the password
    rejected_password_fp = db.Column(db.String(64), nullable=True)
    rejected_at = db.Column(UTCDateTime, nullable=True)
    kerberos_realm = db.Column(db.String(255), nullable=True)  # S12: optional REALM or REALM@kdc-host[:port]
    signed_in_with = db.Column(db.String(20), nullable=True)  # S12: the mechanism the last Authorize used
    build_checked_at = db.Column(UTCDateTime, nullable=True)  # S13: the daily re-check of the server's build
    tls_end_point = db.Column(db.String(128), nullable=True)  # S11: certificate hash seen at the last Authorize

    authorized_by = db.relationship("User")

    def __repr__(self) -> str:  # never shows the password (S5)
        return f"<ExchangeIntegration {self.username} {self.server_url} {self.state} password=***>"

    @classmethod
    def get(cls) -> ExchangeIntegration | None:
        return db.session.get(cls, 1)

    def blocking_statuses(self) -> frozenset[str]:
        wanted = {"Busy": self.block_busy, "OOF": self.block_oof, "Tentative": self.block_tentative}
        return frozenset(k for k, v in wanted.items() if v)


class MailboxState(db.Model):
    """Per staff member: where their mailbox stands (S8) and the failure state (habit 5)."""

    __tablename__ = "mailbox_states"
    staff_id = db.Column(db.ForeignKey("staff_members.id", ondelete="CASCADE"), primary_key=True)
    state = db.Column(db.String(20), nullable=False, default="not_connected")
    excluded = db.Column(db.Boolean, nullable=False, default=False)
    tried_address = db.Column(db.String(254), nullable=True)
    primary_smtp = db.Column(db.String(254), nullable=True)
    calendar_folder_id = db.Column(db.Text, nullable=True)
    sync_state = db.Column(db.Text, nullable=True)  # opaque SyncFolderItems state
    initialized_on = db.Column(db.Date, nullable=True)  # I4 window starts one day before
    initialized_email = db.Column(db.String(254), nullable=True)  # G7: an email change re-initializes
    progress_imported = db.Column(db.Integer, nullable=False, default=0)
    progress_exported = db.Column(db.Integer, nullable=False, default=0)
    progress_total = db.Column(db.Integer, nullable=True)
    last_sync_at = db.Column(UTCDateTime, nullable=True)
    last_delay_seconds = db.Column(db.Float, nullable=True)
    throttled_until = db.Column(UTCDateTime, nullable=True)
    last_error = db.Column(db.Text, nullable=True)
    failures = db.Column(db.Integer, nullable=False, default=0)
    next_attempt_at = db.Column(UTCDateTime, nullable=True)
    # Set when an admin confirms that a calendar which suddenly came back empty really is empty (habit 8):
    # the sync may then apply the removals it held back (state needs_confirmation).
    confirmed_empty_at = db.Column(UTCDateTime, nullable=True)
    # Server affinity for notification groups: "ExternalEwsUrl|GroupingInformation" from SOAP Autodiscover
    # (EWS-FACTS §6); NULL until asked or when the server does not say. Asked again after a day.
    affinity = db.Column(db.String(600), nullable=True)
    affinity_checked_at = db.Column(UTCDateTime, nullable=True)
    # Why this mailbox's notifications left the shared streaming connection (the listener's degradation ladder:
    # split, single-mailbox, pull, polling), shown on the User Accounts tab (SPEC G9); NULL when they did not.
    listener_note = db.Column(db.Text, nullable=True)
    updated_at = db.Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    staff = db.relationship("StaffMember", backref=db.backref("mailbox_state", uselist=False))


class ExchangeLink(db.Model):
    """One Exchange calendar item (or occurrence) linked to one Sundial record, with the last synced state.

    The three-way merge compares each side with `content_hash`/`change_key` recorded here.
    """

    __tablename__ = "exchange_links"
    __table_args__ = (db.UniqueConstraint("staff_id", "item_key", name="uq_exchange_links_staff_item"),)
    id = db.Column(db.Integer, primary_key=True)
    staff_id = db.Column(db.ForeignKey("staff_members.id", ondelete="CASCADE"), nullable=False, index=True)
    # Stable key of the Exchange side: the ItemId, or "<master ItemId>|<RecurrenceId ISO>" for an occurrence.
    item_key = db.Column(db.String(600), nullable=False)
    item_id = db.Column(db.Text, nullable=True)
    change_key = db.Column(db.Text, nullable=True)
    master_item_id = db.Column(db.Text, nullable=True, index=True)
    appointment_id = db.Column(db.ForeignKey("appointments.id", ondelete="SET NULL"), nullable=True, index=True)
    absence_id = db.Column(db.ForeignKey("external_absences.id", ondelete="SET NULL"), nullable=True)
    content_hash = db.Column(db.String(64), nullable=True)  # hash of the synced content, either side
    exchange_modified_at = db.Column(UTCDateTime, nullable=True)
    synced_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    # G10: set when Exchange answered a write of this item with success but, read back and written once more,
    # still did not hold its time or busy status; cleared by the next write that is confirmed.
    unconfirmed_at = db.Column(UTCDateTime, nullable=True)


class SyncActivity(db.Model):
    """Every decision a sync made for a staff member, with its reason (the "why" log)."""

    __tablename__ = "sync_activities"
    id = db.Column(db.Integer, primary_key=True)
    staff_id = db.Column(db.ForeignKey("staff_members.id", ondelete="CASCADE"), nullable=True, index=True)
    at = db.Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    action = db.Column(db.String(40), nullable=False)  # imported, updated, removed, exported, skipped, error …
    rule = db.Column(db.String(8), nullable=True)  # SPEC rule id behind the decision, e.g. I3
    subject = db.Column(db.String(255), nullable=True)
    reason = db.Column(db.Text, nullable=False, default="")
    delay_seconds = db.Column(db.Float, nullable=True)  # Exchange change time → applied in Sundial (G2)


class AuditEvent(db.Model):
    """Who did what to the integration and when (never the password itself)."""

    __tablename__ = "audit_events"
    id = db.Column(db.Integer, primary_key=True)
    at = db.Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    user_id = db.Column(db.ForeignKey("users.id"), nullable=True)
    action = db.Column(db.String(40), nullable=False)
    detail = db.Column(db.Text, nullable=False, default="")

    user = db.relationship("User")
