"""Microsoft's published EWS responses (../shared/ews-samples, normalised per its README) parsed by the client
into the right dataclass or typed error. Files that are not well-formed as published (README A3, plus one
namespace URI broken across a line) are negative tests: they must end in ProtocolError, never a crash."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from ews_dispatch import as_served, dispatch, http_head
from ews_testkit import SAMPLES_DIR, sample

from portal.ews_soap import errors as E
from portal.ews_soap.operations import find_item, resolve_names
from portal.ews_soap.parse import read_reply
from portal.ews_soap.session import _affinity_cookie
from portal.ews_soap.types import (
    CalendarEvent,
    EventBatch,
    FolderInfo,
    ItemError,
    ItemResult,
    StreamItem,
    Subscription,
    SyncPage,
)


def ok_results(n):
    def check(r):
        assert len(r) == n and all(isinstance(x, ItemResult) and x.ok and x.item_id for x in r)
    return check


def errors_of(*classes):
    def check(r):
        assert [type(x.error) if isinstance(x, ItemResult) else type(x) for x in r] == list(classes)
    return check


def raises(cls, **attrs):
    return ("raises", cls, attrs)


def is_a(cls, check=None):
    def inner(r):
        assert isinstance(r, cls)
        if check:
            check(r)
    return inner


def events(n, **first):
    def check(r):
        evs = r.events if hasattr(r, "events") else r
        assert len(evs) == n and all(isinstance(e, CalendarEvent) for e in evs)
        for key, value in first.items():
            assert getattr(evs[0], key) == value, key
    return check


NOT_WELL_FORMED = {  # README A3, and one more found here
    "GetEvents-howto-response.xml": "start tag GetEventsResponseType, end tag GetEventsResponse (A3)",
    "GetStreamingEvents-error-ErrorInvalidSubscription.xml": "no end tag for GetStreamingEventsResponseMessage (A3)",
    "GetStreamingEvents-howto-response.xml": "s:Header with soap:Body, no </s:Envelope> (A3)",
    "GetStreamingEvents-response.xml": "soap:Header and soap:Body with no Envelope: two roots (A3)",
    "Subscribe-pull-howto-response.xml": "messages namespace written http//schemas (A3)",
    "UpdateItem-appointment-response.xml": "types namespace URI broken across a line ('exc\\nhange') as published",
}

EXPECT = {
    "CreateItem-CancelCalendarItem-response.xml": ok_results(1),
    "CreateItem-appointment-response.xml": ok_results(1),
    "CreateItem-batch-response.xml": ok_results(3),
    "CreateItem-impersonation-response.xml": ok_results(1),
    "CreateItem-meeting-response.xml": ok_results(1),
    "CreateItem-recurring-meeting-response.xml": ok_results(1),
    "DeleteItem-batch-error-ErrorItemNotFound.xml": errors_of(E.ItemNotFound, E.ItemNotFound, E.ItemNotFound),
    "DeleteItem-batch-response.xml": errors_of(type(None), type(None), type(None)),
    "DeleteItem-error-ErrorInternalServerError-inner.xml": errors_of(E.TransientServerError),
    "DeleteItem-error-ErrorItemNotFound.xml": errors_of(E.ItemNotFound),
    "DeleteItem-reference-response.xml": errors_of(type(None)),
    "DeleteItem-response.xml": errors_of(type(None)),
    "ExportItems-error-ErrorNonExistentMailbox-batch.xml": errors_of(type(None), E.ChangeKeyConflict,
                                                                     E.MailboxNotFound),
    "FindFolder-error-ErrorTooManyObjectsOpened.xml": errors_of(E.Throttled),
    "FindItem-CalendarView-expanded-response.xml": events(5, item_type="Occurrence", subject="Swim Team Practice"),
    "FindItem-CalendarView-response.xml": is_a(find_item.ViewPage, lambda p: (
        events(5)(p), (p.includes_last, p.total) == (False, 33) or pytest.fail("truncated view not reported"))),
    "FindItem-IndexedPageItemView-unexpanded-response.xml": events(1, item_type="RecurringMaster"),
    "FindItem-delegate-calendar-response.xml": events(1, subject="Team building exercise"),
    "GetEvents-error-ErrorSubscriptionAccessDenied.xml": raises(E.SubscriptionLost),
    "GetEvents-response.xml": is_a(EventBatch, lambda b: (
        [e.kind for e in b.events] == ["new_mail", "new_mail"] or pytest.fail("kinds"),
        b.watermark == "AAAAAOQGAAAAAAAAAQ==" or pytest.fail("last watermark"))),
    "GetFolder-calendar-response.xml": is_a(FolderInfo, lambda f: f.folder_id == "AAMk" or pytest.fail("id")),
    "GetFolder-delegate-mailbox-response.xml": is_a(FolderInfo, lambda f: f.display_name == "Drafts" or pytest.fail()),
    "GetFolder-error-ErrorInvalidIdMalformed.xml": raises(E.RequestRejected, code="ErrorInvalidIdMalformed"),
    "GetFolder-reference-response.xml": is_a(FolderInfo, lambda f: f.total_count == 2 or pytest.fail("count")),
    "GetItem-RecurringMaster-response.xml": events(1, item_type="RecurringMaster"),
    "GetItem-appointment-response.xml": events(1, subject="Tennis lesson"),
    "GetItem-batch-response.xml": events(3, location="Local food bank", body_text=(
        "Wrap up all outstanding deliverables for this quarter and prepare for Q2.")),
    "GetItem-error-ErrorInvalidPropertyRequest-fragment.xml": lambda r: (
        isinstance(r[0], ItemError) and isinstance(r[0].error, E.RequestRejected)) or pytest.fail("ItemError"),
    "GetItem-error-ErrorItemNotFound-batch-fragment.xml": lambda r: (
        isinstance(r[0], CalendarEvent) and isinstance(r[1], ItemError)
        and isinstance(r[1].error, E.ItemNotFound)) or pytest.fail("value errors"),
    "GetItem-meeting-response.xml": events(1),
    "GetItem-response-AllProperties.xml": events(1, organizer="someone@example.com",
                                                 start=datetime(2006, 6, 16, 0, 30, tzinfo=UTC)),
    "GetItem-response-Default.xml": events(1),
    "GetItem-response-IdOnly.xml": events(1, item_id="ASUAd"),
    "GetStreamingEvents-response-ConnectionStatus-Closed.xml": lambda r: (
        r == [StreamItem(connection_status="Closed")]) or pytest.fail(repr(r)),
    "ResolveNames-ambiguous-error-ErrorNameResolutionNoResults.xml": raises(E.MailboxNotFound),
    "ResolveNames-ambiguous-response.xml": lambda r: resolve_names.pick("sadie@contoso.com", r).primary_smtp
    == "Sadie@Contoso.com" or pytest.fail(),
    "ResolveNames-error-ErrorNameResolutionNoResults.xml": raises(E.MailboxNotFound),
    "ResolveNames-response.xml": lambda r: resolve_names.pick("USER2@example.com", r).primary_smtp
    == "User2@example.com" or pytest.fail(),
    "ResolveNames-warning-ErrorNameResolutionMultipleResults.xml": lambda r: len(r) == 2 or pytest.fail(),
    "SOAPFault-error-AccessDenied-2007.xml": raises(E.AccessDenied),
    "SOAPFault-error-ErrorSchemaValidation-2007.xml": raises(E.RequestRejected, code="ErrorSchemaValidation"),
    "SOAPFault-error-ErrorSchemaValidation.xml": raises(E.RequestRejected, code="ErrorSchemaValidation"),
    "SOAPFault-error-ErrorServerBusy.xml": raises(E.Throttled, backoff_seconds=297.749, code="ErrorServerBusy"),
    "Subscribe-error-ErrorSubscriptionDelegateAccessNotSupported.xml": raises(
        E.AccessDenied, code="ErrorSubscriptionDelegateAccessNotSupported"),
    "Subscribe-pull-response.xml": is_a(Subscription, lambda s: s.watermark == "AAAAAHgGAAAAAAAAAQ==" or pytest.fail()),
    "Subscribe-push-response.xml": is_a(Subscription),
    "Subscribe-streaming-response.xml": is_a(Subscription, lambda s: s.watermark is None or pytest.fail()),
    "Subscribe-streaming-affinity-response.http": is_a(Subscription),
    "Subscribe-streaming-affinity-second-response.http": is_a(Subscription),
    "SyncFolderItems-error-ErrorInvalidSyncStateData.xml": raises(E.SyncStateInvalid),
    "SyncFolderItems-incremental-response.xml": is_a(SyncPage, lambda p: [c.kind for c in p.changes] == [
        "update", "create", "create", "read_flag", "delete"] or pytest.fail()),
    "SyncFolderItems-initial-response.xml": is_a(SyncPage, lambda p: (
        len(p.changes) == 5 and p.includes_last) or pytest.fail()),
    "SyncFolderItems-response.xml": is_a(SyncPage, lambda p: (
        p.changes[0].event.subject == "Budget Q3") or pytest.fail()),
    "Unsubscribe-error.xml": raises(E.SubscriptionLost, code="ErrorSubscriptionNotFound"),
    "Unsubscribe-response.xml": lambda r: r is None or pytest.fail(),
    "UpdateItem-batch-response.xml": ok_results(3),
    "UpdateItem-meeting-response.xml": ok_results(1),
    "UpdateItem-reference-response.xml": ok_results(1),
}

# Not EWS replies the client reads: requests, SOAP header fragments (request side), SOAP Autodiscover
# (Sundial uses POX Autodiscover: tests/unit/ews_soap/test_ews_autodiscover.py reads the POX samples).
NOT_REPLIES = ("-request", "Header-", "GetUserSettings-", "Autodiscover-POX-", "README")


def response_files() -> list[str]:
    if not SAMPLES_DIR.exists():
        return []
    return sorted(p.name for p in SAMPLES_DIR.iterdir() if not any(s in p.name for s in NOT_REPLIES))


def test_corpus_is_fully_covered():
    if not SAMPLES_DIR.exists():
        pytest.skip("../shared/ews-samples is absent")
    assert set(response_files()) == set(EXPECT) | set(NOT_WELL_FORMED)


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_published_reply_parses_into_dataclass_or_typed_error(name):
    data = as_served(name, sample(name))
    expected = EXPECT[name]
    if isinstance(expected, tuple):
        _, cls, attrs = expected
        with pytest.raises(cls) as info:
            dispatch(data)
        assert info.value.sentence and info.value.code
        for key, value in attrs.items():
            assert getattr(info.value, key) == value
    else:
        assert expected(dispatch(data)) is not False


@pytest.mark.parametrize("name", sorted(NOT_WELL_FORMED))
def test_not_well_formed_sample_is_protocol_error(name):
    with pytest.raises(E.ProtocolError):
        dispatch(as_served(name, sample(name)))


def test_g3_server_busy_fault_carries_backoff_seconds():
    with pytest.raises(E.Throttled) as info:
        read_reply(sample("SOAPFault-error-ErrorServerBusy.xml"))
    assert info.value.backoff_seconds == pytest.approx(297.749)


def test_server_version_numbers_not_version_string():
    reply = read_reply(as_served("x", sample("FindItem-CalendarView-response.xml")))
    assert reply.server_version is not None and reply.server_version.major in (8, 14, 15)
    assert isinstance(reply.server_version.build, int)


def test_affinity_cookie_read_from_published_subscribe_response():
    head = http_head("Subscribe-streaming-affinity-response.http", sample("Subscribe-streaming-affinity-response.http"))
    assert _affinity_cookie(head) == "CO1PR06MB222.namprd06.prod.outlook.com~1941996295"


def test_every_calendar_event_is_aware_utc():
    for name in ("FindItem-CalendarView-response.xml", "GetItem-batch-response.xml", "SyncFolderItems-response.xml"):
        result = dispatch(as_served(name, sample(name)))
        evs = result.events if hasattr(result, "events") else (
            [c.event for c in result.changes] if hasattr(result, "changes") else result)
        for ev in evs:
            for value in (ev.start, ev.end, ev.last_modified):
                assert value is None or value.utcoffset().total_seconds() == 0


class _Gate:
    def __init__(self):
        self.backoffs = []

    def acquire(self):
        pass

    def release(self):
        pass

    def backoff(self, seconds):
        self.backoffs.append(seconds)


@pytest.mark.parametrize("name,operation,expected", [
    ("SOAPFault-error-ErrorServerBusy.xml", "GetFolder", 297.749),  # HTTP 500 SOAP fault
    ("FindFolder-error-ErrorTooManyObjectsOpened.xml", "FindFolder", E.DEFAULT_BACKOFF_SECONDS),  # per message
])
def test_g3_gate_hears_every_throttling_shape(name, operation, expected):
    from ews_testkit import config

    from portal.ews_soap.client import EwsClient
    from portal.ews_soap.transport import HttpReply

    gate = _Gate()
    client = EwsClient(config(), gate=gate)
    status = 500 if "SOAPFault" in name else 200
    try:
        client.read(HttpReply(status, {}, sample(name)), operation)
    except E.Throttled:
        pass
    assert gate.backoffs == [pytest.approx(expected)]
