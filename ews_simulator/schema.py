"""Microsoft's EWS schema (../shared/ews-schema) loaded with lxml, for request and response validation.

types.xsd imports the xml: namespace without a schemaLocation; a resolver maps it to xml.xsd so the
schema loads offline (ARCHITECTURE.md "EWS schema")."""
from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path

from lxml import etree

_LOCK = threading.Lock()


def default_schema_dir() -> Path | None:
    env = os.environ.get("EWS_SCHEMA_DIR")  # when set, the only place looked at (tests use it to hide the schema)
    candidates = [Path(env)] if env else [Path(__file__).resolve().parents[2] / "shared" / "ews-schema"]
    for c in candidates:
        if (c / "messages.xsd").exists():
            return c
    return None


class _XmlResolver(etree.Resolver):
    def __init__(self, folder: Path):
        super().__init__()
        self.folder = folder

    def resolve(self, url, pubid, context):
        if url and (url.endswith("xml.xsd") or "XML/1998/namespace" in url):
            return self.resolve_filename(str(self.folder / "xml.xsd"), context)
        if url and url.endswith("types.xsd"):
            # Give the location-less xml: import a schemaLocation in memory (the file stays untouched).
            text = (self.folder / "types.xsd").read_text(encoding="utf-8")
            text = text.replace('<xs:import namespace="http://www.w3.org/XML/1998/namespace"/>',
                                '<xs:import namespace="http://www.w3.org/XML/1998/namespace" '
                                'schemaLocation="xml.xsd"/>', 1)
            return self.resolve_string(text, context, base_url=str(self.folder / "types.xsd"))
        return None


@lru_cache(maxsize=4)
def _load(folder: str) -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_XmlResolver(Path(folder)))
    doc = etree.parse(str(Path(folder) / "messages.xsd"), parser)
    return etree.XMLSchema(doc)


class Validator:
    def __init__(self, schema: etree.XMLSchema):
        self.schema = schema

    def errors(self, element, copy: bool = True) -> list[str]:
        """Validate one element (a SOAP Body child or header element); lxml validates the subtree in place,
        ``copy`` re-parses it first as a document of its own (line numbers then count from it)."""
        doc = etree.fromstring(etree.tostring(element)) if copy else element
        with _LOCK:  # one validation at a time per schema object
            ok = self.schema.validate(doc)
            log = self.schema.error_log
        return [] if ok else [f"{e.line}:{e.column} {e.message}" for e in log]


def load_schema(folder=None) -> Validator | None:
    folder = Path(folder) if folder else default_schema_dir()
    if folder is None or not (folder / "messages.xsd").exists():
        return None
    return Validator(_load(str(folder)))
