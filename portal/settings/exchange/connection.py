"""The only place the Exchange settings talk to Exchange: the Authorize probe and Autodiscover.

Views reach Exchange only through portal.ews_soap.probe / portal.ews_soap.autodiscover (ARCHITECTURE
boundaries). The password passed in here is used for the probe and dropped; it is never logged.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from ...ews_soap.types import ProbeResult, ServerConfig, server_config_from

# The settings fields that decide how Sundial reaches the server (a change needs a new Authorize).
CONNECTION_FIELDS = ("auth_type", "username", "kerberos_realm", "version", "server_url", "allow_http", "impersonation",
                     "ca_cert_pem")


def server_config(values: dict, password: str) -> ServerConfig:
    return server_config_from(values, password, current_app.config["EXCHANGE_PROBE_TIMEOUT"])


def run_probe(config: ServerConfig, impersonate: str | None, staff: tuple[str, ...] = ()) -> ProbeResult:
    """Authorize (S6): raises a typed portal.ews_soap error on the first failing check. `staff`: the sample of
    staff mailboxes to open (impersonation or delegate access); at least one must be reached."""
    from ...ews_soap import probe as probe_module

    return probe_module.probe(config, impersonate=impersonate, staff=staff)


@dataclass(frozen=True)
class Discovered:
    url: str
    source: str  # "autodiscover" | "guessed"


def discover(username: str, password: str | None, staff_email: str | None = None, auth: str = "auto") -> Discovered:
    """The EWS URL for a UPN's domain (S4): Autodiscover first, else https://mail.<domain>/EWS/Exchange.asmx.

    An impersonation-only service account often has no mailbox, and Autodiscover answers only for
    mailboxes: then the same credentials ask for a staff member's mailbox instead (`staff_email`).
    EXCHANGE_AUTODISCOVER_CANDIDATES (lab/demo) are tried first; plain-http candidates there are the
    operator's explicit choice for a lab server, so they may be used without TLS.
    """
    from ...ews_soap import autodiscover as autodiscover_module

    cfg = current_app.config
    candidates = list(cfg["EXCHANGE_AUTODISCOVER_CANDIDATES"] or [])
    options = dict(extra_candidates=candidates, auth=auth if auth in ("ntlm", "basic") else "auto",
                   ca_bundle_pem=cfg["EXCHANGE_AUTODISCOVER_CA"],
                   total_timeout=float(cfg["EXCHANGE_AUTODISCOVER_TIMEOUT"]),
                   allow_http=any(c.startswith("http://") for c in candidates),
                   standard=bool(cfg["EXCHANGE_AUTODISCOVER_STANDARD"]))
    result = autodiscover_module.discover(username, password, **options)
    if not result.detected and password and staff_email and staff_email.lower() != username.lower():
        result = autodiscover_module.discover(username, password, email=staff_email, **options)
    return Discovered(url=result.url, source="autodiscover" if result.detected else "guessed")


def guess_url(username: str) -> str:
    domain = username.rpartition("@")[2].strip().lower()
    return f"https://mail.{domain}/EWS/Exchange.asmx" if domain else ""


def label_for_server(server_version) -> str | None:
    """"15.0.1497.2" (or a ServerVersion) → "2013_SP1"; None when unknown (ews_soap.versions' table)."""
    from ...ews_soap import probe as probe_module

    return None if server_version is None else probe_module.label_for_build(str(server_version))


def build_info(server_version: str | None):
    """S13: the build's name and whether Microsoft still supports it (ews_soap.versions' table), or None."""
    from datetime import UTC, datetime

    from ...ews_soap import probe as probe_module

    return probe_module.describe_build(server_version, datetime.now(UTC).date())
