"""Whole-mailbox decisions (portal/sync/mailbox.py), by rule id: no simulator, no database, plain values."""
from __future__ import annotations

from datetime import timedelta

from portal.sync.actions import CancelAppointmentForStaff, DropLink, RemoveAbsence
from portal.sync.mailbox import (
    RESCAN_GONE,
    SERIES_GONE,
    Mailbox,
    MailboxPlanner,
    Series,
    Snapshot,
    guard,
    linked_count,
    unchanged_series,
    unconfirmed,
)
from portal.sync.rules import SyncSettings

from .builders import T0, appt, event, link

STAFF = 1


def planner(links=(), appointments=None) -> MailboxPlanner:
    found = {a.id: a for a in (appointments or [])}
    by_key = {ln.item_key: ln for ln in links}
    return MailboxPlanner(Mailbox(STAFF, SyncSettings(show_titles=True), "CAL", by_key, found.get))


def actions(planned):
    return [a for p in planned for a in p.actions]


def kinds(planned):
    return [type(a).__name__ for a in actions(planned)]


def series_links(n=3, uid="S"):
    master = link("M", master_item_id=f"uid:{uid}")
    occ = [link(f"uid:{uid}|2026-03-0{i + 2}T14:00:00+00:00", item_id=f"O{i}", content_hash="h",
                master_item_id=f"uid:{uid}", absence_id=10 + i) for i in range(n)]
    return master, occ


def test_d1_item_deleted_in_exchange_removes_its_absence():
    p = planner([link("A", absence_id=4, content_hash="h"), link("B", absence_id=5, content_hash="h")])
    [act] = actions(p.plan(Snapshot(deleted=["A"])))
    assert isinstance(act, RemoveAbsence) and (act.item_key, act.absence_id, act.rule) == ("A", 4, "D1")
    assert not act.keep_link


def test_d1_unknown_deleted_item_plans_nothing():
    assert planner([link("A", absence_id=4)]).plan(Snapshot(deleted=["never-linked"])) == []


def test_d1_between_pages_an_item_listed_then_deleted_is_removed_after_the_last_page():
    links = {}
    p = MailboxPlanner(Mailbox(STAFF, SyncSettings(), "CAL", links, {}.get))
    now = p.import_page([event("X"), event("Y", start=T0 + timedelta(hours=3))])
    assert kinds(now) == ["CreateAbsence", "CreateAbsence"]
    links["X"] = link("X", absence_id=1, content_hash=now[0].actions[0].link.content_hash)  # as applied
    links["Y"] = link("Y", absence_id=2, content_hash=now[1].actions[0].link.content_hash)
    assert p.import_page([]) == []  # page 2 lists nothing new; its Delete of X arrives with it
    [act] = actions(p.end_of_listing([], deleted={"X"}))
    assert isinstance(act, RemoveAbsence) and act.item_key == "X" and act.rule == "D1"
    assert act.reason == RESCAN_GONE


def test_d1_series_removed_in_exchange_takes_every_occurrence_along():
    master, occ = series_links()
    planned = planner([master, *occ]).plan(Snapshot(deleted=["M"]))
    removed = [a for a in actions(planned) if isinstance(a, RemoveAbsence)]
    assert sorted(a.absence_id for a in removed) == [10, 11, 12]
    assert {a.reason for a in removed} == {SERIES_GONE}
    assert actions(planned)[-1] == DropLink("M")


def test_d1_full_rescan_removes_what_the_calendar_no_longer_holds():
    master, occ = series_links(1)
    kept = link("K", absence_id=7)
    gone = link("G", absence_id=8)
    bookkeeping = link("Z")  # neither an absence nor an appointment: nothing to remove
    planned = planner([kept, gone, bookkeeping, master, *occ]).plan(
        Snapshot(events=[event("K")], complete=True))
    acts = actions(planned)
    assert [a.item_key for a in acts if isinstance(a, RemoveAbsence)] == ["G", occ[0].item_key]
    assert DropLink("M") in acts and not any(getattr(a, "item_key", None) == "Z" for a in acts)


def test_d3_full_rescan_cancels_a_vanished_appointment_for_that_staff_member():
    a = appt(id=9, staff=(STAFF, 2))
    planned = planner([link("A9", appointment_id=9, content_hash=a.content_hash())], [a]).plan(
        Snapshot(complete=True))
    assert kinds(planned) == ["CancelAppointmentForStaff", "Notify", "DropLink"]
    cancel = actions(planned)[0]
    assert isinstance(cancel, CancelAppointmentForStaff) and cancel.staff_id == STAFF and cancel.rule == "D3"


def test_g1_initial_import_holds_removals_until_the_last_page():
    p = planner([link("F", absence_id=3, content_hash="old")])
    assert p.import_page([event("F", ck="ck2", free_busy="Free")]) == []  # U1 removal: held
    [act] = actions(p.end_of_listing([], deleted=set()))
    assert isinstance(act, RemoveAbsence) and act.rule == "U1" and act.keep_link  # the item is still there


def test_u4_series_snapshot_creates_new_occurrences_and_removes_missing_ones():
    master = event("M", item_type="RecurringMaster", uid="S")
    occ = event("O9", item_type="Occurrence", uid="S", start=T0 + timedelta(days=30),
                recurrence_id=T0 + timedelta(days=30))
    _, old = series_links(1)
    planned = planner(old).plan(Snapshot(series=[Series(master, [occ])]))
    assert kinds(planned) == ["KeepLink", "Skip", "CreateAbsence", "RemoveAbsence"]
    assert actions(planned)[-1].rule == "U4"


def test_d1_mass_deletion_guard_stops_an_emptied_calendar_with_one_sentence():
    links = [link(f"L{i}", absence_id=i) for i in range(6)]
    planned = planner(links).plan(Snapshot(deleted=[f"L{i}" for i in range(6)]))
    assert linked_count({ln.item_key: ln for ln in links}) == 6
    stop = guard(planned, 6, confirmed=False)
    assert stop is not None and "6 of 6 synced events" in stop
    assert guard(planned, 6, confirmed=True) is None
    assert guard(planned[:1], 6, confirmed=False) is None  # one deletion is ordinary


def test_u4_d1_mailbox_level_reads_choose_what_the_engine_checks():
    master, occ = series_links(1)
    fresh = link("N1", appointment_id=3, content_hash="h")  # created by Sundial, never reported back
    reported = link("N2", appointment_id=4, content_hash="h", exchange_modified_at=T0)
    links = {ln.item_key: ln for ln in (master, *occ, fresh, reported)}
    assert [ln.item_key for ln in unconfirmed(links, changed=set())] == ["N1"]
    assert unconfirmed(links, changed={"N1"}) == []
    assert [ln.item_key for ln in unchanged_series(links, changed=set())] == ["M"]
    assert unchanged_series(links, changed={"M"}) == []
