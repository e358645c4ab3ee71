"""Observers of EWS requests: plain callbacks (operation, outcome, seconds), so this package stays free of
Flask and of any metrics library. The portal registers its metrics here at start-up (portal.ops.metrics)."""
from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)
Observer = Callable[[str, str, float], None]
_observers: list[Observer] = []


def add_observer(fn: Observer) -> None:
    if fn not in _observers:
        _observers.append(fn)


def outcome_of(exc: BaseException | None) -> str:
    """"ok", or the typed error's class name (AuthenticationFailed, Throttled, MailboxNotFound …)."""
    return "ok" if exc is None else type(exc).__name__


def report(operation: str, exc: BaseException | None, seconds: float) -> None:
    for fn in list(_observers):
        try:
            fn(operation, outcome_of(exc), seconds)
        except Exception:  # noqa: BLE001 - an observer must never break a request
            log.exception("EWS observer failed")
