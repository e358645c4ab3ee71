"""Recurrence expansion, occurrences, sync states and the Outlook API, without HTTP."""
from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ews_simulator import calendar, recurrence
from ews_simulator.operations.sync import changes_since, decode_state, encode_state
from ews_simulator.outlook import Outlook
from ews_simulator.soap import EwsError
from ews_simulator.testing import make_simulator

MAILBOX = "dana@example.com"


@pytest.fixture
def person():
    sim, _ = make_simulator(validate_requests=False)
    sim.directory.add_mailbox(MAILBOX, "Dana")
    return Outlook(sim, MAILBOX)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_u4_weekly_series_keeps_local_time_across_dst(person):
    # 09:00 Berlin: 08:00 UTC in winter, 07:00 UTC after the March change
    item_id = person.create_recurring("Weekly", "2027-03-15T09:00", "2027-03-15T09:30", tz="Europe/Berlin",
                                      days=["Monday"], count=4)
    starts = [o.start for o in person.occurrences(item_id, utc(2027, 3, 1), utc(2027, 5, 1))]
    assert starts == [utc(2027, 3, 15, 8), utc(2027, 3, 22, 8), utc(2027, 3, 29, 7), utc(2027, 4, 5, 7)]


@pytest.mark.parametrize(("pattern", "kwargs", "expected_days"), [
    ("DailyRecurrence", {"interval": 3}, [1, 4, 7, 10]),
    ("WeeklyRecurrence", {"days": ["Tuesday", "Thursday"]}, [1, 3, 8, 10]),
    ("AbsoluteMonthlyRecurrence", {"day_of_month": 1}, [1]),
    ("RelativeMonthlyRecurrence", {"days": ["Weekday"], "index": "Last"}, [30]),
])
def test_patterns(person, pattern, kwargs, expected_days):
    rec = recurrence.build(pattern, "NumberedRecurrence", date(2027, 6, 1), count=4, **kwargs)
    item_id = person.create("Series", utc(2027, 6, 1, 12), utc(2027, 6, 1, 13), recurrence_=rec)
    views = person.occurrences(item_id, utc(2027, 6, 1), utc(2027, 6, 12) if len(expected_days) > 1
                               else utc(2027, 7, 1))
    days = [v.start.day for v in views if v.start.month == 6]
    assert days[:len(expected_days)] == expected_days


def test_modified_and_deleted_occurrences(person):
    item_id = person.create_recurring("Daily", utc(2027, 1, 4, 10), utc(2027, 1, 4, 11), pattern="Daily", count=5)
    person.delete_occurrence(item_id, utc(2027, 1, 5, 10))
    person.move_occurrence(item_id, utc(2027, 1, 6, 10), utc(2027, 1, 6, 15), utc(2027, 1, 6, 16), subject="Moved")
    views = person.occurrences(item_id, utc(2027, 1, 1), utc(2027, 1, 31))
    assert [(v.start.day, v.item_type) for v in views] == [(4, "Occurrence"), (6, "Exception"), (7, "Occurrence"),
                                                          (8, "Occurrence")]
    assert views[1].subject == "Moved" and views[1].original_start == utc(2027, 1, 6, 10)
    occ_id = views[2].id
    assert calendar.lookup(person.store, occ_id).original_start == utc(2027, 1, 7, 10)
    first, last = calendar.first_last(person.get(item_id))
    assert first.start == utc(2027, 1, 4, 10) and last.start == utc(2027, 1, 8, 10)


def test_change_recurrence_drops_exceptions(person):
    item_id = person.create_recurring("Weekly", utc(2027, 1, 4, 10), utc(2027, 1, 4, 11), count=4)
    person.delete_occurrence(item_id, utc(2027, 1, 11, 10))
    person.change_recurrence(item_id, pattern="Daily", count=2)
    assert [v.start.day for v in person.occurrences(item_id, utc(2027, 1, 1), utc(2027, 2, 1))] == [4, 5]


def test_outlook_actions_change_change_key_and_sync_log(person):
    item_id = person.create("Lunch", utc(2027, 2, 1, 12), utc(2027, 2, 1, 13))
    key = person.get(item_id).change_key
    person.make_private(item_id)
    person.make_free(item_id)
    person.rename(item_id, "Long lunch")
    person.set_body(item_id, "<b>bring cake</b>", "HTML")
    item = person.get(item_id)
    assert (item.sensitivity, item.free_busy, item.subject) == ("Private", "Free", "Long lunch")
    assert item.change_key != key
    folder = person.calendar()
    new_id = person.move_to_calendar(item_id, "Side calendar")
    assert new_id != item_id and person.items("Side calendar")[0].id == new_id
    assert changes_since(person.store, folder.id, 0, {}) == []  # created and moved away: nothing to report


def test_sync_state_is_opaque_and_checked(person):
    folder = person.calendar()
    state = encode_state(b"k" * 16, folder.id, 5, {})
    assert decode_state(b"k" * 16, folder.id, state) == (5, {})
    for bad in ("not-base64!", state[:-4] + "AAAA", encode_state(b"x" * 16, folder.id, 5, {})):
        with pytest.raises(EwsError) as info:
            decode_state(b"k" * 16, folder.id, bad)
        assert info.value.code == "ErrorInvalidSyncStateData"


def test_paged_sync_never_reports_update_for_an_unsent_item(person):
    folder = person.calendar()
    a = person.create("A", utc(2027, 3, 1, 9), utc(2027, 3, 1, 10))
    person.create("B", utc(2027, 3, 2, 9), utc(2027, 3, 2, 10))
    person.rename(a, "A2")  # A's last change is now after B's
    first = changes_since(person.store, folder.id, 0, {})[:1]
    assert [k for _s, k, _i in first] == ["Create"]
    delivered = {__import__("ews_simulator.operations.sync", fromlist=["_short"])._short(i): [s, k]
                 for s, k, i in first}
    rest = changes_since(person.store, folder.id, 0, delivered)
    assert [k for _s, k, _i in rest] == ["Create"]


def test_occurrence_change_keys_follow_the_series(person):
    item_id = person.create_recurring("Weekly", utc(2027, 1, 4, 10), utc(2027, 1, 4, 11), count=3)
    before = [o.change_key for o in person.occurrences(item_id, utc(2027, 1, 1), utc(2027, 2, 1))]
    person.rename(item_id, "Weekly (renamed)")
    after = [o.change_key for o in person.occurrences(item_id, utc(2027, 1, 1), utc(2027, 2, 1))]
    assert len(set(before + after)) == 6  # every occurrence shows the series changed
