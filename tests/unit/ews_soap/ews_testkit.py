"""Helpers for the ews_soap unit tests: Microsoft's schema (../shared/ews-schema) and the published samples
(../shared/ews-samples), normalised as ews-samples/README.md says. Read in place, never copied."""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import pytest
from lxml import etree

from portal.ews_soap.types import Credentials, ServerConfig

ROOT = Path(__file__).resolve().parents[3]
SHARED = ROOT.parent / "shared"
SCHEMA_DIR = SHARED / "ews-schema"
SAMPLES_DIR = SHARED / "ews-samples"
XS = "http://www.w3.org/2001/XMLSchema"
XML_NS = "http://www.w3.org/XML/1998/namespace"

# README "A2 - double-escaped text": these four files only.
DOUBLE_ESCAPED = {"GetItem-batch-response.xml", "SyncFolderItems-incremental-response.xml",
                  "Autodiscover-POX-howto-response.xml", "GetUserSettings-howto-response.xml"}


def need_shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: Microsoft's EWS schema/samples live in ../shared beside the checkout")
    return path


def normalise(name: str, data: bytes) -> bytes:
    """README A1 (https namespaces) and A2 (double escaping, four named files)."""
    data = data.replace(b"https://schemas.xmlsoap.org/", b"http://schemas.xmlsoap.org/")
    data = data.replace(b"https://schemas.microsoft.com/exchange/", b"http://schemas.microsoft.com/exchange/")
    if name in DOUBLE_ESCAPED:
        data = data.replace(b"&amp;lt;", b"&lt;").replace(b"&amp;gt;", b"&gt;").replace(b"&amp;amp;", b"&amp;")
    return data


def sample(name: str) -> bytes:
    path = need_shared("ews-samples", name)
    return normalise(name, path.read_bytes())


class _XmlNamespaceResolver(etree.Resolver):
    """types.xsd imports the xml: namespace without a schemaLocation: point that import at xml.xsd."""

    def resolve(self, url, pubid, context):
        if url.endswith("types.xsd"):
            tree = etree.parse(str(SCHEMA_DIR / "types.xsd"))
            for imp in tree.getroot().iter(f"{{{XS}}}import"):
                if imp.get("namespace") == XML_NS and not imp.get("schemaLocation"):
                    imp.set("schemaLocation", str(SCHEMA_DIR / "xml.xsd"))
            return self.resolve_string(etree.tostring(tree), context, base_url=url)
        return None


@functools.lru_cache(maxsize=1)
def ms_schema() -> etree.XMLSchema:
    need_shared("ews-schema", "messages.xsd")
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    parser.resolvers.add(_XmlNamespaceResolver())
    return etree.XMLSchema(etree.parse(str(SCHEMA_DIR / "messages.xsd"), parser))


def schema_errors(envelope: bytes) -> list[str]:
    """Validate every SOAP header block and the body element against Microsoft's messages.xsd/types.xsd."""
    schema = ms_schema()
    root = etree.fromstring(envelope)
    blocks = [el for part in root for el in part if isinstance(el.tag, str)]
    errors = []
    for el in blocks:
        doc = etree.ElementTree(copy.deepcopy(el))
        if not schema.validate(doc):
            errors += [f"{etree.QName(el).localname}: {e.message}" for e in schema.error_log]
    return errors


def config(**kw) -> ServerConfig:
    base = dict(url="https://mail.example.com/EWS/Exchange.asmx", credentials=Credentials("svc@example.com", "pw"),
                version="2019")
    base.update(kw)
    return ServerConfig(**base)
