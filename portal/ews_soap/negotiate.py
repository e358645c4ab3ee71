"""Negotiate (Kerberos, falling back to NTLM) with the service account's password — no keytab, no kinit (S12).

pyspnego gets a Kerberos ticket with the password (an in-memory credential cache) for the SPN HTTP/<EWS host>,
bound to the TLS channel over https (S11, RFC 5929 tls-server-end-point). It falls back to NTLM only when
Kerberos cannot be tried — no KDC reachable, no realm, the SPN unknown — never after the KDC rejected the
password: that would be a second failed sign-in for one action (S10). Sources: RFC 4559 (HTTP Negotiate);
MIT krb5 error table (KRB5KDC_ERR_PREAUTH_FAILED −1765328360, KRB5KRB_AP_ERR_BAD_INTEGRITY −1765328353,
KDC_ERR_CLIENT_REVOKED −1765328366); MSDOC exchange/architecture/client-access/kerberos-auth-for-load-balanced-
client-access (the HTTP SPN on the EWS host name).
"""
from __future__ import annotations

import base64
import os
import tempfile
import threading
from urllib.parse import urlsplit

import requests
import spnego
from requests.auth import AuthBase
from requests_ntlm.requests_ntlm import HttpNtlmAuth

from .errors import AccountLocked, AuthenticationFailed

# Kerberos answers that mean the directory judged the password (or the account): no fallback, no retry.
REJECTED = {"-1765328360": AuthenticationFailed, "-1765328353": AuthenticationFailed,
            "-1765328366": AccountLocked}
MAX_LEGS = 3  # Kerberos needs 1 round trip, NTLM inside Negotiate 2

_conf_lock = threading.Lock()
_realms: dict[str, str] = {}


def principal(username: str, realm: str | None) -> tuple[str, str]:
    """(principal, realm): user@domain → user@DOMAIN (AD: the UPN suffix in capitals) unless a realm is given."""
    user, _, domain = username.partition("@")
    name = (realm or domain).partition("@")[0].strip().upper()
    return f"{user}@{name}", name


def use_kdc(realm_field: str | None) -> None:
    """"REALM@host[:port]" names the KDC (no DNS SRV record for it): a krb5.conf of Sundial's own is put in
    front of the system's (KRB5_CONFIG takes a list). "REALM" alone, or nothing: DNS finds the KDC."""
    if not realm_field or "@" not in realm_field:
        return
    realm, _, kdc = realm_field.partition("@")
    realm, kdc = realm.strip().upper(), kdc.strip()
    with _conf_lock:
        if _realms.get(realm) == kdc:
            return
        _realms[realm] = kdc
        body = "[libdefaults]\n  dns_canonicalize_hostname = false\n  rdns = false\n[realms]\n" + "".join(
            f"  {r} = {{\n    kdc = {k}\n  }}\n" for r, k in _realms.items())
        fd, path = tempfile.mkstemp(prefix="sundial-krb5-", suffix=".conf")
        with os.fdopen(fd, "w") as fh:
            fh.write(body)
        rest = [p for p in os.environ.get("KRB5_CONFIG", "/etc/krb5.conf").split(":") if "sundial-krb5-" not in p]
        os.environ["KRB5_CONFIG"] = ":".join([path, *rest])


def _rejection(exc: Exception) -> Exception | None:
    text = str(exc)
    for code, cls in REJECTED.items():
        if code in text:
            return cls(f"Kerberos: {text[:200]}")
    return None


class NegotiateAuth(AuthBase):
    """requests auth: `Authorization: Negotiate <token>`; after the sign-in `.mechanism` is kerberos or ntlm."""

    def __init__(self, username: str, password: str, realm: str | None = None):
        self.username, self.password, self.realm = username, password, realm
        self.mechanism: str | None = None
        self._ntlm = HttpNtlmAuth(username, password)  # for the peer certificate's channel binding

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Connection"] = "Keep-Alive"  # the sign-in is per connection, as with NTLM
        r.register_hook("response", self._on_response)
        return r

    def _context(self, response: requests.Response):
        cert = self._ntlm._get_server_cert(response)
        cbt = spnego.channel_bindings.GssChannelBindings(
            application_data=b"tls-server-end-point:" + cert) if cert else None
        host = urlsplit(response.url).hostname
        use_kdc(self.realm)
        name, _ = principal(self.username, self.realm)
        try:  # pyspnego asks the KDC for the ticket while creating the context
            ctx = spnego.client(name, self.password, hostname=host, service="HTTP", protocol="kerberos",
                                channel_bindings=cbt)
            return ctx, ctx.step()
        except Exception as exc:  # noqa: BLE001 - pyspnego/krb5 raise several types; sorted by code below
            rejected = _rejection(exc)
            if rejected is not None:
                raise rejected from None
        ctx = spnego.client(self.username, self.password, hostname=host, service="HTTP", protocol="ntlm",
                            channel_bindings=cbt, options=spnego.NegotiateOptions.use_ntlm)
        return ctx, ctx.step()

    def _on_response(self, response: requests.Response, **kwargs) -> requests.Response:
        if response.status_code != 401 or "Authorization" in response.request.headers:
            return response
        ctx, token = self._context(response)
        for _ in range(MAX_LEGS):
            response.content  # noqa: B018 - read the body so the connection can carry the next leg
            response.raw.release_conn()
            request = response.request.copy()
            request.headers["Authorization"] = "Negotiate " + base64.b64encode(token).decode()
            response = response.connection.send(request, **kwargs)
            offer = response.headers.get("WWW-Authenticate", "")
            if response.status_code != 401 or ctx.complete or not offer.lower().startswith("negotiate "):
                break
            token = ctx.step(base64.b64decode(offer.split(" ", 1)[1]))
        self.mechanism = "kerberos" if ctx.negotiated_protocol == "kerberos" else "ntlm"
        return response
