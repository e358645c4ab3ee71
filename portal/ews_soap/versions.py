"""Exchange versions: one table from the admin's choice to the RequestServerVersion header (SPEC S3).

Sources: MSDOC web-service-reference/requestserverversion (header values); exchangelib
`exchangelib/version.py` VERSIONS table (build → header: 15.1 and 15.2 → Exchange2016, 15.0 build ≥ 847 →
Exchange2013_SP1, 14.3 → Exchange2010_SP2); EWS-FACTS §9.
"""

from __future__ import annotations

from .types import ServerVersion

# label (what the settings form offers, SPEC S3) → (header value, display name)
VERSIONS: dict[str, tuple[str, str]] = {
    "2010": ("Exchange2010", "Exchange 2010"),
    "2010_SP1": ("Exchange2010_SP1", "Exchange 2010 SP1"),
    "2010_SP2": ("Exchange2010_SP2", "Exchange 2010 SP2"),
    "2013": ("Exchange2013", "Exchange 2013"),
    "2013_SP1": ("Exchange2013_SP1", "Exchange 2013 SP1"),
    "2016": ("Exchange2016", "Exchange 2016"),
    "2019": ("Exchange2016", "Exchange 2019"),  # S3: 2019 is sent as Exchange2016 (no Exchange2019 value exists)
}

# Labels whose servers answer SOAP Autodiscover's GroupingInformation setting, which arrived with Exchange 2013
# (MSDOC how-to-maintain-affinity-between-group-of-subscriptions-and-mailbox-server; EWS-FACTS §6).
GROUPING_INFORMATION: frozenset[str] = frozenset({"2013", "2013_SP1", "2016", "2019"})

# (major, minor, first build) → label, newest first. 14.3 is 2010 SP3, which still speaks Exchange2010_SP2.
BUILDS: list[tuple[tuple[int, int, int], str]] = [
    ((15, 2, 0), "2019"),
    ((15, 1, 0), "2016"),
    ((15, 0, 847), "2013_SP1"),
    ((15, 0, 0), "2013"),
    ((14, 2, 0), "2010_SP2"),  # 14.2 = SP2, 14.3 = SP3
    ((14, 1, 0), "2010_SP1"),
    ((14, 0, 0), "2010"),
]


def header_for(label: str) -> str:
    """RequestServerVersion value for a settings label; unknown labels are a programming error."""
    try:
        return VERSIONS[label][0]
    except KeyError:
        raise ValueError(f"unknown Exchange version label {label!r}; expected one of {sorted(VERSIONS)}") from None


def label_for_server(version: ServerVersion) -> str | None:
    """The settings label matching a server's real build, or None for servers older than 2010."""
    key = (version.major, version.minor, version.build)
    for first, label in BUILDS:
        if key >= first:
            return label
    return None


def suggested_label(chosen: str, version: ServerVersion | None) -> str | None:
    """A better label when the chosen one does not match the server, else None.

    2016 and 2019 share the Exchange2016 header, so only a different header counts as a mismatch,
    except that a 2019 server configured as 2016 (or the reverse) is suggested its own year (S3 text:
    "choose the newest version of its year").
    """
    if version is None:
        return None
    real = label_for_server(version)
    if real is None or real == chosen:
        return None
    return real
