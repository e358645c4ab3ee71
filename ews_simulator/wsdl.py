"""GET /EWS/Services.wsdl and the schema files it imports, as Exchange serves them from its EWS virtual
directory (an admin may point Sundial's ``wsdl="server"`` setting at it). Authenticated like every EWS request.

The files are never copied into this repository: they are served from ``Config.wsdl_dir``, by default
Microsoft's published schema in ../shared/ews-schema (what a real server serves) when it is present, else
Sundial's own ``wsdl/``. services.wsdl imports ``messages.xsd``, which imports ``types.xsd``, both by relative
URL, so they are served beside it."""
from __future__ import annotations

from pathlib import Path

from .auth import Unauthorized
from .schema import default_schema_dir

FILES = {"/ews/services.wsdl": "services.wsdl", "/ews/messages.xsd": "messages.xsd", "/ews/types.xsd": "types.xsd"}
REPO_WSDL_DIR = Path(__file__).resolve().parents[1] / "wsdl"


def wsdl_dir(config) -> Path:
    if config.wsdl_dir:
        return Path(config.wsdl_dir)
    return default_schema_dir() or REPO_WSDL_DIR


def handle(app, environ, start_response, path: str):
    try:
        app.auth.authenticate(environ)
    except Unauthorized as exc:
        app.sim.counters.add("(401)", "")
        return app._unauthorized(start_response, exc)
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        start_response("405 Method Not Allowed", [("Content-Type", "text/plain"), ("Allow", "GET")])
        return [b"Method Not Allowed"]
    name = FILES[path]
    file = wsdl_dir(app.sim.config) / name
    if not file.is_file():
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"Not Found"]
    app.sim.counters.add(f"GET {name}", "")
    body = file.read_bytes()
    start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]
