"""Loading rows by id into the plain values portal/sync decides on."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam

from ..extensions import db
from ..models import Appointment, ExchangeIntegration, ExchangeLink, MailboxState, StaffMember, utcnow
from ..sync.plan import LinkState
from ..sync.rules import SyncSettings, window_start
from ..sync.shapes import AppointmentSide

# States in which a mailbox is not synced at all.
NOT_SYNCED = frozenset({"excluded", "mailbox_not_found", "needs_confirmation"})


@dataclass
class MailboxContext:
    staff: StaffMember
    ms: MailboxState
    integration: ExchangeIntegration
    ews: object = None  # the ExchangeSession this job talks through
    lock: object = None  # the MailboxLock this job holds (checked before every commit)
    now: datetime = field(default_factory=utcnow)
    pending_exports: set[int] = field(default_factory=set)  # appointments to re-export after commit
    pending_notify: list[tuple[int, str, tuple[int, ...] | None]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    pending_confirm: list = field(default_factory=list)  # G10: writes read back before the commit (confirm.py)

    @property
    def mailbox(self) -> str:
        return self.ms.primary_smtp or self.staff.email

    @property
    def settings(self) -> SyncSettings:
        ws = window_start(self.ms.initialized_on, self.staff.timezone) if self.ms.initialized_on else None
        return SyncSettings(blocking=self.integration.blocking_statuses(), show_titles=self.integration.show_titles,
                            window_start=ws)

    @property
    def horizon_end(self) -> datetime:
        return self.now + timedelta(days=int(current_app.config["SYNC_HORIZON_DAYS"]))

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n


def mailbox_state(staff_id: int) -> MailboxState:
    ms = db.session.get(MailboxState, staff_id)
    if ms is None:
        ms = MailboxState(staff_id=staff_id)
        db.session.add(ms)
        db.session.flush()
    return ms


def integration_ready() -> ExchangeIntegration | None:
    integ = ExchangeIntegration.get()
    return integ if integ is not None and integ.state == "connected" else None


def appointment_side(appt: Appointment | None, staff: StaffMember) -> AppointmentSide | None:
    if appt is None:
        return None
    return AppointmentSide(
        id=appt.id, status=appt.status, start=appt.start, end=appt.end, notes=appt.notes or "",
        service=appt.service.name if appt.service else "Appointment",
        location=(appt.location.address or appt.location.name) if appt.location else None,
        clients=tuple((c.name, c.email) for c in appt.clients),
        staff_ids=frozenset(s.id for s in appt.staff), time_zone=staff.timezone or "UTC")


def link_state(row: ExchangeLink | None) -> LinkState | None:
    if row is None:
        return None
    return LinkState(row.item_key, row.item_id, row.change_key, row.content_hash, row.appointment_id,
                     row.absence_id, row.master_item_id, row.exchange_modified_at)


# Built once (issue 15): building the select for every sync cost three times what running it did.
_LINKS = db.select(ExchangeLink).where(ExchangeLink.staff_id == bindparam("staff_id"))


def links_of(staff_id: int) -> dict[str, ExchangeLink]:
    rows = db.session.execute(_LINKS, {"staff_id": staff_id}).scalars()
    return {r.item_key: r for r in rows}

