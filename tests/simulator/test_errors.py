"""Errors, throttling, lockout and version rejection as a client sees them (SPEC G3, G4, I1)."""
from __future__ import annotations

import base64
from datetime import timedelta

import pytest
import requests
from exchangelib import CalendarItem, EWSDateTime, EWSTimeZone
from exchangelib import errors as xerr
from sim_helpers import ALICE, BOB, CAROL, account, needs_schema, populate

from ews_simulator.testing import running_simulator

START = EWSDateTime(2026, 11, 25, 9, 0, tzinfo=EWSTimeZone("UTC"))
V2016 = (15, 1, 2176, 12)


def soap(body: str, version="Exchange2016", header_extra="") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
            f'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
            f'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header>'
            f'<t:RequestServerVersion Version="{version}"/>{header_extra}</s:Header><s:Body>{body}</s:Body>'
            f'</s:Envelope>').encode()


GET_CALENDAR = ('<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds>'
                '<t:DistinguishedFolderId Id="calendar"><t:Mailbox><t:EmailAddress>{}</t:EmailAddress></t:Mailbox>'
                '</t:DistinguishedFolderId></m:FolderIds></m:GetFolder>')


def post(sim, payload: bytes, user=None, password=None):
    sa = sim.service_account
    return requests.post(sim.url, data=payload, auth=(user or sa.upn, password or sa.password),
                         headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=10)


@pytest.fixture(scope="module")
def basic_sim():
    with running_simulator(version="2013", auth="basic") as handle:
        yield populate(handle)


def test_version_header_and_invalid_server_version(basic_sim):
    ok = post(basic_sim, soap(GET_CALENDAR.format(ALICE), "Exchange2013"))
    assert ok.status_code == 200 and 'MajorVersion="15"' in ok.text and 'Version="V2_4"' in ok.text
    newer = post(basic_sim, soap(GET_CALENDAR.format(ALICE), "Exchange2016"))
    assert newer.status_code == 500 and "ErrorInvalidServerVersion" in newer.text


def test_exchangelib_guesses_the_2013_version(basic_sim):
    acc = account(basic_sim, ALICE, auth="basic")
    assert acc.version.api_version == "Exchange2013" and acc.version.build.major_build == 775


def test_exchangelib_pinned_too_new_version_is_rejected(basic_sim):
    """The server refuses Exchange2016 with ErrorInvalidServerVersion; exchangelib then retries older versions."""
    basic_sim.counters.reset()
    sa = basic_sim.service_account  # a logon form not used elsewhere, so exchangelib has no cached protocol
    acc = account(basic_sim, ALICE, auth="basic", version=V2016, upn=f"{sa.domain}\\{sa.username}")
    assert acc.calendar.name == "Calendar"
    assert basic_sim.counters["GetFolder"] >= 3  # Exchange2016, Exchange2015_SP1, ... until Exchange2013


def test_401_challenges_match_configuration(basic_sim):
    r = requests.post(basic_sim.url, data=b"x", timeout=5)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic realm=")
    with running_simulator(auth="both") as both:
        r = requests.post(both.url, data=b"x", timeout=5)
        assert r.status_code == 401 and "NTLM" in r.headers["WWW-Authenticate"]
        assert "Basic" in r.headers["WWW-Authenticate"]


def test_g4_wrong_password_then_lockout_even_with_right_password():
    with running_simulator(auth="ntlm") as sim:
        populate(sim)
        sim.faults.lockout(threshold=3, window_s=60, duration_s=60)
        for _ in range(3):
            with pytest.raises(xerr.UnauthorizedError):
                account(sim, ALICE, version=V2016, password="wrong").calendar  # noqa: B018
        with pytest.raises(xerr.UnauthorizedError):
            account(sim, ALICE, version=V2016).root  # noqa: B018  right password, account locked
        sim.unlock(sim.service_account.upn)
        assert account(sim, ALICE, version=V2016).calendar.name == "Calendar"


def test_g3_server_busy_with_backoff(basic_sim):
    basic_sim.faults.server_busy(1, backoff_ms=2500)
    r = post(basic_sim, soap(GET_CALENDAR.format(ALICE), "Exchange2013"))
    assert r.status_code == 500 and "ErrorServerBusy" in r.text and ">2500<" in r.text
    basic_sim.faults.throttle(budget=2, window_s=60)
    try:
        codes = [post(basic_sim, soap(GET_CALENDAR.format(ALICE), "Exchange2013")).status_code for _ in range(3)]
        assert codes == [200, 200, 500]
        acc = account(basic_sim, ALICE, auth="basic", version=(15, 0, 775, 7))
        with pytest.raises(xerr.ErrorServerBusy) as info:
            acc.calendar.total_count  # noqa: B018
        assert info.value.back_off > 1
    finally:
        basic_sim.faults.throttle(None)


def test_g3_http_503_and_dropped_connection(basic_sim):
    basic_sim.faults.http_503(1, retry_after_s=3)
    r = post(basic_sim, soap(GET_CALENDAR.format(ALICE), "Exchange2013"))
    assert r.status_code == 503 and r.headers["Retry-After"] == "3"
    basic_sim.faults.drop_connection(1)
    with pytest.raises((requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        post(basic_sim, soap(GET_CALENDAR.format(ALICE), "Exchange2013"))
    assert post(basic_sim, soap(GET_CALENDAR.format(ALICE), "Exchange2013")).status_code == 200


def test_mailbox_unavailable_and_counters(basic_sim):
    basic_sim.counters.reset()
    basic_sim.faults.mailbox_unavailable(BOB)
    r = post(basic_sim, soap(GET_CALENDAR.format(BOB), "Exchange2013"))
    assert "ErrorMailboxStoreUnavailable" in r.text
    basic_sim.faults.mailbox_unavailable(BOB, False)
    post(basic_sim, soap(GET_CALENDAR.format(ALICE), "Exchange2013"))
    assert basic_sim.counters[("GetFolder", ALICE)] == 1 and basic_sim.counters["GetFolder"] == 2


@pytest.mark.parametrize(("mailbox", "code"), [(CAROL, "ErrorAccessDenied"), ("nobody@example.com",
                                                "ErrorNonExistentMailbox"),
                                               ("a.smith@example.com", "ErrorNonPrimarySmtpAddress")])
def test_i1_delegate_errors(basic_sim, mailbox, code):
    r = post(basic_sim, soap(GET_CALENDAR.format(mailbox), "Exchange2013"))
    assert r.status_code == 200 and f"<m:ResponseCode>{code}</m:ResponseCode>" in r.text
    if code == "ErrorNonPrimarySmtpAddress":
        assert f'<t:Value Name="Primary">{ALICE}</t:Value>' in r.text


def test_g5_impersonation_denied_is_a_soap_fault(basic_sim):
    basic_sim.set_impersonation(basic_sim.service_account.upn, False)
    try:
        acc = account(basic_sim, ALICE, auth="basic", version=(15, 0, 775, 7))
        with pytest.raises(xerr.ErrorImpersonateUserDenied):
            acc.calendar  # noqa: B018
        header = ('<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>alice@example.com'
                  '</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>')
        r = post(basic_sim, soap(GET_CALENDAR.format(ALICE).replace("<t:Mailbox>", "<t:Mailbox>"), "Exchange2013",
                                 header))
        assert r.status_code == 500 and "a:ErrorImpersonateUserDenied" in r.text
    finally:
        basic_sim.set_impersonation(basic_sim.service_account.upn, True)


@needs_schema
def test_schema_validation_error(basic_sim):
    r = post(basic_sim, soap('<m:GetFolder><m:FolderIds><t:DistinguishedFolderId Id="Calendar"/></m:FolderIds>'
                             '</m:GetFolder>', "Exchange2013"))
    assert r.status_code == 500 and "a:ErrorSchemaValidation" in r.text and "Violation" in r.text


def test_stale_change_key_and_missing_item(basic_sim):
    acc = account(basic_sim, ALICE, auth="basic", version=(15, 0, 775, 7))
    item = CalendarItem(account=acc, folder=acc.calendar, subject="Conflict", start=START,
                        end=START + timedelta(hours=1))
    item.save(send_meeting_invitations="SendToNone")
    basic_sim.outlook(ALICE).rename(item.id, "Changed in Outlook")
    item.subject = "Changed by Sundial"
    with pytest.raises(xerr.ErrorIrresolvableConflict):
        item.save(update_fields=["subject"], send_meeting_invitations="SendToNone")
    basic_sim.outlook(ALICE).delete(item.id)
    [res] = acc.bulk_delete([(item.id, None)], send_meeting_cancellations="SendToNone")
    assert isinstance(res, xerr.ErrorItemNotFound)


def test_invalid_sync_state_and_range_too_big(basic_sim):
    acc = account(basic_sim, ALICE, auth="basic", version=(15, 0, 775, 7))
    with pytest.raises(xerr.ErrorInvalidSyncStateData):
        list(acc.calendar.sync_items(sync_state="bm90LWEtc3RhdGU="))
    with pytest.raises(xerr.ErrorCalendarViewRangeTooBig):
        list(acc.calendar.view(start=START, end=START + timedelta(days=800)))
    assert base64  # noqa: B018


def test_g3_per_item_internal_server_error_with_inner_server_busy(basic_sim):
    acc = account(basic_sim, ALICE, auth="basic", version=(15, 0, 775, 7))
    items = [CalendarItem(account=acc, folder=acc.calendar, subject=f"Batch {n}", start=START + timedelta(hours=n),
                          end=START + timedelta(hours=n, minutes=30)) for n in range(3)]
    basic_sim.faults.item_busy(1)
    # exchangelib reads the inner ErrorServerBusy (MessageXml InnerErrorResponseCode) as a throttling signal
    with pytest.raises(xerr.ErrorServerBusy) as info:
        acc.bulk_create(folder=acc.calendar, items=items, send_meeting_invitations="SendToNone")
    assert "ErrorInternalServerError" in str(info.value)
    created = [i.subject for i in basic_sim.outlook(ALICE).items() if i.subject.startswith("Batch")]
    assert sorted(created) == ["Batch 1", "Batch 2"]  # the rest of the batch went through


@pytest.mark.parametrize(("mailbox", "access", "error"), [
    ("nobody@example.com", "impersonation", xerr.ErrorNonExistentMailbox),
    ("nobody@example.com", "delegate", xerr.ErrorNonExistentMailbox),
    ("a.smith@example.com", "delegate", xerr.ErrorNonPrimarySmtpAddress),
    (CAROL, "delegate", xerr.ErrorAccessDenied),
])
def test_i1_mailbox_errors_as_exchangelib_sees_them(basic_sim, mailbox, access, error):
    acc = account(basic_sim, mailbox, access=access, auth="basic", version=(15, 0, 775, 7))
    with pytest.raises(error):
        list(acc.calendar.view(start=START, end=START + timedelta(days=1)))


def test_g4_basic_lockout_and_expiry():
    import time as _time
    with running_simulator(auth="basic") as sim:
        populate(sim)
        sim.faults.lockout(threshold=2, window_s=60, duration_s=0.5)
        sa = sim.service_account
        assert post(sim, soap(GET_CALENDAR.format(ALICE)), password="nope").status_code == 401
        assert post(sim, soap(GET_CALENDAR.format(ALICE)), password="nope").status_code == 401
        assert post(sim, soap(GET_CALENDAR.format(ALICE))).status_code == 401  # locked: right password refused
        _time.sleep(0.6)
        assert post(sim, soap(GET_CALENDAR.format(ALICE)), user=f"{sa.domain}\\{sa.username}").status_code == 200
        assert sim.counters[("(401)", "")] == 3
