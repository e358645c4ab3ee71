"""What a sync job may be asked to do. Every action names the SPEC rule behind it and a reason for the log."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..ews_soap.types import EventUpdate, NewEvent


@dataclass(frozen=True)
class LinkValues:
    """The bookkeeping to store on the link once an action is applied."""

    item_key: str
    item_id: str | None
    change_key: str | None
    content_hash: str | None
    master_item_id: str | None = None
    exchange_modified_at: datetime | None = None
    appointment_id: int | None = None


@dataclass(frozen=True)
class AbsenceFields:
    start: datetime
    end: datetime
    title: str
    notes: str
    is_private: bool
    is_all_day: bool
    free_busy: str


@dataclass(frozen=True)
class CreateAbsence:
    link: LinkValues
    fields: AbsenceFields
    rule: str = "C1"
    reason: str = "busy time created in Exchange"


@dataclass(frozen=True)
class UpdateAbsence:
    absence_id: int
    link: LinkValues
    fields: AbsenceFields
    rule: str = "U2"
    reason: str = "the event changed in Exchange"


@dataclass(frozen=True)
class RemoveAbsence:
    item_key: str
    absence_id: int | None
    rule: str = "D1"
    reason: str = "the event was removed in Exchange"
    keep_link: bool = False  # the item is still in Exchange (no longer imported): only the absence goes


@dataclass(frozen=True)
class MoveAppointment:
    """U2/U3: apply an Exchange-side time and/or notes change to a Sundial appointment (None = unchanged)."""

    appointment_id: int
    link: LinkValues
    start: datetime | None = None
    end: datetime | None = None
    notes: str | None = None
    rule: str = "U2"
    reason: str = "the appointment was moved in Exchange"


@dataclass(frozen=True)
class CancelAppointmentForStaff:
    appointment_id: int
    staff_id: int
    item_key: str
    rule: str = "D3"
    reason: str = "the appointment was removed from the staff member's calendar in Exchange"


@dataclass(frozen=True)
class WriteExchange:
    appointment_id: int
    event: NewEvent
    content_hash: str
    rule: str = "E1"
    reason: str = "booked in Sundial"


@dataclass(frozen=True)
class UpdateExchange:
    item_key: str
    appointment_id: int
    update: EventUpdate
    content_hash: str
    rule: str = "E2"
    reason: str = "changed in Sundial"


@dataclass(frozen=True)
class DeleteExchange:
    item_key: str | None
    item_id: str
    change_key: str | None
    appointment_id: int | None
    rule: str = "E2"
    reason: str = "cancelled in Sundial"


@dataclass(frozen=True)
class Notify:
    appointment_id: int
    kind: str  # changed_in_exchange | cancelled_in_exchange
    rule: str = "U5"


@dataclass(frozen=True)
class KeepLink:
    """Nothing to change on either side; record the item's current ChangeKey/hash."""

    link: LinkValues


@dataclass(frozen=True)
class DropLink:
    item_key: str


@dataclass(frozen=True)
class Skip:
    item_key: str | None
    rule: str | None
    reason: str
    subject: str | None = None


Action = (CreateAbsence | UpdateAbsence | RemoveAbsence | MoveAppointment | CancelAppointmentForStaff | WriteExchange
          | UpdateExchange | DeleteExchange | Notify | KeepLink | DropLink | Skip)
