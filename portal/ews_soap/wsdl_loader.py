"""One zeep Client per process per WSDL source (ARCHITECTURE.md: loading the WSDL per job costs ≈200 ms).

Sources: "sundial" (this repository's wsdl/), "microsoft" (../shared/ews-schema/services.wsdl — tests only),
"server" (the Exchange server's own /EWS/Services.wsdl, fetched with the service account's credentials).
zeep is loaded with forbid_dtd/forbid_entities/forbid_external, and its transport refuses any URL that is
not a local file under the WSDL's folder or (for "server") the server's own https/http origin.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from zeep import Client, Settings
from zeep.transports import Transport

from .errors import ProtocolError

REPO_WSDL = Path(__file__).resolve().parents[2] / "wsdl" / "services.wsdl"
SHARED_SCHEMA = Path(__file__).resolve().parents[3] / "shared" / "ews-schema"
XML_NS_SCHEMA = "http://www.w3.org/2001/xml.xsd"
BINDING = "{http://schemas.microsoft.com/exchange/services/2006/messages}ExchangeServiceBinding"

_lock = threading.Lock()
_clients: dict[tuple, Client] = {}


def zeep_settings() -> Settings:
    return Settings(strict=False, forbid_dtd=True, forbid_entities=True, forbid_external=True,
                    xml_huge_tree=False, raw_response=True)


class LocalTransport(Transport):
    """Loads schema documents from one folder only; the xml: namespace schema maps to a local copy."""

    def __init__(self, root: Path, xml_xsd: Path | None):
        super().__init__()
        self.root = root.resolve()
        self.xml_xsd = xml_xsd

    def load(self, url: str) -> bytes:
        if url.startswith(("http://www.w3.org/2001/xml.xsd", "https://www.w3.org/2001/xml.xsd")) and self.xml_xsd:
            return self.xml_xsd.read_bytes()
        path = Path(url[7:] if url.startswith("file://") else url).resolve()
        if self.root not in path.parents and path != self.root:
            raise ProtocolError(f"WSDL import outside {self.root} refused: {url}")
        return path.read_bytes()


class ServerTransport(Transport):
    """Fetches the server's WSDL and its imports through Sundial's authenticated, size-capped session."""

    def __init__(self, fetch, origin: str):
        super().__init__()
        self.fetch = fetch  # callable(url) -> bytes
        self.origin = origin

    def load(self, url: str) -> bytes:
        if url.startswith(("http://www.w3.org/2001/xml.xsd", "https://www.w3.org/2001/xml.xsd")):
            return (REPO_WSDL.parent / "xml.xsd").read_bytes()
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            raise ProtocolError(f"the server's WSDL imports from another host: {url}")
        return self.fetch(url)


def _build(source: str, fetch=None, server_url: str | None = None) -> Client:
    if source == "sundial":
        return Client(str(REPO_WSDL), settings=zeep_settings(),
                      transport=LocalTransport(REPO_WSDL.parent, REPO_WSDL.parent / "xml.xsd"))
    if source == "microsoft":
        wsdl = Path(os.environ.get("SUNDIAL_EWS_SCHEMA_DIR", SHARED_SCHEMA)) / "services.wsdl"
        if not wsdl.exists():
            raise FileNotFoundError(f"Microsoft's services.wsdl not found at {wsdl} (tests only)")
        transport = LocalTransport(wsdl.parent, wsdl.parent / "xml.xsd")
        return Client(str(wsdl), settings=zeep_settings(), transport=transport)
    if source == "server":
        if fetch is None or server_url is None:
            raise ValueError("wsdl='server' needs the session's authenticated fetch")
        parts = urlsplit(server_url)
        wsdl_url = urljoin(server_url, "/EWS/Services.wsdl")
        return Client(wsdl_url, settings=zeep_settings(),
                      transport=ServerTransport(fetch, f"{parts.scheme}://{parts.netloc}"))
    raise ValueError(f"unknown WSDL source {source!r}")


def get_client(source: str = "sundial", *, fetch=None, server_url: str | None = None) -> Client:
    """The process-wide zeep Client for a WSDL source (thread-safe, built once)."""
    key = (source, server_url if source == "server" else None)
    client = _clients.get(key)
    if client is not None:
        return client
    with _lock:
        client = _clients.get(key)
        if client is None:
            try:
                client = _build(source, fetch, server_url)
            except ProtocolError:
                raise
            except FileNotFoundError:
                raise
            except Exception as exc:  # a server WSDL that zeep cannot read
                if source != "server":
                    raise
                raise ProtocolError(f"the server's WSDL could not be loaded: {exc}") from exc
            _clients[key] = client
    return client


def service_for(client: Client, address: str):
    """Microsoft's WSDL (and Sundial's) has no wsdl:service: bind the SOAP binding to the admin's URL."""
    return client.create_service(BINDING, address)


def preload() -> None:
    """Load Sundial's WSDL now (call in the RQ worker before it forks, ARCHITECTURE.md)."""
    get_client("sundial")
