"""Exchange versions: one table from the admin's choice to the RequestServerVersion header (SPEC S3), and one
table from a server's build to its name and Microsoft support (SPEC S13).

Sources: MSDOC web-service-reference/requestserverversion (header values); exchangelib
`exchangelib/version.py` VERSIONS table (build → header: 15.1 and 15.2 → Exchange2016, 15.0 build ≥ 847 →
Exchange2013_SP1, 14.3 → Exchange2010_SP2); EWS-FACTS §9.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

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
    "SE": ("Exchange2016", "Exchange Server SE"),  # S3: SE speaks the 2019 schema, so Exchange2016 as well
}

# Labels whose servers answer SOAP Autodiscover's GroupingInformation setting, which arrived with Exchange 2013
# (MSDOC how-to-maintain-affinity-between-group-of-subscriptions-and-mailbox-server; EWS-FACTS §6).
GROUPING_INFORMATION: frozenset[str] = frozenset({"2013", "2013_SP1", "2016", "2019", "SE"})

# (major, minor, first build) → label, newest first. 14.3 is 2010 SP3, which still speaks Exchange2010_SP2.
BUILDS: list[tuple[tuple[int, int, int], str]] = [
    ((15, 2, 2562), "SE"),  # Exchange Server SE RTM is 15.2.2562.17 (BUILD_NAMES below)
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


# ---- S13: build → name and support ---------------------------------------------------------------------------
# Source: MSDOC exchange/new-features/build-numbers-and-release-dates (first build of each release, newest first)
# and the Microsoft Lifecycle pages: Exchange 2010 ended 2020-10-13, 2013 ended 2023-04-11, 2016 and 2019 ended
# 2025-10-14; Exchange Server SE follows the Modern Lifecycle Policy (supported while kept on a current CU).


@dataclass(frozen=True)
class Release:
    first: tuple[int, int, int]
    name: str
    support_ends: date | None  # None: Modern Lifecycle (no fixed end)


_ENDS = {"2010": date(2020, 10, 13), "2013": date(2023, 4, 11), "2016": date(2025, 10, 14),
         "2019": date(2025, 10, 14)}
BUILD_NAMES: list[Release] = [
    Release((15, 2, 2562), "Exchange Server SE RTM", None),
    *(Release((15, 2, b), f"Exchange 2019 {cu}", _ENDS["2019"]) for b, cu in (
        (1748, "CU15"), (1544, "CU14"), (1258, "CU13"), (1118, "CU12"), (986, "CU11"), (922, "CU10"), (858, "CU9"),
        (792, "CU8"), (721, "CU7"), (659, "CU6"), (595, "CU5"), (529, "CU4"), (464, "CU3"), (397, "CU2"),
        (330, "CU1"), (221, "RTM"))),
    *(Release((15, 1, b), f"Exchange 2016 {cu}", _ENDS["2016"]) for b, cu in (
        (2507, "CU23"), (2375, "CU22"), (2308, "CU21"), (2242, "CU20"), (2176, "CU19"), (2106, "CU18"),
        (2044, "CU17"), (1979, "CU16"), (1913, "CU15"), (1847, "CU14"), (1779, "CU13"), (1713, "CU12"),
        (1591, "CU11"), (1531, "CU10"), (1466, "CU9"), (1415, "CU8"), (1261, "CU7"), (1034, "CU6"), (845, "CU5"),
        (669, "CU4"), (544, "CU3"), (466, "CU2"), (396, "CU1"), (225, "RTM"))),
    Release((15, 0, 1497), "Exchange 2013 CU23", _ENDS["2013"]),
    Release((15, 0, 0), "Exchange 2013", _ENDS["2013"]),
    Release((14, 3, 0), "Exchange 2010 SP3", _ENDS["2010"]),
    Release((14, 0, 0), "Exchange 2010", _ENDS["2010"]),
]


@dataclass(frozen=True)
class BuildInfo:
    build: str
    name: str | None  # None: older than Exchange 2010, or not a build Sundial knows
    supported: bool | None  # None: unknown

    @property
    def sentence(self) -> str:
        if self.name is None:
            return f"Sundial does not recognise Exchange build {self.build}."
        if self.supported:
            return f"{self.name} (build {self.build}) is supported by Microsoft while it is kept on a current update."
        return (f"{self.name} (build {self.build}) is no longer supported by Microsoft; plan the upgrade to "
                "Exchange Server SE.")


def describe_build(build: str | None, today: date) -> BuildInfo | None:
    """"15.2.2562.17" → Exchange Server SE RTM, supported; None when no build was reported."""
    try:
        parts = [int(p) for p in (build or "").split(".")[:3]]
    except ValueError:
        return None
    if len(parts) < 2:
        return None
    key = tuple(parts + [0] * (3 - len(parts)))
    release = next((r for r in BUILD_NAMES if key >= r.first), None)
    if release is None:
        return BuildInfo(build, None, None)
    return BuildInfo(build, release.name, release.support_ends is None or today <= release.support_ends)


def label_for_build(build: str | None) -> str | None:
    """"15.0.1497.2" → "2013_SP1"; None when unknown (the settings label to suggest, from BUILDS)."""
    try:
        parts = [int(p) for p in str(build or "").split(".")[:3]]
    except ValueError:
        return None
    if len(parts) < 2:
        return None
    return label_for_server(ServerVersion(*(parts + [0] * (3 - len(parts)))))
