"""Three-way merge: stored link state + Sundial side + Exchange side → actions.

An Exchange item counts as changed only when its ChangeKey moved *and* its content differs from the
content recorded at the last sync (our own writes come back with the ChangeKey we stored, so they are
not echoed). Sundial wins when both sides changed (E3). The status-based approach follows vdirsyncer's
"status" database: the link row is the status of one item pair.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..ews_soap.types import CalendarEvent, EventUpdate, NewEvent
from .actions import (
    AbsenceFields,
    Action,
    CancelAppointmentForStaff,
    CreateAbsence,
    DeleteExchange,
    DropLink,
    KeepLink,
    LinkValues,
    MoveAppointment,
    Notify,
    RemoveAbsence,
    Skip,
    UpdateAbsence,
    UpdateExchange,
    WriteExchange,
)
from .notes import build_body, normalise, notes_above_marker
from .rules import SyncSettings, import_verdict, in_primary_calendar, is_hidden, shown_title
from .shapes import AppointmentSide, absence_hash, event_shared_hash, iso_utc, item_key, series_key, split_hash


@dataclass(frozen=True)
class LinkState:
    item_key: str
    item_id: str | None
    change_key: str | None
    content_hash: str | None
    appointment_id: int | None = None
    absence_id: int | None = None
    master_item_id: str | None = None
    exchange_modified_at: datetime | None = None


def _link_values(event: CalendarEvent, content_hash: str, appointment_id: int | None = None) -> LinkValues:
    master = series_key(event) if event.item_type in ("Occurrence", "Exception") else None
    return LinkValues(item_key(event), event.item_id, event.change_key, content_hash, master,
                      event.last_modified, appointment_id)


def absence_fields(event: CalendarEvent, settings: SyncSettings) -> AbsenceFields:
    hidden = is_hidden(event)
    notes = "" if hidden else (notes_above_marker(event.body_text) or "")
    return AbsenceFields(event.start, event.end, shown_title(event, settings), notes, hidden, event.is_all_day,
                         event.free_busy or "Busy")


def new_event(appt: AppointmentSide) -> NewEvent:
    """E1/M1-M4: subject = service, location = address, clients as attendees, marker body, Busy, id property."""
    attendees = [(n, m) for n, m in appt.clients if m]
    return NewEvent(subject=appt.service, start=appt.start, end=appt.end, location=appt.location,
                    body_text=build_body(appt.notes, appt.details()), attendees=attendees,
                    appointment_id=appt.id, free_busy="Busy", time_zone=appt.time_zone)


def event_update(appt: AppointmentSide, item_id: str, change_key: str | None) -> EventUpdate:
    ev = new_event(appt)
    return EventUpdate(item_id=item_id, change_key=change_key, subject=ev.subject, start=ev.start, end=ev.end,
                       location=ev.location, body_text=ev.body_text, attendees=ev.attendees,
                       appointment_id=appt.id, free_busy="Busy", time_zone=ev.time_zone)


def wanted_in_exchange(appt: AppointmentSide | None, staff_id: int) -> bool:
    return appt is not None and appt.status == "booked" and staff_id in appt.staff_ids


def plan_exchange_item(event: CalendarEvent, link: LinkState | None, appt: AppointmentSide | None, staff_id: int,
                       settings: SyncSettings, primary_folder_id: str | None = None) -> list[Action]:
    """One Exchange item seen (created or updated) in the staff member's calendar."""
    if not in_primary_calendar(event, primary_folder_id):
        return plan_gone(link, appt, staff_id, "D2", "it was moved out of the primary calendar") if link else [
            Skip(item_key(event), "I2", "it is not in the staff member's primary calendar", event.subject)]
    appointment_id = event.appointment_id or (link.appointment_id if link else None)
    if appointment_id is not None:
        return _plan_appointment_item(event, link, appt, appointment_id, staff_id)
    return _plan_absence_item(event, link, settings, primary_folder_id)


def _plan_absence_item(event, link, settings, primary_folder_id) -> list[Action]:
    key = item_key(event)
    verdict = import_verdict(event, settings, primary_folder_id)
    if not verdict.crosses:
        if link and link.absence_id:
            rule = "U1" if verdict.rule == "I3" else verdict.rule
            # The item still exists in Exchange (not busy, or out of the window): its link stays for next time.
            return [RemoveAbsence(key, link.absence_id, rule, f"no longer imported: {verdict.reason}",
                                  keep_link=verdict.rule in ("I3", "I4"))]
        return [Skip(key, verdict.rule, verdict.reason, event.subject)]
    digest = absence_hash(event, settings)
    values = _link_values(event, digest)
    if link is None or link.absence_id is None:
        reason = "busy again in Exchange" if link else "busy time created in Exchange"
        if is_hidden(event):  # C5: say why the absence shows no title (the "why" log)
            reason += f"; {(event.sensitivity or '').lower()}, so shown as Busy without its title or notes"
        return [CreateAbsence(values, absence_fields(event, settings), "U1" if link else "C1", reason)]
    if event.change_key != link.change_key and digest != link.content_hash:
        return [UpdateAbsence(link.absence_id, values, absence_fields(event, settings), "U2",
                              "the event's time, title, notes or status changed in Exchange")]
    return [KeepLink(values)]


def _plan_appointment_item(event, link, appt, appointment_id, staff_id) -> list[Action]:
    key = item_key(event)
    if not wanted_in_exchange(appt, staff_id):
        why = "the appointment no longer exists in Sundial" if appt is None else (
            "the appointment is cancelled in Sundial" if appt.status != "booked"
            else "the staff member is no longer on this appointment in Sundial")
        return [DeleteExchange(key, event.item_id, event.change_key, appointment_id, "E2", why), DropLink(key)]
    ex_shared = event_shared_hash(event, appt.notes)
    if link is None:  # found by the extended property: a retry after a crash, or the initial sync (E1)
        if ex_shared == appt.shared_hash() and event.free_busy == "Busy":
            return [KeepLink(_link_values(event, appt.content_hash(), appt.id))]
        return [UpdateExchange(key, appt.id, event_update(appt, event.item_id, event.change_key),
                               appt.content_hash(), "E1", "an existing copy was found and brought up to date")]
    old_shared, old_owned = split_hash(link.content_hash)
    exchange_changed = event.change_key != link.change_key and ex_shared != old_shared
    sundial_changed = appt.shared_hash() != old_shared or appt.owned_hash() != old_owned
    if exchange_changed and sundial_changed:
        return [UpdateExchange(key, appt.id, event_update(appt, event.item_id, event.change_key), appt.content_hash(),
                               "E3", "changed on both sides since the last sync; Sundial's version wins")]
    if sundial_changed or event.free_busy != "Busy":
        why = "changed in Sundial" if sundial_changed else "a Sundial appointment stays busy in Exchange"
        return [UpdateExchange(key, appt.id, event_update(appt, event.item_id, event.change_key), appt.content_hash(),
                               "E2", why)]
    if not exchange_changed:
        return [KeepLink(_link_values(event, link.content_hash, appt.id))]
    return _apply_exchange_change(event, appt, ex_shared)


def _apply_exchange_change(event, appt, ex_shared) -> list[Action]:
    notes = notes_above_marker(event.body_text)
    moved = (iso_utc(event.start), iso_utc(event.end)) != (iso_utc(appt.start), iso_utc(appt.end))
    new_notes = notes if notes is not None and normalise(notes) != normalise(appt.notes) else None
    values = _link_values(event, ex_shared + appt.owned_hash(), appt.id)
    if not moved and new_notes is None:
        return [KeepLink(values)]
    rule, why = ("U2", "the appointment was moved in Exchange") if moved else (
        "U3", "the notes above the marker line changed in Exchange")
    actions: list[Action] = [MoveAppointment(appt.id, values, event.start if moved else None,
                                             event.end if moved else None, new_notes, rule, why)]
    if moved:
        actions.append(Notify(appt.id, "changed_in_exchange", "U5"))
    return actions


def plan_gone(link: LinkState | None, appt: AppointmentSide | None, staff_id: int, rule: str = "D1",
              why: str = "the event was removed in Exchange") -> list[Action]:
    """An item disappeared from the primary calendar (deleted, or moved to another calendar: D2)."""
    if link is None:
        return []
    if link.appointment_id is not None:
        if wanted_in_exchange(appt, staff_id):
            return [CancelAppointmentForStaff(link.appointment_id, staff_id, link.item_key, "D3",
                                              f"{why}; the appointment is cancelled for this staff member"),
                    Notify(link.appointment_id, "cancelled_in_exchange", "D3"), DropLink(link.item_key)]
        return [DropLink(link.item_key)]
    if link.absence_id is not None:
        return [RemoveAbsence(link.item_key, link.absence_id, rule, why)]
    return [DropLink(link.item_key)]


def plan_series(master: CalendarEvent, occurrences: list[CalendarEvent], links: list[LinkState], staff_id: int,
                settings: SyncSettings, primary_folder_id: str | None = None,
                expansion: tuple[str, str] | None = None) -> list[Action]:
    """U4: a recurring master changed → its expanded occurrences are the truth for the whole series.
    `expansion` = (path, reason) from sync.recurrence.complete: which path was taken (U6: by Exchange, by
    Sundial, completed by Sundial, or nothing in the horizon) — logged, never "expanded" for nothing."""
    path, why = expansion or ("server", f"recurring series expanded by Exchange: {len(occurrences)} occurrences")
    actions: list[Action] = [Skip(master.item_id, "U6" if path in ("sundial", "partial") else "U4", why,
                                  master.subject)]
    seen = set()
    by_key = {ln.item_key: ln for ln in links}
    for occ in occurrences:
        key = item_key(occ)
        seen.add(key)
        actions += plan_exchange_item(occ, by_key.get(key), None, staff_id, settings, primary_folder_id)
    for ln in links:
        if ln.item_key not in seen:
            actions += plan_gone(ln, None, staff_id, "U4", "the occurrence was deleted or the series pattern changed")
    return actions


def plan_export(appt: AppointmentSide | None, staff_id: int, link: LinkState | None,
                found: list[CalendarEvent]) -> list[Action]:
    """E1/E2: bring one staff member's Exchange copy to the appointment's current state.

    `found` are items carrying the appointment's id (extended property) — looked up before creating, so a
    crash after CreateItem never leaves two copies.
    """
    appointment_id = appt.id if appt else (link.appointment_id if link else None)
    extra = [ev for ev in found if not link or ev.item_id != link.item_id]
    if not wanted_in_exchange(appt, staff_id):
        why = "cancelled in Sundial" if appt and appt.status != "booked" else "staff member removed in Sundial"
        acts: list[Action] = [DeleteExchange(ln.item_key, ln.item_id, None, appointment_id, "E2", why)
                              for ln in [link] if ln and ln.item_id]
        acts += [DeleteExchange(None, ev.item_id, ev.change_key, appointment_id, "E2", why) for ev in extra]
        return acts + ([DropLink(link.item_key)] if link else [])
    dups = [DeleteExchange(None, ev.item_id, ev.change_key, appt.id, "E1", "duplicate copy of a Sundial appointment")
            for ev in (extra[1:] if not (link and link.item_id) else extra)]
    if link and link.item_id:
        if link.content_hash == appt.content_hash():
            return dups
        return [UpdateExchange(link.item_key, appt.id, event_update(appt, link.item_id, link.change_key),
                               appt.content_hash(), "E2", "changed in Sundial")] + dups
    if extra:
        return plan_exchange_item(extra[0], None, appt, staff_id, SyncSettings()) + dups
    return [WriteExchange(appt.id, new_event(appt), appt.content_hash(), "E1", "booked in Sundial")]


def needs_confirmation(linked: int, removing: int, *, minimum: int = 5, share: float = 0.8) -> bool:
    """Habit 8: a calendar that suddenly looks (almost) empty is never propagated as mass deletion.

    True when at least `minimum` linked items exist and a sync would remove `share` or more of them.
    """
    return linked >= minimum and removing >= max(minimum, share * linked)


def unit(key: str) -> str:
    """Occurrences of one series count as one Exchange item for the guard ("<series>|<start>" → series)."""
    return key.split("|", 1)[0]


def removals(actions: list[Action]) -> int:
    """Distinct Exchange items (a series counts once) whose Sundial record the actions would remove."""
    return len({unit(a.item_key) for a in actions if isinstance(a, RemoveAbsence | CancelAppointmentForStaff)})


def linked_units(item_keys: list[str]) -> int:
    return len({unit(k) for k in item_keys})
