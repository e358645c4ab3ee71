"""Pull and streaming notifications as exchangelib sees them (SPEC G2)."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from exchangelib import EWSDateTime, EWSTimeZone
from exchangelib.errors import ErrorSubscriptionDelegateAccessNotSupported
from sim_helpers import ALICE, account, populate

from ews_simulator.testing import running_simulator

START = EWSDateTime(2026, 11, 24, 10, 0, tzinfo=EWSTimeZone("UTC"))


@pytest.fixture(scope="module")
def fast_sim():
    # one streaming "minute" lasts 2 s here; heartbeat every second
    with running_simulator(version="2019", auth="both", minute_s=2.0, heartbeat_s=1.0) as handle:
        yield populate(handle)


@pytest.mark.parametrize("auth", ["ntlm", "basic"])
def test_g2_pull_subscription_reports_outlook_changes(fast_sim, auth):
    acc = account(fast_sim, ALICE, auth=auth)
    cal = acc.calendar
    sub_id, watermark = cal.subscribe_to_pull(event_types=["CreatedEvent", "ModifiedEvent", "DeletedEvent"])
    person = fast_sim.outlook(ALICE)
    item_id = person.create("Dentist", START, START + timedelta(hours=1))
    person.make_free(item_id)
    notification = next(cal.get_events(subscription_id=sub_id, watermark=watermark))
    kinds = [type(e).__name__ for e in notification.events]
    assert kinds == ["CreatedEvent", "ModifiedEvent"]
    assert notification.events[0].item_id.id == item_id
    cal.unsubscribe(sub_id)


@pytest.mark.parametrize("auth", ["ntlm", "basic"])
def test_g2_streaming_subscription_delivers_and_closes(fast_sim, auth):
    acc = account(fast_sim, ALICE, auth=auth)
    cal = acc.calendar
    sub_id = cal.subscribe_to_streaming(event_types=["CreatedEvent", "ModifiedEvent"])
    person = fast_sim.outlook(ALICE)
    timer = threading.Timer(0.5, lambda: person.create("Streamed", START, START + timedelta(hours=1)))
    timer.start()
    began = time.monotonic()
    events = []
    for notification in cal.get_streaming_events(sub_id, connection_timeout=1):
        events += [type(e).__name__ for e in notification.events]
    elapsed = time.monotonic() - began
    assert "CreatedEvent" in events
    assert 1.5 <= elapsed < 6  # ConnectionTimeout=1 "minute" honoured, then ConnectionStatus Closed
    cal.unsubscribe(sub_id)


def test_forced_streaming_timeout_and_lost_subscription(fast_sim):
    acc = account(fast_sim, ALICE)
    cal = acc.calendar
    sub_id = cal.subscribe_to_streaming()
    threading.Timer(0.3, fast_sim.faults.force_streaming_timeout).start()
    began = time.monotonic()
    list(cal.get_streaming_events(sub_id, connection_timeout=30))
    assert time.monotonic() - began < 3
    fast_sim.faults.lose_subscription(sub_id)
    from exchangelib.errors import ErrorSubscriptionNotFound
    with pytest.raises(ErrorSubscriptionNotFound):
        list(cal.get_streaming_events(sub_id, connection_timeout=1))


def test_subscribe_with_delegate_access_is_refused(fast_sim):
    acc = account(fast_sim, ALICE, access="delegate")
    with pytest.raises(ErrorSubscriptionDelegateAccessNotSupported):
        acc.calendar.subscribe_to_pull()


def test_hanging_connection_limit(fast_sim):
    import requests
    acc = account(fast_sim, ALICE)
    sub_id = acc.calendar.subscribe_to_streaming()
    fast_sim.sim.config.hanging_connection_limit = 1
    body = ('<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
            'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header><t:RequestServerVersion '
            'Version="Exchange2016"/><t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>'
            f'{ALICE}</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation></s:Header><s:Body>'
            f'<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>{sub_id}</t:SubscriptionId>'
            '</m:SubscriptionIds><m:ConnectionTimeout>1</m:ConnectionTimeout></m:GetStreamingEvents></s:Body>'
            '</s:Envelope>').encode()
    sa = fast_sim.service_account
    auth = (f"{sa.domain}\\{sa.username}", sa.password)
    from requests_ntlm import HttpNtlmAuth
    try:
        first = requests.post(fast_sim.url, data=body, auth=HttpNtlmAuth(*auth), stream=True, timeout=10)
        next(first.iter_content(64))  # the stream is open
        second = requests.post(fast_sim.url, data=body, auth=HttpNtlmAuth(*auth), timeout=10)
        assert "<m:ResponseCode>ErrorExceededConnectionCount</m:ResponseCode>" in second.text
        first.close()
    finally:
        fast_sim.sim.config.hanging_connection_limit = None


def _streaming_body(mailbox, sub_id):
    return ('<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
            'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header><t:RequestServerVersion '
            'Version="Exchange2016"/><t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>'
            f'{mailbox}</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation></s:Header><s:Body>'
            f'<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>{sub_id}</t:SubscriptionId>'
            '</m:SubscriptionIds><m:ConnectionTimeout>1</m:ConnectionTimeout></m:GetStreamingEvents></s:Body>'
            '</s:Envelope>').encode()


@pytest.mark.parametrize("charged_to", ["impersonated", "account"])
def test_hanging_connections_charged_to_the_impersonated_mailbox_or_the_service_account(fast_sim, charged_to):
    """Microsoft documents an impersonated connection as charged to (a copy of) the impersonated mailbox's budget;
    the switch `hanging_charged_to = "account"` makes the simulator charge the service account instead."""
    import requests
    from requests_ntlm import HttpNtlmAuth
    from sim_helpers import BOB

    subs = {m: account(fast_sim, m).calendar.subscribe_to_streaming() for m in (ALICE, BOB)}
    sa = fast_sim.service_account
    auth = HttpNtlmAuth(f"{sa.domain}\\{sa.username}", sa.password)
    fast_sim.sim.config.hanging_connection_limit = 1
    fast_sim.sim.config.hanging_charged_to = charged_to
    try:
        first = requests.post(fast_sim.url, data=_streaming_body(ALICE, subs[ALICE]), auth=auth, stream=True,
                              timeout=10)
        next(first.iter_content(64))  # Alice's connection is open
        second = requests.post(fast_sim.url, data=_streaming_body(BOB, subs[BOB]), auth=auth, stream=True,
                               timeout=10)
        head = next(second.iter_content(2048)).decode()
        refused = "ErrorExceededConnectionCount" in head
        assert refused == (charged_to == "account")
        first.close()
        second.close()
    finally:
        fast_sim.sim.config.hanging_connection_limit = None
        fast_sim.sim.config.hanging_charged_to = "impersonated"


def test_g2_one_streaming_connection_for_several_impersonated_mailboxes(fast_sim):
    """Sundial's pattern: subscribe each mailbox by impersonation, stream the group on one connection."""
    from sim_helpers import BOB
    alice, bob = account(fast_sim, ALICE), account(fast_sim, BOB)
    subs = [alice.calendar.subscribe_to_streaming(), bob.calendar.subscribe_to_streaming()]

    def changes():
        time.sleep(0.3)
        fast_sim.outlook(ALICE).create("For Alice", START, START + timedelta(hours=1))
        fast_sim.outlook(BOB).create("For Bob", START, START + timedelta(hours=1))
    threading.Thread(target=changes).start()
    seen = set()
    for notification in alice.calendar.get_streaming_events(subs, connection_timeout=1,
                                                           max_notifications_returned=2):
        seen.add(notification.subscription_id)
        if seen == set(subs):
            break
    assert seen == set(subs)


def test_exchange_2010_rtm_has_no_streaming_notifications():
    """Streaming subscriptions arrived with Exchange 2010 SP1; a 2010 RTM server only offers pull."""
    from exchangelib.errors import ErrorSchemaValidation
    with running_simulator(version="2010", auth="ntlm") as sim:
        populate(sim)
        acc = account(sim, ALICE)
        assert acc.version.api_version == "Exchange2010"
        with pytest.raises(ErrorSchemaValidation):
            acc.calendar.subscribe_to_streaming()
        sub_id, _watermark = acc.calendar.subscribe_to_pull()
        acc.calendar.unsubscribe(sub_id)


def test_pull_subscription_expires_after_its_timeout(fast_sim):
    from exchangelib.errors import ErrorExpiredSubscription, ErrorInvalidWatermark
    acc = account(fast_sim, ALICE)
    sub_id, watermark = acc.calendar.subscribe_to_pull(timeout=1)  # one "minute" = 2 s here
    with pytest.raises(ErrorInvalidWatermark):
        list(acc.calendar.get_events(sub_id, "bm90LWEtd2F0ZXJtYXJr"))
    next(acc.calendar.get_events(sub_id, watermark))  # polling resets the idle timer
    time.sleep(2.2)
    with pytest.raises(ErrorExpiredSubscription):
        list(acc.calendar.get_events(sub_id, watermark))


def test_open_streams_counts_connections(fast_sim):
    acc = account(fast_sim, ALICE)
    sub_id = acc.calendar.subscribe_to_streaming()
    seen = []
    threading.Timer(0.4, lambda: seen.append(fast_sim.faults.open_streams(ALICE))).start()
    list(acc.calendar.get_streaming_events(sub_id, connection_timeout=1))
    assert seen == [1] and fast_sim.faults.open_streams() == 0
