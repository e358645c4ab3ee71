"""GetStreamingEvents: one long HTTP response carrying a sequence of SOAP envelopes, each with notifications,
a ConnectionStatus (OK keep-alive / Closed at ConnectionTimeout) or per-subscription errors
(ErrorInvalidSubscription …). ConnectionTimeout is 1..30 minutes; at most 200 SubscriptionIds per request
(EWS-FACTS §8). Samples GetStreamingEvents-*.xml."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from ..errors import ProtocolError
from ..parse import child_text, message_error, read_reply, response_messages
from ..types import StreamItem
from ..xml import M, T
from .get_events import parse_notification

OPERATION = "GetStreamingEvents"
MAX_SUBSCRIPTIONS = 200
_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?Envelope\s*>")


def body(subscription_ids: list[str], connection_timeout_minutes: int) -> dict:
    if not 1 <= connection_timeout_minutes <= 30:
        raise ValueError("ConnectionTimeout must be 1..30 minutes (MSDOC web-service-reference/connectiontimeout)")
    if not 1 <= len(subscription_ids) <= MAX_SUBSCRIPTIONS:
        raise ValueError("GetStreamingEvents takes 1..200 subscription ids")
    return {"SubscriptionIds": {"SubscriptionId": list(subscription_ids)},
            "ConnectionTimeout": connection_timeout_minutes}


def split_envelopes(chunks: Iterable[bytes], cap: int) -> Iterator[bytes]:
    """Cut a byte stream into complete envelopes; more than `cap` bytes without an end tag is an error."""
    buf = b""
    for chunk in chunks:
        buf += chunk
        while True:
            match = _END.search(buf)
            if not match:
                break
            yield buf[:match.end()].strip()
            buf = buf[match.end():]
        if len(buf) > cap:
            raise ProtocolError(f"streaming envelope larger than {cap} bytes")
    if buf.strip():
        raise ProtocolError("stream ended inside an envelope")


def parse_envelope(data: bytes, subscription_ids: list[str] | None = None) -> list[StreamItem]:
    """One streamed envelope → StreamItems (notifications, status, errors).

    An error names its subscriptions in ErrorSubscriptionIds. A server may instead answer like a batch
    operation: one ResponseMessage per SubscriptionId of the request, in order, naming none (the server of
    the issue-12 field report refused every multi-mailbox connection that way, EWS-FACTS §3 "batched operations
    answer per item"); with exactly one message per requested id, message i is read as subscription i's."""
    reply = read_reply(data, expect="GetStreamingEventsResponse")
    out: list[StreamItem] = []
    messages = list(response_messages(reply))
    positional = subscription_ids if subscription_ids and len(subscription_ids) == len(messages) else None
    for index, msg in enumerate(messages):
        status = child_text(msg, "ConnectionStatus", M)
        err = message_error(msg)
        if err is not None:
            ids = [(el.text or "").strip() for el in msg.iter(f"{{{T}}}SubscriptionId", f"{{{M}}}SubscriptionId")]
            if not ids and positional:
                ids = [positional[index]]
            out.append(StreamItem(connection_status=status.strip() if status else None, error=err,
                                  error_subscription_ids=ids))
            continue
        notes = msg.find(f"{{{M}}}Notifications")
        for note in notes if notes is not None else []:
            if isinstance(note.tag, str):
                sub_id, events, _more, _mark = parse_notification(note)
                out.append(StreamItem(subscription_id=sub_id, events=events))
        if status:
            out.append(StreamItem(connection_status=status.strip()))
    return out
