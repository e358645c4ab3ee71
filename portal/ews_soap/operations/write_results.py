"""Per-item results of CreateItem/UpdateItem/DeleteItem: one *ResponseMessage per input, in order, each with
its own ResponseClass (EWS-FACTS §3). Errors become values (ItemResult.error), never exceptions."""

from __future__ import annotations

from ..parse import Reply, id_pair, message_error, response_messages
from ..types import ItemResult


def item_results(reply: Reply, ids: list[str | None]) -> list[ItemResult]:
    out = []
    for index, msg in enumerate(response_messages(reply)):
        fallback = ids[index] if index < len(ids) else None
        err = message_error(msg)
        if err is not None:
            out.append(ItemResult(fallback, None, err))
            continue
        item_id, change_key = None, None
        items = msg.find("{*}Items")
        if items is not None:
            for el in items:
                if isinstance(el.tag, str):
                    item_id, change_key = id_pair(el.find("{*}ItemId"))
                    break
        out.append(ItemResult(item_id or fallback, change_key))
    return out
