"""POX Autodiscover (/autodiscover/autodiscover.xml): returns the EWS URL for a mailbox.

Shapes: ews-samples/Autodiscover-POX-response.xml and Autodiscover-POX-error-600.xml."""
from __future__ import annotations

from lxml import etree

from .auth import Unauthorized

REQ_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
RESP = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
OUTLOOK = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"


def server_version_hex(v) -> str:
    # 4 bits 0111 | 6 bits major | 6 bits minor | 16 bits 0x8000|build, e.g. 14.1.218 -> 738180DA
    value = (0b0111 << 28) | (v.major << 22) | (v.minor << 16) | 0x8000 | v.build
    return f"{value:08X}"


def _el(parent, name, value=None, ns=OUTLOOK):
    el = etree.SubElement(parent, f"{{{ns}}}{name}")
    if value is not None:
        el.text = value
    return el


def _error(code: str, message: str) -> bytes:
    root = etree.Element(f"{{{RESP}}}Autodiscover", nsmap={None: RESP})
    resp = etree.SubElement(root, f"{{{RESP}}}Response")
    err = etree.SubElement(resp, f"{{{RESP}}}Error", Time="00:00:00.0000000", Id="2477272013")
    for name, value in (("ErrorCode", code), ("Message", message), ("DebugData", "")):
        etree.SubElement(err, f"{{{RESP}}}{name}").text = value
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def authenticated(handler):
    """Autodiscover endpoints authenticate like EWS (IIS in front of both); handler(app, environ, data) → XML."""
    def wsgi(app, environ, start_response):
        try:
            app.auth.authenticate(environ)
        except Unauthorized as exc:
            return app._unauthorized(start_response, exc)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = handler(app, environ, environ["wsgi.input"].read(length) if length else b"")
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(body)))])
        return [body]
    return wsgi


def ews_url(environ, sim) -> str:
    """The EWS URL as the client reached this server. Behind the TLS terminator the WSGI app itself sees plain
    http; the public scheme is https."""
    scheme = (environ.get("HTTP_X_FORWARDED_PROTO") or sim.config.extra.get("public_scheme")
              or environ.get("wsgi.url_scheme", "http"))
    return f"{scheme}://{_host(environ)}/EWS/Exchange.asmx"


def _host(environ) -> str:
    return environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"


@authenticated
def handle(app, environ, data: bytes) -> bytes:
    sim = app.sim
    sim.counters.add("Autodiscover", "")
    try:
        address = etree.fromstring(data).findtext(f".//{{{REQ_NS}}}EMailAddress")
    except etree.XMLSyntaxError:
        address = None
    if not address:
        body = _error("600", "Invalid Request")
    else:
        mbx = sim.directory.mailboxes.get(address.lower()) or sim.directory.mailboxes.get(
            sim.directory.aliases.get(address.lower(), ""))
        body = _error("500", "The e-mail address cannot be found.") if mbx is None else _settings(
            environ, sim, mbx)
    return body


def _settings(environ, sim, mbx) -> bytes:
    url = ews_url(environ, sim)
    host = _host(environ)
    scheme = url.split(":", 1)[0]
    root = etree.Element(f"{{{RESP}}}Autodiscover", nsmap={None: RESP})
    resp = etree.SubElement(root, f"{{{OUTLOOK}}}Response", nsmap={None: OUTLOOK})
    user = _el(resp, "User")
    _el(user, "DisplayName", mbx.name)
    _el(user, "LegacyDN", f"/o=Simulated/ou=Exchange Administrative Group/cn=Recipients/cn={mbx.name}")
    _el(user, "AutoDiscoverSMTPAddress", mbx.primary)
    _el(user, "DeploymentId", "644560b8-a1ce-429c-8ace-23395843f701")
    account = _el(resp, "Account")
    _el(account, "AccountType", "email")
    _el(account, "Action", "settings")
    _el(account, "MicrosoftOnline", "False")
    for kind in ("EXCH", "EXPR"):
        proto = _el(account, "Protocol")
        _el(proto, "Type", kind)
        _el(proto, "Server", host.split(":")[0])
        _el(proto, "ServerVersion", server_version_hex(sim.version))
        _el(proto, "ASUrl", url)
        _el(proto, "EwsUrl", url)
        _el(proto, "EmwsUrl", url)
        _el(proto, "EcpUrl", f"{scheme}://{host}/ecp/")
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")
