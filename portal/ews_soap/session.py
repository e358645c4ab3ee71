"""ExchangeSession: the public entry point (docs/CONTRACTS.md "portal/ews_soap public API").

`mailbox` is a primary SMTP address. With ServerConfig.impersonation the mailbox is reached through the
ExchangeImpersonation header (+ X-AnchorMailbox); otherwise through delegate access, naming the mailbox in
DistinguishedFolderId/Mailbox (SPEC G5, EWS-FACTS §6). mailbox=None means the service account's own.

Request budget (what each call costs in HTTP requests, NTLM handshakes on a fresh connection aside):
  primary_calendar 1 · resolve_mailbox 1 · calendar_view 1 per ≤ 2-year window holding ≤ 1000 items
  (a truncated window continues from its last item: ⌈n/1000⌉ requests) · get_items ⌈n/100⌉ ·
  create/update/delete ⌈n/50⌉ ·
  sync_folder_items 1 per page of ≤ 512 changes (an idle poll is exactly 1) · subscribe 1 per mailbox ·
  get_events 1 · stream_events 1 long-lived response. Fetching 1,000 events with bodies therefore costs
  1 FindItem + 10 GetItem = 11 requests, or 2 SyncFolderItems pages (512 + 488) on an initial sync.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta

import requests

from . import affinity
from .client import EwsClient
from .errors import MailboxNotFound, ProtocolError
from .operations import (
    create_item,
    delete_item,
    find_item,
    get_events,
    get_folder,
    get_item,
    get_streaming_events,
    resolve_names,
    subscribe,
    sync_folder_items,
    unsubscribe,
    update_item,
)
from .operations.common import chunks
from .probe import run_probe
from .transport import map_request_exception
from .types import (
    CalendarEvent,
    EventBatch,
    EventUpdate,
    FolderInfo,
    ItemError,
    ItemRef,
    ItemResult,
    NewEvent,
    ProbeResult,
    ResolvedMailbox,
    ServerConfig,
    StreamItem,
    Subscription,
    SyncPage,
)

# "more than two years" → ErrorCalendarViewRangeTooBig (EWS-FACTS §2); stay safely inside it.
MAX_VIEW_WINDOW = timedelta(days=720)
MIN_VIEW_WINDOW = timedelta(hours=1)


class ExchangeSession:
    def __init__(self, config: ServerConfig, gate=None):
        self.config = config
        self.client = EwsClient(config, gate)
        self._affinity: dict[str, str] = {}  # anchor mailbox → X-BackEndOverrideCookie (EWS-FACTS §6)

    # ----- helpers -----------------------------------------------------------------------------
    @property
    def delegate(self) -> bool:
        return not self.config.impersonation

    @property
    def server_version(self):
        return self.client.server_version

    def _call(self, op, body: dict, mailbox: str | None, **kw):
        return self.client.call(op.OPERATION, body, mailbox=mailbox,
                                impersonate=self.config.impersonation and mailbox is not None, **kw)

    # ----- Authorize (S6) ---------------------------------------------------------------------
    def probe(self, impersonate: str | None = None) -> ProbeResult:
        """Authorize (S6): see probe.py; raises the typed error of the first failing check."""
        return run_probe(self, impersonate)

    # ----- directory and folders ---------------------------------------------------------------
    def resolve_mailbox(self, email: str) -> ResolvedMailbox:
        """I1: raises MailboxNotFound / NotPrimaryAddress."""
        try:
            found = resolve_names.candidates(self.client.call(resolve_names.OPERATION, resolve_names.body(email)))
        except MailboxNotFound as exc:
            exc.address = email
            raise
        return resolve_names.pick(email, found)

    def mailbox_affinity(self, mailboxes: list[str]) -> list[affinity.MailboxAffinity]:
        """Server affinity (ExternalEwsUrl + GroupingInformation) per mailbox through SOAP Autodiscover, for
        grouping streaming subscriptions (EWS-FACTS §6); ⌈n/100⌉ requests."""
        return affinity.fetch(self.client, mailboxes)

    def primary_calendar(self, mailbox: str | None) -> FolderInfo:
        return get_folder.parse(self._call(get_folder, get_folder.body(mailbox, self.delegate), mailbox))

    # ----- reading -----------------------------------------------------------------------------
    def calendar_view(self, mailbox: str | None, start: datetime, end: datetime,
                      folder_id: str | None = None) -> list[CalendarEvent]:
        """Occurrences and singles overlapping [start, end). Windows are cut at two years; a truncated window
        (IncludesLastItemInRange=false) is continued from the start of the last item returned — CalendarView
        answers in start order and has no offset paging (EWS-FACTS §2) — or halved when that makes no progress.
        FindItem returns no body and no attendees: use get_items for those."""
        seen: dict[str, CalendarEvent] = {}
        pending = []
        cursor = start
        while cursor < end:
            pending.append((cursor, min(cursor + MAX_VIEW_WINDOW, end)))
            cursor = pending[-1][1]
        while pending:
            lo, hi = pending.pop(0)
            body = find_item.calendar_view_body(folder_id, mailbox, self.delegate, lo, hi)
            page = find_item.parse(self._call(find_item, body, mailbox))
            for ev in page.events:
                seen.setdefault(ev.item_id, ev)
            if page.includes_last:
                continue
            last = max((e.start for e in page.events if e.start), default=None)
            if last is not None and lo < last < hi:
                pending.insert(0, (last, hi))
            elif hi - lo > MIN_VIEW_WINDOW:
                mid = lo + (hi - lo) / 2
                pending[:0] = [(lo, mid), (mid, hi)]
        return sorted(seen.values(), key=lambda e: (e.start or start, e.item_id))

    def get_items(self, mailbox: str | None, item_ids: list[str], series: bool = False
                  ) -> list[CalendarEvent | ItemError]:
        """Full items in batches; `series` also reads recurring masters' patterns (CalendarEvent.series, U6)."""
        out: list[CalendarEvent | ItemError] = []
        for batch in chunks(list(item_ids), get_item.BATCH):
            out += get_item.parse(self._call(get_item, get_item.body(batch, series), mailbox), batch)
        return out

    def find_by_appointment_id(self, mailbox: str | None, appointment_id: int,
                               folder_id: str | None = None) -> list[CalendarEvent]:
        body = find_item.by_appointment_body(folder_id, mailbox, self.delegate, appointment_id)
        return find_item.parse(self._call(find_item, body, mailbox)).events

    def sync_folder_items(self, mailbox: str | None, folder_id: str | None, sync_state: str | None,
                          max_changes: int = 512, ignore: list[str] | None = None) -> SyncPage:
        """One page; call again with page.sync_state until page.includes_last (EWS-FACTS §1)."""
        body = sync_folder_items.body(folder_id, mailbox, self.delegate, sync_state, max_changes, ignore)
        return sync_folder_items.parse(self._call(sync_folder_items, body, mailbox))

    def sync_all(self, mailbox: str | None, folder_id: str | None, sync_state: str | None,
                 max_changes: int = 512) -> Iterator[SyncPage]:
        """Pages until IncludesLastItemInRange; persist each page's sync_state as you go."""
        while True:
            page = self.sync_folder_items(mailbox, folder_id, sync_state, max_changes)
            yield page
            if page.includes_last:
                return
            sync_state = page.sync_state

    # ----- writing -----------------------------------------------------------------------------
    def create_events(self, mailbox: str | None, events: list[NewEvent],
                      folder_id: str | None = None) -> list[ItemResult]:
        out: list[ItemResult] = []
        for batch in chunks(list(events), create_item.BATCH):
            body = create_item.body(batch, folder_id, mailbox, self.delegate)
            reply = self._call(create_item, body, mailbox, time_zone=batch[0].time_zone)
            out += create_item.parse(reply, len(batch))
        return out

    def update_events(self, mailbox: str | None, updates: list[EventUpdate],
                      conflict: str = "AlwaysOverwrite") -> list[ItemResult]:
        results: dict[int, ItemResult] = {}
        todo = []
        for index, up in enumerate(updates):
            if update_item.has_changes(up):
                todo.append((index, up))
            else:  # nothing to set: no request, the item is unchanged
                results[index] = ItemResult(up.item_id, up.change_key)
        for batch in chunks(todo, update_item.BATCH):
            ups = [up for _, up in batch]
            reply = self._call(update_item, update_item.body(ups, conflict), mailbox, time_zone=ups[0].time_zone)
            for (index, _), res in zip(batch, update_item.parse(reply, ups), strict=False):
                results[index] = res
        return [results[i] for i in range(len(updates))]

    def delete_items(self, mailbox: str | None, refs: list[ItemRef],
                     delete_type: str = "MoveToDeletedItems") -> list[ItemResult]:
        out: list[ItemResult] = []
        for batch in chunks(list(refs), delete_item.BATCH):
            out += delete_item.parse(self._call(delete_item, delete_item.body(batch, delete_type), mailbox), batch)
        return out

    # ----- notifications -----------------------------------------------------------------------
    def subscribe_streaming(self, mailboxes: list[str], anchor: str | None = None,
                            folder_ids: dict[str, str] | None = None) -> list[Subscription]:
        """One Subscribe per mailbox, all routed to the anchor's server: X-AnchorMailbox + X-PreferServerAffinity,
        then the returned X-BackEndOverrideCookie replayed (EWS-FACTS §6, samples *-affinity-*.http)."""
        anchor = anchor or (mailboxes[0] if mailboxes else None)
        cookie = self._affinity.get(anchor or "")
        out = []
        for mailbox in mailboxes:
            extra = {"X-AnchorMailbox": anchor, "X-PreferServerAffinity": "true"}
            if cookie:
                extra["Cookie"] = f"X-BackEndOverrideCookie={cookie}"
            body = subscribe.streaming_body((folder_ids or {}).get(mailbox), mailbox, self.delegate)
            reply = self._call(subscribe, body, mailbox, extra_headers=extra)
            cookie = cookie or _affinity_cookie(self.client.last_headers)
            if cookie and anchor:
                self._affinity[anchor] = cookie
            out.append(subscribe.parse(reply, mailbox, "streaming", cookie))
        return out

    def subscribe_pull(self, mailbox: str | None, timeout_minutes: int = 30,
                       folder_id: str | None = None) -> Subscription:
        body = subscribe.pull_body(folder_id, mailbox, self.delegate, timeout_minutes)
        return subscribe.parse(self._call(subscribe, body, mailbox), mailbox, "pull")

    def get_events(self, mailbox: str | None, subscription_id: str, watermark: str) -> EventBatch:
        body = get_events.body(subscription_id, watermark)
        return get_events.parse(self._call(get_events, body, mailbox), subscription_id)

    def stream_events(self, subscription_ids: list[str], anchor: str | None, connection_timeout_minutes: int = 30,
                      cookie: str | None = None, on_open=None,
                      idle_timeout: float | None = None) -> Iterator[StreamItem]:
        """Yield StreamItems until the server closes the connection (ConnectionStatus Closed).

        `idle_timeout`: seconds without a byte (the server's keep-alives included) after which the connection
        counts as dead and the read fails; default: the connection timeout plus a minute.

        `on_open(abort)`, when given, receives a function that closes this connection from another thread
        (the notification listener's watchdog and shutdown); the blocked read then ends with an error."""
        body = get_streaming_events.body(subscription_ids, connection_timeout_minutes)
        impersonate = anchor if self.config.impersonation else None
        data, headers = self.client.build(get_streaming_events.OPERATION, body, impersonate=impersonate)
        if anchor:
            headers.update({"X-AnchorMailbox": anchor, "X-PreferServerAffinity": "true"})
        if cookie:
            headers["Cookie"] = f"X-BackEndOverrideCookie={cookie}"
        read_timeout = idle_timeout or connection_timeout_minutes * 60 + 60
        resp = self.client.send(data, headers, stream=True, read_timeout=read_timeout)
        if not hasattr(resp, "iter_content"):  # a 500 with a SOAP fault
            self.client.read(resp, get_streaming_events.OPERATION)
            raise ProtocolError("GetStreamingEvents answered without a stream")
        if on_open is not None:
            on_open(lambda: _abort_stream(resp))
        try:
            cap = self.config.max_response_bytes
            for envelope in get_streaming_events.split_envelopes(resp.iter_content(None), cap):
                yield from get_streaming_events.parse_envelope(envelope, subscription_ids)
        except requests.exceptions.RequestException as exc:
            raise map_request_exception(exc) from exc
        finally:
            resp.close()

    def unsubscribe(self, mailbox: str | None, subscription_id: str) -> None:
        unsubscribe.parse(self._call(unsubscribe, unsubscribe.body(subscription_id), mailbox))


def _abort_stream(resp) -> None:
    """Shut the socket down: a recv() blocked in another thread returns at once (close() alone does not wake it).
    http.client keeps the socket only inside the response's file object once the body is being read."""
    try:
        fileno = resp.raw.fileno()
        with socket.socket(fileno=os.dup(fileno)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except (OSError, ValueError, AttributeError):
        pass


def _affinity_cookie(headers) -> str | None:
    raw = headers.get("Set-Cookie", "") if headers else ""
    for part in raw.replace(",", ";").split(";"):
        name, _, value = part.strip().partition("=")
        if name == "X-BackEndOverrideCookie" and value:
            return value
    return None
