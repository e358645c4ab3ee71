"""Fakes for the listener's tests: an EWS session scripted per call, a recording sync trigger."""
from __future__ import annotations

import itertools
import queue
import threading
import time

from portal.ews_soap import EventBatch, MailboxEvent, StreamItem, Subscription


def wait_for(predicate, timeout=5.0, step=0.01):
    """Poll until predicate() is true; returns its value (tests assert on it, never on timings)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


class FakeStream:
    """An open GetStreamingEvents connection: items pushed by the test, abort() closes it from outside."""

    def __init__(self, ids):
        self.ids = list(ids)
        self.items: queue.Queue = queue.Queue()
        self.aborted = threading.Event()

    def abort(self):
        self.aborted.set()
        self.items.put(ConnectionAbortedError("aborted"))

    def __iter__(self):
        while True:
            item = self.items.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
            if getattr(item, "connection_status", None) == "Closed":
                return  # the server ends the response after ConnectionStatus Closed


class FakeSession:
    """Records every call; streams stay open until the test pushes items or closes them."""

    _ids = itertools.count(1)

    def __init__(self):
        self.calls: list[tuple] = []
        self.streams: list[FakeStream] = []
        self.subscribe_errors: list[BaseException] = []
        self.mailbox_errors: dict[str, BaseException] = {}
        self.events: dict[str, list] = {}  # pull: mailbox → pending MailboxEvents
        self.lost_pull: set[str] = set()
        self.lock = threading.Lock()

    def subscribe_streaming(self, mailboxes, anchor):
        self.calls.append(("subscribe_streaming", tuple(mailboxes), anchor))
        if self.subscribe_errors:
            raise self.subscribe_errors.pop(0)
        for m in mailboxes:
            if m in self.mailbox_errors:
                raise self.mailbox_errors[m]
        return [Subscription(f"sub-{next(self._ids)}", m) for m in mailboxes]

    def stream_events(self, ids, anchor, minutes, on_open=None, cookie=None, idle_timeout=None):
        self.calls.append(("stream_events", tuple(ids), anchor, minutes))
        stream = FakeStream(ids)
        stream.items.put(StreamItem(connection_status="OK"))  # the first message, as Exchange and the simulator send
        self.streams.append(stream)
        if on_open is not None:
            on_open(stream.abort)
        return stream

    def subscribe_pull(self, mailbox):
        self.calls.append(("subscribe_pull", mailbox))
        return Subscription(f"pull-{next(self._ids)}", mailbox, watermark="w0", kind="pull")

    def get_events(self, mailbox, subscription_id, watermark):
        from portal.ews_soap import SubscriptionLost

        self.calls.append(("get_events", mailbox, subscription_id, watermark))
        with self.lock:
            if mailbox in self.lost_pull:
                self.lost_pull.discard(mailbox)
                raise SubscriptionLost("gone", code="ErrorSubscriptionNotFound")
            pending = self.events.pop(mailbox, [])
        status = [MailboxEvent("status", watermark=watermark)]
        return EventBatch(subscription_id, pending or status, f"{watermark}+", more_events=False)

    def count(self, op):
        return sum(1 for c in self.calls if c[0] == op)

    def subscribed(self):
        return [m for c in self.calls if c[0] == "subscribe_streaming" for m in c[1]]


def changed(sub_id, kind="modified"):
    return StreamItem(subscription_id=sub_id, events=[MailboxEvent(kind, item_id="item-1")])


class RecordingTrigger:
    def __init__(self):
        self.calls: list[tuple[int, str]] = []
        self.lock = threading.Lock()

    def trigger(self, staff_id, reason):
        with self.lock:
            self.calls.append((staff_id, reason))
        return True

    def trigger_many(self, staff_ids, reason):
        for s in staff_ids:
            self.trigger(s, reason)
        return len(staff_ids)

    def catch_up_many(self, staff_ids, reason, debounce_s):
        self.trigger_many(staff_ids, reason)
        return []  # none deferred

    def flush_trailing(self, staff_ids, reason, min_gap_s, debounce_s):
        return []

    def staff(self, reason_part=""):
        return sorted(s for s, r in self.calls if reason_part in r)
