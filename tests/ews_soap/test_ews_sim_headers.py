"""Routing headers as the server receives them (the simulator records each request's HTTP headers):
X-AnchorMailbox on every impersonated call, the group anchor + affinity on streaming subscriptions, none with
delegate access (EWS-FACTS §6; SPEC G5)."""

from __future__ import annotations

import pytest
from ews_simkit import ALICE, BOB, HOUR, T0, populate, session

from portal.ews_soap import EventUpdate, ItemRef, NewEvent
from portal.ews_soap.transport import close_pools

running_simulator = pytest.importorskip("ews_simulator.testing").running_simulator


@pytest.fixture(scope="module")
def sim():
    with running_simulator(version="2016", auth="ntlm", minute_s=0.5, heartbeat_s=0.2) as s:
        yield populate(s)
        close_pools()


@pytest.fixture
def requests_seen(sim):
    sim.requests.clear()
    return lambda: list(sim.requests)


def test_g5_every_impersonated_call_sends_x_anchor_mailbox(sim, requests_seen):
    ews = session(sim, impersonation=True)
    calendar = ews.primary_calendar(ALICE)
    ews.calendar_view(ALICE, T0, T0 + HOUR * 24)
    [made] = ews.create_events(ALICE, [NewEvent("Anchored", T0 + HOUR, T0 + HOUR * 2)])
    ews.get_items(ALICE, [made.item_id])
    [updated] = ews.update_events(ALICE, [EventUpdate(made.item_id, made.change_key, subject="Anchored too")])
    ews.sync_folder_items(ALICE, calendar.folder_id, None)
    ews.delete_items(ALICE, [ItemRef(updated.item_id, updated.change_key)])
    pull = ews.subscribe_pull(ALICE)
    ews.get_events(ALICE, pull.subscription_id, pull.watermark)
    ews.unsubscribe(ALICE, pull.subscription_id)
    seen = requests_seen()
    assert {r.operation for r in seen} == {"GetFolder", "FindItem", "CreateItem", "GetItem", "UpdateItem",
                                           "SyncFolderItems", "DeleteItem", "Subscribe", "GetEvents", "Unsubscribe"}
    assert [(r.operation, r.headers.get("x-anchormailbox")) for r in seen] == [(r.operation, ALICE) for r in seen]
    assert {r.mailbox for r in seen} == {ALICE}  # the ExchangeImpersonation header named the same mailbox


def test_g5_streaming_group_is_anchored_and_keeps_affinity(sim, requests_seen):
    ews = session(sim, impersonation=True)
    subs = ews.subscribe_streaming([ALICE, BOB], anchor=ALICE)
    cookie = subs[0].affinity_cookie
    items = list(ews.stream_events([s.subscription_id for s in subs], ALICE, 1, cookie=cookie))
    assert items[-1].connection_status == "Closed"
    seen = requests_seen()
    assert [r.operation for r in seen] == ["Subscribe", "Subscribe", "GetStreamingEvents"]
    assert [r.headers.get("x-anchormailbox") for r in seen] == [ALICE] * 3  # the group's anchor, Bob's too
    assert [r.headers.get("x-preferserveraffinity") for r in seen] == ["true"] * 3
    assert cookie and all(f"X-BackEndOverrideCookie={cookie}" in r.headers.get("cookie", "") for r in seen[1:])


def test_g5_delegate_access_sends_no_anchor(sim, requests_seen):
    ews = session(sim, impersonation=False)
    ews.primary_calendar(ALICE)
    ews.calendar_view(ALICE, T0, T0 + HOUR * 24)
    seen = requests_seen()
    assert [r.operation for r in seen] == ["GetFolder", "FindItem"]
    assert all("x-anchormailbox" not in r.headers for r in seen)
    assert {r.mailbox for r in seen} == {ALICE}  # reached through the Mailbox element of the body
