"""Doctor steps below EWS (O5): DNS, TCP, the TLS chain with the stored CA, and the offered sign-in schemes
(from the 401 challenge to an unauthenticated POST: no password is sent)."""
from __future__ import annotations

import socket
import ssl
import tempfile
from urllib.parse import urlsplit

import requests


def target(url: str) -> tuple[str, int, bool]:
    parts = urlsplit(url)
    tls = parts.scheme == "https"
    return parts.hostname or "", parts.port or (443 if tls else 80), tls


def dns(url: str, timeout: float) -> str:
    host, port, _ = target(url)
    addrs = sorted({ai[4][0] for ai in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})
    return f"{host} resolves to {', '.join(addrs[:3])}"


def tcp(url: str, timeout: float) -> str:
    host, port, _ = target(url)
    with socket.create_connection((host, port), timeout=timeout):
        return f"{host} port {port} accepts connections"


def tls_context(ca_pem: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if ca_pem:
        ctx.load_verify_locations(cadata=ca_pem)
    return ctx


def tls(url: str, timeout: float, ca_pem: str | None) -> str:
    host, port, secure = target(url)
    if not secure:
        raise NotApplicable("plain http (lab only): no TLS to check")
    with socket.create_connection((host, port), timeout=timeout) as raw, \
            tls_context(ca_pem).wrap_socket(raw, server_hostname=host) as conn:
        cert = conn.getpeercert()
        subject = dict(x[0] for x in cert.get("subject", ()))
        return f"{conn.version()}, certificate for {subject.get('commonName', host)} valid until {cert.get('notAfter')}"


class NotApplicable(Exception):
    """A step that does not apply to this configuration (reported as skipped, not failed)."""


def offered_schemes(url: str, timeout: float, ca_pem: str | None) -> list[str]:
    """The schemes in WWW-Authenticate of the 401 an unauthenticated POST gets (S10: no password sent)."""
    verify: bool | str = True
    tmp = None
    if ca_pem:
        tmp = tempfile.NamedTemporaryFile("w", suffix=".pem")  # noqa: SIM115 - closed below
        tmp.write(ca_pem)
        tmp.flush()
        verify = tmp.name
    try:
        resp = requests.post(url, data=b"", headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=timeout,
                             allow_redirects=False, verify=verify)
    finally:
        if tmp is not None:
            tmp.close()
    offers = resp.headers.get("WWW-Authenticate", "")
    return sorted({part.strip().split(" ")[0].capitalize() for part in offers.split(",") if part.strip()
                   and part.strip().split(" ")[0].lower() in ("ntlm", "negotiate", "basic", "kerberos")})
