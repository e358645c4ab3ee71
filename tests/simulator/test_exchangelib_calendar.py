"""Proof of fidelity: exchangelib (unchanged) does its calendar work against the simulator."""
from __future__ import annotations

from datetime import timedelta

import pytest
from exchangelib import CalendarItem, EWSDateTime, EWSTimeZone, ExtendedProperty
from exchangelib.folders import Calendar
from exchangelib.recurrence import DailyPattern, Recurrence, WeeklyPattern
from sim_helpers import ALICE, BOB, account

TZ = EWSTimeZone("Europe/Berlin")
MONDAY = EWSDateTime(2026, 11, 23, 9, 0, tzinfo=TZ)


class SundialAppointmentId(ExtendedProperty):
    distinguished_property_set_id = "PublicStrings"
    property_name = "SundialAppointmentId"
    property_type = "String"


CalendarItem.register("sundial_id", SundialAppointmentId)


@pytest.mark.parametrize(("auth", "version"), [("ntlm", None), ("basic", None), ("ntlm", (15, 1, 2176, 12)),
                                               ("basic", (15, 1, 2176, 12))])
def test_g5_impersonation_create_list_update_delete(sim, auth, version):
    acc = account(sim, ALICE, "impersonation", auth, version)
    assert acc.version.build.major_version == 15 and acc.version.build.minor_version == 1
    item = CalendarItem(account=acc, folder=acc.calendar, subject=f"Check-up {auth}", start=MONDAY,
                        end=MONDAY + timedelta(hours=1), body="Notes", location="Room 1", sundial_id="42")
    item.save(send_meeting_invitations="SendToNone")
    first_key = item.changekey
    found = [i for i in acc.calendar.view(start=MONDAY - timedelta(hours=1), end=MONDAY + timedelta(hours=3))
             if i.id == item.id]
    assert found and found[0].subject == f"Check-up {auth}" and found[0].start == MONDAY
    fetched = acc.calendar.get(id=item.id)
    assert fetched.sundial_id == "42" and fetched.location == "Room 1"
    item.subject = "Moved check-up"
    item.start, item.end = MONDAY + timedelta(hours=2), MONDAY + timedelta(hours=3)
    item.save(update_fields=["subject", "start", "end"], send_meeting_invitations="SendToNone")
    assert item.changekey != first_key
    again = acc.calendar.get(id=item.id)
    assert again.subject == "Moved check-up" and again.start == MONDAY + timedelta(hours=2)
    item.delete(send_meeting_cancellations="SendToNone")
    assert not [i for i in acc.calendar.filter(subject="Moved check-up")]


def test_g5_delegate_access_author_rights(sim):
    acc = account(sim, ALICE, "delegate", "ntlm", (15, 1, 2176, 12))
    item = CalendarItem(account=acc, folder=acc.calendar, subject="Delegate booking", start=MONDAY,
                        end=MONDAY + timedelta(minutes=30))
    item.save(send_meeting_invitations="SendToNone")
    assert acc.calendar.get(id=item.id).subject == "Delegate booking"
    item.delete(send_meeting_cancellations="SendToNone")


def test_delegate_reviewer_cannot_create(sim):
    from exchangelib.errors import ErrorAccessDenied
    acc = account(sim, BOB, "delegate", "ntlm", (15, 1, 2176, 12))
    item = CalendarItem(account=acc, folder=acc.calendar, subject="Nope", start=MONDAY,
                        end=MONDAY + timedelta(minutes=30))
    with pytest.raises(ErrorAccessDenied):
        item.save(send_meeting_invitations="SendToNone")


def test_u4_calendar_view_expands_recurring_series(sim):
    acc = account(sim, ALICE)
    series = CalendarItem(account=acc, folder=acc.calendar, subject="Standup", start=MONDAY,
                          end=MONDAY + timedelta(minutes=15),
                          recurrence=Recurrence(pattern=WeeklyPattern(interval=1, weekdays=[1, 3]), start=MONDAY.date(),
                                                number=6))
    series.save(send_meeting_invitations="SendToNone")
    views = [i for i in acc.calendar.view(start=MONDAY - timedelta(days=1), end=MONDAY + timedelta(days=21))
             if i.subject == "Standup"]
    assert len(views) == 6 and {v.type for v in views} == {"Occurrence"}
    assert [v.start.astimezone(TZ).hour for v in views] == [9] * 6  # local time kept across dates
    master = acc.calendar.get(id=series.id)
    assert master.type == "RecurringMaster" and master.first_occurrence.start == MONDAY
    # delete one occurrence, modify another -> deleted and modified occurrences on the master
    views[1].delete(send_meeting_cancellations="SendToNone")
    occ = views[2]
    occ.subject = "Standup (moved)"
    occ.start, occ.end = occ.start + timedelta(hours=1), occ.end + timedelta(hours=1)
    occ.save(update_fields=["subject", "start", "end"], send_meeting_invitations="SendToNone")
    again = [i for i in acc.calendar.view(start=MONDAY - timedelta(days=1), end=MONDAY + timedelta(days=21))
             if i.subject.startswith("Standup")]
    assert len(again) == 5 and [i.type for i in again].count("Exception") == 1
    master = acc.calendar.get(id=series.id)
    assert len(master.deleted_occurrences) == 1 and len(master.modified_occurrences) == 1
    series.delete(send_meeting_cancellations="SendToNone")


def test_daily_series_without_end_and_all_day(sim):
    acc = account(sim, ALICE)
    series = CalendarItem(account=acc, folder=acc.calendar, subject="Daily", start=MONDAY,
                          end=MONDAY + timedelta(hours=1),
                          recurrence=Recurrence(pattern=DailyPattern(interval=2), start=MONDAY.date()))
    series.save(send_meeting_invitations="SendToNone")
    views = [i for i in acc.calendar.view(start=MONDAY, end=MONDAY + timedelta(days=10)) if i.subject == "Daily"]
    assert len(views) == 5
    series.delete(send_meeting_cancellations="SendToNone")


@pytest.mark.parametrize(("access", "auth"), [("impersonation", "ntlm"), ("impersonation", "basic"),
                                             ("delegate", "ntlm"), ("delegate", "basic")])
def test_i2_update_then_move_to_another_calendar_gives_new_id(sim, access, auth):
    acc = account(sim, ALICE, access, auth, (15, 1, 2176, 12) if access == "delegate" else None)
    name = f"Personal {access} {auth}"
    sim.outlook(ALICE).add_calendar(name)  # CreateFolder is not implemented; Outlook adds it
    other = acc.calendar / name
    assert isinstance(other, Calendar)
    item = CalendarItem(account=acc, folder=acc.calendar, subject="Movable", start=MONDAY,
                        end=MONDAY + timedelta(hours=1))
    item.save(send_meeting_invitations="SendToNone")
    item.subject = f"Movable ({access})"
    item.save(update_fields=["subject"], send_meeting_invitations="SendToNone")  # author: may edit its own item
    old_id = item.id
    item.move(other)
    assert item.id != old_id and item.folder == other
    assert [i.subject for i in other.all()] == [f"Movable ({access})"]
    assert not [i for i in acc.calendar.filter(subject=f"Movable ({access})")]
    from exchangelib.errors import ErrorItemNotFound
    with pytest.raises(ErrorItemNotFound):
        acc.calendar.get(id=old_id)


@pytest.mark.parametrize("auth", ["ntlm", "basic"])
def test_sync_items_to_completion(sim, auth):
    acc = account(sim, ALICE, auth=auth)
    cal = acc.calendar
    for n in range(7):
        CalendarItem(account=acc, folder=cal, subject=f"Sync {auth} {n}", start=MONDAY + timedelta(days=n),
                     end=MONDAY + timedelta(days=n, hours=1)).save(send_meeting_invitations="SendToNone")
    changes = list(cal.sync_items(max_changes_returned=3))
    creates = [c for c in changes if c[0] == "create"]
    assert len(creates) >= 7 and cal.item_sync_state
    state = cal.item_sync_state
    assert list(cal.sync_items(sync_state=state)) == []
    first = next(i for i in cal.filter(subject=f"Sync {auth} 0"))
    first.subject = f"Sync {auth} 0 updated"
    first.save(update_fields=["subject"], send_meeting_invitations="SendToNone")
    assert [c[0] for c in cal.sync_items(sync_state=state)] == ["update"]
    first.delete(send_meeting_cancellations="SendToNone")
    later = list(cal.sync_items(sync_state=state))
    assert [c[0] for c in later] == ["delete"]


def test_i1_resolve_names_and_alias(sim):
    acc = account(sim, ALICE)
    resolved = acc.protocol.resolve_names(["a.smith@example.com"])
    assert resolved[0].email_address == ALICE
    from exchangelib.errors import ErrorNameResolutionNoResults
    [none] = acc.protocol.resolve_names(["nobody@example.com"])
    assert isinstance(none, ErrorNameResolutionNoResults)


def test_ntlm_logon_with_upn_form(sim):
    acc = account(sim, ALICE, auth="ntlm", version=(15, 1, 2176, 12), upn=sim.service_account.upn)
    assert acc.calendar.name == "Calendar"


def test_occurrence_conflict_only_when_that_occurrence_changed(sim):
    from exchangelib.errors import ErrorIrresolvableConflict
    acc = account(sim, ALICE)
    person = sim.outlook(ALICE)
    start = MONDAY + timedelta(days=70)
    series_id = person.create_recurring("Conflicts", start, start + timedelta(minutes=30), pattern="Daily",
                                        count=3, tz="Europe/Berlin")
    first, second, _third = acc.calendar.view(start=start - timedelta(hours=1), end=start + timedelta(days=3))
    person.rename(series_id, "Conflicts (series renamed in Outlook)")  # a series change: merged
    first.location = "Room 7"
    first.save(update_fields=["location"], send_meeting_invitations="SendToNone")
    person.move_occurrence(series_id, second.start, second.start + timedelta(hours=2),
                           second.end + timedelta(hours=2))  # this very occurrence changed: conflict
    second.location = "Room 8"
    with pytest.raises(ErrorIrresolvableConflict):
        second.save(update_fields=["location"], send_meeting_invitations="SendToNone")
