"""Which events cross, by rule id (I2, I3, I4, C5, U4)."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from portal.sync.rules import SyncSettings, import_verdict, shown_title, window_start

from .builders import T0, event


def test_i2_event_outside_primary_calendar_does_not_cross():
    v = import_verdict(event(parent_folder_id="OTHER"), SyncSettings(), primary_folder_id="CAL")
    assert (v.crosses, v.rule) == (False, "I2")


def test_i2_event_in_primary_calendar_crosses():
    assert import_verdict(event(), SyncSettings(), primary_folder_id="CAL").crosses


def test_i3_free_event_not_imported():
    v = import_verdict(event(free_busy="Free"), SyncSettings())
    assert (v.crosses, v.rule) == (False, "I3")
    assert "never blocks time" in v.reason


def test_i3_working_elsewhere_and_nodata_never_block_even_if_listed():
    settings = SyncSettings(blocking=frozenset({"Busy", "WorkingElsewhere", "NoData"}))
    for status in ("WorkingElsewhere", "NoData"):
        assert not import_verdict(event(free_busy=status), settings).crosses


def test_i3_tentative_follows_the_setting():
    assert import_verdict(event(free_busy="Tentative"), SyncSettings()).crosses
    v = import_verdict(event(free_busy="Tentative"), SyncSettings(blocking=frozenset({"Busy", "OOF"})))
    assert (v.crosses, v.rule) == (False, "I3")
    assert "Configuration tab" in v.reason


def test_i3_oof_and_busy_block_by_default():
    for status in ("Busy", "OOF"):
        assert import_verdict(event(free_busy=status), SyncSettings()).crosses


def test_i4_window_starts_midnight_the_day_before_in_staff_zone():
    ws = window_start(date(2026, 3, 2), "America/New_York")
    assert ws == datetime(2026, 3, 1, 5, 0, tzinfo=UTC)


def test_i4_event_ending_before_window_not_imported():
    settings = SyncSettings(window_start=T0)
    v = import_verdict(event(start=T0 - timedelta(hours=2), minutes=60), settings)
    assert (v.crosses, v.rule) == (False, "I4")
    assert import_verdict(event(start=T0 - timedelta(minutes=30), minutes=60), settings).crosses


def test_u4_recurring_master_is_not_imported_itself():
    v = import_verdict(event(item_type="RecurringMaster"), SyncSettings())
    assert (v.crosses, v.rule) == (False, "U4")


def test_c5_title_only_when_setting_on_and_not_private():
    assert shown_title(event(subject="Lunch"), SyncSettings(show_titles=False)) == ""
    assert shown_title(event(subject="Lunch"), SyncSettings(show_titles=True)) == "Lunch"
    for s in ("Private", "Confidential"):
        assert shown_title(event(subject="Lunch", sensitivity=s), SyncSettings(show_titles=True)) == ""
