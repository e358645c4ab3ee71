"""Parse any published EWS reply with the client's own parsers, chosen by the reply's body element."""

from __future__ import annotations

import re

from lxml import etree

from portal.ews_soap.operations import (
    find_item,
    get_events,
    get_folder,
    get_item,
    get_streaming_events,
    resolve_names,
    subscribe,
    sync_folder_items,
    unsubscribe,
)
from portal.ews_soap.operations.write_results import item_results
from portal.ews_soap.parse import message_error, read_reply, response_messages

WRAP = (b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        b'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
        b'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Body>%s</s:Body></s:Envelope>')


def as_served(name: str, data: bytes) -> bytes:
    """What a server would put on the wire: README A5 `.http` files lose their HTTP head; A4 fragments get the
    envelope (and, for a bare *ResponseMessage, the GetItemResponse/ResponseMessages around it)."""
    if name.endswith(".http"):
        data = data[data.index(b"<?xml"):]
    if b"Envelope" not in data[:400]:
        data = re.sub(rb"^\s*<\?xml[^>]*\?>", b"", data)
        if re.match(rb"\s*<m:GetItemResponseMessage", data):
            data = b"<m:GetItemResponse><m:ResponseMessages>" + data + b"</m:ResponseMessages></m:GetItemResponse>"
        data = WRAP % data
    return data


def http_head(name: str, data: bytes) -> dict[str, str]:
    """Headers of a README A5 `.http` sample (folded Set-Cookie lines joined)."""
    head = data[:data.index(b"<?xml")].decode()
    out: dict[str, str] = {}
    last = None
    for line in head.splitlines()[1:]:
        if line[:1].isspace() and last:
            out[last] += " " + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            last = key.strip()
            out[last] = (out[last] + ", " if last in out else "") + value.strip()
    return out


def dispatch(data: bytes):
    """Reply bytes → the dataclass(es) the client returns; typed errors are raised like in the client."""
    reply = read_reply(data)
    name = etree.QName(reply.body).localname
    if name == "GetStreamingEventsResponse":
        return get_streaming_events.parse_envelope(data)
    parsers = {
        "FindItemResponse": find_item.parse,
        "GetItemResponse": get_item.parse,
        "SyncFolderItemsResponse": sync_folder_items.parse,
        "GetFolderResponse": get_folder.parse,
        "ResolveNamesResponse": resolve_names.candidates,
        "SubscribeResponse": lambda r: subscribe.parse(r, None, "streaming"),
        "GetEventsResponse": get_events.parse,
        "UnsubscribeResponse": unsubscribe.parse,
    }
    if name in parsers:
        return parsers[name](reply)
    if name in ("CreateItemResponse", "UpdateItemResponse", "DeleteItemResponse"):
        return item_results(reply, [])
    # other operations: per-message errors as values
    return [message_error(m) for m in response_messages(reply)]
