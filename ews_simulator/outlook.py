"""A person at Outlook: edits their own calendar directly in the store, as Outlook would via MAPI.

Every change goes through the store, so ChangeKeys, SyncFolderItems and notifications see it."""
from __future__ import annotations

from datetime import UTC, date, datetime

from . import calendar, recurrence, timezones
from .store import Attendee, CalendarItem, new_id


def _utc(value, tz: str = "UTC") -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    elif type(value) is not datetime:  # subclasses such as exchangelib's EWSDateTime
        value = datetime.fromisoformat(value.isoformat())
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezones.zone(timezones.windows_id(tz)))
    return value.astimezone(UTC)


class Outlook:
    def __init__(self, sim, email: str):
        self.sim, self.store = sim, sim.store
        self.mailbox = sim.directory.resolve(email)
        self.email = self.mailbox.primary.lower()
        self.store.ensure_mailbox(self.email)

    def calendar(self, name: str | None = None):
        if not name:
            return self.store.folder(self.email, "calendar")
        return self.store.find_calendar(self.email, name)

    def add_calendar(self, name: str):
        return self.store.add_calendar(self.email, name)

    def delete_calendar(self, name: str):
        self.store.delete_calendar(self.email, name)

    def _item(self, item_id: str) -> CalendarItem:
        item = self.store.get(item_id)
        if item is None:
            raise KeyError(f"no item {item_id}")
        return item

    def _change(self, item_id: str, **attrs) -> CalendarItem:
        with self.store.lock:
            item = self._item(item_id)
            for key, value in attrs.items():
                setattr(item, key, value)
            return self.store.touch(item)

    # -- single events ---------------------------------------------------------------------------------
    def create(self, subject: str, start, end, *, location: str = "", body: str = "", free_busy: str = "Busy",
               sensitivity: str = "Normal", all_day: bool = False, tz: str = "UTC", calendar: str | None = None,
               attendees=(), categories=(), extended: dict | None = None, recurrence_: dict | None = None) -> str:
        folder = self.calendar(calendar)
        win = timezones.windows_id(tz)
        item = CalendarItem(id=new_id(b"I", self.email), folder_id=folder.id, mailbox=self.email, subject=subject,
                            body=body, body_type="Text", start=_utc(start, tz), end=_utc(end, tz), start_tz=win,
                            end_tz=win, is_all_day=all_day, free_busy=free_busy, sensitivity=sensitivity,
                            location=location, organizer=Attendee(self.mailbox.primary, self.mailbox.name),
                            required=[Attendee(a) if isinstance(a, str) else Attendee(*a) for a in attendees],
                            categories=list(categories), extended=dict(extended or {}),
                            recurrence=recurrence_, created_by=self.mailbox.owner_upn)
        return self.store.add(item).id

    def move(self, item_id: str, start, end, tz: str = "UTC") -> str:
        return self._change(item_id, start=_utc(start, tz), end=_utc(end, tz)).change_key

    def make_free(self, item_id: str):
        return self._change(item_id, free_busy="Free").change_key

    def make_busy(self, item_id: str):
        return self._change(item_id, free_busy="Busy").change_key

    def make_tentative(self, item_id: str):
        return self._change(item_id, free_busy="Tentative").change_key

    def make_private(self, item_id: str, private: bool = True):
        return self._change(item_id, sensitivity="Private" if private else "Normal").change_key

    def rename(self, item_id: str, subject: str):
        return self._change(item_id, subject=subject).change_key

    def set_body(self, item_id: str, text: str, body_type: str = "Text"):
        return self._change(item_id, body=text, body_type=body_type).change_key

    def delete(self, item_id: str) -> None:
        with self.store.lock:
            self.store.remove(self._item(item_id))

    def move_to_calendar(self, item_id: str, name: str) -> str:
        with self.store.lock:
            return self.store.move(self._item(item_id), self.calendar(name)).id

    # -- recurring series -----------------------------------------------------------------------------------
    def create_recurring(self, subject: str, start, end, *, pattern: str = "Weekly", interval: int = 1,
                         days=(), count: int | None = None, until: date | None = None, tz: str = "UTC",
                         **kwargs) -> str:
        rec = self._pattern(_utc(start, tz), tz, pattern, interval, days, count, until)
        return self.create(subject, start, end, tz=tz, recurrence_=rec, **kwargs)

    def _pattern(self, start_utc, tz, pattern, interval, days, count, until):
        local = start_utc.astimezone(timezones.zone(timezones.windows_id(tz)))
        name = pattern if pattern.endswith("Recurrence") else f"{pattern}Recurrence"
        if name == "MonthlyRecurrence":
            name = "AbsoluteMonthlyRecurrence"
        if name == "YearlyRecurrence":
            name = "AbsoluteYearlyRecurrence"
        range_ = "NumberedRecurrence" if count else "EndDateRecurrence" if until else "NoEndRecurrence"
        days = list(days) or [local.strftime("%A")]
        return recurrence.build(name, range_, local.date(), interval=interval, days=days, count=count, end=until)

    def change_recurrence(self, item_id: str, *, pattern: str = "Weekly", interval: int = 1, days=(),
                          count: int | None = None, until: date | None = None) -> str:
        with self.store.lock:
            item = self._item(item_id)
            tz = timezones.WINDOWS_TO_IANA.get(item.start_tz, "UTC")
            rec = self._pattern(item.start, tz, pattern, interval, days, count, until)
            return self._change(item_id, recurrence=rec, modified={}, deleted=set()).change_key

    def occurrences(self, item_id: str, start, end) -> list[CalendarItem]:
        return calendar.expand(self._item(item_id), _utc(start), _utc(end))

    def delete_occurrence(self, item_id: str, original_start) -> None:
        with self.store.lock:
            item = self._item(item_id)
            orig = _utc(original_start)
            item.deleted.add(orig)
            item.modified.pop(orig, None)
            self.store.touch(item)

    def move_occurrence(self, item_id: str, original_start, start, end, **changes) -> None:
        with self.store.lock:
            item = self._item(item_id)
            orig = _utc(original_start)
            overrides = dict(item.modified.get(orig, {}))
            overrides.update(changes, start=_utc(start), end=_utc(end))
            overrides["_version"] = overrides.get("_version", 0) + 1
            item.modified[orig] = overrides
            self.store.touch(item)

    # -- reading -----------------------------------------------------------------------------------------------
    def items(self, calendar: str | None = None) -> list[CalendarItem]:
        return sorted(self.store.folder_items(self.calendar(calendar).id), key=lambda i: i.start)

    def get(self, item_id: str) -> CalendarItem:
        return self._item(item_id)
