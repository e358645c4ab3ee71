"""calendar_view window logic without a server: ≤ 2-year windows (ErrorCalendarViewRangeTooBig past two years,
EWS-FACTS §2), continue from the last item of a truncated window, halve when that makes no progress."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ews_testkit import config

from portal.ews_soap.operations import find_item
from portal.ews_soap.session import MAX_VIEW_WINDOW, ExchangeSession
from portal.ews_soap.types import CalendarEvent

START = datetime(2026, 1, 1, tzinfo=UTC)


def fake_session(monkeypatch, answer):
    """answer(lo, hi) -> ViewPage; records every window asked."""
    ews = ExchangeSession(config())
    asked = []

    def fake_call(op, body, mailbox, **kw):
        view = body["CalendarView"]
        lo = datetime.fromisoformat(view["StartDate"].replace("Z", "+00:00"))
        hi = datetime.fromisoformat(view["EndDate"].replace("Z", "+00:00"))
        asked.append((lo, hi))
        return (lo, hi)

    monkeypatch.setattr(ews, "_call", fake_call)
    monkeypatch.setattr(find_item, "parse", lambda window: answer(*window))
    return ews, asked


def ev(i, start):
    return CalendarEvent(item_id=f"id{i}", start=start, end=start + timedelta(minutes=30))


def test_range_over_two_years_is_split(monkeypatch):
    ews, asked = fake_session(monkeypatch, lambda lo, hi: find_item.ViewPage([ev(lo.toordinal(), lo)], True, 1))
    events = ews.calendar_view("a@x", START, START + timedelta(days=3 * 365))
    assert len(asked) == 2 and all(hi - lo <= MAX_VIEW_WINDOW for lo, hi in asked)
    assert asked[0][0] == START and asked[-1][1] == START + timedelta(days=3 * 365)
    assert len(events) == 2


def test_truncated_window_continues_from_last_item(monkeypatch):
    items = [ev(i, START + timedelta(hours=i)) for i in range(25)]

    def answer(lo, hi):
        inside = [e for e in items if lo <= e.start < hi]
        return find_item.ViewPage(inside[:10], len(inside) <= 10, len(inside))

    ews, asked = fake_session(monkeypatch, answer)
    events = ews.calendar_view("a@x", START, START + timedelta(days=2))
    assert [e.item_id for e in events] == [e.item_id for e in items]
    assert len(asked) == 3  # 10 + 10 + 5, each window starting at the previous window's last start


def test_no_progress_halves_the_window(monkeypatch):
    same = [ev(i, START) for i in range(30)]  # 30 items at one instant: "continue from last" cannot advance

    def answer(lo, hi):
        inside = [e for e in same if lo <= e.start < hi]
        return find_item.ViewPage(inside[:10], len(inside) <= 10, len(inside))

    ews, asked = fake_session(monkeypatch, answer)
    ews.calendar_view("a@x", START, START + timedelta(hours=8))
    assert len(asked) > 1 and all(hi > lo for lo, hi in asked)  # terminates (halving stops at one hour)
