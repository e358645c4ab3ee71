"""A whole mailbox at once: what Exchange reported + the stored links + Sundial's appointments → actions.

plan.py decides one item; this module decides everything that needs the mailbox as a whole: an item gone
(D1), a series gone with all its occurrences, an item the full listing no longer holds (found by a re-scan),
removals held back until an initial import has seen every page, and the mass-deletion guard (habit 8).
The engine reads Exchange and the database, calls this, and applies what comes back; nothing here does I/O.

    planner = MailboxPlanner(Mailbox(staff_id, settings, folder_id, links, appointments.get))
    planned = planner.plan(snapshot)            # incremental sync
    stop = guard(planned, linked, confirmed)    # None, or the sentence that stops a mass deletion
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ..ews_soap.types import CalendarEvent
from .actions import Action, DropLink, KeepLink, LinkValues, Skip
from .plan import LinkState, linked_units, needs_confirmation, plan_exchange_item, plan_gone, plan_series, removals
from .rules import SyncSettings
from .sanity import item_problem
from .shapes import AppointmentSide, item_key, series_key

# SyncFolderItems reports an item moved to another calendar as a Delete, like a deletion (I2/D2): say both.
GONE = "the event left the primary calendar in Exchange (deleted, or moved to another calendar)"
SERIES_GONE = "the recurring series was removed in Exchange"
RESCAN_GONE = "not in the calendar any more (found by a full re-scan)"


@dataclass
class Planned:
    """The actions for one Exchange item, with what the activity log shows about it."""

    actions: list[Action]
    modified: datetime | None = None
    subject: str | None = None


@dataclass(frozen=True)
class Series:
    """A recurring master and its occurrences and exceptions over the sync horizon (U4)."""

    master: CalendarEvent
    occurrences: list[CalendarEvent]
    expansion: tuple[str, str] | None = None  # U6: (path, reason) from sync.recurrence.complete


@dataclass
class Snapshot:
    """What Exchange reported for one mailbox: changed singles, re-expanded series and deleted item ids.
    `complete`: the whole calendar was listed, so a linked item it does not hold is gone."""

    events: list[CalendarEvent] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    complete: bool = False


@dataclass(frozen=True)
class Mailbox:
    staff_id: int
    settings: SyncSettings
    folder_id: str | None
    links: Mapping[str, LinkState]  # item_key → link; the engine's live view, so links applied meanwhile count
    appointment: Callable[[int], AppointmentSide | None]


def is_series(link: LinkState) -> bool:
    """The bookkeeping link of a recurring master (its occurrences have links of their own)."""
    return link.item_key == link.item_id and link.master_item_id is not None and link.absence_id is None \
        and link.appointment_id is None and link.content_hash is None


def stands_for_something(link: LinkState) -> bool:
    return link.absence_id is not None or link.appointment_id is not None


class MailboxPlanner:
    def __init__(self, mailbox: Mailbox):
        self.mb = mailbox
        self.out: list[Planned] = []
        self.seen: set[str] = set()
        self.held: list[Planned] = []
        self._by_item_id: dict[str, LinkState] | None = None

    def _appt(self, appointment_id: int | None) -> AppointmentSide | None:
        return self.mb.appointment(appointment_id) if appointment_id else None

    # ----- one mailbox, one snapshot ------------------------------------------------------------------
    def plan(self, snap: Snapshot) -> list[Planned]:
        self._by_item_id = {ln.item_id: ln for ln in self.mb.links.values() if ln.item_id}
        for item_id in snap.deleted:
            self.deleted(item_id)
        for ev in snap.events:
            self.event(ev)
        for s in snap.series:
            self.series(s)
        if snap.complete:
            self.unseen_gone()
        return self.out

    def absurd(self, ev: CalendarEvent) -> bool:
        """G11/R5: an item that cannot be planned is explained in the activity log and left as it is in
        Sundial (never stored inverted or absurd); the rest of the mailbox goes on."""
        why = item_problem(ev)
        if why is None:
            return False
        key = item_key(ev) if ev.item_type != "RecurringMaster" else ev.item_id
        self.seen.add(key)
        self.out.append(Planned([Skip(key, "G11", why, (ev.subject or "")[:255] or None)]))
        return True

    def event(self, ev: CalendarEvent) -> None:
        if self.absurd(ev):
            return
        key = item_key(ev)
        self.seen.add(key)
        link = self.mb.links.get(key)
        appt = self._appt(ev.appointment_id or (link.appointment_id if link else None))
        acts = plan_exchange_item(ev, link, appt, self.mb.staff_id, self.mb.settings, self.mb.folder_id)
        self.out.append(Planned(acts, ev.last_modified, ev.subject))

    def deleted(self, item_id: str) -> None:
        if self._by_item_id is None:
            self._by_item_id = {ln.item_id: ln for ln in self.mb.links.values() if ln.item_id}
        link = self._by_item_id.get(item_id)
        if link is not None:
            self.gone(link)

    def gone(self, link: LinkState, rule: str = "D1", why: str = GONE) -> None:
        """D1/D2 (D3 for an appointment): the item left the calendar; a series takes its occurrences along."""
        if is_series(link):
            for occ in [ln for ln in list(self.mb.links.values())
                        if ln.master_item_id == link.master_item_id and ln.item_key != link.item_key]:
                self.gone(occ, "D1", SERIES_GONE)
            self.out.append(Planned([DropLink(link.item_key)]))
            return
        acts = plan_gone(link, self._appt(link.appointment_id), self.mb.staff_id, rule, why)
        self.out.append(Planned(acts))

    def series(self, s: Series) -> None:
        """U4: the occurrences expanded over the horizon are the truth for the whole series."""
        m, skey = s.master, series_key(s.master)
        if self.absurd(m):
            return
        occurrences = [e for e in s.occurrences if not self.absurd(e)]
        s = Series(m, occurrences, s.expansion)
        self.seen.add(m.item_id)
        self.out.append(Planned([KeepLink(LinkValues(m.item_id, m.item_id, m.change_key, None, skey,
                                                     m.last_modified))]))
        links = [ln for ln in self.mb.links.values() if ln.master_item_id == skey and ln.item_key != m.item_id]
        self.seen.update(item_key(e) for e in s.occurrences)
        acts = plan_series(m, s.occurrences, links, self.mb.staff_id, self.mb.settings, self.mb.folder_id,
                           s.expansion)
        self.out.append(Planned(acts, m.last_modified, m.subject))

    def unseen_gone(self) -> None:
        """A full listing: a linked item the calendar no longer holds was deleted (D1/D3)."""
        for link in list(self.mb.links.values()):
            if link.item_key in self.seen:
                continue
            if is_series(link):
                self.out.append(Planned([DropLink(link.item_key)]))
            elif stands_for_something(link):
                self.gone(link, "D1", RESCAN_GONE)

    # ----- an initial import, page by page ---------------------------------------------------------------
    def import_page(self, events: list[CalendarEvent]) -> list[Planned]:
        """One SyncFolderItems page of a full listing: what may be applied now. Removals wait for the last
        page (held), where the mass-deletion guard sees them all together."""
        self.out = []
        for ev in events:
            self.event(ev)
        self.held += [p for p in self.out if removals(p.actions)]
        return [p for p in self.out if not removals(p.actions)]

    def end_of_listing(self, series: list[Series], deleted: set[str]) -> list[Planned]:
        """After the last page: held removals, the series, and every linked item the listing does not hold —
        including items an earlier page listed and a later page reported deleted (D1 between pages)."""
        self.out = self.held
        for s in series:
            self.series(s)
        self.seen -= {key for key, ln in self.mb.links.items() if {ln.item_id, ln.master_item_id} & deleted}
        self.unseen_gone()
        return self.out


def guard(planned: list[Planned], linked: int, confirmed: bool) -> str | None:
    """Habit 8: the sentence that stops a sync which would remove (almost) everything, or None."""
    removing = removals([a for p in planned for a in p.actions])
    if confirmed or not needs_confirmation(linked, removing):
        return None
    return (f"Exchange now shows {removing} of {linked} synced events as removed; nothing was changed until an "
            "admin confirms this calendar really was emptied.")


def linked_count(links: Mapping[str, LinkState]) -> int:
    """Exchange items that stand for something in Sundial (a series counts once) — the guard's base."""
    return linked_units([ln.item_key for ln in links.values() if stands_for_something(ln)])


def unconfirmed(links: Mapping[str, LinkState], changed: set[str]) -> list[LinkState]:
    """Items Sundial created after the stored sync state and not yet reported back: their deletion is never
    reported (the state never knew them), so the engine checks them with GetItem."""
    return [ln for ln in links.values() if ln.appointment_id is not None and ln.exchange_modified_at is None
            and ln.item_id and ln.item_id not in changed]


def unchanged_series(links: Mapping[str, LinkState], changed: set[str]) -> list[LinkState]:
    """U4: series to expand again when the horizon moves on (once a day)."""
    return [ln for ln in links.values() if is_series(ln) and ln.item_id not in changed]
