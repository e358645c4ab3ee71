"""Restriction (SearchExpression) evaluation for FindItem: comparisons on item fields and extended properties."""
from __future__ import annotations

from datetime import datetime

from .. import timezones
from ..itemxml import ext_key
from ..soap import EwsError, local

GETTERS = {
    "item:Subject": lambda i: i.subject, "item:Sensitivity": lambda i: i.sensitivity,
    "item:Importance": lambda i: i.importance, "item:ItemClass": lambda i: "IPM.Appointment",
    "item:Categories": lambda i: i.categories, "item:DateTimeCreated": lambda i: i.created,
    "item:LastModifiedTime": lambda i: i.last_modified, "item:ItemId": lambda i: i.id,
    "calendar:Start": lambda i: i.start, "calendar:End": lambda i: i.end, "calendar:Location": lambda i: i.location,
    "calendar:LegacyFreeBusyStatus": lambda i: i.free_busy, "calendar:IsAllDayEvent": lambda i: i.is_all_day,
    "calendar:CalendarItemType": lambda i: i.calendar_item_type(), "calendar:UID": lambda i: i.uid,
    "calendar:IsRecurring": lambda i: i.item_type != "Single", "calendar:IsMeeting": lambda i: i.is_meeting,
}
COMPARE = {
    "IsEqualTo": lambda a, b: a == b, "IsNotEqualTo": lambda a, b: a != b,
    "IsGreaterThan": lambda a, b: a > b, "IsGreaterThanOrEqualTo": lambda a, b: a >= b,
    "IsLessThan": lambda a, b: a < b, "IsLessThanOrEqualTo": lambda a, b: a <= b,
}


def _field(el):
    for child in el:
        name = local(child.tag)
        if name == "FieldURI":
            uri = child.get("FieldURI")
            if uri not in GETTERS:
                raise EwsError("ErrorUnsupportedPathForQuery", f"The property {uri} can't be used in a restriction.")
            return GETTERS[uri]
        if name == "ExtendedFieldURI":
            key = ext_key(dict(child.attrib))
            return lambda i: i.extended.get(key)
        if name == "IndexedFieldURI":
            raise EwsError("ErrorUnsupportedPathForQuery", "Indexed properties can't be used in a restriction.")
    raise EwsError("ErrorInvalidRestriction", "The restriction has no property path.")


def _constant(el):
    box = el.find("{*}FieldURIOrConstant")
    const = box.find("{*}Constant") if box is not None else None
    if const is None:
        raise EwsError("ErrorInvalidRestriction", "Only constant comparisons are supported.")
    return const.get("Value", "")


def _coerce(actual, value: str):
    if isinstance(actual, datetime):
        return timezones.parse_dt(value)
    if isinstance(actual, bool):
        return value.lower() == "true"
    if isinstance(actual, int):
        return int(value)
    return value


def compile_restriction(el):
    """Return a predicate item -> bool for a ``m:Restriction`` (or nested SearchExpression) element."""
    if local(el.tag) == "Restriction":
        children = [c for c in el if isinstance(c.tag, str)]
        return compile_restriction(children[0]) if children else (lambda i: True)
    name = local(el.tag)
    if name in ("And", "Or"):
        parts = [compile_restriction(c) for c in el if isinstance(c.tag, str)]
        return (lambda i: all(p(i) for p in parts)) if name == "And" else (lambda i: any(p(i) for p in parts))
    if name == "Not":
        inner = compile_restriction(next(c for c in el if isinstance(c.tag, str)))
        return lambda i: not inner(i)
    if name == "Exists":
        get = _field(el)
        return lambda i: get(i) not in (None, "", [])
    if name in COMPARE:
        get, value, op = _field(el), _constant(el), COMPARE[name]

        def compare(item):
            actual = get(item)
            if actual is None:
                return name == "IsNotEqualTo"
            if isinstance(actual, list):
                return any(op(a, value) for a in actual)
            return op(actual, _coerce(actual, value))
        return compare
    if name == "Contains":
        get = _field(el)
        needle = (el.find("{*}Constant").get("Value") or "")
        mode = el.get("ContainmentMode", "Substring")
        ignore_case = "IgnoreCase" in el.get("ContainmentComparison", "")

        def contains(item):
            value = get(item)
            values = value if isinstance(value, list) else [value or ""]
            for v in values:
                a, b = (v.lower(), needle.lower()) if ignore_case else (v, needle)
                if {"FullString": a == b, "Prefixed": a.startswith(b)}.get(mode, b in a):
                    return True
            return False
        return contains
    raise EwsError("ErrorInvalidRestriction", f"Restriction {name} is not supported.")
