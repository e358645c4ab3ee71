"""SOAP 1.1 envelopes, EWS namespaces, response messages and SOAP faults (lxml only)."""
from __future__ import annotations

from lxml import etree

S = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
E = "http://schemas.microsoft.com/exchange/services/2006/errors"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
XML_NS = "http://www.w3.org/XML/1998/namespace"
BODY_NSMAP = {"m": M, "t": T}

PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=True)


class SoapFault(Exception):
    """An error Exchange reports as an HTTP 500 SOAP fault instead of a response message."""

    def __init__(self, code: str, message: str, message_xml: dict | None = None, status: int = 500,
                 faultcode: str | None = None):
        super().__init__(message)
        self.code, self.message, self.message_xml, self.status = code, message, message_xml or {}, status
        self.faultcode = faultcode


class EwsError(Exception):
    """An error reported inside a response message (ResponseClass="Error")."""

    def __init__(self, code: str, message: str, message_xml: dict | None = None):
        super().__init__(message)
        self.code, self.message, self.message_xml = code, message, message_xml or {}


def m(tag: str) -> str:
    return f"{{{M}}}{tag}"


def t(tag: str) -> str:
    return f"{{{T}}}{tag}"


def sub(parent, tag: str, text=None, **attrs):
    el = etree.SubElement(parent, tag, {k: str(v) for k, v in attrs.items() if v is not None})
    if text is not None:
        el.text = text if isinstance(text, str) else str(text)
    return el


def tsub(parent, name: str, text=None, **attrs):
    return sub(parent, t(name), text, **attrs)


def msub(parent, name: str, text=None, **attrs):
    return sub(parent, m(name), text, **attrs)


def response_root(operation: str):
    """``<m:{operation}Response><m:ResponseMessages>``; returns (root, messages)."""
    root = etree.Element(m(f"{operation}Response"), nsmap=BODY_NSMAP)
    return root, msub(root, "ResponseMessages")


def add_message(messages, name: str, error: EwsError | None = None, warning: EwsError | None = None):
    """Append a ``*ResponseMessage`` with the schema's MessageText/ResponseCode/DescriptiveLinkKey/MessageXml order."""
    problem = error or warning
    cls = "Error" if error else "Warning" if warning else "Success"
    msg = msub(messages, name, ResponseClass=cls)
    if problem is None:
        msub(msg, "ResponseCode", "NoError")
        return msg
    msub(msg, "MessageText", problem.message)
    msub(msg, "ResponseCode", problem.code)
    msub(msg, "DescriptiveLinkKey", "0")
    add_message_xml(msg, m("MessageXml"), problem.message_xml)
    return msg


# Schema-validation details are elements of their own (ews-samples/SOAPFault-error-ErrorSchemaValidation.xml);
# everything else is a t:Value with a Name (SOAPFault-error-ErrorServerBusy.xml, ErrorNonPrimarySmtpAddress).
OWN_ELEMENTS = ("LineNumber", "LinePosition", "Violation")


def add_message_xml(parent, tag, values: dict):
    if not values:
        return None
    box = sub(parent, tag)
    for name, value in values.items():
        if name in OWN_ELEMENTS:
            tsub(box, name, str(value))
        else:
            tsub(box, "Value", str(value), Name=name)
    return box


def server_version_header(version):
    el = etree.Element(f"{{{T}}}ServerVersionInfo", nsmap={"h": T, None: T, "xsd": XSD, "xsi": XSI})
    el.set("MajorVersion", str(version.major))
    el.set("MinorVersion", str(version.minor))
    el.set("MajorBuildNumber", str(version.build))
    el.set("MinorBuildNumber", str(version.revision))
    el.set("Version", version.header_version)
    return el


def envelope(body_child, version=None) -> bytes:
    env = etree.Element(f"{{{S}}}Envelope", nsmap={"s": S})
    if version is not None:
        header = etree.SubElement(env, f"{{{S}}}Header")
        header.append(server_version_header(version))
    body = etree.SubElement(env, f"{{{S}}}Body", nsmap={"xsi": XSI, "xsd": XSD})
    body.append(body_child)
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


def fault_element(fault: SoapFault):
    """Exchange 2010+ fault shape (ews-samples/SOAPFault-error-ErrorSchemaValidation.xml, ...ErrorServerBusy.xml)."""
    el = etree.Element(f"{{{S}}}Fault")
    code = etree.SubElement(el, "faultcode", nsmap={"a": T})
    code.text = fault.faultcode or f"a:{fault.code}"
    text = etree.SubElement(el, "faultstring")
    text.set(f"{{{XML_NS}}}lang", "en-US")
    text.text = fault.message
    detail = etree.SubElement(el, "detail", nsmap={"e": E, "t": T})
    sub(detail, f"{{{E}}}ResponseCode", fault.code)
    short = "The request failed schema validation." if fault.code == "ErrorSchemaValidation" else fault.message
    sub(detail, f"{{{E}}}Message", short)
    add_message_xml(detail, t("MessageXml"), fault.message_xml)
    return el


def fault_envelope(fault: SoapFault, version=None) -> bytes:
    env = etree.Element(f"{{{S}}}Envelope", nsmap={"s": S})
    if version is not None and fault.code not in ("ErrorInvalidServerVersion", "ErrorSchemaValidation"):
        header = etree.SubElement(env, f"{{{S}}}Header")
        header.append(server_version_header(version))
    body = etree.SubElement(env, f"{{{S}}}Body")
    body.append(fault_element(fault))
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


def parse_request(data: bytes):
    """Return (header, operation element). Raises SoapFault(ErrorSchemaValidation) for non-SOAP input."""
    try:
        root = etree.fromstring(data, PARSER)
    except etree.XMLSyntaxError as exc:
        line, col = (exc.position or (0, 0))
        raise SoapFault("ErrorSchemaValidation", "The request failed schema validation: " + str(exc.msg),
                        {"LineNumber": line, "LinePosition": col, "Violation": str(exc.msg)},
                        faultcode="a:ErrorSchemaValidation") from None
    if root.tag != f"{{{S}}}Envelope":
        raise SoapFault("ErrorSchemaValidation", "The request failed schema validation: not a SOAP 1.1 Envelope.",
                        {"LineNumber": 1, "LinePosition": 1, "Violation": "root element is not soap:Envelope"})
    header = root.find(f"{{{S}}}Header")
    body = root.find(f"{{{S}}}Body")
    op = None if body is None else next((c for c in body if isinstance(c.tag, str)), None)
    if op is None:
        raise SoapFault("ErrorSchemaValidation", "The request failed schema validation: empty Body.",
                        {"LineNumber": 1, "LinePosition": 1, "Violation": "soap:Body has no operation element"})
    return header, op


def text(el, path: str, default=None):
    found = el.find(path, namespaces=BODY_NSMAP) if el is not None else None
    return default if found is None or found.text is None else found.text.strip()


def local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""
