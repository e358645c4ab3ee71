"""The WSGI application: /EWS/Exchange.asmx (SOAP 1.1), /autodiscover/autodiscover.xml (POX)."""
from __future__ import annotations

import logging
import socket
import time
import traceback

from . import admin, autodiscover, autodiscover_soap, streaming, wsdl
from .auth import Authenticator, Unauthorized
from .context import Ctx
from .operations import HANDLERS
from .soap import EwsError, SoapFault, T, envelope, fault_envelope, local, parse_request, text
from .versions import unknown_element

log = logging.getLogger(__name__)
XML = "text/xml; charset=utf-8"
HTML_SIGN_IN_PAGE = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body><form>Sign in</form></body></html>"
UNAUTHORIZED_PAGE = b"<html><head><title>401 - Unauthorized</title></head><body>401 - Unauthorized</body></html>"


class App:
    def __init__(self, sim):
        self.sim = sim
        self.auth = Authenticator(sim.directory, sim.config.auth, sim.faults)
        self.backend_cookie = "EXSIM01.sim.local~1942061003"

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "").lower()
        if path == "/ews/exchange.asmx":
            return self.ews(environ, start_response)
        if path == "/autodiscover/autodiscover.xml":
            return autodiscover.handle(self, environ, start_response)
        if path == "/autodiscover/autodiscover.svc":
            return autodiscover_soap.handle(self, environ, start_response)
        if path in wsdl.FILES:
            return wsdl.handle(self, environ, start_response, path)
        if path == "/_simulator/control":
            return admin.handle(self, environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"Not Found"]

    # -- helpers -----------------------------------------------------------------------------------------
    def _send(self, start_response, status: str, body: bytes, headers=(), environ=None):
        if environ is not None and self.sim.faults.take("drop_remaining"):
            self.sim.record_response(body)
            return self._drop(environ, start_response, status, body)
        self.sim.record_response(body)
        start_response(status, [("Content-Type", XML), ("Content-Length", str(len(body))), *headers])
        return [body]

    def _drop(self, environ, start_response, status, body):
        """Send half the body, then close the TCP connection (a dropped connection mid-response)."""
        start_response(status, [("Content-Type", XML), ("Content-Length", str(len(body)))])
        channel = getattr(environ.get("waitress.client_disconnected"), "__self__", None)

        def gen():
            yield body[: len(body) // 2]
            time.sleep(0.05)
            if channel is not None:
                try:
                    channel.socket.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                channel.will_close = True
        return gen()

    def _fault(self, start_response, fault: SoapFault, environ=None):
        body = fault_envelope(fault, self.sim.version)
        status = "500 Internal Server Error" if fault.status == 500 else f"{fault.status} Error"
        return self._send(start_response, status, body, environ=environ)

    def _unauthorized(self, start_response, exc: Unauthorized):
        headers = [("Content-Type", "text/html"), ("Content-Length", str(len(UNAUTHORIZED_PAGE)))]
        headers += self.auth.challenge_headers(exc.token, exc.scheme)
        start_response("401 Unauthorized", headers)
        return [UNAUTHORIZED_PAGE]

    def _before_auth(self, environ, start_response):
        """Answers some servers and proxies give before looking at credentials (fault switches)."""
        faults = self.sim.faults
        if faults.get_answers_405 and environ.get("REQUEST_METHOD") != "POST":
            start_response("405 Method Not Allowed", [("Content-Type", "text/html"), ("Allow", "POST")])
            return [b"<html><body>405 - Method Not Allowed</body></html>"]
        if faults.html_front_page:
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [HTML_SIGN_IN_PAGE]
        return None

    # -- EWS ------------------------------------------------------------------------------------------------
    def ews(self, environ, start_response):
        sim, faults = self.sim, self.sim.faults
        length = int(environ.get("CONTENT_LENGTH") or 0)
        data = environ["wsgi.input"].read(length) if length else b""
        if faults.take("http_503_remaining"):  # IIS queue full (503) or a rate limiter (429): before authentication
            faults.wait_latency()
            status = faults.http_status
            sim.counters.add(f"({status})", "")
            headers = [("Retry-After", str(faults.retry_after_s))] if faults.retry_after_s else []
            reason = "Too Many Requests" if status == 429 else "Service Unavailable"
            start_response(f"{status} {reason}", [("Content-Type", "text/html"), *headers])
            return [b"<html><body>Service Unavailable</body></html>"]
        if faults.take("http_500_remaining"):  # the EWS application pool crashed: IIS's own error page
            faults.wait_latency()
            sim.counters.add("(500)", "")
            start_response("500 Internal Server Error", [("Content-Type", "text/html")])
            return [b"<html><body>Server Error in '/EWS' Application.</body></html>"]
        early = self._before_auth(environ, start_response)
        if early is not None:
            return early
        try:
            account = self.auth.authenticate(environ)
        except Unauthorized as exc:
            faults.wait_latency()
            sim.counters.add("(401)", "")
            return self._unauthorized(start_response, exc)
        if environ.get("REQUEST_METHOD") != "POST":
            start_response("405 Method Not Allowed", [("Content-Type", "text/plain"), ("Allow", "POST")])
            return [b"Method Not Allowed"]
        op_name, mailbox, upn, entered = "(invalid)", "", account.upn.lower(), False
        try:
            header, op = parse_request(data)
            op_name = local(op.tag)
            mailbox = _header_mailbox(header)
            # EWSMaxConcurrency counts the account's requests in progress, slow ones included (EWS-FACTS section 7)
            faults.enter(upn)
            entered = True
            faults.wait_latency()
            requested = _requested_version(header)
            if not sim.version.accepts(requested):
                raise SoapFault("ErrorInvalidServerVersion", "The specified server version is invalid.")
            self._validate_request(op, header)
            _check_server_schema(sim.version, op)
            faults.check_budget(upn)
            if op_name not in HANDLERS and op_name != "GetStreamingEvents":
                raise SoapFault("ErrorInvalidOperation", f"The operation {op_name} is not supported by this "
                                                         "server.")
            impersonated = sim.directory.impersonate(account, mailbox) if mailbox else None
            ctx = Ctx(sim, account, requested, impersonated, _tz_context(header))
            if op_name == "GetStreamingEvents":  # a hanging connection has its own budget (HangingConnectionLimit)
                faults.leave(upn)
                entered = False
                return self._streaming(ctx, op, start_response, environ)
            with sim.store.lock:  # one mailbox operation at a time: reads never see half a change
                body = HANDLERS[op_name](ctx, op)
            mailbox = mailbox or min(ctx.mailboxes_touched, default="") or _own(ctx)
        except SoapFault as fault:
            sim.record_request(op_name, mailbox, environ)
            return self._fault(start_response, fault, environ)
        except EwsError as err:  # raised outside a per-item loop: answer as Exchange does, with a fault
            sim.record_request(op_name, mailbox, environ)
            return self._fault(start_response, SoapFault(err.code, err.message, err.message_xml), environ)
        except Exception:  # a simulator bug: keep serving, record it for the tests, answer like a broken CAS
            log.exception("ews_simulator internal error in %s", op_name)
            sim.internal_errors.append(traceback.format_exc())
            return self._fault(start_response, SoapFault("ErrorInternalServerError",
                                                         "An internal server error occurred. The operation failed."),
                               environ)
        finally:
            if entered:
                faults.leave(upn)
        sim.record_request(op_name, mailbox, environ)
        headers = []
        if environ.get("HTTP_X_PREFERSERVERAFFINITY", "").lower() == "true":
            # Subscription affinity: the first Subscribe of a group gets a backend cookie to replay
            # (MSDOC how-to-maintain-affinity-between-group-of-subscriptions-and-mailbox-server).
            headers.append(("Set-Cookie", f"X-BackEndOverrideCookie={self.backend_cookie}; path=/; HttpOnly"))
        return self._send(start_response, "200 OK", envelope(body, sim.version), headers, environ=environ)

    def _validate_request(self, op, header):
        validator = self.sim.request_validator
        if validator is None:
            return
        problems = validator.errors(op, copy=False)
        if header is not None:
            for el in header:
                if isinstance(el.tag, str) and el.tag.startswith(f"{{{T}}}"):
                    problems += validator.errors(el, copy=False)
        if problems:
            # Exchange's shape: ews-samples/SOAPFault-error-ErrorSchemaValidation.xml
            line, _, violation = problems[0].partition(" ")
            raise SoapFault("ErrorSchemaValidation", "The request failed schema validation: " + violation,
                            {"LineNumber": line.split(":")[0], "LinePosition": line.split(":")[-1],
                             "Violation": violation})

    def _streaming(self, ctx, op, start_response, environ):
        try:
            subs, timeout = streaming.validate(ctx, op)
        except streaming.Refused as refused:
            self.sim.record_request("GetStreamingEvents", min(ctx.mailboxes_touched, default=""), environ)
            return self._send(start_response, "200 OK", envelope(streaming.refused_body(refused.ids),
                                                                 self.sim.version))
        except EwsError as err:
            self.sim.record_request("GetStreamingEvents", "", environ)
            body = streaming.error_body(err)
            return self._send(start_response, "200 OK", envelope(body, self.sim.version))
        self.sim.record_request("GetStreamingEvents", min(ctx.mailboxes_touched, default=""), environ)
        # With impersonation the connection is charged to (a copy of) the impersonated mailbox's budget; the switch
        # config.hanging_charged_to = "account" charges every connection to the service account instead.
        charged_to_mailbox = ctx.impersonated is not None and self.sim.config.hanging_charged_to != "account"
        key = ctx.impersonated.primary if charged_to_mailbox else ctx.account.upn
        if not self.sim.faults.open_stream(key.lower(), streaming.hanging_limit(self.sim)):
            # HangingConnectionLimit reached (MSDOC handling-notification-related-errors-in-ews-in-exchange)
            body = streaming.error_body(EwsError(
                "ErrorExceededConnectionCount", "You have exceeded the maximum number of open streaming connections."))
            return self._send(start_response, "200 OK", envelope(body, self.sim.version))
        start_response("200 OK", [("Content-Type", XML)])  # no Content-Length: chunked, stays open
        return streaming.closing(streaming.stream(self.sim, subs, timeout),
                                 lambda: self.sim.faults.close_stream(key.lower()))


def _check_server_schema(version, op):
    """A server rejects elements its own (older) schema lacks, whatever RequestServerVersion says."""
    name = local(op.tag)
    children = [local(c.tag) for c in op if isinstance(c.tag, str)]
    for child in [None, *children]:
        if unknown_element(version, name, child):
            what = child or name
            raise SoapFault("ErrorSchemaValidation", f"The request failed schema validation: The element '{name}' "
                            f"has invalid child element '{what}'." if child else
                            f"The request failed schema validation: The element '{what}' is not expected.",
                            {"LineNumber": 1, "LinePosition": 1,
                             "Violation": f"The element '{what}' is not defined by this server's schema."})


def _own(ctx) -> str:
    mbx = ctx.directory.own_mailbox(ctx.account)
    return mbx.primary.lower() if mbx else ""


def _requested_version(header) -> str:
    el = header.find(f"{{{T}}}RequestServerVersion") if header is not None else None
    # A missing header is read as Exchange2007_SP1's schema (MSDOC requestserverversion).
    return el.get("Version", "Exchange2007_SP1") if el is not None else "Exchange2007_SP1"


def _header_mailbox(header) -> str:
    el = header.find(f"{{{T}}}ExchangeImpersonation") if header is not None else None
    if el is None:
        return ""
    sid = el.find(f"{{{T}}}ConnectingSID")
    for name in ("PrimarySmtpAddress", "SmtpAddress", "PrincipalName"):
        value = text(sid, f"t:{name}")
        if value:
            return value
    raise SoapFault("ErrorNonExistentMailbox", "The impersonation header names no mailbox.")


def _tz_context(header) -> str | None:
    el = header.find(f"{{{T}}}TimeZoneContext") if header is not None else None
    tzdef = el.find(f"{{{T}}}TimeZoneDefinition") if el is not None else None
    return tzdef.get("Id") if tzdef is not None else None
