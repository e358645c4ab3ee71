"""ResolveNames and ConvertId."""
from __future__ import annotations

from ..soap import EwsError, add_message, local, msub, response_root, tsub

MAX_RESOLUTIONS = 100  # "returns at most 100 candidates" (MSDOC resolvenames-operation)


def _matches(ctx, query: str):
    q = query.strip().lower()
    if q.startswith("smtp:"):
        q = q[5:]
    out = []
    for mbx in ctx.directory.mailboxes.values():
        addresses = [mbx.primary.lower()] + [a.lower() for a in mbx.aliases]
        if q in addresses:
            return [mbx]
        words = mbx.name.lower().split()
        if any(a.startswith(q) for a in addresses) or mbx.name.lower().startswith(q) or any(
                w.startswith(q) for w in words):
            out.append(mbx)
    return sorted(out, key=lambda b: b.name)[:MAX_RESOLUTIONS]


def resolve_names(ctx, op):
    root, messages = response_root("ResolveNames")
    full = op.get("ReturnFullContactData", "false").lower() == "true"
    query = op.findtext("{*}UnresolvedEntry") or ""
    found = _matches(ctx, query)
    if not found:
        add_message(messages, "ResolveNamesResponseMessage",
                    EwsError("ErrorNameResolutionNoResults", "No results were found."))
        return root
    warning = None
    if len(found) > 1:
        warning = EwsError("ErrorNameResolutionMultipleResults",
                           "Multiple results were found.")
    msg = add_message(messages, "ResolveNamesResponseMessage", warning=warning)
    box = msub(msg, "ResolutionSet", TotalItemsInView=len(found), IncludesLastItemInRange="true")
    for mbx in found:
        res = tsub(box, "Resolution")
        mail = tsub(res, "Mailbox")
        tsub(mail, "Name", mbx.name)
        tsub(mail, "EmailAddress", mbx.primary)
        tsub(mail, "RoutingType", "SMTP")
        tsub(mail, "MailboxType", "Mailbox")
        if full:
            contact = tsub(res, "Contact")
            tsub(contact, "DisplayName", mbx.name)
            emails = tsub(contact, "EmailAddresses")
            tsub(emails, "Entry", f"SMTP:{mbx.primary}", Key="EmailAddress1")
            tsub(contact, "ContactSource", "ActiveDirectory")
    return root


def convert_id(ctx, op):
    """Only what version probing needs: every id answers ErrorInvalidIdMalformed (exchangelib's guess()
    sends a DUMMY id and only reads the ServerVersionInfo header)."""
    root, messages = response_root("ConvertId")
    for alt in op.find("{*}SourceIds"):
        if local(alt.tag):
            add_message(messages, "ConvertIdResponseMessage",
                        EwsError("ErrorInvalidIdMalformed", "Id is malformed."))
    return root
