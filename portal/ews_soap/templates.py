"""Request templates for the hottest operation: zeep renders a request's *shape* once, later requests of the
same shape only put their own strings in (issue 15: the safety net's idle check is one SyncFolderItems per
mailbox; zeep's rendering was ≈ 0.4 ms of its ≈ 6 ms of CPU).

A shape is everything but the string values: the operation, the body's keys and nesting, its non-string values
(MaxChangesReturned), pre-built elements (ItemShape's properties), whether a mailbox is impersonated, the time
zone header. zeep renders the shape once with a marker in place of every string; the envelope is kept cut at the
markers. A request of that shape is then the pieces joined with its own strings, XML-escaped. Nothing changes on
the wire but escaping (`"` as &quot;, a line break in an attribute as &#10;, both equivalent XML).

Whatever the templates cannot vouch for is left to zeep, every time: a value zeep does not take as it is (any
marker not found exactly once in its output), a string XML cannot carry (zeep then raises as before), a value of
a kind not listed here. Templates are per EwsClient (so per server configuration and version header) and few.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from lxml import etree

from .xml import Raw, Typed

TEMPLATED = frozenset({"SyncFolderItems"})
MAX_TEMPLATES = 32  # shapes per client: SyncFolderItems has a handful (with/without state, folder id or name)
_MARK = re.compile(rb"\xee\x80\x80(\d+)\xee\x80\x81")  # U+E000 <n> U+E001 in UTF-8
# XML 1.0 characters, minus the two private-use ones the markers are made of.
_UNSAFE = re.compile("[^\t\n\r\x20-\ud7ff\ue002-\ufffd\U00010000-\U0010ffff]")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;", "\n": "&#10;",
                          "\t": "&#9;"})


class NotTemplatable(Exception):
    pass


def marker(n: int) -> str:
    return f"\ue000{n}\ue001"


def shape(value, strings: list[str]):
    """A hashable key of `value` without its strings, which are appended to `strings` in walking order."""
    if isinstance(value, str):
        strings.append(value)
        return "s"
    if isinstance(value, bool | int | float) or value is None:
        return (type(value).__name__, value)
    if isinstance(value, dict):
        return ("d", tuple((k, shape(v, strings)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return ("l", tuple(shape(v, strings) for v in value))
    if isinstance(value, Typed):
        return ("t", value.type_name, shape(value.value, strings))
    if isinstance(value, Raw):
        return ("r", etree.tostring(value.__values__["element"]))
    raise NotTemplatable(type(value).__name__)


def marked(value, counter: list[int]):
    """`value` with each string replaced by its marker, numbered in the same walking order as shape()."""
    if isinstance(value, str):
        counter[0] += 1
        return marker(counter[0] - 1)
    if isinstance(value, dict):
        return {k: marked(v, counter) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [marked(v, counter) for v in value]
    if isinstance(value, Typed):
        return Typed(value.type_name, marked(value.value, counter))
    return value


class Templates:
    def __init__(self):
        self._cache: dict[tuple, tuple[list, dict] | None] = {}

    def build(self, operation: str, body: dict, impersonate: str | None, time_zone: str | None,
              render: Callable[..., tuple[bytes, dict]]) -> tuple[bytes, dict] | None:
        """The request from its template, or None: render it with zeep instead."""
        strings: list[str] = []
        try:
            key = (operation, impersonate is not None, time_zone, shape(body, strings))
        except NotTemplatable:
            return None
        if impersonate is not None:
            strings.append(impersonate)
        if any(_UNSAFE.search(v) for v in strings):
            return None
        if key not in self._cache:
            if len(self._cache) >= MAX_TEMPLATES:
                self._cache.clear()
            self._cache[key] = make(operation, body, impersonate, time_zone, len(strings), render)
        template = self._cache[key]
        if template is None:
            return None
        pieces, headers = template
        out = [pieces[0]]
        for i in range(1, len(pieces), 2):
            out.append(strings[pieces[i]].translate(_ESCAPES).encode())
            out.append(pieces[i + 1])
        return b"".join(out), dict(headers)

    def __len__(self) -> int:
        return len(self._cache)


def make(operation: str, body: dict, impersonate: str | None, time_zone: str | None, count: int,
         render) -> tuple[list, dict] | None:
    """zeep's rendering of the shape with markers, cut at them: [bytes, index, bytes, index, …, bytes]."""
    counter = [0]
    try:
        data, headers = render(operation, marked(body, counter),
                               impersonate=None if impersonate is None else marker(count - 1),
                               time_zone=time_zone)
    except Exception:  # noqa: BLE001 - zeep refused a marker where it takes the real value: no template
        return None
    cut = _MARK.split(data)
    pieces: list = [cut[0]]
    for i in range(1, len(cut), 2):
        pieces += [int(cut[i]), cut[i + 1]]
    if sorted(pieces[1::2]) != list(range(count)):  # each string exactly once, as it was given
        return None
    return pieces, headers
