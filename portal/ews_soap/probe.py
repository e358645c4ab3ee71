"""The Authorize probe (SPEC S6): reach, TLS, credentials, version accepted, the service account's own calendar,
and — when asked — a sample of staff mailboxes through impersonation (or delegate access): Authorize succeeds
when at least one of them is reached; the others are reported per mailbox (not found, moving, no access).
The first failing account-level check raises its typed error (each with a one-sentence `.sentence` for the
settings page); success returns ProbeResult with the server's real version and a suggested version label when
it differs from the chosen one.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING

from . import signin
from .errors import (
    AccessDenied,
    AuthenticationFailed,
    EwsError,
    ImpersonationDenied,
    MailboxNotFound,
    ProtocolError,
    VersionNotAccepted,
)
from .operations import get_folder
from .parse import message_error, response_messages
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


def _one_mailbox(client, config: ServerConfig, mailbox: str) -> EwsError | None:
    """Impersonation is per request (EWS-FACTS §6: the ExchangeImpersonation header names one mailbox)."""
    try:
        get_folder.parse(client.call(get_folder.OPERATION, get_folder.body(mailbox, False), mailbox=mailbox,
                                     impersonate=True))
    except EwsError as exc:
        if exc.mailbox_state is None:
            raise
        return exc
    return None


def _delegate_batch(client, mailboxes: list[str]) -> list[EwsError | None]:
    """Delegate access names the mailbox in each DistinguishedFolderId, so one GetFolder opens them all and
    answers one ResponseMessage per folder, in request order (MSDOC getfolder-operation)."""
    msgs = response_messages(client.call(get_folder.OPERATION, get_folder.body_many(mailboxes)))
    if len(msgs) != len(mailboxes):
        raise ProtocolError(f"GetFolder answered {len(msgs)} messages for {len(mailboxes)} folders")
    out = []
    for mailbox, msg in zip(mailboxes, msgs, strict=False):
        err = message_error(msg)
        if err is not None and err.mailbox_state is None:
            raise err
        if isinstance(err, MailboxNotFound):
            err.address = err.address or mailbox
        out.append(err)
    return out


# When no sampled mailbox was reached, the error Authorize reports: an account-wide right first.
_NONE_REACHED_ORDER = (ImpersonationDenied, AccessDenied, EwsError)


def reach_staff(client, config: ServerConfig, mailboxes: list[str]) -> tuple[list[str], list[tuple[str, EwsError]]]:
    """Open each sampled staff calendar; mailbox-level errors are collected, account-level ones raised.
    Raises when not one mailbox was reached (the error carries `staff_failures`)."""
    if config.impersonation:
        results = [_one_mailbox(client, config, m) for m in mailboxes]
    else:
        results = _delegate_batch(client, mailboxes)
    reached = [m for m, err in zip(mailboxes, results, strict=False) if err is None]
    failed = [(m, err) for m, err in zip(mailboxes, results, strict=False) if err is not None]
    if mailboxes and not reached:
        first = next(err for cls in _NONE_REACHED_ORDER for _m, err in failed if isinstance(err, cls))
        first.staff_failures = failed
        raise first
    return reached, failed


def run_probe(session: ExchangeSession, impersonate: str | None = None, staff: tuple[str, ...] = ()) -> ProbeResult:
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
    sample = list(dict.fromkeys(staff or ([impersonate] if impersonate else [])))
    reached, failed = reach_staff(client, config, sample) if sample else ([], [])
    if reached:
        checks.append("impersonation" if config.impersonation else "delegate-access")
    version = client.server_version
    build = describe_build(str(version), date.today()) if version else None
    return ProbeResult(
        server_version=str(version) if version else "unknown",
        version_header=client.version_header,
        version_label=config.version,
        suggested_version=suggested_label(config.version, version),
        calendar=calendar,
        impersonated=reached[0] if reached else None,
        auth_used=getattr(client._auth, "mechanism", None) or client.auth_kind,  # S12: what really signed in
        checks=tuple(checks),
        tls_end_point=signin.tls_end_point(config) if client.auth_kind != "basic" else None,
        build_name=build.name if build else None,
        build_supported=build.supported if build else None,
        staff_checked=tuple(sample),
        staff_reached=tuple(reached),
        staff_failed=tuple((m, err.code, err.sentence, err.mailbox_state) for m, err in failed),
    )


def probe(config: ServerConfig, impersonate: str | None = None, gate=None, staff: tuple[str, ...] = ()) -> ProbeResult:
    """Authorize entry point for the settings page: a fresh session for the candidate configuration."""
    from . import transport
    from .session import ExchangeSession

    transport.discard_session(config)  # prove the credentials on a fresh connection, never a kept-alive one
    try:
        return run_probe(ExchangeSession(config, gate=gate), impersonate, staff)
    except AuthenticationFailed as exc:
        # S11: with the certificate seen now, the settings page can tell a re-encrypting proxy (a certificate
        # other than the one of the last successful sign-in) from a wrong password; a TLS handshake only.
        exc.tls_end_point = signin.tls_end_point(config) if config.credentials.auth != "basic" else None
        raise
