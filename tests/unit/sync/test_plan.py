"""The three-way merge, by rule id (C1, C5, U1-U5, D1-D3, E1-E4)."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from portal.sync.actions import (
    CancelAppointmentForStaff,
    CreateAbsence,
    DeleteExchange,
    DropLink,
    KeepLink,
    MoveAppointment,
    Notify,
    RemoveAbsence,
    Skip,
    UpdateAbsence,
    UpdateExchange,
    WriteExchange,
)
from portal.sync.notes import MARKER, build_body
from portal.sync.plan import plan_exchange_item, plan_export, plan_gone, plan_series
from portal.sync.rules import SyncSettings
from portal.sync.shapes import absence_hash

from .builders import T0, appt, event, link

S = SyncSettings(show_titles=True)


def kinds(actions):
    return [type(a).__name__ for a in actions]


def synced_link(a, ck="ck1", key="AAA1"):
    return link(key, ck, a.content_hash(), appointment_id=a.id)


def exported(a, ck="ck1", **kw):
    return event(ck=ck, start=a.start, minutes=int((a.end - a.start).total_seconds() // 60), subject=a.service,
                 body_text=build_body(a.notes, a.details()), appointment_id=a.id, **kw)


def test_c1_new_busy_event_creates_absence():
    [act] = plan_exchange_item(event(body_text=f"bring files\n{MARKER}"), None, None, 1, S, "CAL")
    assert isinstance(act, CreateAbsence) and act.rule == "C1"
    assert (act.fields.title, act.fields.notes, act.fields.is_private) == ("Dentist", "bring files", False)


def test_c5_private_event_imports_time_without_title_or_body():
    ev = event(sensitivity="Private", body_text=f"secret\n{MARKER}")
    [act] = plan_exchange_item(ev, None, None, 1, S, "CAL")
    assert isinstance(act, CreateAbsence)
    assert (act.fields.title, act.fields.notes, act.fields.is_private) == ("", "", True)
    assert act.reason.endswith("private, so shown as Busy without its title or notes")  # the "why" log


def test_i3_free_event_is_skipped_with_reason():
    [act] = plan_exchange_item(event(free_busy="Free"), None, None, 1, S, "CAL")
    assert isinstance(act, Skip) and act.rule == "I3"


def test_u1_busy_to_free_removes_absence_and_back_adds_it():
    ev = event()
    ln = link(content_hash=absence_hash(ev, S), absence_id=5)
    [act] = plan_exchange_item(replace(ev, change_key="ck2", free_busy="Free"), ln, None, 1, S, "CAL")
    assert isinstance(act, RemoveAbsence) and act.rule == "U1"
    gone = link(content_hash=None)  # link kept without absence after removal → busy again re-creates
    [act] = plan_exchange_item(replace(ev, change_key="ck3"), gone, None, 1, S, "CAL")
    assert isinstance(act, CreateAbsence) and act.rule == "U1"


def test_u2_time_change_updates_absence():
    ev = event()
    ln = link(content_hash=absence_hash(ev, S), absence_id=5)
    moved = replace(ev, change_key="ck2", start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=2))
    [act] = plan_exchange_item(moved, ln, None, 1, S, "CAL")
    assert isinstance(act, UpdateAbsence) and act.fields.start == T0 + timedelta(hours=1)


def test_unchanged_content_with_new_changekey_is_not_a_change():
    ev = event()
    ln = link(content_hash=absence_hash(ev, S), absence_id=5)
    [act] = plan_exchange_item(replace(ev, change_key="ck9", categories=["Red"]), ln, None, 1, S, "CAL")
    assert isinstance(act, KeepLink) and act.link.change_key == "ck9"


def test_same_changekey_is_not_a_change_even_if_content_looks_different():
    ev = event()
    ln = link(content_hash="0" * 32, absence_id=5)
    assert kinds(plan_exchange_item(ev, ln, None, 1, S, "CAL")) == ["KeepLink"]


def test_u2_appointment_moved_in_exchange_moves_it_and_notifies_u5():
    a = appt()
    moved = replace(exported(a, ck="ck2"), start=T0 + timedelta(days=1), end=T0 + timedelta(days=1, hours=1))
    acts = plan_exchange_item(moved, synced_link(a), a, 1, S, "CAL")
    assert kinds(acts) == ["MoveAppointment", "Notify"]
    assert acts[0].start == T0 + timedelta(days=1) and acts[0].rule == "U2"
    assert acts[1] == Notify(a.id, "changed_in_exchange", "U5")


def test_u2_service_location_edits_in_exchange_are_not_applied():
    a = appt()
    ev = replace(exported(a, ck="ck2"), subject="Something else", location="Elsewhere")
    assert kinds(plan_exchange_item(ev, synced_link(a), a, 1, S, "CAL")) == ["KeepLink"]


def test_u3_notes_above_marker_update_appointment_notes():
    a = appt()
    ev = replace(exported(a, ck="ck2"), body_text=build_body("client is late", a.details()))
    [act] = plan_exchange_item(ev, synced_link(a), a, 1, S, "CAL")
    assert isinstance(act, MoveAppointment) and act.rule == "U3"
    assert (act.notes, act.start) == ("client is late", None)


def test_e3_both_changed_sundial_wins():
    a = appt()
    ev = replace(exported(a, ck="ck2"), start=T0 + timedelta(hours=3), end=T0 + timedelta(hours=4))
    changed = replace(a, start=T0 + timedelta(days=2), end=T0 + timedelta(days=2, hours=1))
    [act] = plan_exchange_item(ev, synced_link(a), changed, 1, S, "CAL")
    assert isinstance(act, UpdateExchange) and act.rule == "E3"
    assert act.update.start == T0 + timedelta(days=2) and act.update.change_key == "ck2"


def test_d1_removed_event_removes_absence():
    [act] = plan_gone(link(absence_id=5), None, 1)
    assert isinstance(act, RemoveAbsence) and act.rule == "D1"


def test_d2_moved_to_other_calendar_counts_as_removal():
    ev = event(parent_folder_id="OTHER", ck="ck2")
    [act] = plan_exchange_item(ev, link(absence_id=5, content_hash=absence_hash(event(), S)), None, 1, S, "CAL")
    assert isinstance(act, RemoveAbsence) and act.rule == "D2"


def test_d3_removed_sundial_item_cancels_for_that_staff_and_notifies():
    a = appt(staff=(1, 2))
    acts = plan_gone(synced_link(a), a, 1)
    assert kinds(acts) == ["CancelAppointmentForStaff", "Notify", "DropLink"]
    assert acts[0] == CancelAppointmentForStaff(a.id, 1, "AAA1", "D3", acts[0].reason)
    assert acts[1].kind == "cancelled_in_exchange"


def test_d3_already_cancelled_in_sundial_just_drops_link():
    a = appt(status="cancelled")
    assert kinds(plan_gone(synced_link(a), a, 1)) == ["DropLink"]


def test_e1_new_appointment_is_written_with_marker_body_and_attendees():
    a = appt()
    [act] = plan_export(a, 1, None, [])
    assert isinstance(act, WriteExchange)
    ev = act.event
    assert (ev.subject, ev.location, ev.free_busy, ev.appointment_id) == ("Mortgage advice", "1 Main Street", "Busy", 7)
    assert ev.attendees == [("Cleo Client", "cleo@example.net")]
    assert ev.body_text.lstrip().startswith(MARKER)


def test_e1_existing_copy_found_by_property_is_adopted_not_duplicated():
    a = appt()
    found = [exported(a), replace(exported(a), item_id="DUP")]
    acts = plan_export(a, 1, None, found)
    assert kinds(acts) == ["KeepLink", "DeleteExchange"]
    assert acts[1].item_id == "DUP"


def test_e2_reschedule_updates_and_cancel_deletes():
    a = appt()
    moved = replace(a, start=T0 + timedelta(days=1), end=T0 + timedelta(days=1, hours=1))
    [act] = plan_export(moved, 1, synced_link(a), [])
    assert isinstance(act, UpdateExchange) and act.rule == "E2"
    acts = plan_export(replace(a, status="cancelled"), 1, synced_link(a), [])
    assert kinds(acts) == ["DeleteExchange", "DropLink"]


def test_e2_unchanged_appointment_writes_nothing():
    a = appt()
    assert plan_export(a, 1, synced_link(a), []) == []


def test_e2_staff_removed_from_appointment_deletes_their_copy():
    a = appt(staff=(2,))
    acts = plan_export(a, 1, synced_link(a), [])
    assert isinstance(acts[0], DeleteExchange) and "removed" in acts[0].reason


def test_e2_item_of_appointment_cancelled_in_sundial_is_deleted_when_seen():
    a = appt(status="cancelled")
    acts = plan_exchange_item(exported(a, ck="ck2"), synced_link(a), a, 1, S, "CAL")
    assert kinds(acts) == ["DeleteExchange", "DropLink"]


def test_e1_sundial_item_made_free_is_set_busy_again():
    a = appt()
    acts = plan_exchange_item(replace(exported(a, ck="ck2"), free_busy="Free"), synced_link(a), a, 1, S, "CAL")
    assert isinstance(acts[0], UpdateExchange) and acts[0].update.free_busy == "Busy"


def test_e4_absence_is_never_exported():
    ev = event()
    acts = plan_exchange_item(replace(ev, change_key="ck2"), link(content_hash=absence_hash(ev, S), absence_id=5),
                              None, 1, S, "CAL")
    assert not any(isinstance(a, WriteExchange | UpdateExchange | DeleteExchange) for a in acts)


def test_u4_series_occurrences_created_and_missing_ones_removed():
    master = event(item_id="M", item_type="RecurringMaster", uid="U1")
    occ = [event(item_id=f"O{i}", item_type="Occurrence", uid="U1", start=T0 + timedelta(days=7 * i),
                 recurrence_id=T0 + timedelta(days=7 * i)) for i in range(3)]
    stale = link("uid:U1|2026-01-01T14:00:00+00:00", absence_id=9)
    acts = plan_series(master, occ, [stale], 1, S, "CAL")
    assert kinds(acts) == ["Skip", "CreateAbsence", "CreateAbsence", "CreateAbsence", "RemoveAbsence"]
    assert acts[1].link.item_key == "uid:U1|2026-03-02T14:00:00+00:00"
    assert acts[1].link.master_item_id == "uid:U1"
    assert acts[4].rule == "U4"


def test_u4_moved_occurrence_keeps_its_key():
    occ = event(item_id="O1", item_type="Exception", uid="U1", start=T0 + timedelta(hours=2), recurrence_id=T0)
    [act] = plan_series(event(item_type="RecurringMaster", uid="U1"), [occ], [], 1, S, "CAL")[1:]
    assert act.link.item_key.endswith("2026-03-02T14:00:00+00:00") and act.fields.start == T0 + timedelta(hours=2)


def test_i5_multi_staff_appointment_cancelled_only_for_one():
    a = appt(staff=(1, 2))
    assert plan_export(a, 2, None, [])[0].event.appointment_id == a.id
    assert isinstance(plan_gone(synced_link(a), a, 2)[0], CancelAppointmentForStaff)


def test_drop_link_when_unknown_item_gone():
    assert kinds(plan_gone(link(), None, 1)) == ["DropLink"]
    assert DropLink("x") == DropLink("x")
