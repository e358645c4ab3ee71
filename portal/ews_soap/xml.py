"""XML plumbing: namespaces, the hardened lxml parser, and the few request fragments zeep cannot render.

zeep renders an abstract substitution-group head (t:Path, t:SearchExpression) as the head element itself,
which the EWS schema forbids; those fragments (FieldURI/ExtendedFieldURI lists, IsEqualTo restrictions,
SetItemField updates) are built here with lxml and handed to zeep as `Raw` values, which zeep places at
the right position of the schema sequence.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from lxml import etree
from zeep.xsd.valueobjects import CompoundValue

from .errors import ProtocolError

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
E = "http://schemas.microsoft.com/exchange/services/2006/errors"
NSMAP = {"s": SOAP, "m": M, "t": T, "e": E}

# Sundial's appointment id on each exported item (docs/CONTRACTS.md).
APPOINTMENT_PROP = {"DistinguishedPropertySetId": "PublicStrings", "PropertyName": "SundialAppointmentId",
                    "PropertyType": "String"}


def safe_parser() -> etree.XMLParser:
    """No DTD loading, no entity expansion, no network, no huge trees (XML bombs and XXE stay inert)."""
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False,
                           dtd_validation=False, remove_comments=True, remove_pis=True)


def parse_xml(data: bytes) -> etree._Element:
    """Parse a reply; anything that is not a plain XML document (DTD, entities, garbage) is a ProtocolError."""
    if not data or not data.strip():
        raise ProtocolError("empty response body")
    try:
        root = etree.fromstring(data, parser=safe_parser())
    except etree.XMLSyntaxError as exc:
        raise ProtocolError(f"response is not well-formed XML: {exc}") from None
    if root is None:
        raise ProtocolError("response is not XML")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        # EWS never sends a DTD; one here is either an error page or an entity attack.
        raise ProtocolError("response carries a DTD (refused: possible entity expansion attack)")
    return root


class _RawType:
    """zeep calls `value._xsd_type.render(node, value, ...)`; copy the prebuilt element's content into node."""

    def render(self, node, value, xsd_type=None, render_path=None):
        src = value.__values__["element"]
        for key, val in src.attrib.items():
            node.set(key, val)
        node.text = src.text
        for child in src:
            node.append(copy.deepcopy(child))  # appending would move it: a body may be built twice


class Raw(CompoundValue):
    """A pre-built lxml element whose *content* zeep places under the schema element it is assigned to."""

    _xsd_type = _RawType()

    def __init__(self, element: etree._Element | None = None):  # CompoundValue.__init__ bypassed on purpose
        self.__values__ = {"element": element}

    def __deepcopy__(self, memo):  # zeep deep-copies header values; the element is copied by lxml
        return Raw(copy.deepcopy(self.__values__["element"]))

    def __repr__(self) -> str:
        return f"Raw({etree.tostring(self.__values__['element'])[:60]!r})"


class Typed:
    """A value to construct as the named t: type before rendering. zeep leaves the base-type (ItemType) fields
    out of t:CalendarItem when the type is reached through a choice in Microsoft's schema (its circular
    NonEmptyArrayOfAllItemsType reference stays half-resolved) — building from the named type keeps them."""

    __slots__ = ("type_name", "value")

    def __init__(self, type_name: str, value: dict):
        self.type_name = type_name
        self.value = value


def t(tag: str, parent=None, text: str | None = None, **attrib) -> etree._Element:
    """Make a t: element (optionally under parent)."""
    el = etree.Element(f"{{{T}}}{tag}", attrib) if parent is None else etree.SubElement(parent, f"{{{T}}}{tag}", attrib)
    if text is not None:
        el.text = text
    return el


def paths(field_uris: list[str], extended: list[dict] = ()) -> Raw:
    """AdditionalProperties content: FieldURI elements then ExtendedFieldURI elements."""
    holder = t("AdditionalProperties")
    for uri in field_uris:
        t("FieldURI", holder, FieldURI=uri)
    for attrs in extended:
        t("ExtendedFieldURI", holder, **attrs)
    return Raw(holder)


def time_zone_definition(windows_id: str) -> Raw:
    """A TimeZoneDefinition named by Id only. Raw because Microsoft's schema wraps Periods in an optional
    sequence that zeep reads as required (web-service-reference/timezonedefinition: Id alone is enough)."""
    return Raw(t("TimeZoneDefinition", Id=windows_id))


def is_equal_to_extended(prop: dict, value: str) -> Raw:
    """Restriction: <t:IsEqualTo><t:ExtendedFieldURI/><t:FieldURIOrConstant><t:Constant/></...></t:IsEqualTo>."""
    holder = etree.Element(f"{{{M}}}Restriction")
    eq = t("IsEqualTo", holder)
    t("ExtendedFieldURI", eq, **prop)
    t("Constant", t("FieldURIOrConstant", eq), Value=value)
    return Raw(holder)


def ews_datetime(value: datetime) -> str:
    """xs:dateTime in UTC with Z (EWS-FACTS §10: Z is always read as UTC, whatever TimeZoneContext says)."""
    if value.tzinfo is None:
        raise ValueError("EWS datetimes must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(text: str | None) -> datetime | None:
    """Read an xs:dateTime from a reply as aware UTC. Offset-less values are UTC (EWS-FACTS §10)."""
    if not text:
        return None
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        # fractional seconds with more than 6 digits (.NET writes 7)
        head, _, rest = text.partition(".")
        digits = "".join(ch for ch in rest if ch.isdigit())
        tail = rest[len(digits):]
        value = datetime.fromisoformat(f"{head}.{digits[:6]}{tail}") if digits else datetime.fromisoformat(head)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
