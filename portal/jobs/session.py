"""Build an ExchangeSession from the stored integration. The password is decrypted here, in memory only:
it is never put in a job payload, a log line or an exception message (SPEC S5)."""
from __future__ import annotations

import hashlib

from flask import current_app

from ..crypto import decrypt, password_fingerprint
from ..ews_soap import Credentials, ExchangeSession, ServerConfig
from ..models import ExchangeIntegration


def server_key(integration: ExchangeIntegration) -> str:
    """Identifies one Exchange server for the shared throttling state (back-off, concurrency cap)."""
    return hashlib.sha1(integration.server_url.lower().encode()).hexdigest()[:16]


def server_config(integration: ExchangeIntegration) -> ServerConfig:
    password = decrypt(integration.password_encrypted) if integration.password_encrypted else ""
    rejected = bool(integration.rejected_password_fp) and \
        integration.rejected_password_fp == password_fingerprint(integration.username, password)
    return ServerConfig(
        url=integration.server_url,
        credentials=Credentials(integration.username, password, auth=integration.auth_type or "auto",
                                rejected=rejected, realm=getattr(integration, "kerberos_realm", None) or None),
        version=integration.version, impersonation=integration.impersonation,
        ca_bundle_pem=integration.ca_cert_pem or None, allow_http=integration.allow_http,
        wsdl=integration.wsdl_source or "sundial",
        timeout=tuple(current_app.config.get("EWS_TIMEOUT", (5, 60))),
    )


def build_session(integration: ExchangeIntegration, gate=None) -> ExchangeSession:
    if gate is None:
        from .throttle import RedisGate

        gate = RedisGate.for_integration(integration)
    return ExchangeSession(server_config(integration), gate=gate)
