"""Connect to Exchange: an ExchangeSession from the stored integration. The password is decrypted here, in memory only:
it is never put in a job payload, a log line or an exception message (SPEC S5)."""
from __future__ import annotations

from flask import current_app

from ..crypto import decrypt, password_fingerprint
from ..ews_soap import ExchangeSession, ServerConfig
from ..ews_soap.types import SETTINGS_FIELDS, server_config_from
from ..models import ExchangeIntegration
from . import session as warm
from .throttle import RedisGate, server_key

__all__ = ["connect", "server_config", "server_key"]


def server_config(integration: ExchangeIntegration) -> ServerConfig:
    password = decrypt(integration.password_encrypted) if integration.password_encrypted else ""
    settings = {name: getattr(integration, name) for name in SETTINGS_FIELDS}
    rejected = bool(integration.rejected_password_fp) and \
        integration.rejected_password_fp == password_fingerprint(integration.username, password)
    return server_config_from(settings, password, current_app.config["EWS_TIMEOUT"], rejected=rejected)


def connect(integration: ExchangeIntegration, gate=None) -> ExchangeSession:
    """A session for the stored integration: in a non-forking worker the process's warm one (engine/session.py)
    while the settings and password are unchanged, otherwise a new one."""
    config = server_config(integration)
    if gate is None and warm.enabled():
        key = server_key(integration)
        return warm.warm_session(key, config, lambda: ExchangeSession(config, RedisGate.for_integration(integration)))
    if gate is None:
        gate = RedisGate.for_integration(integration)
    return ExchangeSession(config, gate=gate)
