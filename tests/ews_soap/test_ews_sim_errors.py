"""Every typed error from a real server response (the EWS simulator over HTTP): what a person or a job must do,
each with its one-sentence `.sentence` (SPEC S6, G3, G4)."""

from __future__ import annotations

import socket

import pytest
from ews_simkit import ALICE, CAROL, HOUR, T0, RecordingGate, counting, populate, session

from portal.ews_soap import (
    AccessDenied,
    AuthenticationFailed,
    ChangeKeyConflict,
    EventUpdate,
    EwsError,
    FolderNotFound,
    ImpersonationDenied,
    MailboxNotFound,
    NewEvent,
    PlainHttpRefused,
    ProtocolError,
    ServerConfig,
    ServerUnreachable,
    SubscriptionLost,
    SyncStateInvalid,
    Throttled,
    TlsNotTrusted,
    TransientServerError,
    VersionNotAccepted,
)
from portal.ews_soap.transport import close_pools

running_simulator = pytest.importorskip("ews_simulator.testing").running_simulator


@pytest.fixture(scope="module")
def sim():
    with running_simulator(version="2016", auth="both") as s:
        yield populate(s)
        close_pools()


@pytest.fixture(autouse=True)
def clean_faults(sim):
    yield
    sim.faults.clear()
    sim.unlock(sim.service_account.upn)


def assert_sentence(err: EwsError):
    assert err.sentence.endswith(".") and len(err.sentence.split()) >= 5 and err.code


@pytest.mark.parametrize("auth", ["ntlm", "basic"])
def test_s6_wrong_password_is_authentication_failed(sim, auth):
    with pytest.raises(AuthenticationFailed) as info:
        session(sim, auth=auth, password="wrong").primary_calendar(ALICE)
    assert_sentence(info.value)


def test_s6_wrong_new_password_not_hidden_by_an_authenticated_connection(sim):
    """NTLM authenticates the TCP connection: Authorize with a changed (wrong) password must not ride on a
    kept-alive connection that the old, good password authenticated."""
    session(sim, auth="ntlm").primary_calendar(ALICE)
    with pytest.raises(AuthenticationFailed):
        session(sim, auth="ntlm", password="changed-but-wrong").probe(impersonate=ALICE)


def test_g4_rejected_password_is_not_retried(sim):
    """One call with a bad password is one bad logon: with a lockout threshold of 3, two failed calls leave the
    account usable (the client never loops on a rejected password)."""
    sim.faults.lockout(threshold=3, window_s=60, duration_s=60)
    for auth in ("ntlm", "basic"):
        with pytest.raises(AuthenticationFailed):
            session(sim, auth=auth, password="wrong").primary_calendar(ALICE)
    assert session(sim, auth="basic").primary_calendar(ALICE).folder_id


def test_g4_locked_account_gives_authentication_failed_after_earlier_success(sim):
    """AD lockout answers a plain 401, like a real server: the error names the re-authorize action."""
    good = session(sim, auth="basic")
    good.primary_calendar(ALICE)
    sim.faults.lockout(threshold=1, window_s=60, duration_s=60)
    with pytest.raises(AuthenticationFailed):
        session(sim, auth="basic", password="wrong").primary_calendar(ALICE)
    with pytest.raises(AuthenticationFailed) as info:
        good.primary_calendar(ALICE)
    assert "locked" in info.value.detail and "locked" in info.value.sentence


def test_s6_closed_port_is_server_unreachable(sim):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ews = session(sim, auth="ntlm")
    ews.client.config = ServerConfig(f"http://127.0.0.1:{port}/EWS/Exchange.asmx", ews.config.credentials,
                                     allow_http=True, timeout=(2, 2))
    with pytest.raises(ServerUnreachable) as info:
        ews.primary_calendar(ALICE)
    assert_sentence(info.value)


def test_s4_plain_http_refused_unless_allowed(sim):
    with pytest.raises(PlainHttpRefused) as info:
        session(sim, auth="ntlm").__class__(ServerConfig(sim.url, session(sim).config.credentials))
    assert "https" in info.value.sentence


def test_s6_version_not_accepted_names_server_version():
    with running_simulator(version="2013", auth="ntlm") as old:
        populate(old)
        with pytest.raises(VersionNotAccepted) as info:
            session(old, version="2016").probe()
        assert info.value.server_version and info.value.server_version.startswith("15.0")
        assert info.value.suggested_version in ("2013", "2013_SP1")
        assert_sentence(info.value)
        result = session(old, version=info.value.suggested_version).probe()
        assert result.suggested_version is None
        close_pools()


def test_s3_2019_accepted_by_2019_server():
    with running_simulator(version="2019", auth="ntlm") as new:
        populate(new)
        result = session(new, version="2019").probe()
        assert result.version_header == "Exchange2016" and result.server_version.startswith("15.2")
        assert result.suggested_version is None
        close_pools()


def test_s6_impersonation_denied(sim):
    sim.set_impersonation(sim.service_account.upn, False)
    try:
        with pytest.raises(ImpersonationDenied) as info:
            session(sim, impersonation=True).probe(impersonate=ALICE)
        assert_sentence(info.value)
    finally:
        sim.set_impersonation(sim.service_account.upn, True)


def test_g5_delegate_without_rights_is_access_denied(sim):
    with pytest.raises(AccessDenied) as info:
        session(sim, impersonation=False).primary_calendar(CAROL)
    assert_sentence(info.value)


def test_impersonating_unknown_mailbox_is_mailbox_not_found(sim):
    with pytest.raises(MailboxNotFound):
        session(sim, impersonation=True).primary_calendar("ghost@example.com")


@pytest.mark.parametrize("shape", ["soap-fault", "http-503", "budget"])
def test_g3_throttled_carries_server_backoff_and_reaches_gate(sim, shape):
    gate = RecordingGate()
    ews = session(sim, auth="basic", gate=gate)
    if shape == "soap-fault":
        sim.faults.server_busy(1, backoff_ms=2500)
        expected = 2.5
    elif shape == "http-503":
        sim.faults.http_503(1, retry_after_s=7)
        expected = 7.0
    else:
        sim.faults.throttle(budget=2, window_s=60, backoff_ms=4200)
        ews.primary_calendar(ALICE)
        ews.primary_calendar(ALICE)
        expected = 4.2
    with pytest.raises(Throttled) as info:
        ews.primary_calendar(ALICE)
    assert info.value.backoff_seconds == pytest.approx(expected)
    assert gate.backoffs == [pytest.approx(expected)]
    assert gate.acquired == gate.released  # every acquire released, also on errors


def test_change_key_conflict_with_stale_key(sim):
    ews = session(sim, impersonation=True)
    made = ews.create_events(ALICE, [NewEvent("Conflict", T0 + HOUR * 2000, T0 + HOUR * 2001)])[0]
    ews.update_events(ALICE, [EventUpdate(made.item_id, made.change_key, subject="first")])
    stale = ews.update_events(ALICE, [EventUpdate(made.item_id, made.change_key, subject="second")],
                              conflict="NeverOverwrite")
    assert isinstance(stale[0].error, ChangeKeyConflict)


def test_g1_invalid_sync_state(sim):
    ews = session(sim, impersonation=True)
    with pytest.raises(SyncStateInvalid) as info:
        ews.sync_folder_items(ALICE, None, "bm90LWEtc3luYy1zdGF0ZQ==")
    assert_sentence(info.value)


def test_g1_sync_of_a_deleted_calendar_is_folder_not_found(sim):
    """SyncFolderItems on a folder that is gone answers ErrorSyncFolderNotFound (EWS-FACTS section 1); the job
    looks the calendar up again - it is neither an access problem nor a corrupt sync state."""
    sim.outlook(ALICE).add_calendar("Short-lived")
    folder_id = sim.store.find_calendar(ALICE, "Short-lived").id
    ews = session(sim, impersonation=True)
    state = ews.sync_folder_items(ALICE, folder_id, None).sync_state
    sim.outlook(ALICE).delete_calendar("Short-lived")
    with pytest.raises(FolderNotFound) as info:
        ews.sync_folder_items(ALICE, folder_id, state)
    assert info.value.code == "ErrorSyncFolderNotFound" and not isinstance(info.value, AccessDenied)
    assert "no longer exists" in info.value.sentence
    assert_sentence(info.value)


def test_subscription_lost(sim):
    ews = session(sim, impersonation=True)
    sub = ews.subscribe_pull(ALICE)
    sim.faults.lose_subscription(sub.subscription_id)
    with pytest.raises(SubscriptionLost):
        ews.get_events(ALICE, sub.subscription_id, sub.watermark)


def test_dropped_connection_is_transient(sim):
    ews = session(sim, auth="basic")
    ews.primary_calendar(ALICE)
    sim.faults.drop_connection(1)
    with pytest.raises(TransientServerError) as info:
        ews.primary_calendar(ALICE)
    assert_sentence(info.value)
    assert ews.primary_calendar(ALICE).folder_id  # the next call works


def test_unavailable_mailbox_is_transient(sim):
    sim.faults.mailbox_unavailable(ALICE)
    try:
        with pytest.raises(TransientServerError):
            session(sim, impersonation=True).primary_calendar(ALICE)
    finally:
        sim.faults.mailbox_unavailable(ALICE, False)


def test_not_an_ews_endpoint_is_protocol_error(sim):
    ews = session(sim, auth="basic")
    ews.client.config = ServerConfig(sim.base_url + "/owa/", ews.config.credentials, allow_http=True)
    with pytest.raises(ProtocolError) as info:
        ews.primary_calendar(ALICE)
    assert_sentence(info.value)


def test_tls_not_trusted_then_trusted_with_admin_ca():
    """TLS verification is always on; the admin's CA PEM makes an internal CA trusted, and NTLM then runs
    with channel binding over https."""
    with running_simulator(version="2016", auth="ntlm", tls=True) as tls_sim:
        populate(tls_sim)
        with pytest.raises(TlsNotTrusted) as info:
            session(tls_sim).primary_calendar(ALICE)
        assert_sentence(info.value)
        ews = session(tls_sim, ca_bundle_pem=tls_sim.ca_pem)
        with counting(tls_sim) as by_op:
            assert ews.probe(impersonate=ALICE).checks[1] == "tls"
        assert by_op()["GetFolder"] == 2
        close_pools()


@pytest.mark.parametrize("label", ["2010", "2010_SP1", "2010_SP2", "2013", "2013_SP1", "2016", "2019"])
def test_s3_each_offered_version_is_accepted_by_its_own_server(label):
    """S3: the label an admin picks for a server of that version is accepted, and no other label is suggested."""
    with running_simulator(version=label, auth="ntlm") as own:
        populate(own)
        ews = session(own, version=label)
        result = ews.probe(impersonate=ALICE)
        assert result.suggested_version is None
        page = ews.sync_folder_items(ALICE, None, None)
        assert page.includes_last
        close_pools()


def test_g1_ignore_skips_sundials_own_writes(sim):
    """EWS-FACTS §1: SyncFolderItems Ignore lists the engine's own writes so they do not come back as changes."""
    ews = session(sim, impersonation=True)
    state = [p for p in ews.sync_all(ALICE, None, None)][-1].sync_state
    mine = ews.create_events(ALICE, [NewEvent("Booked in Sundial", T0 + HOUR * 3000, T0 + HOUR * 3001)])[0]
    theirs = sim.outlook(ALICE).create("Booked in Outlook", T0 + HOUR * 3002, T0 + HOUR * 3003)
    page = ews.sync_folder_items(ALICE, None, state, ignore=[mine.item_id])
    assert [c.item_id for c in page.changes] == [theirs]


def test_r4_the_gate_hears_when_the_server_fails_to_answer_and_when_it_answers_again(sim):
    """R4: the client tells a listening gate "trouble" for a dropped connection or a 5xx and "healthy" for each
    answer, so work waiting out a back-off can run as soon as Exchange answers again (jobs/recovery.py)."""

    class NotingGate(RecordingGate):
        def __init__(self):
            super().__init__()
            self.notes: list[str] = []

        def trouble(self):
            self.notes.append("trouble")

        def healthy(self):
            self.notes.append("healthy")

    gate = NotingGate()
    ews = session(sim, auth="basic", gate=gate)
    ews.primary_calendar(ALICE)
    assert gate.notes == ["healthy"]
    sim.faults.drop_connection(1)
    with pytest.raises(TransientServerError):
        ews.primary_calendar(ALICE)
    sim.faults.http_503(1, retry_after_s=1)
    with pytest.raises(Throttled):
        ews.primary_calendar(ALICE)
    assert gate.notes == ["healthy", "trouble"] and gate.backoffs == [1.0]  # a 503's back-off: the gate's own trouble
    ews.primary_calendar(ALICE)
    assert gate.notes[-1] == "healthy"
