"""GetStreamingEvents: a chunked HTTP response that stays open, one SOAP envelope per message.

Shapes from ews-samples/GetStreamingEvents-howto-response.xml and
GetStreamingEvents-response-ConnectionStatus-Closed.xml; ConnectionTimeout 1..30 minutes
(MSDOC web-service-reference/connectiontimeout).
"""
from __future__ import annotations

import time

from .notifications import write_notification
from .soap import EwsError, add_message, envelope, msub, response_root, tsub

MAX_SUBSCRIPTIONS = 200  # per GetStreamingEvents request (EWS-FACTS section 8)


def validate(ctx, op):
    """Check the request before the 200 starts; errors are ordinary (non-streamed) responses."""
    ids = [(e.text or "").strip() for e in op.find("{*}SubscriptionIds")]
    timeout = int(op.findtext("{*}ConnectionTimeout") or 0)
    if not 1 <= timeout <= 30:
        raise EwsError("ErrorInvalidArgument", "ConnectionTimeout must be between 1 and 30 minutes.")
    if len(ids) > MAX_SUBSCRIPTIONS:
        raise EwsError("ErrorInvalidRequest", "Too many subscriptions in one GetStreamingEvents request.")
    subs = []
    for sub_id in ids:
        sub = ctx.sim.hub.get(sub_id, ctx.account.upn)
        if not sub.streaming:
            raise EwsError("ErrorInvalidSubscription", "The subscription is not a streaming subscription.")
        subs.append(sub)
        ctx.mailboxes_touched.add(sub.mailbox)
    if ctx.sim.faults.mailbox_bound and _foreign(ctx, subs):
        raise Refused(ids)
    return subs, timeout


class Refused(Exception):
    """The mailbox_bound_subscriptions switch: the whole request is refused, one message per SubscriptionId."""

    def __init__(self, ids):
        super().__init__("subscriptions of several mailboxes on one connection")
        self.ids = ids


def _foreign(ctx, subs) -> bool:
    own = ctx.impersonated or ctx.directory.own_mailbox(ctx.account)
    bound = own.primary.lower() if own else ""
    return any(s.mailbox != bound for s in subs)


def refused_body(ids):
    """One ErrorInvalidSubscription ResponseMessage per SubscriptionId, in request order, as the field server of
    issue 12 answered; which message belongs to which subscription is told by its position only."""
    root, messages = response_root("GetStreamingEvents")
    for _sub_id in ids:
        msg = add_message(messages, "GetStreamingEventsResponseMessage",
                          EwsError("ErrorInvalidSubscription", "The subscription is invalid."))
        msub(msg, "ConnectionStatus", "Closed")
    return root


def hanging_limit(sim) -> int:
    """HangingConnectionLimit: 3 by default on-premises, 10 for 2016/2019 (EWS-FACTS section 7)."""
    if sim.config.hanging_connection_limit is not None:
        return sim.config.hanging_connection_limit
    return 10 if sim.version.key in ("2016", "2019", "SE") else 3


def closing(chunks, on_close):
    """Run on_close when the stream ends or the client goes away (waitress closes the iterator)."""
    try:
        yield from chunks
    finally:
        on_close()


def error_body(err: EwsError):
    root, messages = response_root("GetStreamingEvents")
    msg = add_message(messages, "GetStreamingEventsResponseMessage", err)
    if err.code in ("ErrorInvalidSubscription", "ErrorSubscriptionNotFound"):
        msub(msg, "ConnectionStatus", "Closed")
    return root


def _message(sim, status=None, notes=(), error=None, error_ids=()):
    root, messages = response_root("GetStreamingEvents")
    msg = add_message(messages, "GetStreamingEventsResponseMessage", error)
    if notes:
        box = msub(msg, "Notifications")
        for sub, events, previous in notes:
            write_notification(box, sub, events, previous, False)
    if error_ids:
        box = msub(msg, "ErrorSubscriptionIds")
        for sub_id in error_ids:
            tsub(box, "SubscriptionId", sub_id)
    if status:
        msub(msg, "ConnectionStatus", status)
    data = envelope(root, sim.version)
    sim.record_response(data)
    return data


def stream(sim, subs, timeout_minutes: int):
    """Yield envelopes: pending notifications as they happen, a heartbeat every heartbeat_s, and a final
    ConnectionStatus Closed when the timeout (scaled by config.minute_s) elapses."""
    hub, cfg = sim.hub, sim.config
    deadline = time.monotonic() + timeout_minutes * cfg.minute_s
    generation = sim.faults.stream_generation
    last_beat = 0.0
    yield _message(sim, status="OK")
    while True:
        if sim.faults.streams_stalled:  # a silently dead connection: nothing more is ever written to it
            while sim.faults.streams_stalled and time.monotonic() < deadline:
                time.sleep(0.05)
            return
        with hub.cond:
            lost = [s.id for s in subs if s.lost or s.id not in hub.subs]
            ready = [(s, s.events[:], s.counter - len(s.events)) for s in subs if s.events and s.id in hub.subs]
            for s, _events, _prev in ready:
                s.events = []
            if not ready and not lost:
                remaining = min(deadline - time.monotonic(), cfg.heartbeat_s, 0.5)
                if remaining > 0:
                    hub.cond.wait(remaining)
        if lost:
            err = EwsError("ErrorInvalidSubscription", "The subscription is no longer valid.")
            yield _message(sim, status="Closed", error=err, error_ids=lost)
            return
        if ready:
            yield _message(sim, notes=[(s, ev, prev) for s, ev, prev in ready])
            last_beat = time.monotonic()
        if time.monotonic() >= deadline or sim.faults.stream_generation != generation:
            yield _message(sim, status="Closed")
            return
        if time.monotonic() - last_beat >= cfg.heartbeat_s:
            yield _message(sim, status="OK")
            last_beat = time.monotonic()
