"""Unsubscribe (MSDOC web-service-reference/unsubscribe-operation; samples Unsubscribe-*.xml)."""

from __future__ import annotations

from ..parse import Reply, single_message

OPERATION = "Unsubscribe"


def body(subscription_id: str) -> dict:
    return {"SubscriptionId": subscription_id}


def parse(reply: Reply) -> None:
    single_message(reply)
