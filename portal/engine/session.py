"""One warm ExchangeSession per worker process and thread (ARCHITECTURE.md: portal/engine/session.py).

A non-forking worker (portal/jobs/worker.py) runs job after job in one process. Building an ExchangeSession for
each job would throw away what the previous job paid for: the sign-in scheme learnt from the 401, the NTLM
handshake (NTLM authenticates the connection, so the kept-alive connections of the transport's pool are what make
an idle sync one request), zeep's bound service and the header parts of each operation. So the worker enables
this cache, and `connect()` hands every job of the process the same session while the integration is unchanged.

- Fingerprint: the whole ServerConfig built from the stored integration — URL, account, password, sign-in type,
  realm, version, impersonation, CA, http switch, WSDL source, timeouts and the "password rejected before" flag
  (S10). Any change (an admin's Authorize with a new password, a rejected password remembered) makes a new
  session and drops the old one's pooled connections: a new password never rides on a connection authenticated
  with the old one, and a rejected password is never sent again (the new session refuses it before any request).
- An authentication failure drops the sessions of that server at once (`drop`), in every thread.
- One session per (server, thread): requests-ntlm must not handshake on a connection another thread is using
  (transport.pooled_session keeps one pool per thread for the same reason). The cache holds one entry per server
  and thread, so it cannot grow with settings changes.
- Off by default: web processes, the listener, a forking worker's job process and tests get a fresh session per
  call, exactly as before.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

from ..ews_soap import ExchangeSession, ServerConfig
from ..ews_soap import transport as tp

_sessions: dict[tuple[str, int], tuple[ServerConfig, ExchangeSession]] = {}
_lock = threading.Lock()
_enabled = False


def enable(on: bool = True) -> None:
    """The non-forking worker turns the cache on for its lifetime; turning it off drops every session."""
    global _enabled
    _enabled = on
    if not on:
        drop()


def enabled() -> bool:
    return _enabled


def warm_session(server: str, config: ServerConfig, make: Callable[[], ExchangeSession]) -> ExchangeSession:
    """This thread's session for `server` if it was built from the same `config`, else a new one from `make`."""
    key = (server, threading.get_ident())
    with _lock:
        held = _sessions.get(key)
    if held is not None and held[0] == config:
        return held[1]
    if held is not None:  # settings or password changed: never reuse what the old credentials authenticated
        tp.discard_session(held[0])
    session = make()
    with _lock:
        _sessions[key] = (config, session)
    return session


def drop(server: str | None = None) -> int:
    """Forget the sessions of `server` (every server when None) in every thread, with their pooled connections.
    Returns how many were dropped."""
    with _lock:
        gone = [k for k in _sessions if server is None or k[0] == server]
        configs = [_sessions.pop(k)[0] for k in gone]
    for config in {id(c): c for c in configs}.values():
        tp.discard_session(config)
    return len(gone)


def held() -> int:
    """How many sessions are cached (tests)."""
    with _lock:
        return len(_sessions)
