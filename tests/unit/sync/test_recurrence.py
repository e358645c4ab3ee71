"""U6: Sundial's own expansion of a recurring series (portal/sync/recurrence.py) — pure, hand-computed answers."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from portal.ews_soap.types import CalendarEvent, ModifiedOccurrence, SeriesPattern
from portal.sync.recurrence import complete, expand, original_starts


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def master(series: SeriesPattern, start: datetime, minutes: int = 60) -> CalendarEvent:
    return CalendarEvent(item_id="M1", change_key="ck", subject="Team", start=start,
                         end=start + timedelta(minutes=minutes), item_type="RecurringMaster", uid="u-1",
                         body_text="notes", series=series)


WIDE = (utc(2020, 1, 1), utc(2030, 1, 1))


def starts(events):
    return [e.start for e in events]


def test_u6_weekly_keeps_local_time_across_us_dst():
    s = SeriesPattern("WeeklyRecurrence", days_of_week=("Monday",), range="NumberedRecurrence",
                      start_date=date(2026, 3, 2), count=4, time_zone="America/New_York")
    got = expand(master(s, utc(2026, 3, 2, 14)), *WIDE)  # 09:00 EST
    # 8 March 2026 US clocks go forward: 09:00 EDT is 13:00 UTC from then on
    assert starts(got) == [utc(2026, 3, 2, 14), utc(2026, 3, 9, 13), utc(2026, 3, 16, 13), utc(2026, 3, 23, 13)]
    assert all(e.end - e.start == timedelta(hours=1) for e in got)
    assert {e.item_type for e in got} == {"Occurrence"} and got[1].recurrence_id == utc(2026, 3, 9, 13)
    assert got[0].uid == "u-1" and got[0].master_item_id == "M1" and got[0].body_text == "notes"


def test_u6_daily_across_the_european_autumn_change():
    s = SeriesPattern("DailyRecurrence", range="NumberedRecurrence", start_date=date(2026, 10, 24), count=3,
                      time_zone="Europe/London")
    got = expand(master(s, utc(2026, 10, 24, 8)), *WIDE)  # 09:00 BST; BST ends 25 October 2026
    assert starts(got) == [utc(2026, 10, 24, 8), utc(2026, 10, 25, 9), utc(2026, 10, 26, 9)]


def test_u6_deleted_occurrence_left_out_but_still_counted():
    s = SeriesPattern("WeeklyRecurrence", days_of_week=("Tuesday",), range="NumberedRecurrence",
                      start_date=date(2026, 1, 6), count=4, time_zone="UTC", deleted=(utc(2026, 1, 13, 10),))
    got = expand(master(s, utc(2026, 1, 6, 10)), *WIDE)
    assert starts(got) == [utc(2026, 1, 6, 10), utc(2026, 1, 20, 10), utc(2026, 1, 27, 10)]


def test_u6_modified_occurrence_is_an_exception_at_its_new_time():
    moved = ModifiedOccurrence(utc(2026, 1, 13, 10), utc(2026, 1, 14, 15), utc(2026, 1, 14, 16, 30), "EX1", "ck2")
    s = SeriesPattern("WeeklyRecurrence", days_of_week=("Tuesday",), range="NumberedRecurrence",
                      start_date=date(2026, 1, 6), count=3, time_zone="UTC", modified=(moved,))
    got = expand(master(s, utc(2026, 1, 6, 10)), *WIDE)
    exc = got[1]
    assert (exc.item_type, exc.item_id, exc.change_key) == ("Exception", "EX1", "ck2")
    assert (exc.start, exc.end, exc.recurrence_id) == (utc(2026, 1, 14, 15), utc(2026, 1, 14, 16, 30),
                                                      utc(2026, 1, 13, 10))


def test_u6_occurrence_moved_earlier_into_the_window_is_found():
    moved = ModifiedOccurrence(utc(2026, 1, 20, 10), utc(2026, 1, 9, 10), utc(2026, 1, 9, 11), "EX2")
    s = SeriesPattern("WeeklyRecurrence", days_of_week=("Tuesday",), range="NoEndRecurrence",
                      start_date=date(2026, 1, 6), time_zone="UTC", modified=(moved,))
    got = expand(master(s, utc(2026, 1, 6, 10)), utc(2026, 1, 7), utc(2026, 1, 12))
    assert [e.item_id for e in got] == ["EX2"]


def test_u6_end_date_range_includes_its_end_date():
    s = SeriesPattern("DailyRecurrence", interval=1, range="EndDateRecurrence", start_date=date(2026, 3, 1),
                      end_date=date(2026, 3, 3), time_zone="Europe/Berlin")
    got = expand(master(s, utc(2026, 3, 1, 16)), *WIDE)
    assert starts(got) == [utc(2026, 3, 1, 16), utc(2026, 3, 2, 16), utc(2026, 3, 3, 16)]


def test_u6_no_end_series_is_cut_at_the_window_and_only_overlapping_ones_return():
    s = SeriesPattern("DailyRecurrence", interval=2, range="NoEndRecurrence", start_date=date(2026, 1, 1),
                      time_zone="UTC")
    got = expand(master(s, utc(2026, 1, 1, 23, 30)), utc(2026, 1, 5), utc(2026, 1, 11))
    # 1st, 3rd, 5th, 7th, 9th at 23:30 for an hour: the 3rd ends 00:30 on the 4th (outside), the 9th is inside
    assert starts(got) == [utc(2026, 1, 5, 23, 30), utc(2026, 1, 7, 23, 30), utc(2026, 1, 9, 23, 30)]


def test_u6_weekly_every_second_week_on_two_days():
    s = SeriesPattern("WeeklyRecurrence", interval=2, days_of_week=("Monday", "Wednesday"),
                      range="NumberedRecurrence", start_date=date(2026, 2, 2), count=4, time_zone="UTC")
    got = expand(master(s, utc(2026, 2, 2, 9)), *WIDE)
    assert [e.start.date() for e in got] == [date(2026, 2, 2), date(2026, 2, 4), date(2026, 2, 16), date(2026, 2, 18)]


def test_u6_absolute_monthly_31st_falls_on_the_last_day_of_short_months():
    s = SeriesPattern("AbsoluteMonthlyRecurrence", day_of_month=31, range="NumberedRecurrence",
                      start_date=date(2026, 1, 31), count=4, time_zone="UTC")
    got = expand(master(s, utc(2026, 1, 31, 9)), *WIDE)
    assert [e.start.date() for e in got] == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30)]


def test_u6_relative_monthly_last_friday():
    s = SeriesPattern("RelativeMonthlyRecurrence", days_of_week=("Friday",), day_of_week_index="Last",
                      range="NumberedRecurrence", start_date=date(2026, 1, 1), count=3, time_zone="UTC")
    got = expand(master(s, utc(2026, 1, 30, 9)), *WIDE)
    assert [e.start.date() for e in got] == [date(2026, 1, 30), date(2026, 2, 27), date(2026, 3, 27)]


def test_u6_relative_yearly_fourth_thursday_of_november_and_absolute_yearly():
    rel = SeriesPattern("RelativeYearlyRecurrence", days_of_week=("Thursday",), day_of_week_index="Fourth",
                        month="November", range="NumberedRecurrence", start_date=date(2026, 1, 1), count=2,
                        time_zone="America/Chicago")
    got = expand(master(rel, utc(2026, 11, 26, 18)), *WIDE)
    assert [e.start.date() for e in got] == [date(2026, 11, 26), date(2027, 11, 25)]
    absolute = SeriesPattern("AbsoluteYearlyRecurrence", day_of_month=29, month="February",
                             range="NumberedRecurrence", start_date=date(2028, 2, 29), count=2, time_zone="UTC")
    assert [e.start.date() for e in expand(master(absolute, utc(2028, 2, 29, 9)), *WIDE)] == [
        date(2028, 2, 29), date(2029, 2, 28)]


def test_u6_relative_monthly_first_weekday_group():
    s = SeriesPattern("RelativeMonthlyRecurrence", days_of_week=("Weekday",), day_of_week_index="First",
                      range="NumberedRecurrence", start_date=date(2026, 8, 1), count=2, time_zone="UTC")
    # 1 August 2026 is a Saturday: the first weekday is Monday the 3rd; 1 September is a Tuesday
    assert [d.date() for d in original_starts(s, utc(2026, 8, 3, 9), utc(2030, 1, 1))] == [
        date(2026, 8, 3), date(2026, 9, 1)]


def test_u6_no_pattern_no_occurrences():
    assert expand(CalendarEvent("X", start=utc(2026, 1, 1), end=utc(2026, 1, 1, 1)), *WIDE) == []


@pytest.mark.parametrize("server_count,path", [(0, "sundial"), (2, "partial"), (4, "server")])
def test_u6_complete_says_which_path_it_took(server_count, path):
    s = SeriesPattern("DailyRecurrence", range="NumberedRecurrence", start_date=date(2026, 1, 1), count=4,
                      time_zone="UTC")
    own = expand(master(s, utc(2026, 1, 1, 9)), *WIDE)
    server = [o for i, o in enumerate(own) if i % 2 == 0][:server_count] if server_count < 4 else list(own)
    merged, took, reason = complete(server, own)
    assert took == path and starts(merged) == starts(own)
    assert ("Sundial expanded" in reason) == (path != "server")
    if path == "partial":
        assert "only 2 of 4 occurrences" in reason and "other 2" in reason


def test_u6_nothing_in_the_window_never_claims_an_expansion():
    merged, took, reason = complete([], [])
    assert merged == [] and took == "none" and "expanded" not in reason


def test_u6_an_expansion_that_disagrees_with_the_server_adds_nothing():
    """E.g. a zone Sundial cannot map: its occurrences land an hour off the server's; the server is trusted."""
    s = SeriesPattern("DailyRecurrence", range="NumberedRecurrence", start_date=date(2026, 1, 1), count=3,
                      time_zone="UTC")
    own = expand(master(s, utc(2026, 1, 1, 9)), *WIDE)
    shifted = [replace(o, start=o.start + timedelta(hours=1), recurrence_id=o.start + timedelta(hours=1))
               for o in own[:2]]
    merged, took, _reason = complete(shifted, own)
    assert took == "server" and merged == shifted
