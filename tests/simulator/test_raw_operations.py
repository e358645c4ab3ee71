"""Raw EWS requests for the parts exchangelib does not reach in the other tests: restrictions on the
Sundial extended property, batches, Append/DeleteItemField, BodyType conversion, paging, FindFolder."""
from __future__ import annotations

import re

import pytest
import requests
from sim_helpers import ALICE, populate

from ews_simulator.testing import running_simulator

PROP = ('<t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="SundialAppointmentId" '
        'PropertyType="String"/>')
CAL = '<t:DistinguishedFolderId Id="calendar"/>'


def envelope(body: str, header: str = "") -> bytes:
    return ('<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
            'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header>'
            f'<t:RequestServerVersion Version="Exchange2010_SP2"/>{header}</s:Header><s:Body>{body}</s:Body>'
            '</s:Envelope>').encode()


@pytest.fixture(scope="module")
def raw():
    with running_simulator(version="2010_SP2", auth="basic") as sim:
        populate(sim)
        session = requests.Session()
        session.auth = (ALICE, "Password1!")

        def call(body, header=""):
            r = session.post(sim.url, data=envelope(body, header), timeout=10)
            assert r.status_code == 200, r.text[:400]
            return r.text
        call.sim = sim
        yield call


def create(raw, subject, start, end, appointment_id=None, extra="", tz_header=""):
    prop = f"<t:ExtendedProperty>{PROP}<t:Value>{appointment_id}</t:Value></t:ExtendedProperty>" \
        if appointment_id else ""
    text = raw(f'<m:CreateItem SendMeetingInvitations="SendToNone"><m:SavedItemFolderId>{CAL}</m:SavedItemFolderId>'
               f'<m:Items><t:CalendarItem><t:Subject>{subject}</t:Subject><t:Body BodyType="HTML">'
               f'&lt;p&gt;Hello &lt;b&gt;there&lt;/b&gt;&lt;/p&gt;</t:Body>{prop}<t:Start>{start}</t:Start>'
               f'<t:End>{end}</t:End>{extra}</t:CalendarItem></m:Items></m:CreateItem>', tz_header)
    return re.search(r'ItemId Id="([^"]+)" ChangeKey="([^"]+)"', text).groups()


def test_server_version_info_of_2010_sp2(raw):
    text = raw(f"<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds>{CAL}"
               "</m:FolderIds></m:GetFolder>")
    assert 'MajorVersion="14" MinorVersion="2" MajorBuildNumber="247" MinorBuildNumber="5" ' \
           'Version="Exchange2010_SP2"' in text


def test_find_by_extended_property_restriction(raw):
    create(raw, "Booked in Sundial", "2027-01-10T10:00:00Z", "2027-01-10T11:00:00Z", appointment_id="77")
    create(raw, "Other", "2027-01-10T12:00:00Z", "2027-01-10T13:00:00Z", appointment_id="78")
    text = raw('<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>'
               f'<t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/>{PROP}</t:AdditionalProperties>'
               f'</m:ItemShape><m:Restriction><t:IsEqualTo>{PROP}<t:FieldURIOrConstant><t:Constant Value="77"/>'
               f'</t:FieldURIOrConstant></t:IsEqualTo></m:Restriction><m:ParentFolderIds>{CAL}</m:ParentFolderIds>'
               '</m:FindItem>')
    assert text.count("<t:CalendarItem>") == 1 and "Booked in Sundial" in text and "<t:Value>77</t:Value>" in text


def test_get_item_batch_with_missing_item_and_body_conversion(raw):
    item_id, _ = create(raw, "Body test", "2027-01-11T10:00:00Z", "2027-01-11T11:00:00Z")
    text = raw('<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:BodyType>Text</t:BodyType>'
               '<t:AdditionalProperties><t:FieldURI FieldURI="item:Body"/></t:AdditionalProperties></m:ItemShape>'
               f'<m:ItemIds><t:ItemId Id="{item_id}"/><t:ItemId Id="AAMkAGRlZDQ="/></m:ItemIds></m:GetItem>')
    assert '<t:Body BodyType="Text">Hello there</t:Body>' in text
    assert text.index('ResponseClass="Success"') < text.index("ErrorItemNotFound")


def test_update_append_and_delete_fields(raw):
    item_id, key = create(raw, "Append", "2027-01-12T10:00:00Z", "2027-01-12T11:00:00Z",
                          extra="<t:Location>Room 4</t:Location>")
    text = raw('<m:UpdateItem ConflictResolution="AutoResolve" SendMeetingInvitationsOrCancellations="SendToNone">'
               f'<m:ItemChanges><t:ItemChange><t:ItemId Id="{item_id}" ChangeKey="{key}"/><t:Updates>'
               '<t:AppendToItemField><t:FieldURI FieldURI="item:Body"/><t:CalendarItem><t:Body BodyType="HTML">'
               '&lt;p&gt;more&lt;/p&gt;</t:Body></t:CalendarItem></t:AppendToItemField>'
               '<t:DeleteItemField><t:FieldURI FieldURI="calendar:Location"/></t:DeleteItemField>'
               '</t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>')
    assert "<t:Count>0</t:Count>" in text
    item = raw.sim.store.get(item_id)
    assert item.body.endswith("<p>more</p>") and item.location == ""
    stale = raw('<m:UpdateItem ConflictResolution="NeverOverwrite" SendMeetingInvitationsOrCancellations='
                f'"SendToNone"><m:ItemChanges><t:ItemChange><t:ItemId Id="{item_id}" ChangeKey="{key}"/>'
                '<t:Updates><t:SetItemField><t:FieldURI FieldURI="item:Subject"/><t:CalendarItem><t:Subject>x'
                '</t:Subject></t:CalendarItem></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges>'
                '</m:UpdateItem>')
    assert "ErrorIrresolvableConflict" in stale


def test_time_zone_context_reads_offsetless_times(raw):
    header = '<t:TimeZoneContext><t:TimeZoneDefinition Id="Pacific Standard Time"/></t:TimeZoneContext>'
    item_id, _ = create(raw, "Pacific", "2027-01-13T09:00:00", "2027-01-13T10:00:00", tz_header=header)
    assert raw.sim.store.get(item_id).start.hour == 17  # 09:00 PST = 17:00 UTC


def test_indexed_paging_and_find_folder(raw):
    raw.sim.outlook(ALICE).add_calendar("Holidays")
    page = raw('<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>'
               '<m:IndexedPageItemView MaxEntriesReturned="2" Offset="0" BasePoint="Beginning"/>'
               f'<m:ParentFolderIds>{CAL}</m:ParentFolderIds></m:FindItem>')
    assert page.count("<t:CalendarItem>") == 2 and 'IncludesLastItemInRange="false"' in page
    folders = raw('<m:FindFolder Traversal="Deep"><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>'
                  '<m:ParentFolderIds><t:DistinguishedFolderId Id="msgfolderroot"/></m:ParentFolderIds>'
                  '</m:FindFolder>')
    assert "<t:DisplayName>Holidays</t:DisplayName>" in folders and "<t:CalendarFolder>" in folders


@pytest.mark.parametrize(("body", "code"), [
    (f'<m:CreateItem><m:SavedItemFolderId>{CAL}</m:SavedItemFolderId><m:Items><t:CalendarItem><t:Subject>x'
     '</t:Subject></t:CalendarItem></m:Items></m:CreateItem>', "ErrorSendMeetingInvitationsRequired"),
    ('<m:DeleteItem DeleteType="HardDelete"><m:ItemIds><t:ItemId Id="ITEM"/></m:ItemIds></m:DeleteItem>',
     "ErrorSendMeetingCancellationsRequired"),
    ('<m:UpdateItem ConflictResolution="AlwaysOverwrite"><m:ItemChanges><t:ItemChange><t:ItemId Id="ITEM"/>'
     '<t:Updates><t:SetItemField><t:FieldURI FieldURI="item:Subject"/><t:CalendarItem><t:Subject>x</t:Subject>'
     '</t:CalendarItem></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>',
     "ErrorSendMeetingInvitationsOrCancellationsRequired"),
])
def test_meeting_attributes_are_required_for_calendar_items(raw, body, code):
    item_id = raw.sim.outlook(ALICE).create("Needs attributes", "2027-02-01T10:00:00+00:00",
                                            "2027-02-01T11:00:00+00:00")
    assert f"<m:ResponseCode>{code}</m:ResponseCode>" in raw(body.replace("ITEM", item_id))


def test_subscription_affinity_cookie(raw):
    r = requests.post(raw.sim.url, auth=(ALICE, "Password1!"), timeout=10,
                      headers={"X-AnchorMailbox": ALICE, "X-PreferServerAffinity": "true"},
                      data=envelope('<m:Subscribe><m:StreamingSubscriptionRequest><t:FolderIds>'
                                    f'{CAL}</t:FolderIds><t:EventTypes><t:EventType>CreatedEvent</t:EventType>'
                                    '</t:EventTypes></m:StreamingSubscriptionRequest></m:Subscribe>'))
    assert "X-BackEndOverrideCookie" in r.cookies and "<m:SubscriptionId>" in r.text


def test_concurrent_writers_and_sync_stay_consistent(raw):
    """Outlook edits, EWS creates and SyncFolderItems from several threads: the final sync equals the store."""
    import threading
    person = raw.sim.outlook(ALICE)
    errors = []

    def outlook_worker(n):
        try:
            for i in range(15):
                item_id = person.create(f"T{n}-{i}", "2027-03-01T10:00:00+00:00", "2027-03-01T11:00:00+00:00")
                if i % 3 == 0:
                    person.delete(item_id)
                else:
                    person.rename(item_id, f"T{n}-{i} renamed")
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    def ews_worker(n):
        try:
            for i in range(10):
                create(raw, f"E{n}-{i}", "2027-03-02T10:00:00Z", "2027-03-02T11:00:00Z")
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=outlook_worker, args=(n,)) for n in range(3)]
    threads += [threading.Thread(target=ews_worker, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    state, seen = None, set()
    while True:
        state_el = f"<m:SyncState>{state}</m:SyncState>" if state else ""
        text = raw('<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>'
                   f'<m:SyncFolderId>{CAL}</m:SyncFolderId>{state_el}<m:MaxChangesReturned>7</m:MaxChangesReturned>'
                   '</m:SyncFolderItems>')
        state = re.search(r"<m:SyncState>(.*?)</m:SyncState>", text).group(1)
        for kind, item_id in re.findall(r'<t:(Create|Update|Delete)>\s*(?:<t:CalendarItem>)?\s*<t:ItemId Id="([^"]+)"',
                                        text):
            if kind == "Delete":
                seen.discard(item_id)
            else:
                seen.add(item_id)
        if "<m:IncludesLastItemInRange>true</m:IncludesLastItemInRange>" in text:
            break
    folder = raw.sim.store.folder(ALICE, "calendar")
    assert seen == {i.id for i in raw.sim.store.folder_items(folder.id)}
