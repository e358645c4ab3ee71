"""Every ExchangeSession operation over real HTTP against the EWS simulator, with real NTLM and Basic, through
impersonation and delegate access (SPEC G5, I1, E1-E2, G1-G2)."""

from __future__ import annotations

import threading
import time

import pytest
from ews_simkit import ALICE, BOB, HOUR, T0, populate, session

from portal.ews_soap import (
    CalendarEvent,
    EventUpdate,
    ItemError,
    ItemNotFound,
    ItemRef,
    MailboxNotFound,
    NewEvent,
    NotPrimaryAddress,
)
from portal.ews_soap.transport import close_pools

running_simulator = pytest.importorskip("ews_simulator.testing").running_simulator

MODES = [("ntlm", True), ("ntlm", False), ("basic", True), ("basic", False)]
IDS = ["ntlm-impersonation", "ntlm-delegate", "basic-impersonation", "basic-delegate"]


@pytest.fixture(scope="module")
def sim():
    # a simulated "minute" of 2 s and 0.5 s heartbeats keep streaming tests (and teardown) short
    with running_simulator(version="2016", auth="both", minute_s=2.0, heartbeat_s=0.5) as s:
        yield populate(s)
        close_pools()  # let the server stop without waiting for idle keep-alive connections


@pytest.fixture(params=MODES, ids=IDS)
def ews(request, sim):
    auth, impersonation = request.param
    return session(sim, auth=auth, impersonation=impersonation)


def test_s6_probe_reports_real_version_and_auth(ews):
    result = ews.probe(impersonate=ALICE)
    assert result.server_version.startswith("15.1.")
    assert result.version_header == "Exchange2016"
    assert result.auth_used == ews.config.credentials.auth
    assert result.calendar is not None and result.impersonated == ALICE
    assert ("impersonation" if ews.config.impersonation else "delegate-access") in result.checks


def test_i1_resolve_primary_address_case_insensitively(ews):
    assert ews.resolve_mailbox("Alice@Example.com").primary_smtp == ALICE


def test_i1_alias_is_not_the_primary_address(ews):
    with pytest.raises(NotPrimaryAddress) as info:
        ews.resolve_mailbox("a.smith@example.com")
    assert info.value.primary == ALICE and info.value.address == "a.smith@example.com"


def test_i1_unknown_address_is_mailbox_not_found(ews):
    with pytest.raises(MailboxNotFound) as info:
        ews.resolve_mailbox("nobody@example.com")
    assert info.value.address == "nobody@example.com"


def test_write_read_update_delete_roundtrip(ews, sim):
    """E1/E2: create (ext prop, attendees, no invitations) → view → get (body) → find by id → update → delete."""
    mailbox = ALICE if ews.config.impersonation else BOB
    start = T0 + HOUR * (24 * (1 + IDS.index(f"{ews.config.credentials.auth}-"
                                             f"{'impersonation' if ews.config.impersonation else 'delegate'}")))
    new = NewEvent("Mortgage consultation", start, start + HOUR, location="1 Bank St", body_text="notes",
                   attendees=[("Client One", "one@client.test")], appointment_id=1000 + start.day,
                   time_zone="Europe/Berlin")
    created = ews.create_events(mailbox, [new])
    assert created[0].ok and created[0].item_id and created[0].change_key
    item_id = created[0].item_id

    view = ews.calendar_view(mailbox, start - HOUR, start + 2 * HOUR)
    assert [e.item_id for e in view] == [item_id]
    assert view[0].appointment_id == new.appointment_id and view[0].free_busy == "Busy"

    got = ews.get_items(mailbox, [item_id])
    assert isinstance(got[0], CalendarEvent)
    assert got[0].body_text == "notes" and got[0].attendees == [("Client One", "one@client.test")]
    assert got[0].start == start and got[0].start.tzinfo is not None

    assert [e.item_id for e in ews.find_by_appointment_id(mailbox, new.appointment_id)] == [item_id]

    updated = ews.update_events(mailbox, [EventUpdate(item_id, created[0].change_key, subject="Moved",
                                                      start=start + HOUR, end=start + 2 * HOUR)])
    assert updated[0].ok and updated[0].change_key != created[0].change_key
    again = ews.get_items(mailbox, [item_id])[0]
    assert (again.subject, again.start) == ("Moved", start + HOUR)

    deleted = ews.delete_items(mailbox, [ItemRef(item_id), ItemRef(item_id)])
    assert deleted[0].ok
    assert isinstance(deleted[1].error, ItemNotFound)  # per-item error as a value, not an exception
    missing = ews.get_items(mailbox, [item_id])
    assert isinstance(missing[0], ItemError) and isinstance(missing[0].error, ItemNotFound)


def test_g1_sync_folder_items_until_includes_last(ews, sim):
    mailbox = ALICE if ews.config.impersonation else BOB
    folder = ews.primary_calendar(mailbox)
    state = None
    for page in ews.sync_all(mailbox, folder.folder_id, None, max_changes=3):
        state = page.sync_state
    outlook = sim.outlook(mailbox)
    new_id = outlook.create("Dentist", T0 + HOUR * 500, T0 + HOUR * 501)
    page = ews.sync_folder_items(mailbox, folder.folder_id, state)
    assert [(c.kind, c.item_id) for c in page.changes] == [("create", new_id)]
    assert page.changes[0].event.subject == "Dentist"
    outlook.delete(new_id)
    page = ews.sync_folder_items(mailbox, folder.folder_id, page.sync_state)
    assert [(c.kind, c.item_id) for c in page.changes] == [("delete", new_id)]


def test_u4_calendar_view_expands_recurring_series(ews, sim):
    mailbox = ALICE if ews.config.impersonation else BOB
    outlook = sim.outlook(mailbox)
    start = T0 + HOUR * 24 * 40 + HOUR * (0 if ews.config.impersonation else 2)
    master = outlook.create_recurring("Standup", start, start + HOUR / 4, pattern="Daily", count=5)
    try:
        view = ews.calendar_view(mailbox, start - HOUR, start + HOUR * 24 * 7)
        occurrences = [e for e in view if e.subject == "Standup"]
        assert len(occurrences) == 5 and {e.item_type for e in occurrences} == {"Occurrence"}
    finally:
        outlook.delete(master)


def test_pull_subscription_get_events_unsubscribe(sim):
    ews = session(sim, auth="ntlm", impersonation=True)
    sub = ews.subscribe_pull(ALICE)
    assert sub.watermark and sub.kind == "pull"
    item = sim.outlook(ALICE).create("Walk-in", T0 + HOUR * 900, T0 + HOUR * 901)
    batch = ews.get_events(ALICE, sub.subscription_id, sub.watermark)
    assert "created" in [e.kind for e in batch.events] and batch.watermark
    assert item in [e.item_id for e in batch.events]
    ews.unsubscribe(ALICE, sub.subscription_id)
    sim.outlook(ALICE).delete(item)


def test_g2_streaming_subscription_delivers_changes(sim):
    """Two mailboxes in one affinity group: subscribe (anchor + cookie), open one stream, see Outlook's change."""
    ews = session(sim, auth="ntlm", impersonation=True)
    subs = ews.subscribe_streaming([ALICE, BOB], anchor=ALICE)
    assert [s.mailbox for s in subs] == [ALICE, BOB] and all(s.watermark is None for s in subs)
    seen, done = [], threading.Event()

    def listen():
        stream = ews.stream_events([s.subscription_id for s in subs], ALICE, connection_timeout_minutes=1)
        try:
            for item in stream:
                seen.append(item)
                if any(e.kind == "created" for e in item.events):
                    done.set()
                    return
        finally:
            stream.close()  # closes the HTTP response

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    time.sleep(0.3)
    created = sim.outlook(BOB).create("Lunch", T0 + HOUR * 1000, T0 + HOUR * 1001)
    assert done.wait(10), f"no created event streamed: {seen}"
    events = [e for item in seen for e in item.events if e.kind == "created"]
    assert events[0].item_id == created
    assert any(item.subscription_id == subs[1].subscription_id for item in seen if item.events)
    sim.outlook(BOB).delete(created)
    thread.join(5)


def test_streaming_connection_ends_with_closed_status(sim):
    """EWS-FACTS §8: at ConnectionTimeout the server closes the stream with ConnectionStatus Closed."""
    ews = session(sim, auth="ntlm", impersonation=True)
    subs = ews.subscribe_streaming([ALICE], anchor=ALICE)
    started = time.monotonic()
    items = list(ews.stream_events([subs[0].subscription_id], ALICE, connection_timeout_minutes=1))
    assert items[-1].connection_status == "Closed"
    assert time.monotonic() - started < 10


def test_g5_subscriptions_need_impersonation(sim):
    from portal.ews_soap import AccessDenied

    ews = session(sim, auth="ntlm", impersonation=False)
    with pytest.raises(AccessDenied) as info:
        ews.subscribe_pull(ALICE)
    assert info.value.code == "ErrorSubscriptionDelegateAccessNotSupported"


def test_lost_subscription_arrives_as_stream_item_not_exception(sim):
    """ErrorInvalidSubscription inside a stream (EWS-FACTS §8) is a StreamItem with SubscriptionLost and the ids
    concerned, so the listener resubscribes those and keeps the others."""
    from portal.ews_soap import SubscriptionLost

    ews = session(sim, auth="ntlm", impersonation=True)
    subs = ews.subscribe_streaming([ALICE, BOB], anchor=ALICE)
    stream = ews.stream_events([s.subscription_id for s in subs], ALICE, connection_timeout_minutes=1)
    lost = None
    try:
        timer = threading.Timer(0.3, sim.faults.lose_subscription, args=(subs[1].subscription_id,))
        timer.start()
        for item in stream:
            if item.error is not None:
                lost = item
                break
    finally:
        stream.close()
    assert lost is not None, "the stream ended without reporting the lost subscription"
    assert isinstance(lost.error, SubscriptionLost)
    assert subs[1].subscription_id in lost.error_subscription_ids


def test_every_request_sent_here_was_validated_by_the_simulator(sim):
    """The simulator checks each request against Microsoft's schema (ErrorSchemaValidation otherwise), so every
    test in this module also proves the wire requests are schema-valid."""
    if sim.sim.request_validator is None:
        pytest.skip("the simulator runs without ../shared/ews-schema: no wire validation")
    ews = session(sim)
    with pytest.raises(Exception) as info:  # a deliberately invalid request is refused by that validation
        ews.client.call("GetFolder", {"FolderShape": {"BaseShape": "NoSuchShape"},
                                      "FolderIds": {"_value_1": [{"DistinguishedFolderId": {"Id": "calendar"}}]}})
    assert getattr(info.value, "code", "") == "ErrorSchemaValidation"


def test_auto_auth_picks_ntlm_from_the_servers_offer(sim):
    assert session(sim, auth="auto").probe().auth_used == "ntlm"  # offered NTLM and Basic: no password on the wire


def test_auto_auth_falls_back_to_basic_when_only_basic_is_offered():
    with running_simulator(version="2016", auth="basic") as basic_only:
        populate(basic_only)
        assert session(basic_only, auth="auto").probe(impersonate=ALICE).auth_used == "basic"
        close_pools()


def test_client_works_against_microsofts_wsdl(sim):
    """Issue #4 (1b): pointed at Microsoft's services.wsdl the client runs the same calls end to end."""
    from pathlib import Path

    if not (Path(__file__).resolve().parents[3] / "shared" / "ews-schema" / "services.wsdl").exists():
        pytest.skip("../shared/ews-schema/services.wsdl is absent")
    ews = session(sim, auth="ntlm", impersonation=True, wsdl="microsoft")
    assert ews.probe(impersonate=ALICE).calendar is not None
    start = T0 + HOUR * 24 * 300
    made = ews.create_events(ALICE, [NewEvent("Via Microsoft WSDL", start, start + HOUR, body_text="b",
                                              appointment_id=77, time_zone="America/New_York")])
    got = ews.get_items(ALICE, [made[0].item_id])[0]
    assert (got.subject, got.appointment_id, got.body_text) == ("Via Microsoft WSDL", 77, "b")
    assert ews.update_events(ALICE, [EventUpdate(made[0].item_id, made[0].change_key, location="Room 2")])[0].ok
    assert ews.delete_items(ALICE, [ItemRef(made[0].item_id)])[0].ok
