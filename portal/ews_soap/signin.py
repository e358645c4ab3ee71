"""Which sign-in scheme to use, learnt the way EWS clients learn it: from the 401 challenge to an
unauthenticated POST of a real EWS request (SPEC S10, S12).

An unauthenticated GET is not enough: a field EWS server answered GET /EWS/Exchange.asmx with 405 and no
WWW-Authenticate header, although Basic and NTLM both worked (the simulator's `get_405` switch). The POST
carries no credentials, so learning the offer never costs a failed sign-in; with "auto" exactly one scheme
is then used, so a wrong password is never tried with both Basic and NTLM (S10).

Sources: RFC 7235 §4.1 (WWW-Authenticate, several challenges per response); MSDOC
exchange-web-services/authentication-and-ews-in-exchange (NTLM, Negotiate and Basic for on-premises EWS).
"""

from __future__ import annotations

import re

import requests
from requests.auth import HTTPBasicAuth
from requests_ntlm import HttpNtlmAuth

from . import transport as tp
from .errors import AuthenticationFailed, ProtocolError
from .types import ServerConfig
from .versions import header_for

# What the admin can choose → the schemes of a 401 offer it may use, in order of preference. "auto" is
# "Basic or NTLM (whichever the server offers)": NTLM when offered (directly or inside Negotiate), else Basic.
PREFERENCE: dict[str, tuple[tuple[str, str], ...]] = {
    "auto": (("ntlm", "ntlm"), ("negotiate", "ntlm"), ("basic", "basic")),
    "ntlm": (("ntlm", "ntlm"), ("negotiate", "ntlm")),
    "basic": (("basic", "basic"),),
    "negotiate": (("negotiate", "negotiate"), ("ntlm", "ntlm")),  # S12: Kerberos when offered, else NTLM
}

NO_OFFER = ("The server at this address does not offer a sign-in Sundial supports for EWS (it offers {offer}); "
            "ask your Exchange administrator to enable NTLM or Basic authentication on the EWS virtual directory.")



class PasswordRejectedBefore(AuthenticationFailed):
    """Nothing was sent: Exchange already rejected this password, and resending it only brings the Active
    Directory lockout closer (S10). Raised before any request, by every path (client, Autodiscover)."""

    sentence = ("Exchange rejected this password before, so Sundial does not send it again; an administrator must "
                "enter the current password on the Configuration tab and authorize.")
    default_code = "PasswordRejectedBefore"


def refuse_rejected(config: ServerConfig) -> None:
    if config.credentials.rejected:
        raise PasswordRejectedBefore("the stored password was rejected before; no request sent")


_cache: dict[tuple[str, str], str] = {}  # (url, chosen type) → scheme learnt from the server's 401


def offered(headers) -> set[str]:
    """Lower-case scheme names of a WWW-Authenticate offer. requests joins repeated headers with ", ", and a
    Basic challenge carries `realm="…"` parameters, so scheme tokens are the words not followed by '='."""
    value = headers.get("WWW-Authenticate", "") or ""
    return {m.group(1).lower() for m in re.finditer(r'(?:^|,)\s*([A-Za-z][\w-]*)(?=\s|,|$)(?!\s*=)', value)}


def choose(kind: str, offer: set[str]) -> str | None:
    for scheme, use in PREFERENCE.get(kind, PREFERENCE["auto"]):
        if scheme in offer:
            return use
    return None


# A real EWS request (GetFolder of the calendar) for when no request is at hand yet: fetching the server's own
# WSDL (wsdl='server') needs the scheme before zeep can build anything.
GET_CALENDAR = """<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"
  xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"
  xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">
<s:Header><t:RequestServerVersion Version="{version}"/></s:Header>
<s:Body><m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape>
<m:FolderIds><t:DistinguishedFolderId Id="calendar"/></m:FolderIds></m:GetFolder></s:Body></s:Envelope>"""
GET_CALENDAR_ACTION = "http://schemas.microsoft.com/exchange/services/2006/messages/GetFolder"


def learn_scheme(config: ServerConfig, session: requests.Session, data: bytes | None = None,
                 headers: dict | None = None) -> str:
    """The scheme to sign in with. A scheme the admin chose is used as it is; "auto" POSTs `data` (a real EWS
    request) without credentials and reads the 401's offer, cached per URL."""
    kind = config.credentials.auth
    if kind in ("ntlm", "basic"):
        return kind
    if data is None:
        data = GET_CALENDAR.format(version=header_for(config.version)).encode()
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": GET_CALENDAR_ACTION}
    cached = _cache.get((config.url, kind))
    if cached:
        return cached
    try:
        resp = session.post(config.url, data=data, headers=headers, timeout=config.timeout,
                            allow_redirects=False, stream=True)
        body = resp.raw.read(64 * 1024, decode_content=True) if resp.status_code != 401 else b""
        resp.close()
    except requests.exceptions.RequestException as exc:
        raise tp.map_request_exception(exc, config.timeout) from exc
    if resp.status_code != 401:
        raise tp.status_error(resp.status_code, resp.headers, body, had_success=False) or ProtocolError(
            f"HTTP {resp.status_code} to an unauthenticated EWS request", code=f"HTTP{resp.status_code}",
            sentence=tp.ANSWERS["anonymous"])
    offer = offered(resp.headers)
    scheme = choose(kind, offer)
    if scheme is None:
        shown = ", ".join(sorted(offer)) or "nothing"
        raise ProtocolError(f"401 offers {shown}", code="NoSupportedScheme", sentence=NO_OFFER.format(offer=shown))
    _cache[(config.url, kind)] = scheme
    return scheme


def tls_end_point(config: ServerConfig) -> str | None:
    """S11: the tls-server-end-point hash (hex) of the certificate this server presents to Sundial, from a TLS
    handshake alone (no HTTP request, no credentials, verified like every EWS connection); None over http."""
    import socket
    import ssl
    from urllib.parse import urlsplit

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    parts = urlsplit(config.url)
    if parts.scheme != "https":
        return None
    context = ssl.create_default_context(cafile=tp._ca_file(config.ca_bundle_pem) if config.ca_bundle_pem else None)
    try:
        with socket.create_connection((parts.hostname, parts.port or 443), timeout=config.timeout[0]) as raw, \
                context.wrap_socket(raw, server_hostname=parts.hostname) as tls:
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return None
    algorithm = x509.load_der_x509_certificate(der).signature_hash_algorithm
    if algorithm is None or algorithm.name in ("md5", "sha1"):  # RFC 5929 §4.1
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(der)
    return digest.finalize().hex()


def make_auth(scheme: str, config: ServerConfig):
    creds = config.credentials
    if scheme == "negotiate":
        from .negotiate import NegotiateAuth

        return NegotiateAuth(creds.username, creds.password, creds.realm)
    if scheme == "ntlm":
        return HttpNtlmAuth(creds.username, creds.password)  # send_cbt=True: channel binding over https (S11)
    return HTTPBasicAuth(creds.username, creds.password)


def forget() -> None:
    _cache.clear()
