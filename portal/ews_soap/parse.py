"""Reading EWS replies with lxml: envelope, SOAP faults, ServerVersionInfo, ResponseMessages.

Replies are walked with lxml rather than deserialised by zeep (ARCHITECTURE.md "zeep parses slowly":
≈295 ms vs ≈7 ms for 512 items). Element names and namespaces follow the EWS reference pages; shapes
are checked against the published samples in ../shared/ews-samples (tests/unit/ews_soap/test_corpus.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from .errors import (
    AccessDenied,
    EwsError,
    ProtocolError,
    VersionNotAccepted,
    error_for_code,
    is_known,
)
from .types import ServerVersion
from .xml import SOAP, E, M, T, parse_xml

_SOAP12 = "http://www.w3.org/2003/05/soap-envelope"


@dataclass
class Reply:
    """One SOAP reply: the element inside soap:Body and the server's version (when sent)."""

    body: etree._Element
    server_version: ServerVersion | None


def _int(value: str | None) -> int:
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def server_version(header: etree._Element | None) -> ServerVersion | None:
    """ServerVersionInfo → numbers (EWS-FACTS §9: parse the numbers, not the Version string)."""
    if header is None:
        return None
    for el in header.iter(f"{{{T}}}ServerVersionInfo", "{*}ServerVersionInfo"):
        if el.get("MajorVersion") is None:
            continue
        return ServerVersion(_int(el.get("MajorVersion")), _int(el.get("MinorVersion")),
                             _int(el.get("MajorBuildNumber")), _int(el.get("MinorBuildNumber")), el.get("Version"))
    return None


def read_reply(data: bytes, *, expect: str | None = None) -> Reply:
    """Parse an envelope. A SOAP fault raises its typed error; a non-SOAP document raises ProtocolError."""
    root = parse_xml(data)
    if etree.QName(root).localname != "Envelope" or etree.QName(root).namespace not in (SOAP, _SOAP12):
        raise ProtocolError(f"not a SOAP envelope: <{etree.QName(root).localname}>")
    header = root.find(f"{{{SOAP}}}Header")
    body = root.find(f"{{{SOAP}}}Body")
    if body is None or len(body) == 0:
        raise ProtocolError("SOAP envelope without a body")
    version = server_version(header)
    first = body[0]
    if etree.QName(first).localname == "Fault":
        err = fault_error(first, version)
        if expect and err.operation is None:
            err.operation = expect.removesuffix("Response")
        err.reply_server_version = version  # the client still learns the server's build from a fault
        raise err
    if expect and etree.QName(first).localname != expect:
        raise ProtocolError(f"expected <{expect}>, got <{etree.QName(first).localname}>")
    return Reply(first, version)


def _text(el: etree._Element | None) -> str | None:
    return el.text.strip() if el is not None and el.text is not None else None


def message_xml_values(el: etree._Element | None) -> dict[str, str]:
    """MessageXml/Value[@Name] pairs (BackOffMilliseconds, InnerErrorResponseCode, ...)."""
    if el is None:
        return {}
    return {v.get("Name"): (v.text or "").strip() for v in el.iter(f"{{{T}}}Value") if v.get("Name")}


def _backoff(values: dict[str, str]) -> float | None:
    ms = values.get("BackOffMilliseconds")
    try:
        return int(ms) / 1000.0 if ms else None
    except ValueError:
        return None


def fault_error(fault: etree._Element, version: ServerVersion | None = None) -> EwsError:
    """SOAP fault → typed error. Shapes: SOAPFault-error-*.xml (Exchange 2013 `a:ErrorX` faultcode with
    detail/e:ResponseCode, MessageXml; Exchange 2007 `soap:Client` with a .NET exception text)."""
    faultcode = _text(fault.find("faultcode")) or ""
    faultstring = _text(fault.find("faultstring")) or ""
    detail = fault.find("detail")
    code = None
    values: dict[str, str] = {}
    if detail is not None:
        code = _text(detail.find(f"{{{E}}}ResponseCode"))
        values = message_xml_values(detail.find(f"{{{T}}}MessageXml"))
        faultstring = _text(detail.find(f"{{{E}}}Message")) or faultstring
    if not code and faultcode:
        local = faultcode.split(":")[-1]
        code = local if local.startswith("Error") else None
    if not code:
        if "AccessDenied" in faultstring:  # Exchange 2007 .NET exception fault (SOAPFault-error-AccessDenied-2007)
            return AccessDenied(faultstring, code="AccessDeniedException")
        return ProtocolError(f"SOAP fault {faultcode}: {faultstring}", code=faultcode or "SoapFault")
    err = error_for_code(code, faultstring, backoff_seconds=_backoff(values))
    if isinstance(err, VersionNotAccepted) and version is not None:
        err.server_version = str(version)
    return err


def message_error(msg: etree._Element) -> EwsError | None:
    """The typed error of one *ResponseMessage, or None for Success/Warning."""
    if msg.get("ResponseClass") != "Error":
        return None
    code = _text(msg.find(f"{{{M}}}ResponseCode")) or "ErrorUnknown"
    text = _text(msg.find(f"{{{M}}}MessageText"))
    operation = etree.QName(msg).localname.removesuffix("ResponseMessage") or None
    values = message_xml_values(msg.find(f"{{{M}}}MessageXml"))
    inner = values.get("InnerErrorResponseCode")
    # Throttling can surface as ErrorInternalServerError with an inner ErrorServerBusy (EWS-FACTS §7, Table 4).
    if inner:
        if is_known(inner):
            return error_for_code(inner, values.get("InnerErrorMessageText") or text, operation=operation,
                                  backoff_seconds=_backoff(values))
    return error_for_code(code, text, operation=operation, backoff_seconds=_backoff(values))


def response_messages(reply: Reply) -> list[etree._Element]:
    """The *ResponseMessage children of m:ResponseMessages, in request order."""
    holder = reply.body.find(f"{{{M}}}ResponseMessages")
    if holder is None:
        raise ProtocolError(f"<{etree.QName(reply.body).localname}> without ResponseMessages")
    return [el for el in holder if isinstance(el.tag, str)]


def single_message(reply: Reply) -> etree._Element:
    """The one response message of a single-target call; its error is raised."""
    msgs = response_messages(reply)
    if not msgs:
        raise ProtocolError("empty ResponseMessages")
    err = message_error(msgs[0])
    if err is not None:
        raise err
    return msgs[0]


def child_text(el: etree._Element, tag: str, ns: str = T) -> str | None:
    found = el.find(f"{{{ns}}}{tag}")
    return found.text if found is not None else None


def id_pair(el: etree._Element | None) -> tuple[str | None, str | None]:
    """(Id, ChangeKey) of an ItemId/FolderId element; published samples sometimes pad Id with a space."""
    if el is None:
        return None, None
    ident = el.get("Id")
    return (ident.strip() if ident else ident), el.get("ChangeKey")
