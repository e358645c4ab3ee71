"""DeleteItem: DeleteType="MoveToDeletedItems" (recoverable by the user), SendMeetingCancellations="SendToNone"
(E2). Items already gone answer ErrorItemNotFound per item — returned as a value (EWS-FACTS §3;
samples DeleteItem-batch-error-ErrorItemNotFound.xml)."""

from __future__ import annotations

from ..parse import Reply
from ..types import ItemRef, ItemResult
from .common import item_ids
from .write_results import item_results

OPERATION = "DeleteItem"
BATCH = 50


def body(refs: list[ItemRef], delete_type: str = "MoveToDeletedItems") -> dict:
    return {"DeleteType": delete_type, "SendMeetingCancellations": "SendToNone",
            "ItemIds": item_ids((r.item_id, r.change_key) for r in refs)}


def parse(reply: Reply, refs: list[ItemRef]) -> list[ItemResult]:
    return item_results(reply, [r.item_id for r in refs])
