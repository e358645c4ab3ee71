"""HTTP for EWS: one pooled requests.Session per server, NTLM/Basic, TLS always verified, no redirects,
timeouts, a response size cap, the jobs' throttling gate, and HTTP conditions mapped to typed errors.

Sources: requests-ntlm (channel binding sent automatically over https); MSDOC
exchange-web-services/ews-throttling-in-exchange (503 = IIS queueing; 500 = SOAP fault ErrorServerBusy).
"""

from __future__ import annotations

import hashlib
import http.cookiejar
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from .errors import (
    AccessDenied,
    AuthenticationFailed,
    PlainHttpRefused,
    ProtocolError,
    ServerTimedOut,
    ServerUnreachable,
    Throttled,
    TlsNotTrusted,
    TransientServerError,
)
from .types import ServerConfig

USER_AGENT = "Sundial-EWS/1.0"
DEFAULT_RETRY_AFTER = 30.0


@dataclass
class HttpReply:
    status: int
    headers: dict
    content: bytes


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """Cookies are not kept between requests: the subscription affinity cookie is replayed explicitly per
    group (EWS-FACTS §6), and nothing else in EWS needs one."""

    def set_ok(self, cookie, request):
        return False


_sessions: dict[tuple, requests.Session] = {}  # (origin, user, secret digest, thread id) → pool
_ca_files: dict[str, str] = {}
_lock = threading.Lock()


def _ca_file(pem: str) -> str:
    """requests wants a path for a custom CA bundle: write the admin's PEM once per process."""
    digest = hashlib.sha256(pem.encode()).hexdigest()
    with _lock:
        path = _ca_files.get(digest)
        if path is None or not os.path.exists(path):
            fd, path = tempfile.mkstemp(prefix="sundial-ca-", suffix=".pem")
            with os.fdopen(fd, "w") as fh:
                fh.write(pem)
            _ca_files[digest] = path
    return path


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def pool_key(config: ServerConfig) -> tuple:
    creds = config.credentials
    secret = hashlib.sha256(f"{creds.auth}\x00{creds.password}\x00{config.ca_bundle_pem or ''}\x00{creds.realm}"
                            .encode()).hexdigest()
    return (origin(config.url), creds.username.lower(), secret)


def pooled_session(config: ServerConfig) -> requests.Session:
    """One keep-alive pool per (server, account, credentials, CA) and thread: NTLM authenticates connections, so
    reuse matters — and a changed password must never ride on a connection authenticated with the old one. Per
    thread, because requests-ntlm sends each leg of its handshake on whichever pooled connection is free: two
    threads authenticating at once through one pool swap connections and both get 401 (the listener's threads)."""
    key = (*pool_key(config), threading.get_ident())
    with _lock:
        session = _sessions.get(key)
        if session is None:
            session = requests.Session()
            session.cookies.set_policy(_NoCookies())
            session.trust_env = False  # no proxies or netrc credentials from the environment
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            session.headers.update({"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"})
            _sessions[key] = session
    session.verify = _ca_file(config.ca_bundle_pem) if config.ca_bundle_pem else True
    return session


def discard_session(config: ServerConfig) -> None:
    """Forget the pooled session of this server/account: the next request opens fresh connections.

    The Authorize probe (SPEC S6) must prove the password on a new connection: NTLM authenticates the
    connection, so a kept-alive one would accept any password typed in the settings form.
    """
    prefix = pool_key(config)
    with _lock:  # every thread's pool; not closed: a request in flight on one may still finish
        for key in [k for k in _sessions if k[:3] == prefix]:
            _sessions.pop(key, None)


def check_scheme(config: ServerConfig) -> None:
    scheme = urlsplit(config.url).scheme.lower()
    if scheme == "http" and not config.allow_http:
        raise PlainHttpRefused(config.url)
    if scheme not in ("http", "https"):
        raise ProtocolError(f"unsupported URL scheme {scheme!r}", sentence="The server address must start with https://.")


# HTTP answers that show the address is not an EWS endpoint (or something stands in front of it): one sentence
# each. 405: a field EWS server refused GET this way; the HTML page: reverse proxies with forms-based sign-in.
ANSWERS = {
    404: "There is no Exchange Web Services endpoint at this address (HTTP 404); the address usually ends in "
         "/EWS/Exchange.asmx.",
    405: "The server at this address refused an Exchange Web Services request (HTTP 405 Method Not Allowed); "
         "check that the address ends in /EWS/Exchange.asmx and points at Exchange, not at a web site.",
    "html": "The server at this address answered with a web page instead of Exchange Web Services, probably a "
            "sign-in portal or proxy in front of Exchange; use an EWS address that is published without "
            "forms-based sign-in.",
    "anonymous": "The server at this address answered without asking Sundial to sign in, which Exchange Web "
                 "Services never does; check the address (it usually ends in /EWS/Exchange.asmx).",
}

SLOW = "The Exchange server did not answer in time; try again or check its load."
DROPPED = "The connection to Exchange broke off; the request will be retried."


def map_request_exception(exc: Exception, timeout: tuple[float, float] | None = None) -> Exception:
    """requests/urllib3/socket exceptions → typed errors (SPEC S6 sentences). `timeout` (connect, read): a slow
    or silent server is told apart from an unreachable one ("did not answer within N s")."""
    text = str(exc)
    if isinstance(exc, requests.exceptions.SSLError | urllib3.exceptions.SSLError):
        return TlsNotTrusted(text)
    if isinstance(exc, requests.exceptions.ConnectTimeout | urllib3.exceptions.ConnectTimeoutError):
        return ServerTimedOut(text, code="ConnectTimeout", seconds=timeout[0] if timeout else None)
    if isinstance(exc, requests.exceptions.ReadTimeout | urllib3.exceptions.ReadTimeoutError | TimeoutError) \
            or "Read timed out" in text:
        return ServerTimedOut(text, code="ReadTimeout", seconds=timeout[1] if timeout else None)
    if isinstance(exc, requests.exceptions.ChunkedEncodingError | urllib3.exceptions.ProtocolError):
        return TransientServerError(text, code="ConnectionDropped", sentence=DROPPED)
    if isinstance(exc, requests.exceptions.ConnectionError):
        if any(s in text for s in ("NewConnectionError", "NameResolution", "Failed to resolve", "refused",
                                   "No route", "getaddrinfo", "Errno -2", "Errno -3")):
            return ServerUnreachable(text)
        return TransientServerError(text, code="ConnectionDropped", sentence=DROPPED)  # broke mid-request
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return ProtocolError(text, sentence="The server address is not a valid URL.")
    if isinstance(exc, urllib3.exceptions.DecodeError):
        return ProtocolError(text, sentence="The server sent a response that could not be decoded.")
    if isinstance(exc, OSError):
        return TransientServerError(text, code="ConnectionDropped", sentence=DROPPED)
    return ProtocolError(text)


def redirect_error(resp: requests.Response) -> ProtocolError:
    where = resp.headers.get("Location", "?")
    return ProtocolError(f"HTTP {resp.status_code} redirect to {where}", code=f"HTTP{resp.status_code}",
                         sentence=f"The server redirected Sundial to {where}; enter the final EWS address instead "
                                  "(credentials are never sent after a redirect).")


def retry_after(resp_headers) -> float:
    value = resp_headers.get("Retry-After")
    try:
        return max(float(value), 0.0) if value else DEFAULT_RETRY_AFTER
    except ValueError:
        return DEFAULT_RETRY_AFTER


def read_capped(resp: requests.Response, cap: int, deadline: float) -> bytes:
    """Read a streamed body, stopping past `cap` bytes (after gzip decoding, so a compression bomb is capped
    too) or past the deadline (a slow drip cannot hold a worker longer than its timeouts)."""
    length = resp.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > cap:
        resp.close()
        raise ProtocolError(f"response of {length} bytes exceeds the {cap}-byte cap")
    chunks, total = [], 0
    try:
        while True:
            # read1 returns what has arrived (urllib3 2): the deadline is checked between socket reads
            chunk = resp.raw.read1(64 * 1024, decode_content=True)
            if not chunk:
                break
            total += len(chunk)
            if total > cap:
                raise ProtocolError(f"response exceeds the {cap}-byte cap")
            if time.monotonic() > deadline:
                raise ServerTimedOut("response took longer than the timeouts allow", code="ReadTimeout")
            chunks.append(chunk)
    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise map_request_exception(exc) from exc
    finally:
        resp.close()
    return b"".join(chunks)


def status_error(status: int, headers, content: bytes, *, had_success: bool) -> Exception | None:
    """Non-SOAP HTTP outcomes. 500 is left to the SOAP fault parser (ErrorServerBusy etc.)."""
    if status == 401:
        # A locked AD account also answers a plain 401 (real servers and the simulator alike), so a 401 is
        # "credentials rejected" — after earlier successes in this process it may also mean locked or changed.
        detail = "HTTP 401" + (" after earlier successful requests (password changed or account locked?)"
                               if had_success else "")
        return AuthenticationFailed(detail)
    if status == 403:
        return AccessDenied("HTTP 403", code="HTTP403",
                            sentence="Exchange refused the service account access to EWS (HTTP 403).")
    if status in (429, 503):
        return Throttled(f"HTTP {status}", code=f"HTTP{status}", backoff_seconds=retry_after(headers))
    if status in (404, 405):
        return ProtocolError(f"HTTP {status}", code=f"HTTP{status}", sentence=ANSWERS[status])
    if status == 200 and "html" in (headers.get("Content-Type") or "").lower():
        return ProtocolError("HTTP 200 with an HTML page", code="HtmlPage", sentence=ANSWERS["html"])
    if 300 <= status < 400:
        return ProtocolError(f"HTTP {status} redirect to {headers.get('Location', '?')}", code=f"HTTP{status}",
                             sentence=f"The server redirected Sundial to {headers.get('Location', '?')}; enter the "
                                      "final EWS address instead (credentials are never sent after a redirect).")
    if status >= 500 and status != 500:
        return TransientServerError(f"HTTP {status}", code=f"HTTP{status}")
    if status not in (200, 500):
        return ProtocolError(f"unexpected HTTP {status}", code=f"HTTP{status}")
    return None


def close_pools() -> None:
    """Close every pooled connection (worker shutdown, tests stopping a server)."""
    with _lock:
        sessions = list(_sessions.values())
        _sessions.clear()
    for session in sessions:
        session.close()
    from .signin import forget

    forget()
