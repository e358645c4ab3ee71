"""S6: every ResponseCode in Microsoft's `ResponseCodeType` (messages.xsd) gets a typed error or a sentence that
names the code and the operation — no server answer ends as an anonymous "Sundial problem"."""

from __future__ import annotations

import pytest
from ews_testkit import need_shared
from lxml import etree

from portal.ews_soap import errors as E
from portal.ews_soap.parse import message_error

XS = "http://www.w3.org/2001/XMLSchema"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"


def schema_codes() -> list[str]:
    tree = etree.parse(str(need_shared("ews-schema", "messages.xsd")))
    enum = tree.find(f".//{{{XS}}}simpleType[@name='ResponseCodeType']")
    return [el.get("value") for el in enum.iter(f"{{{XS}}}enumeration")]


def test_s6_walks_the_whole_response_code_enumeration():
    codes = schema_codes()
    assert len(codes) > 500 and "ErrorCannotFindUser" in codes  # the enumeration really was read
    anonymous = []
    for code in codes:
        if code == "NoError":
            continue
        err = E.error_for_code(code, "detail", operation="GetFolder")
        assert isinstance(err, E.EwsError) and err.code == code
        typed = type(err) is not E.UnhandledResponse
        named = code in err.sentence and "GetFolder" in err.sentence
        if not (typed or named) or "Sundial problem" in err.sentence and code not in err.sentence:
            anonymous.append(code)
        assert err.sentence.endswith(".") and len(err.sentence.split()) >= 6, code
    assert anonymous == []


def test_s6_table_only_names_codes_of_the_schema():
    """A typo in the table would silently leave the real code unhandled."""
    assert set(E.CODE_TABLE) <= set(schema_codes())


@pytest.mark.parametrize("code,cls,state", [
    ("ErrorNonExistentMailbox", E.MailboxNotFound, "mailbox_not_found"),
    ("ErrorCannotFindUser", E.MailboxNotFound, "mailbox_not_found"),
    ("ErrorMailboxMoveInProgress", E.MailboxUnavailable, "mailbox_unavailable"),
    ("ErrorMailboxStoreUnavailable", E.MailboxUnavailable, "mailbox_unavailable"),
    ("ErrorImpersonateUserDenied", E.ImpersonationDenied, "no_access"),
    ("ErrorAccessDenied", E.AccessDenied, "no_access"),
])
def test_s8_i1_mailbox_level_codes_carry_a_mailbox_state(code, cls, state):
    err = E.error_for_code(code)
    assert isinstance(err, cls) and err.mailbox_state == state


def test_s6_a_response_message_names_its_operation():
    msg = etree.fromstring(
        f'<m:CreateItemResponseMessage xmlns:m="{M}" ResponseClass="Error"><m:MessageText>x</m:MessageText>'
        f'<m:ResponseCode>ErrorArchiveMailboxNotEnabled</m:ResponseCode></m:CreateItemResponseMessage>')
    err = message_error(msg)
    assert err.operation == "CreateItem" and "CreateItem" in err.sentence
    assert "ErrorArchiveMailboxNotEnabled" in err.sentence
