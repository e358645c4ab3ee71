"""POX Autodiscover (SPEC S4): the EWS URL for a UPN's domain, in bounded total time.

Candidate order (EWS-FACTS §11, MSDOC exchange-web-services/autodiscover-for-exchange): explicit candidates
(tests, admin overrides), https://<domain>/autodiscover/autodiscover.xml, https://autodiscover.<domain>/...,
then an unauthenticated GET to http://autodiscover.<domain>/autodiscover/autodiscover.xml whose 302 is
followed only to an https URL inside the domain. SCP (AD) and DNS SRV lookups are not done. Falls back to
https://mail.<domain>/EWS/Exchange.asmx and reports whether the URL was detected or guessed.

A password is sent only when given (Authorize; never the as-you-type lookup) and the first rejection ends
the whole search (S10). Credentials are never sent over plain http (unless allow_http, for a lab), and
never after a redirect to another host. Replies are parsed with the hardened parser; POX shapes:
ews-samples/Autodiscover-POX-*.xml.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
from lxml import etree

from . import signin
from . import transport as tp
from .errors import AuthenticationFailed, EwsError
from .types import Credentials, ServerConfig
from .xml import parse_xml

REQUEST_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
RESPONSE_SCHEMA = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
MAX_ADDRESS_REDIRECTS = 2


@dataclass
class AutodiscoverResult:
    url: str
    detected: bool  # True: an Autodiscover endpoint answered; False: the mail.<domain> guess
    source: str  # the autodiscover endpoint that answered, or "guessed"
    tried: list[str] = field(default_factory=list)

    @property
    def ews_url(self) -> str:
        return self.url


def pox_request(email: str) -> bytes:
    root = etree.Element(f"{{{REQUEST_NS}}}Autodiscover", nsmap={None: REQUEST_NS})
    req = etree.SubElement(root, f"{{{REQUEST_NS}}}Request")
    etree.SubElement(req, f"{{{REQUEST_NS}}}EMailAddress").text = email
    etree.SubElement(req, f"{{{REQUEST_NS}}}AcceptableResponseSchema").text = RESPONSE_SCHEMA
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def parse_pox(data: bytes) -> tuple[str, str | None]:
    """('settings', ews_url) | ('redirectAddr', address) | ('redirectUrl', url) | ('error', code)."""
    root = parse_xml(data)
    account = next(root.iter("{*}Account"), None)
    if account is None:
        code = next((el.text for el in root.iter("{*}ErrorCode")), None)
        return "error", (code or "").strip() or None
    action = (account.findtext("{*}Action") or "").strip()
    if action == "redirectAddr":
        return action, (account.findtext("{*}RedirectAddr") or "").strip() or None
    if action == "redirectUrl":
        return action, (account.findtext("{*}RedirectUrl") or "").strip() or None
    protocols = {(p.findtext("{*}Type") or "").strip(): p for p in account.iter("{*}Protocol")}
    for kind in ("EXPR", "EXCH"):  # external first: Sundial may run outside the organisation's network
        proto = protocols.get(kind)
        if proto is not None:
            url = (proto.findtext("{*}EwsUrl") or proto.findtext("{*}ASUrl") or "").strip()
            if url:
                return "settings", url
    return "error", "no EWS URL"


def guess(domain: str) -> str:
    return f"https://mail.{domain}/EWS/Exchange.asmx"


class _Attempt:
    def __init__(self, creds: Credentials, ca_bundle_pem: str | None, allow_http: bool, deadline: float):
        self.creds, self.allow_http, self.deadline = creds, allow_http, deadline
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.verify = tp._ca_file(ca_bundle_pem) if ca_bundle_pem else True

    def timeout(self) -> tuple[float, float] | None:
        left = self.deadline - time.monotonic()
        return (min(3.0, left), min(5.0, left)) if left > 0.2 else None

    def post(self, url: str, email: str) -> bytes | None:
        """POST the POX request; credentials only over https (or allowed http) to this exact host."""
        if urlsplit(url).scheme != "https" and not self.allow_http:
            return None
        timeout = self.timeout()
        if timeout is None:
            return None
        body = pox_request(email)
        headers = {"Content-Type": "text/xml; charset=utf-8", "User-Agent": tp.USER_AGENT}
        try:
            resp = self.http.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
            if resp.status_code == 401:
                # Credentials only with a password, and with the one scheme chosen from the offer (S10)
                kind = signin.choose(self.creds.auth, signin.offered(resp.headers))
                if kind is None or not self.creds.password or self.timeout() is None:
                    return None
                auth = signin.make_auth(kind, ServerConfig(url, self.creds))
                resp = self.http.post(url, data=body, headers=headers, timeout=self.timeout(), auth=auth,
                                      allow_redirects=False, stream=True)
                content = tp.read_capped(resp, 1024 * 1024, self.deadline)
            else:
                content = resp.content[:1024 * 1024]
        except (requests.exceptions.RequestException, EwsError):
            return None
        if resp.status_code == 401:
            # The directory rejected the password: stop here, across every candidate URL and scheme (S10) —
            # each further candidate would cost another failed sign-in towards the AD lockout.
            raise AuthenticationFailed(f"Autodiscover at {url} rejected the credentials")
        if resp.status_code in (301, 302, 303, 307, 308):
            target = resp.headers.get("Location", "")
            same_host = urlsplit(target).netloc == urlsplit(url).netloc and urlsplit(target).scheme == "https"
            return self.post(target, email) if same_host else None  # never follow to another host with creds
        return content if resp.status_code == 200 else None

    def http_redirect_probe(self, domain: str) -> str | None:
        """Unauthenticated GET http://autodiscover.<domain>/…; accept a 302 to https inside the domain."""
        timeout = self.timeout()
        if timeout is None:
            return None
        try:
            resp = self.http.get(f"http://autodiscover.{domain}/autodiscover/autodiscover.xml", timeout=timeout,
                                 allow_redirects=False)
        except requests.exceptions.RequestException:
            return None
        target = resp.headers.get("Location", "") if resp.status_code in (301, 302, 307, 308) else ""
        return target if https_inside(target, domain) else None


def https_inside(url: str | None, domain: str) -> bool:
    """An https URL whose host is the account's domain or one of its subdomains."""
    parts = urlsplit(url or "")
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and bool(domain) and (host == domain or host.endswith("." + domain))


def discover(username: str, password: str | None = None, *, email: str | None = None,
             extra_candidates: list[str] | tuple = (), ca_bundle_pem: str | None = None, auth: str = "auto",
             total_timeout: float = 10.0, allow_http: bool = False, standard: bool = True,
             rejected: bool = False) -> AutodiscoverResult:
    """Find the EWS URL for `username`'s domain; never raises for an unreachable Autodiscover (it guesses).
    Without a password nothing is signed in to; a rejected password raises AuthenticationFailed at once."""
    domain = username.rpartition("@")[2].strip().lower()
    address = (email or username).strip()
    signin.refuse_rejected(ServerConfig("", Credentials(username, "", rejected=rejected)))
    attempt = _Attempt(Credentials(username, password or "", auth), ca_bundle_pem, allow_http,
                       time.monotonic() + total_timeout)
    candidates = list(extra_candidates)
    if standard and domain:
        candidates += [f"https://{domain}/autodiscover/autodiscover.xml",
                       f"https://autodiscover.{domain}/autodiscover/autodiscover.xml"]
    tried: list[str] = []
    redirects = 0
    index = 0
    while index < len(candidates):
        url = candidates[index]
        index += 1
        tried.append(url)
        content = attempt.post(url, address)
        if content is None:
            continue
        try:
            action, value = parse_pox(content)
        except EwsError:
            continue
        if action == "settings" and value and (value.startswith("https://") or allow_http):
            return AutodiscoverResult(value, True, url, tried)
        if action == "redirectAddr" and value and redirects < MAX_ADDRESS_REDIRECTS:
            redirects += 1
            address = value
            index -= 1  # ask the same endpoint again for the new address
            tried.pop()
        elif action == "redirectUrl" and https_inside(value, domain) and redirects < MAX_ADDRESS_REDIRECTS:
            # credentials follow a redirectUrl only to https inside the account's own domain: a spoofed or
            # hijacked Autodiscover reply must not collect the service account's password elsewhere
            redirects += 1
            candidates.insert(index, value)
    if standard and domain:
        target = attempt.http_redirect_probe(domain)
        if target:
            tried.append(target)
            content = attempt.post(target, address)
            if content is not None:
                try:
                    action, value = parse_pox(content)
                except EwsError:
                    action, value = "error", None
                if action == "settings" and value and value.startswith("https://"):
                    return AutodiscoverResult(value, True, target, tried)
    return AutodiscoverResult(guess(domain) if domain else "", False, "guessed", tried)
