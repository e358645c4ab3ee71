"""EwsClient: zeep builds the request from the WSDL (operation, SOAPAction, header parts, schema order),
requests sends it (transport.py), lxml reads the reply (parse.py). One per ExchangeSession.
"""

from __future__ import annotations

import time

import requests
from lxml import etree

from . import observe, signin, templates
from . import transport as tp
from .errors import EwsError, ProtocolError, ServerUnreachable, Throttled, TransientServerError
from .parse import Reply, message_error, read_reply
from .timezones import windows_zone
from .types import ServerConfig, ServerVersion
from .versions import header_for
from .wsdl_loader import get_client, service_for
from .xml import M, T, Typed, time_zone_definition


class EwsClient:
    def __init__(self, config: ServerConfig, gate=None):
        tp.check_scheme(config)
        self.config = config
        self.gate = gate
        self.version_header = header_for(config.version)
        self.http = tp.pooled_session(config)
        self.auth_kind: str | None = None
        self._auth = None
        self._service = None
        self._header_parts: dict[str, set[str]] = {}
        self._templates = templates.Templates()
        self.had_success = False
        self.server_version: ServerVersion | None = None
        self.requests_sent = 0  # HTTP requests this client made (request-budget tests)
        self.last_headers: dict = {}  # response headers of the last reply (affinity cookie, Retry-After)

    # ----- zeep side -------------------------------------------------------------------------------
    @property
    def zeep(self):
        return get_client(self.config.wsdl, fetch=self.fetch, server_url=self.config.url)

    @property
    def service(self):
        if self._service is None:
            self._service = service_for(self.zeep, self.config.url)
        return self._service

    def _parts(self, operation: str) -> set[str]:
        parts = self._header_parts.get(operation)
        if parts is None:
            header = self.service._binding.get(operation).input.header
            parts = {name for name, _ in header.type.elements} if header is not None else set()
            self._header_parts[operation] = parts
        return parts

    def build(self, operation: str, body: dict, *, impersonate: str | None = None,
              time_zone: str | None = None) -> tuple[bytes, dict]:
        """Serialize one request: (envelope bytes, HTTP headers incl. SOAPAction)."""
        if operation in templates.TEMPLATED:
            built = self._templates.build(operation, body, impersonate, time_zone, self._render)
            if built is not None:
                return built
        return self._render(operation, body, impersonate=impersonate, time_zone=time_zone)

    def _render(self, operation: str, body: dict, *, impersonate: str | None = None,
                time_zone: str | None = None) -> tuple[bytes, dict]:
        """zeep renders the request from the WSDL."""
        parts = self._parts(operation)
        headers: dict = {"RequestVersion": {"Version": self.version_header}}
        if impersonate:
            if "Impersonation" not in parts:
                raise ValueError(f"{operation} takes no ExchangeImpersonation header")
            headers["Impersonation"] = {"ConnectingSID": {"PrimarySmtpAddress": impersonate}}
        zone = windows_zone(time_zone)
        if zone and "TimeZoneContext" in parts:
            headers["TimeZoneContext"] = {"TimeZoneDefinition": time_zone_definition(zone)}
        body = self._typed(body)
        # zeep's public create_message() wants a wsdl:service, which EWS WSDLs lack (ARCHITECTURE.md): render
        # through the binding bound by create_service() instead — same serializer, same WSDL contract.
        binding = self.service._binding
        envelope, http_headers = binding._create(operation, (), {**body, "_soapheaders": headers},
                                                 client=self.zeep, options={"address": self.config.url})
        data = etree.tostring(envelope, xml_declaration=True, encoding="utf-8")
        return data, dict(http_headers)

    def _typed(self, value):
        """Replace Typed markers (xml.Typed) by values of the fully resolved named type."""
        if isinstance(value, Typed):
            return self.zeep.get_type(f"{{{T}}}{value.type_name}")(**self._typed(value.value))
        if isinstance(value, dict):
            return {k: self._typed(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._typed(v) for v in value]
        return value

    # ----- HTTP side -------------------------------------------------------------------------------
    def _ensure_auth(self, data: bytes | None = None, headers: dict | None = None):
        """The scheme comes from the 401 to this very request sent without credentials (signin.py) unless the
        admin chose one; before the first request (fetching the server's WSDL) a fixed GetFolder request is used."""
        signin.refuse_rejected(self.config)
        if self._auth is None:
            self.auth_kind = signin.learn_scheme(self.config, self.http, data, headers)
            self._auth = signin.make_auth(self.auth_kind, self.config)
        return self._auth

    def send(self, data: bytes, headers: dict, *, stream: bool = False, read_timeout: float | None = None,
             url: str | None = None):
        """POST with gate, auth, timeouts and no redirects. stream=True returns the open Response (200 only).
        `url`: another endpoint of the same server (SOAP Autodiscover); EWS's own URL by default."""
        auth = self._ensure_auth(data, headers)
        timeout = (self.config.timeout[0], read_timeout or self.config.timeout[1])
        if self.gate is not None:
            self.gate.acquire()
        try:
            self.requests_sent += 1
            try:
                resp = self.http.post(url or self.config.url, data=data, headers=headers, auth=auth, timeout=timeout,
                                      allow_redirects=False, stream=True)
            except requests.exceptions.RequestException as exc:
                raise tp.map_request_exception(exc, timeout) from exc
            if stream and resp.status_code == 200:
                self.last_headers = resp.headers
                self._gate_note("healthy")
                return resp
            deadline = time.monotonic() + sum(timeout)
            content = tp.read_capped(resp, self.config.max_response_bytes, deadline)
            reply = tp.HttpReply(resp.status_code, resp.headers, content)
            self.last_headers = resp.headers
        except Throttled as exc:
            self._backoff(exc)
            raise
        except (TransientServerError, ServerUnreachable):  # no connection, cut off, or silent (ServerTimedOut)
            self._gate_note("trouble")
            raise
        finally:
            if self.gate is not None:
                self.gate.release()
        err = tp.status_error(reply.status, reply.headers, reply.content, had_success=self.had_success)
        if err is not None:
            if isinstance(err, Throttled):
                self._backoff(err)
            elif reply.status >= 500:
                self._gate_note("trouble")
            raise err
        if reply.status == 200:
            self._gate_note("healthy")
        return reply

    def _gate_note(self, what: str) -> None:
        """Tell the gate the server failed to answer ("trouble") or answered ("healthy"), if it listens: the
        first answer after trouble lets work that waits out a back-off run again at once (SPEC R4)."""
        note = getattr(self.gate, what, None)
        if note is not None:
            note()

    def _backoff(self, exc: Throttled) -> None:
        if self.gate is not None and exc.backoff_seconds is not None:
            self.gate.backoff(exc.backoff_seconds)

    def read(self, reply, operation: str) -> Reply:
        """Parse a 200/500 reply: SOAP faults become typed errors (and throttling reaches the gate)."""
        try:
            parsed = read_reply(reply.content, expect=f"{operation}Response")
        except ProtocolError:
            if reply.status == 500:
                raise TransientServerError(f"HTTP 500 without a SOAP fault: {reply.content[:200]!r}") from None
            raise
        except EwsError as exc:
            if getattr(exc, "reply_server_version", None) is not None:
                self.server_version = exc.reply_server_version
            if isinstance(exc, Throttled):
                self._backoff(exc)
            raise
        if parsed.server_version is not None:
            self.server_version = parsed.server_version
        self.had_success = True
        self._backoff_from_messages(parsed)
        return parsed

    def _backoff_from_messages(self, parsed: Reply) -> None:
        """Throttling can also arrive per message inside an HTTP 200 (ErrorServerBusy, or ErrorInternalServerError
        with an inner ErrorServerBusy: EWS-FACTS §7 Table 4). Those stay values for the caller, but the gate
        still hears the longest back-off asked for."""
        if self.gate is None:
            return
        holder = parsed.body.find(f"{{{M}}}ResponseMessages")
        waits = []
        for msg in holder if holder is not None else ():
            if isinstance(msg.tag, str) and msg.get("ResponseClass") == "Error":
                err = message_error(msg)
                if isinstance(err, Throttled) and err.backoff_seconds is not None:
                    waits.append(err.backoff_seconds)
        if waits:
            self.gate.backoff(max(waits))

    def call(self, operation: str, body: dict, *, mailbox: str | None = None, impersonate: bool = False,
             time_zone: str | None = None, extra_headers: dict | None = None) -> Reply:
        """Build, send and read one EWS operation. `mailbox` + impersonate=True adds ExchangeImpersonation and
        X-AnchorMailbox (EWS-FACTS §6); delegate access puts the mailbox in the body instead."""
        who = mailbox if impersonate else None
        data, headers = self.build(operation, body, impersonate=who, time_zone=time_zone)
        if who:
            headers["X-AnchorMailbox"] = who
        if extra_headers:
            headers.update(extra_headers)
        started, failure = time.monotonic(), None
        try:
            return self.read(self.send(data, headers), operation)
        except Exception as exc:
            failure = exc
            if isinstance(exc, EwsError) and not exc.operation:
                exc.operation = operation  # a transport failure knows no operation; the log then names it
            raise
        finally:
            observe.report(operation, failure, time.monotonic() - started)

    def fetch(self, url: str) -> bytes:
        """Authenticated GET of the server's own WSDL/XSD documents (wsdl='server')."""
        auth = self._ensure_auth()
        try:
            resp = self.http.get(url, auth=auth, timeout=self.config.timeout, allow_redirects=False, stream=True)
        except requests.exceptions.RequestException as exc:
            raise tp.map_request_exception(exc, self.config.timeout) from exc
        content = tp.read_capped(resp, self.config.max_response_bytes, time.monotonic() + sum(self.config.timeout))
        err = tp.status_error(resp.status_code, resp.headers, content, had_success=self.had_success)
        if err is not None or resp.status_code != 200:
            raise err or ProtocolError(f"HTTP {resp.status_code} fetching {url}")
        return content


__all__ = ["EwsClient", "EwsError"]
