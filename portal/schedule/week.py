"""Week grid layout (A2, C3): blocks positioned by local wall-clock time, correct across DST.

Each day column is a 24-hour wall-clock axis. A block's top and height come from its local start
and end wall-clock minutes (zoneinfo), so a 10:00 appointment sits at 10:00 on a 23- or 25-hour
day too. When the clock goes back, an event inside the repeated hour can end at an earlier wall
time than it started (01:30 EDT → 01:10 EST); such a block keeps its real length instead.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY_MINUTES = 24 * 60


@dataclass
class Block:
    kind: str  # appointment | absence | absence-oof | absence-tentative
    title: str
    subtitle: str
    start: datetime  # whole event, local time
    end: datetime
    top: int  # wall-clock minutes from this day's midnight
    height: int
    lane: int = 0
    lanes: int = 1
    record_id: int | None = None
    continues_before: bool = False
    continues_after: bool = False
    href: str | None = None  # the appointment's page, or the Exchange block's details (P5)
    flag: str | None = None  # P5: e.g. "Overlaps Exchange busy time"

    @property
    def label(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"

    @property
    def key(self) -> str:
        """P4: which record this block shows; `sig` changes whenever what it shows changes."""
        return f"{'a' if self.kind.startswith('appointment') else 'x'}{self.record_id}"

    @property
    def sig(self) -> str:
        return f"{self.title}|{self.subtitle}|{self.start:%Y%m%d%H%M}|{self.end:%Y%m%d%H%M}|{self.kind}|{self.flag}"


@dataclass
class Day:
    date: date
    hours: float  # 23, 24 or 25 on a DST change
    is_today: bool
    blocks: list[Block] = field(default_factory=list)
    all_day: list[Block] = field(default_factory=list)
    clock_change: str | None = None  # e.g. "Clocks go forward (EST → EDT)"
    now_minute: int | None = None
    dst_band: tuple[int, int, str] | None = None  # wall minutes skipped or repeated: (top, height, kind)


@dataclass
class Week:
    tz: str
    start: date
    days: list[Day]
    utc_start: datetime
    utc_end: datetime

    @property
    def end(self) -> date:
        return self.start + timedelta(days=6)

    @property
    def prev(self) -> date:
        return self.start - timedelta(days=7)

    @property
    def next(self) -> date:
        return self.start + timedelta(days=7)

    @property
    def zone_abbrevs(self) -> str:
        names = []
        for d in self.days:
            for n in (_midnight(d.date, ZoneInfo(self.tz)).tzname(),
                      _midnight(d.date + timedelta(days=1), ZoneInfo(self.tz)).tzname()):
                if n not in names:
                    names.append(n)
        return " / ".join(names)


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tz)


def wall_minutes(moment: datetime, day: date, tz: ZoneInfo) -> int:
    """Minutes between `day`'s local midnight and `moment` on the wall clock, clamped to the day."""
    local = moment.astimezone(tz)
    if local.date() < day:
        return 0
    if local.date() > day:
        return DAY_MINUTES
    return local.hour * 60 + local.minute


def one_day(tz_name: str, day: date, now: datetime) -> Week:
    """A one-day 'week' (the day view's columns): the same layout and DST rules as the week grid."""
    full = empty_week(tz_name, day, now)
    tz = ZoneInfo(tz_name)
    return Week(tz=tz_name, start=day, days=[d for d in full.days if d.date == day],
                utc_start=_midnight(day, tz).astimezone(UTC),
                utc_end=_midnight(day + timedelta(days=1), tz).astimezone(UTC))


def empty_week(tz_name: str, any_day: date, now: datetime) -> Week:
    tz = ZoneInfo(tz_name)
    start = monday_of(any_day)
    today = now.astimezone(tz).date()
    days = []
    for i in range(7):
        d = start + timedelta(days=i)
        begin, finish = _midnight(d, tz), _midnight(d + timedelta(days=1), tz)
        hours = (finish.astimezone(UTC) - begin.astimezone(UTC)).total_seconds() / 3600
        day = Day(date=d, hours=hours, is_today=(d == today))
        if begin.utcoffset() != finish.utcoffset():
            verb = "forward" if hours < 24 else "back"
            day.clock_change = f"Clocks go {verb} ({begin.tzname()} → {finish.tzname()})"
            day.dst_band = _dst_band(begin, finish, tz)
        if day.is_today:
            day.now_minute = wall_minutes(now, d, tz)
        days.append(day)
    return Week(tz=tz_name, start=start, days=days,
                utc_start=_midnight(start, tz).astimezone(UTC),
                utc_end=_midnight(start + timedelta(days=7), tz).astimezone(UTC))


def _dst_band(begin: datetime, finish: datetime, tz: ZoneInfo) -> tuple[int, int, str] | None:
    """The wall-clock hour a DST change skips (clocks forward) or repeats (clocks back) that day."""
    step, t = timedelta(minutes=15), begin.astimezone(UTC)
    while t < finish.astimezone(UTC):
        nxt = t + step
        if t.astimezone(tz).utcoffset() != nxt.astimezone(tz).utcoffset():
            before = (nxt - timedelta(seconds=1)).astimezone(tz)
            after = nxt.astimezone(tz)
            before_min = before.hour * 60 + before.minute + 1  # 01:59:59 → 120
            after_min = after.hour * 60 + after.minute
            if after_min > before_min:
                return before_min, after_min - before_min, "skipped"
            return after_min, before_min - after_min, "repeated"
        t = nxt
    return None


def place(week: Week, kind: str, title: str, subtitle: str, start: datetime, end: datetime,
          record_id: int | None = None, all_day: bool = False, href: str | None = None,
          flag: str | None = None) -> None:
    """Cut an event into one block per day it touches and add them to the week."""
    tz = ZoneInfo(week.tz)
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    for day in week.days:
        begin, finish = _midnight(day.date, tz), _midnight(day.date + timedelta(days=1), tz)
        if not (start < finish and end > begin):
            continue
        top, bottom = wall_minutes(start, day.date, tz), wall_minutes(end, day.date, tz)
        if bottom <= top:  # inside a repeated hour (clocks went back): keep the real length
            real = int((min(end, finish) - max(start, begin)).total_seconds() // 60)
            bottom = min(DAY_MINUTES, top + real)
        block = Block(kind=kind, title=title, subtitle=subtitle, start=local_start, end=local_end,
                      top=top, height=max(bottom - top, 15), record_id=record_id,
                      continues_before=start < begin, continues_after=end > finish, href=href, flag=flag)
        (day.all_day if all_day else day.blocks).append(block)
    for day in week.days:
        assign_lanes(day.blocks)


def assign_lanes(blocks: list[Block]) -> None:
    """Side-by-side lanes for overlapping blocks (like a calendar app): each cluster shares a width."""
    blocks.sort(key=lambda b: (b.top, -b.height))
    cluster: list[Block] = []
    cluster_end = -1
    for block in blocks + [None]:
        if block is None or block.top >= cluster_end:
            lanes_end: list[int] = []
            for b in cluster:
                for i, lane_end in enumerate(lanes_end):
                    if lane_end <= b.top:
                        b.lane, lanes_end[i] = i, b.top + b.height
                        break
                else:
                    b.lane = len(lanes_end)
                    lanes_end.append(b.top + b.height)
            for b in cluster:
                b.lanes = max(1, len(lanes_end))
            cluster, cluster_end = [], -1
        if block is not None:
            cluster.append(block)
            cluster_end = max(cluster_end, block.top + block.height)
