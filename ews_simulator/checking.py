"""Opt-in checking of every SOAP envelope a simulator sends (test suites enable it; the server never needs it).

``ResponseChecker.install()`` adds a hook to ``core.RESPONSE_HOOKS``; every simulator of the process then hands
it each EWS response body it sends (ordinary replies, SOAP faults, and each message of a GetStreamingEvents
stream). The checker validates them against Microsoft's messages.xsd (../shared/ews-schema, loaded once per
process) and collects problems; the test harness fails the test during which they appeared.

Checked per envelope:
* a SOAP 1.1 Envelope with a Body holding exactly one element;
* a reply (not a fault) carries ``s:Header/t:ServerVersionInfo`` matching the simulator's configured version,
  valid against types.xsd; the Body's element validates against messages.xsd;
* a fault: ``faultcode`` is ``a:<ResponseCode>`` with ``a`` bound to the types namespace, ``faultstring`` is
  present, and the EWS content of ``detail`` (``e:ResponseCode``, ``e:Message``, ``t:MessageXml``) validates
  when placed in an error ResponseMessage - so the code must be one of the schema's ResponseCodeType values.
  Microsoft's 2010+ fault samples carry no SOAP header (SOAPFault-error-ErrorServerBusy.xml), so a fault's
  ServerVersionInfo is optional but checked when present.
"""
from __future__ import annotations

import threading
import weakref

from lxml import etree

from . import core
from .schema import default_schema_dir, load_schema
from .soap import E, M, S, T

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)
_VERSION_ATTRS = (("MajorVersion", "major"), ("MinorVersion", "minor"), ("MajorBuildNumber", "build"),
                  ("MinorBuildNumber", "revision"), ("Version", "header_version"))


class ResponseChecker:
    def __init__(self, schema_dir=None):
        self.schema_dir = schema_dir or default_schema_dir()
        self.failures: list[str] = []
        self.checked = 0
        self._reported = 0
        self._errors_seen: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return self.schema_dir is not None

    def install(self) -> ResponseChecker:
        if self.available and self not in core.RESPONSE_HOOKS:
            core.RESPONSE_HOOKS.append(self)
        return self

    def uninstall(self) -> None:
        if self in core.RESPONSE_HOOKS:
            core.RESPONSE_HOOKS.remove(self)

    # -- the hook ---------------------------------------------------------------------------------------------
    def __call__(self, sim, data: bytes) -> None:
        try:
            problems = self.problems(data, sim.version)
        except Exception as exc:  # noqa: BLE001 - a hook never breaks the server; the test fails instead
            problems = [f"checker crashed: {exc!r}"]
        with self._lock:
            self.checked += 1
            if problems:
                self.failures.append(f"{_describe(data)}: " + "; ".join(problems[:3]))

    def take_new(self) -> list[str]:
        """Problems found since the last call (the harness calls it after every test)."""
        with self._lock:
            new, self._reported = self.failures[self._reported:], len(self.failures)
        return new

    def take_internal_errors(self) -> list[str]:
        """Tracebacks of unexpected exceptions inside any simulator since the last call."""
        out = []
        for sim in list(core.ALL_SIMULATORS):
            seen = self._errors_seen.get(sim, 0)
            out += sim.internal_errors[seen:]
            self._errors_seen[sim] = len(sim.internal_errors)
        return out

    # -- the checks ---------------------------------------------------------------------------------------------
    def problems(self, data: bytes, version=None) -> list[str]:
        validator = load_schema(self.schema_dir)
        try:
            env = etree.fromstring(data, _PARSER)
        except etree.XMLSyntaxError as exc:
            return [f"not XML: {exc}"]
        if env.tag != f"{{{S}}}Envelope":
            return [f"root is {env.tag}, not a SOAP 1.1 Envelope"]
        body = env.find(f"{{{S}}}Body")
        children = [c for c in body if isinstance(c.tag, str)] if body is not None else []
        if len(children) != 1:
            return [f"soap:Body holds {len(children)} elements, not one"]
        header_info = env.find(f"{{{S}}}Header/{{{T}}}ServerVersionInfo")
        fault = children[0].tag == f"{{{S}}}Fault"
        problems = []
        if header_info is None:
            if not fault:
                problems.append("no s:Header/t:ServerVersionInfo")
        else:
            problems += validator.errors(header_info, copy=False)
            problems += _version_mismatch(header_info, version)
        problems += _fault_problems(validator, children[0]) if fault else validator.errors(children[0], copy=False)
        return problems


def _version_mismatch(info, version) -> list[str]:
    if version is None:
        return []
    return [f"ServerVersionInfo@{attr}={info.get(attr)!r}, server is {getattr(version, field)!r}"
            for attr, field in _VERSION_ATTRS if info.get(attr) != str(getattr(version, field))]


def _fault_problems(validator, fault) -> list[str]:
    problems = []
    code_el, string_el = fault.find("faultcode"), fault.find("faultstring")
    if string_el is None or not (string_el.text or "").strip():
        problems.append("fault without faultstring")
    detail = fault.find("detail")
    response_code = detail.findtext(f"{{{E}}}ResponseCode") if detail is not None else None
    if response_code is None:
        return problems + ["fault detail without e:ResponseCode"]
    response_code = response_code.strip()
    prefix, _, local = (code_el.text or "").strip().partition(":") if code_el is not None else ("", "", "")
    if code_el is None or code_el.nsmap.get(prefix) != T or local != response_code:
        problems.append(f"faultcode {getattr(code_el, 'text', None)!r} is not a:{response_code} (a = types ns)")
    # Place the EWS content into an error ResponseMessage and validate that against messages.xsd.
    root = etree.Element(f"{{{M}}}GetFolderResponse", nsmap={"m": M, "t": T})
    msg = etree.SubElement(etree.SubElement(root, f"{{{M}}}ResponseMessages"), f"{{{M}}}GetFolderResponseMessage",
                           ResponseClass="Error")
    etree.SubElement(msg, f"{{{M}}}MessageText").text = (detail.findtext(f"{{{E}}}Message") or "").strip()
    etree.SubElement(msg, f"{{{M}}}ResponseCode").text = response_code
    etree.SubElement(msg, f"{{{M}}}DescriptiveLinkKey").text = "0"
    message_xml = detail.find(f"{{{T}}}MessageXml")
    if message_xml is not None:
        box = etree.SubElement(msg, f"{{{M}}}MessageXml")
        box.extend(etree.fromstring(etree.tostring(c)) for c in message_xml if isinstance(c.tag, str))
    return problems + [f"fault detail: {p}" for p in validator.errors(root, copy=False)]


def _describe(data: bytes) -> str:
    try:
        body = etree.fromstring(data, _PARSER).find(f"{{{S}}}Body")
        first = next(c for c in body if isinstance(c.tag, str))
        if first.tag == f"{{{S}}}Fault":
            return "fault " + (first.findtext("detail/{*}ResponseCode") or "?").strip()
        return first.tag.rsplit("}", 1)[-1]
    except Exception:  # noqa: BLE001
        return repr(data[:80])
