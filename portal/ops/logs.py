"""Log lines (O3): human-readable by default, JSON lines with SUNDIAL_LOG_FORMAT=json.

Every line carries the request id (web) or the RQ job id (workers), the mailbox and the operation, from
context variables set by the request hooks below and by `log_context()` around a mailbox's work. A redaction
filter replaces every secret this process knows (session secret, metrics token, SMTP and Exchange passwords)
with *** before any handler writes the line.
"""
from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime

_mailbox = contextvars.ContextVar("sundial_log_mailbox", default="")
_operation = contextvars.ContextVar("sundial_log_operation", default="")
_secrets: set[str] = set()
HANDLER_NAME = "sundial"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(context)s mailbox=%(mailbox)s op=%(operation)s] %(message)s"


def register_secret(value: str | None) -> None:
    """A value that must never appear in a log line (short values would redact ordinary words)."""
    if value and len(value) >= 6:
        _secrets.add(value)


@contextmanager
def log_context(mailbox: str | None = None, operation: str | None = None):
    tokens = [(var, var.set(val)) for var, val in ((_mailbox, mailbox), (_operation, operation)) if val]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def _request_fields() -> tuple[str, str]:
    from flask import g, has_request_context, request

    if not has_request_context():
        return "", ""
    return getattr(g, "request_id", ""), request.endpoint or ""


def _job_fields() -> tuple[str, str]:
    try:
        from rq import get_current_job

        job = get_current_job()
    except Exception:  # noqa: BLE001 - outside a worker there is no job
        job = None
    return (job.id, job.func_name.rsplit(".", 1)[-1]) if job is not None else ("", "")


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        request_id, endpoint = _request_fields()
        job_id, func = _job_fields()
        record.context = (f"req={request_id}" if request_id else "") + (f"job={job_id}" if job_id else "") or "-"
        record.mailbox = _mailbox.get() or "-"
        record.operation = _operation.get() or endpoint or func or "-"
        record.ids = {"request_id": request_id or None, "job_id": job_id or None}
        return True


# HTTP authentication tokens as libraries print them at DEBUG (an NTLM authenticate message can be cracked
# offline for the password; Basic is the password in base64).
AUTH_TOKEN = re.compile(r"\b(NTLM|Negotiate|Basic|Bearer)\s+[A-Za-z0-9+/=._~-]{8,}")


def redact(text: str) -> str:
    for secret in _secrets:
        text = text.replace(secret, "***")
    return AUTH_TOKEN.sub(r"\1 ***", text)


class RedactFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        text, exc = redact(text), redact(record.exc_text or "")
        record.msg, record.args, record.exc_text = text, None, exc or None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                "level": record.levelname, "logger": record.name, "message": record.getMessage(),
                **getattr(record, "ids", {}), "mailbox": getattr(record, "mailbox", "-"),
                "operation": getattr(record, "operation", "-")}
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


def make_handler(fmt: str, stream=None) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.set_name(HANDLER_NAME)
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    return handler


def _request_id():
    from flask import g, request

    given = request.headers.get("X-Request-ID", "")
    g.request_id = given[:64] if given.replace("-", "").isalnum() else uuid.uuid4().hex[:16]


def _echo_request_id(resp):
    from flask import g

    resp.headers["X-Request-ID"] = getattr(g, "request_id", "")
    return resp


def install(app) -> None:
    """One handler on the root logger (replacing an earlier one of ours), request ids, known secrets."""
    for value in (app.config.get("SECRET_KEY"), app.config.get("METRICS_TOKEN"), app.config.get("SMTP_PASSWORD")):
        register_secret(value)
    app.before_request(_request_id)
    app.after_request(_echo_request_id)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(make_handler(app.config["LOG_FORMAT"]))
    root.setLevel(getattr(logging, app.config["LOG_LEVEL"], logging.INFO))
    from ..ews_soap.observe import add_observer

    add_observer(log_ews)


def log_ews(operation: str, outcome: str, seconds: float) -> None:
    """One line per EWS request: DEBUG when it worked, INFO when Exchange said no."""
    level = logging.DEBUG if outcome == "ok" else logging.INFO
    logging.getLogger("portal.ews").log(level, "EWS %s: %s in %.0f ms", operation, outcome, seconds * 1000)
