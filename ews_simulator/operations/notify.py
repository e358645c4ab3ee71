"""Subscribe (pull, streaming), GetEvents, Unsubscribe."""
from __future__ import annotations

import time

from ..notifications import Subscription, write_notification
from ..soap import EwsError, add_message, local, msub, response_root

MAX_EVENTS = 50


def _subscription(ctx, req, streaming: bool) -> Subscription:
    own = ctx.impersonated or ctx.directory.own_mailbox(ctx.account)
    own_address = own.primary.lower() if own else None
    folders = None
    if req.get("SubscribeToAllFolders", "false").lower() != "true":
        folders = set()
        for ref in req.find("{*}FolderIds"):
            if ref.find("{*}Mailbox") is not None and ctx.mailbox_from(ref).primary.lower() != own_address:
                if ctx.sim.faults.mailbox_bound:  # a subscription belongs to the impersonated mailbox only
                    raise EwsError("ErrorInvalidSubscription", "The subscription is invalid.")
                raise _delegate()
            folder = ctx.folder(ref)
            if folder.mailbox != own_address:
                raise _delegate()
            folders.add(folder.id)
    acting = ctx.acting_mailbox()
    types = [(e.text or "").strip() for e in req.find("{*}EventTypes")]
    timeout = int(req.findtext("{*}Timeout") or 30)
    if not streaming and not 1 <= timeout <= 1440:
        raise EwsError("ErrorInvalidRequest", "Timeout must be between 1 and 1440 minutes.")
    sub = Subscription(acting.primary.lower(), ctx.account.upn, folders, types, streaming, timeout)
    ctx.mailboxes_touched.add(acting.primary.lower())
    return ctx.sim.hub.add(sub)


def _delegate():
    # ews-samples/Subscribe-error-ErrorSubscriptionDelegateAccessNotSupported.xml
    return EwsError("ErrorSubscriptionDelegateAccessNotSupported",
                    "Subscriptions are not supported for delegate user access.")


def subscribe(ctx, op):
    root, messages = response_root("Subscribe")
    req = next(c for c in op if isinstance(c.tag, str))
    kind = local(req.tag)
    try:
        if kind == "PushSubscriptionRequest":
            raise EwsError("ErrorInvalidRequest", "Push subscriptions are not supported by this server.")
        sub = _subscription(ctx, req, kind == "StreamingSubscriptionRequest")
    except EwsError as err:
        add_message(messages, "SubscribeResponseMessage", err)
        return root
    msg = add_message(messages, "SubscribeResponseMessage")
    msub(msg, "SubscriptionId", sub.id)
    if not sub.streaming:  # streaming responses carry no Watermark (Subscribe-streaming-response.xml)
        msub(msg, "Watermark", sub.watermark())
    return root


def get_events(ctx, op):
    root, messages = response_root("GetEvents")
    hub = ctx.sim.hub
    try:
        with hub.cond:
            sub = hub.get(op.findtext("{*}SubscriptionId", "").strip(), ctx.account.upn, ctx.sim.config.minute_s)
            seen = sub.parse_watermark(op.findtext("{*}Watermark", "").strip())
            if seen > sub.counter or (sub.events and seen < sub.events[0][0] - 1):
                raise EwsError("ErrorInvalidWatermark", "The watermark is not valid for this subscription.")
            sub.events = [(n, e) for n, e in sub.events if n > seen]
            batch = sub.events[:MAX_EVENTS]
            more = len(sub.events) > len(batch)
            sub.last_used = time.monotonic()
            ctx.mailboxes_touched.add(sub.mailbox)
            msg = add_message(messages, "GetEventsResponseMessage")
            write_notification(msg, sub, batch, seen, more, tag="Notification")
    except EwsError as err:
        add_message(messages, "GetEventsResponseMessage", err)
    return root


def unsubscribe(ctx, op):
    root, messages = response_root("Unsubscribe")
    try:
        sub_id = op.findtext("{*}SubscriptionId", "").strip()
        ctx.sim.hub.get(sub_id, ctx.account.upn)
        ctx.sim.hub.remove(sub_id)
    except EwsError as err:
        add_message(messages, "UnsubscribeResponseMessage", err)
        return root
    add_message(messages, "UnsubscribeResponseMessage")
    return root
