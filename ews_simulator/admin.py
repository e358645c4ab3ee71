"""JSON control endpoint (/_simulator/control, loopback only) used by the CLI's ``outlook`` and ``fault``
commands to change a running simulator."""
from __future__ import annotations

import json
from datetime import date, datetime

OUTLOOK_METHODS = {"create", "move", "make_free", "make_busy", "make_tentative", "make_private", "rename",
                   "set_body", "delete", "move_to_calendar", "create_recurring", "change_recurrence",
                   "delete_occurrence", "move_occurrence", "add_calendar", "delete_calendar", "items"}
FAULT_METHODS = {"throttle", "server_busy", "item_busy", "http_503", "http_429", "drop_connection",
                 "mailbox_unavailable", "cannot_find_user", "lose_subscription", "force_streaming_timeout", "lockout",
                 "calendar_view_unexpanded", "calendar_view_partial", "update_keeps_time", "impersonation_out_of_scope",
                 "poison_item", "clear"}
FAULT_ATTRS = {"latency_ms", "concurrency_cap"}


def _jsonable(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "subject"):
        return {"id": value.id, "change_key": value.change_key, "subject": value.subject,
                "start": value.start.isoformat(), "end": value.end.isoformat(), "free_busy": value.free_busy,
                "sensitivity": value.sensitivity, "recurring": bool(value.recurrence)}
    if hasattr(value, "id") and hasattr(value, "name"):
        return {"id": value.id, "name": value.name}
    return value


def handle(app, environ, start_response):
    if environ.get("REMOTE_ADDR") not in ("127.0.0.1", "::1") or environ.get("REQUEST_METHOD") != "POST":
        start_response("403 Forbidden", [("Content-Type", "text/plain")])
        return [b"Forbidden"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    try:
        req = json.loads(environ["wsgi.input"].read(length) or b"{}")
        result = _dispatch(app.sim, req)
        status, body = "200 OK", {"ok": True, "result": _jsonable(result)}
    except Exception as exc:  # noqa: BLE001 - reported to the CLI user
        status, body = "400 Bad Request", {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def _dispatch(sim, req: dict):
    method, args, kwargs = req["method"], req.get("args", []), req.get("kwargs", {})
    if req["target"] == "outlook":
        if method not in OUTLOOK_METHODS:
            raise ValueError(f"unknown outlook action {method}")
        from .outlook import Outlook
        return getattr(Outlook(sim, req["mailbox"]), method)(*args, **kwargs)
    if req["target"] == "faults":
        if method in FAULT_ATTRS:
            value = kwargs.get("value", args[0] if args else None)
            setattr(sim.faults, method, value)
            return value
        if method not in FAULT_METHODS:
            raise ValueError(f"unknown fault switch {method}")
        return getattr(sim.faults, method)(*args, **kwargs)
    raise ValueError("target must be outlook or faults")
