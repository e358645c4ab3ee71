"""Carry out the actions portal/sync planned: rows in the database, items in Exchange, an activity row each.

Nothing here decides; every branch maps one action type to its effect. Fault points let tests kill a job
at the worst moments (after CreateItem, before the commit) to prove a retry never duplicates anything.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from ..booking.appointments import record_change
from ..ews_soap.errors import AuthenticationFailed, ChangeKeyConflict, EwsError, ItemNotFound, Throttled
from ..ews_soap.types import EventUpdate, ItemRef, NewEvent
from ..extensions import db
from ..models import Appointment, ExchangeLink, ExternalAbsence, StaffMember, SyncActivity, utcnow
from ..ops.metrics import exchange_to_sundial
from ..sync import actions as A
from .bulk import insert_absences, insert_activities, insert_links
from .confirm import Written
from .context import MailboxContext

FAULTS: dict[str, Callable[[], None]] = {}  # tests: {"after_create": raiser, "before_commit": raiser}


def fault_point(name: str) -> None:
    hook = FAULTS.get(name)
    if hook is not None:
        hook()


def raise_if_fatal(error: EwsError | None) -> None:
    """Per-item errors inside a 200 answer: throttling and credentials stop the job, the rest is logged."""
    if isinstance(error, Throttled | AuthenticationFailed):
        raise error


class Applier:
    def __init__(self, ctx: MailboxContext, links: dict[str, ExchangeLink]):
        # G2's measured delay (change time → applied) only means something for a change made after the previous
        # sync looked: an event imported by the first sync, a re-scan or the daily horizon extension is old, not late.
        self.ctx, self.links = ctx, links
        self.changes_since = ctx.ms.last_sync_at
        self._new_absences: list[tuple[ExchangeLink, ExternalAbsence]] = []
        self._bulk = False  # inside apply_all: new absences, their links and the log rows wait for flush()
        self._pending: dict[str, tuple[A.LinkValues, dict]] = {}
        self._logs: list[dict] = []

    def flush(self) -> None:
        """Write what apply_all gathered: one INSERT per table (G1: a statement per row was most of an import)."""
        if self._pending or self._logs:
            db.session.flush()  # deletes and updates first: a dropped link may be re-created under its key
        if self._pending:
            ids = insert_absences([fields for _, fields in self._pending.values()])
            now = utcnow()
            self.links.update(insert_links([
                {"staff_id": self.ctx.staff.id, "item_key": v.item_key, "item_id": v.item_id,
                 "change_key": v.change_key, "content_hash": v.content_hash, "master_item_id": v.master_item_id,
                 "exchange_modified_at": v.exchange_modified_at, "appointment_id": v.appointment_id,
                 "absence_id": absence_id, "synced_at": now}
                for (v, _), absence_id in zip(self._pending.values(), ids, strict=True)]))
            self._pending.clear()
        insert_activities(self._logs)
        self._logs = []
        if self._new_absences:
            db.session.flush()
            for row, absence in self._new_absences:
                row.absence_id = absence.id
            self._new_absences.clear()

    # ----- bookkeeping ------------------------------------------------------------------------------
    def log(self, action: str, rule: str | None, reason: str, subject: str | None = None,
            modified: datetime | None = None) -> None:
        # Exchange reports LastModifiedTime to the second: allow for the truncation.
        late = (modified is not None and self.changes_since is not None
                and modified >= self.changes_since - timedelta(seconds=2))
        delay = (utcnow() - modified).total_seconds() if late else None
        row = {"staff_id": self.ctx.staff.id, "at": utcnow(), "action": action, "rule": rule, "reason": reason,
               "subject": (subject or "")[:255] or None, "delay_seconds": delay}
        self._logs.append(row) if self._bulk else db.session.add(SyncActivity(**row))
        if delay is not None:
            self.ctx.ms.last_delay_seconds = max(delay, 0.0)
            exchange_to_sundial(delay)
        self.ctx.count(action)

    def store_link(self, v: A.LinkValues, **ids) -> ExchangeLink:
        if v.item_key in self._pending:
            self.flush()
        row = self.links.get(v.item_key)
        if row is None:
            row = ExchangeLink(staff_id=self.ctx.staff.id, item_key=v.item_key)
            db.session.add(row)
            self.links[v.item_key] = row
        row.item_id, row.change_key, row.content_hash = v.item_id, v.change_key, v.content_hash
        row.master_item_id = v.master_item_id
        row.exchange_modified_at = v.exchange_modified_at or row.exchange_modified_at
        row.appointment_id = v.appointment_id if v.appointment_id is not None else row.appointment_id
        for key, value in ids.items():
            setattr(row, key, value)
        row.synced_at = utcnow()
        return row

    def drop_link(self, key: str | None) -> None:
        if key in self._pending:
            self.flush()
        row = self.links.pop(key, None) if key else None
        if row is not None:
            db.session.delete(row)

    # ----- dispatch ---------------------------------------------------------------------------------
    def apply(self, actions: list, modified: datetime | None = None, subject: str | None = None) -> None:
        for act in actions:
            HANDLERS[type(act)](self, act, modified, subject)

    def apply_all(self, planned) -> None:
        self._bulk = True
        try:
            with db.session.no_autoflush:
                for p in planned:
                    self.apply(p.actions, p.modified, p.subject)
        finally:
            self._bulk = False
        self.flush()

    def _Skip(self, a: A.Skip, modified, subject):
        self.log("skipped", a.rule, a.reason, a.subject or subject)

    def _KeepLink(self, a: A.KeepLink, modified, subject):
        self.store_link(a.link)

    def _DropLink(self, a: A.DropLink, modified, subject):
        self.drop_link(a.item_key)

    def _CreateAbsence(self, a: A.CreateAbsence, modified, subject):
        f = a.fields
        values = {"staff_id": self.ctx.staff.id, "location_id": self.ctx.staff.primary_location_id,
                  "start": f.start, "end": f.end, "title": f.title, "notes": f.notes, "is_private": f.is_private,
                  "is_all_day": f.is_all_day, "free_busy": f.free_busy, "origin": "exchange"}
        if self._bulk and a.link.item_key not in self.links and a.link.item_key not in self._pending:
            self._pending[a.link.item_key] = (a.link, values)
        else:
            absence = ExternalAbsence(**values)
            db.session.add(absence)
            self._new_absences.append((self.store_link(a.link), absence))
        self.log("imported", a.rule, a.reason, subject, modified)

    def _UpdateAbsence(self, a: A.UpdateAbsence, modified, subject):
        absence = db.session.get(ExternalAbsence, a.absence_id)
        if absence is None:
            return self._CreateAbsence(A.CreateAbsence(a.link, a.fields, a.rule, a.reason), modified, subject)
        f = a.fields
        absence.start, absence.end, absence.title, absence.notes = f.start, f.end, f.title, f.notes
        absence.is_private, absence.is_all_day, absence.free_busy = f.is_private, f.is_all_day, f.free_busy
        self.store_link(a.link, absence_id=absence.id)
        self.log("updated", a.rule, a.reason, subject, modified)

    def _RemoveAbsence(self, a: A.RemoveAbsence, modified, subject):
        absence = db.session.get(ExternalAbsence, a.absence_id) if a.absence_id else None
        if absence is not None:
            subject = subject or absence.title or None  # a Delete change carries no subject: name what went
            db.session.delete(absence)
        if a.keep_link and a.item_key in self.links:
            self.links[a.item_key].absence_id = None
        else:
            self.drop_link(a.item_key)
        self.log("removed", a.rule, a.reason, subject, modified)

    def _MoveAppointment(self, a: A.MoveAppointment, modified, subject):
        appt = db.session.get(Appointment, a.appointment_id)
        if a.start is not None:
            appt.start, appt.end = a.start, a.end
            record_change(appt, "rescheduled", None, source="exchange")
        if a.notes is not None:
            appt.notes = a.notes
            record_change(appt, "edited", None, source="exchange")
        self.store_link(a.link, appointment_id=appt.id)
        self.ctx.pending_exports.add(appt.id)
        self.log("appointment_moved" if a.start else "notes_updated", a.rule, a.reason, subject, modified)

    def _CancelAppointmentForStaff(self, a: A.CancelAppointmentForStaff, modified, subject):
        appt = db.session.get(Appointment, a.appointment_id)
        staff = db.session.get(StaffMember, a.staff_id)
        if appt is None or staff not in appt.staff:
            return
        appt.staff = [s for s in appt.staff if s.id != staff.id]
        if not appt.staff:
            appt.status = "cancelled"
        record_change(appt, "cancelled" if appt.status == "cancelled" else "staff_removed", None, source="exchange")
        self.drop_link(a.item_key)
        self.ctx.pending_exports.add(appt.id)
        self.log("appointment_cancelled", a.rule, a.reason, subject, modified)

    def _Notify(self, a: A.Notify, modified, subject):
        kind = a.kind
        appt = db.session.get(Appointment, a.appointment_id)
        if appt is None:
            return
        staff = None
        if kind == "cancelled_in_exchange":  # D3: the removed staff member is told too, not only those left
            staff = list(appt.staff) + [self.ctx.staff]
            if appt.status == "booked":  # others still hold it: for clients it changed, it is not cancelled
                kind = "changed_in_exchange"
        self.ctx.pending_notify.append((appt.id, kind, tuple(s.id for s in staff) if staff else None))
        self.log("notified", a.rule, f"staff and clients told: {kind.replace('_', ' ')} (G6 switches apply)", subject)

    # ----- Exchange writes --------------------------------------------------------------------------
    def _WriteExchange(self, a: A.WriteExchange, modified, subject):
        [res] = self.ctx.ews.create_events(self.ctx.mailbox, [a.event])
        if res.error is not None:
            raise_if_fatal(res.error)
            return self.log("error", a.rule, f"Exchange refused the item: {res.error.sentence}", a.event.subject)
        fault_point("after_create")
        row = self.store_link(A.LinkValues(res.item_id, res.item_id, res.change_key, a.content_hash,
                                           appointment_id=a.appointment_id), appointment_id=a.appointment_id)
        self.ctx.ms.progress_exported += 1
        self.to_confirm(row, a.event, a.event.subject, a.rule, a.reason)

    def _UpdateExchange(self, a: A.UpdateExchange, modified, subject):
        up = a.update
        [res] = self.ctx.ews.update_events(self.ctx.mailbox, [up])
        if isinstance(res.error, ChangeKeyConflict):  # Sundial wins (E3): overwrite the newer version
            [res] = self.ctx.ews.update_events(self.ctx.mailbox, [_with(up, change_key=None)])
        if isinstance(res.error, ItemNotFound):  # deleted in Exchange meanwhile: Sundial's booking stands
            self.drop_link(a.item_key)
            return self._WriteExchange(A.WriteExchange(a.appointment_id, _as_new(up), a.content_hash, a.rule,
                                                       "re-created: the item was gone from Exchange"), None, None)
        if res.error is not None:
            raise_if_fatal(res.error)
            return self.log("error", a.rule, f"Exchange refused the update: {res.error.sentence}", up.subject)
        self.drop_link(a.item_key) if a.item_key != (res.item_id or up.item_id) else None
        row = self.store_link(A.LinkValues(res.item_id or up.item_id, res.item_id or up.item_id, res.change_key,
                                           a.content_hash, appointment_id=a.appointment_id),
                              appointment_id=a.appointment_id)
        self.to_confirm(row, up, up.subject, a.rule, a.reason)

    def to_confirm(self, row: ExchangeLink, written, subject, rule, reason) -> None:
        """G10: logged "exported" only once read back (confirm.py, at the commit of this burst)."""
        if written.start is None or written.end is None:
            return self.log("exported", rule, reason, subject)
        self.ctx.pending_confirm.append(Written(row, written.start, written.end, written.free_busy or "Busy",
                                                written.time_zone, subject, rule, reason))

    def _DeleteExchange(self, a: A.DeleteExchange, modified, subject):
        [res] = self.ctx.ews.delete_items(self.ctx.mailbox, [ItemRef(a.item_id)])
        if res.error is not None and not isinstance(res.error, ItemNotFound):
            raise_if_fatal(res.error)
            return self.log("error", a.rule, f"Exchange refused the deletion: {res.error.sentence}", subject)
        self.drop_link(a.item_key)
        self.log("deleted_in_exchange", a.rule, a.reason, subject)



# Action type → how it is applied: written out, so renaming an action cannot silently skip it.
HANDLERS = {
    A.Skip: Applier._Skip, A.KeepLink: Applier._KeepLink, A.DropLink: Applier._DropLink,
    A.CreateAbsence: Applier._CreateAbsence, A.UpdateAbsence: Applier._UpdateAbsence,
    A.RemoveAbsence: Applier._RemoveAbsence, A.MoveAppointment: Applier._MoveAppointment,
    A.CancelAppointmentForStaff: Applier._CancelAppointmentForStaff, A.Notify: Applier._Notify,
    A.WriteExchange: Applier._WriteExchange, A.UpdateExchange: Applier._UpdateExchange,
    A.DeleteExchange: Applier._DeleteExchange,
}

def _with(up: EventUpdate, **kw) -> EventUpdate:
    from dataclasses import replace

    return replace(up, **kw)


def _as_new(up: EventUpdate) -> NewEvent:
    return NewEvent(subject=up.subject or "", start=up.start, end=up.end, location=up.location,
                    body_text=up.body_text, attendees=up.attendees or [], appointment_id=up.appointment_id,
                    free_busy=up.free_busy or "Busy", time_zone=up.time_zone)
