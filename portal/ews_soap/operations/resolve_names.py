"""ResolveNames: a staff email → the mailbox's primary SMTP address (SPEC I1).
MSDOC web-service-reference/resolvenames-operation: at most 100 candidates; several come back as
ResponseClass="Warning" ErrorNameResolutionMultipleResults with data; none → ErrorNameResolutionNoResults.
Samples ResolveNames-*.xml."""

from __future__ import annotations

from ..errors import MailboxNotFound, NotPrimaryAddress
from ..parse import Reply, child_text, message_error, response_messages
from ..types import ResolvedMailbox
from ..xml import T

OPERATION = "ResolveNames"


def body(entry: str) -> dict:
    return {"ReturnFullContactData": False, "SearchScope": "ActiveDirectory", "UnresolvedEntry": entry}


def candidates(reply: Reply) -> list[tuple[str | None, str | None, str | None]]:
    """(name, email, mailbox type) of every resolution; raises the typed error of an Error reply."""
    msgs = response_messages(reply)
    if not msgs:
        return []
    err = message_error(msgs[0])
    if err is not None:
        raise err
    out = []
    for box in msgs[0].iter(f"{{{T}}}Mailbox"):
        out.append((child_text(box, "Name"), child_text(box, "EmailAddress"), child_text(box, "MailboxType")))
    return out


def pick(address: str, found: list[tuple[str | None, str | None, str | None]]) -> ResolvedMailbox:
    """I1: the email must equal (case-insensitively) the primary SMTP address of exactly one mailbox."""
    mailboxes = [(n, e) for n, e, kind in found if e and kind in (None, "Mailbox")]
    for name, email in mailboxes:
        if email.lower() == address.lower():
            return ResolvedMailbox(email, name)
    if len(mailboxes) == 1:
        raise NotPrimaryAddress(f"{address} resolves to {mailboxes[0][1]}", address=address,
                                primary=mailboxes[0][1])
    raise MailboxNotFound(f"{address}: {len(mailboxes)} candidate mailboxes", address=address,
                          code="ErrorNameResolutionNoResults")
