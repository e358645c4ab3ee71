"""The Authorize probe (SPEC S6): reach, TLS, credentials, version accepted, the service account's own calendar,
and — when asked — one staff mailbox through impersonation (or delegate access). The first failing check raises
its typed error (each with a one-sentence `.sentence` for the settings page); success returns ProbeResult with
the server's real version and a suggested version label when it differs from the chosen one.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING

from . import signin
from .errors import AuthenticationFailed, EwsError, MailboxNotFound, VersionNotAccepted
from .operations import get_folder
from .types import ProbeResult, ServerConfig, ServerVersion
from .versions import VERSIONS, describe_build, label_for_build, label_for_server, suggested_label

__all__ = ["VERSIONS", "describe_build", "label_for_build", "probe", "run_probe"]  # the settings pages' view

if TYPE_CHECKING:  # pragma: no cover
    from .session import ExchangeSession


def _parse_version(text: str | None) -> ServerVersion | None:
    try:
        parts = [int(p) for p in (text or "").split(".")]
    except ValueError:
        return None
    return ServerVersion(*(parts + [0, 0, 0, 0])[:4]) if len(parts) >= 2 else None


def _ask_real_version(config: ServerConfig) -> str | None:
    """A rejected version fault may carry no ServerVersionInfo: ask once more with the oldest header every
    2010+ server accepts (Exchange2010), only to read the server's real build for the suggestion."""
    from .client import EwsClient

    try:
        client = EwsClient(replace(config, version="2010"))
        client.call(get_folder.OPERATION, get_folder.body(None, False))
    except EwsError:
        pass
    return str(client.server_version) if client.server_version else None


def run_probe(session: ExchangeSession, impersonate: str | None = None) -> ProbeResult:
    client, config = session.client, session.config
    checks = []
    own_calendar = "own-calendar"
    try:
        # The service account's own calendar: proves reach, TLS, credentials, version and mailbox access at once.
        calendar = get_folder.parse(client.call(get_folder.OPERATION, get_folder.body(None, False)))
    except MailboxNotFound:
        # An impersonation-only service account often has no mailbox. The answer was still an authenticated,
        # version-accepted EWS reply, so reach/TLS/credentials/version hold; calendar access is then proved
        # on the staff mailbox below.
        calendar, own_calendar = None, "no-own-mailbox"
    except VersionNotAccepted as exc:
        if not exc.server_version:
            exc.server_version = _ask_real_version(config)
        real = _parse_version(exc.server_version)
        exc.suggested_version = label_for_server(real) if real else None
        if exc.suggested_version:
            exc.sentence = (f"The Exchange server does not accept the selected version; it reports "
                            f"{exc.server_version} — choose {exc.suggested_version.replace('_', ' ')}.")
        raise
    checks += ["reach", "tls" if config.url.lower().startswith("https") else "http-allowed", "credentials",
               "version", own_calendar]
    impersonated = None
    if impersonate:
        body = get_folder.body(impersonate, not config.impersonation)
        get_folder.parse(client.call(get_folder.OPERATION, body, mailbox=impersonate,
                                     impersonate=config.impersonation))
        impersonated = impersonate
        checks.append("impersonation" if config.impersonation else "delegate-access")
    version = client.server_version
    build = describe_build(str(version), date.today()) if version else None
    return ProbeResult(
        server_version=str(version) if version else "unknown",
        version_header=client.version_header,
        version_label=config.version,
        suggested_version=suggested_label(config.version, version),
        calendar=calendar,
        impersonated=impersonated,
        auth_used=getattr(client._auth, "mechanism", None) or client.auth_kind,  # S12: what really signed in
        checks=tuple(checks),
        tls_end_point=signin.tls_end_point(config) if client.auth_kind != "basic" else None,
        build_name=build.name if build else None,
        build_supported=build.supported if build else None,
    )


def probe(config: ServerConfig, impersonate: str | None = None, gate=None) -> ProbeResult:
    """Authorize entry point for the settings page: a fresh session for the candidate configuration."""
    from . import transport
    from .session import ExchangeSession

    transport.discard_session(config)  # prove the credentials on a fresh connection, never a kept-alive one
    try:
        return run_probe(ExchangeSession(config, gate=gate), impersonate)
    except AuthenticationFailed as exc:
        # S11: with the certificate seen now, the settings page can tell a re-encrypting proxy (a certificate
        # other than the one of the last successful sign-in) from a wrong password; a TLS handshake only.
        exc.tls_end_point = signin.tls_end_point(config) if config.credentials.auth != "basic" else None
        raise
