"""G2/G9: a server that binds each subscription to the impersonated mailbox (the issue-12 field server), as the
simulator's `mailbox_bound_subscriptions` switch reproduces it, and how Sundial's client reads its answer: one
ResponseMessage per SubscriptionId, in order."""
from __future__ import annotations

import pytest
from ews_simkit import ALICE, BOB, CAROL, populate, session

from portal.ews_soap import SubscriptionLost
from portal.ews_soap.operations.get_streaming_events import parse_envelope

running_simulator = pytest.importorskip("ews_simulator.testing").running_simulator


@pytest.fixture
def sim():
    with running_simulator(version="2016", auth="ntlm", minute_s=1.0, heartbeat_s=0.5) as handle:
        populate(handle)
        handle.faults.mailbox_bound_subscriptions(True)
        yield handle


def test_g2_g9_several_mailboxes_on_one_connection_are_refused_per_subscription_in_order(sim):
    ews = session(sim)
    subs = ews.subscribe_streaming([ALICE, BOB, CAROL], anchor=ALICE)
    ids = [s.subscription_id for s in subs]
    items = list(ews.stream_events(ids, ALICE, connection_timeout_minutes=1))
    assert [i.error_subscription_ids for i in items] == [[sid] for sid in ids]
    assert all(isinstance(i.error, SubscriptionLost) and i.error.code == "ErrorInvalidSubscription" for i in items)
    assert all(i.connection_status == "Closed" for i in items)


def test_g2_one_mailbox_per_connection_is_accepted(sim):
    ews = session(sim)
    (sub,) = ews.subscribe_streaming([BOB], anchor=BOB)
    items = list(ews.stream_events([sub.subscription_id], BOB, connection_timeout_minutes=1))
    assert items[0].error is None and items[-1].connection_status == "Closed"


def test_g2_another_mailboxs_subscription_on_a_connection_is_refused(sim):
    ews = session(sim)
    (sub,) = ews.subscribe_streaming([BOB], anchor=ALICE)
    items = list(ews.stream_events([sub.subscription_id], ALICE, connection_timeout_minutes=1))
    assert [i.error_subscription_ids for i in items] == [[sub.subscription_id]]


def test_g2_errors_naming_their_subscriptions_keep_their_names():
    body = b"""<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"
      xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"
      xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Body>
      <m:GetStreamingEventsResponse><m:ResponseMessages>
      <m:GetStreamingEventsResponseMessage ResponseClass="Error"><m:MessageText>x</m:MessageText>
      <m:ResponseCode>ErrorInvalidSubscription</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>
      <m:ErrorSubscriptionIds><t:SubscriptionId>S2</t:SubscriptionId></m:ErrorSubscriptionIds>
      <m:ConnectionStatus>Closed</m:ConnectionStatus></m:GetStreamingEventsResponseMessage>
      </m:ResponseMessages></m:GetStreamingEventsResponse></s:Body></s:Envelope>"""
    (item,) = parse_envelope(body, ["S1"])  # one message for one id, but it names S2 itself
    assert item.error_subscription_ids == ["S2"]
