"""The only place the Exchange settings talk to Exchange: the Authorize probe and Autodiscover.

Views reach Exchange only through portal.ews_soap.probe / portal.ews_soap.autodiscover (ARCHITECTURE
boundaries). The password passed in here is used for the probe and dropped; it is never logged.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from ...ews_soap.types import Credentials, ProbeResult, ServerConfig

# The settings fields that decide how Sundial reaches the server (a change needs a new Authorize).
CONNECTION_FIELDS = ("auth_type", "username", "version", "server_url", "allow_http", "impersonation", "ca_cert_pem")


def server_config(values: dict, password: str) -> ServerConfig:
    return ServerConfig(
        url=values["server_url"],
        credentials=Credentials(values["username"], password, auth=values["auth_type"]),
        version=values["version"],
        impersonation=bool(values["impersonation"]),
        ca_bundle_pem=values.get("ca_cert_pem") or None,
        allow_http=bool(values["allow_http"]),
        wsdl=values.get("wsdl_source") or "sundial",
        timeout=tuple(current_app.config.get("EXCHANGE_PROBE_TIMEOUT", (5, 30))),
    )


def run_probe(config: ServerConfig, impersonate: str | None, staff: tuple[str, ...] = ()) -> ProbeResult:
    """Authorize (S6): raises a typed portal.ews_soap error on the first failing check. `staff`: the sample of
    staff mailboxes to open (impersonation or delegate access); at least one must be reached."""
    from ...ews_soap import probe as probe_module

    return probe_module.probe(config, impersonate=impersonate, staff=staff)


@dataclass(frozen=True)
class Discovered:
    url: str
    source: str  # "autodiscover" | "guessed"


def discover(username: str, password: str | None, staff_email: str | None = None) -> Discovered:
    """The EWS URL for a UPN's domain (S4): Autodiscover first, else https://mail.<domain>/EWS/Exchange.asmx.

    An impersonation-only service account often has no mailbox, and Autodiscover answers only for
    mailboxes: then the same credentials ask for a staff member's mailbox instead (`staff_email`).
    EXCHANGE_AUTODISCOVER_CANDIDATES (lab/demo) are tried first; plain-http candidates there are the
    operator's explicit choice for a lab server, so they may be used without TLS.
    """
    from ...ews_soap import autodiscover as autodiscover_module

    cfg = current_app.config
    candidates = list(cfg.get("EXCHANGE_AUTODISCOVER_CANDIDATES") or [])
    options = dict(extra_candidates=candidates, ca_bundle_pem=cfg.get("EXCHANGE_AUTODISCOVER_CA"),
                   total_timeout=float(cfg.get("EXCHANGE_AUTODISCOVER_TIMEOUT", 8.0)),
                   allow_http=any(c.startswith("http://") for c in candidates),
                   standard=bool(cfg.get("EXCHANGE_AUTODISCOVER_STANDARD", True)))
    result = autodiscover_module.discover(username, password, **options)
    if not result.detected and password and staff_email and staff_email.lower() != username.lower():
        result = autodiscover_module.discover(username, password, email=staff_email, **options)
    return Discovered(url=result.url, source="autodiscover" if result.detected else "guessed")


def guess_url(username: str) -> str:
    domain = username.rpartition("@")[2].strip().lower()
    return f"https://mail.{domain}/EWS/Exchange.asmx" if domain else ""


# Server build → the settings label to suggest (same facts as portal.ews_soap.versions.BUILDS, which
# views may not import): 15.2 = 2019, 15.1 = 2016, 15.0 build ≥ 847 = 2013 SP1, 14.1/14.2 = 2010 SP1/SP2.
_BUILDS = (((15, 2, 0), "2019"), ((15, 1, 0), "2016"), ((15, 0, 847), "2013_SP1"), ((15, 0, 0), "2013"),
           ((14, 2, 0), "2010_SP2"), ((14, 1, 0), "2010_SP1"), ((14, 0, 0), "2010"))


def label_for_server(server_version) -> str | None:
    """"15.0.1497.2" (or a ServerVersion) → "2013_SP1"; None when unknown."""
    if server_version is None:
        return None
    try:
        parts = [int(p) for p in str(server_version).split(".")[:3]]
    except ValueError:
        return None
    key = tuple(parts + [0] * (3 - len(parts)))
    return next((label for first, label in _BUILDS if key >= first), None)
