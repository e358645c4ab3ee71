"""Exchange server versions the simulator can pretend to be.

Build numbers and ServerVersionInfo ``Version`` strings: Exchange 2016 CU 15.1.2176.12 "V2017_07_11" is the
response quoted in https://github.com/ecederstrand/exchangelib/issues/901 (../shared/EWS-FACTS.md section 9);
Exchange 2013 answers with "V2_x" strings (samples V2_4 .. V2_11 in ../shared/ews-samples); Exchange 2010
answers with its schema name (Exchange2010_SP1 header in ExportItems-error-ErrorNonExistentMailbox-batch.xml).
"""
from __future__ import annotations

from dataclasses import dataclass

# RequestServerVersion values in the order Exchange introduced them (types.xsd ExchangeVersionType).
REQUEST_VERSIONS = (
    "Exchange2007", "Exchange2007_SP1", "Exchange2009", "Exchange2010", "Exchange2010_SP1",
    "Exchange2010_SP2", "Exchange2012", "Exchange2013", "Exchange2013_SP1", "Exchange2015",
    "Exchange2016", "V2015_10_05", "V2016_01_06", "V2016_04_13", "V2016_07_13", "V2016_10_10",
    "V2017_01_07", "V2017_04_14", "V2017_07_11", "V2017_10_09", "V2018_01_08",
)
RANK = {name: i for i, name in enumerate(REQUEST_VERSIONS)}


@dataclass(frozen=True)
class ServerVersion:
    key: str
    name: str
    major: int
    minor: int
    build: int
    revision: int
    header_version: str  # ServerVersionInfo@Version
    newest_request: str  # newest RequestServerVersion the server accepts

    @property
    def build_string(self) -> str:
        return f"{self.major}.{self.minor}.{self.build}.{self.revision}"

    def accepts(self, requested: str) -> bool:
        return requested in RANK and RANK[requested] <= RANK[self.newest_request]


_TABLE = [
    ServerVersion("2010", "Exchange 2010", 14, 0, 639, 21, "Exchange2010", "Exchange2010"),
    ServerVersion("2010_SP1", "Exchange 2010 SP1", 14, 1, 218, 15, "Exchange2010_SP1", "Exchange2010_SP1"),
    ServerVersion("2010_SP2", "Exchange 2010 SP2", 14, 2, 247, 5, "Exchange2010_SP2", "Exchange2010_SP2"),
    ServerVersion("2010_SP3", "Exchange 2010 SP3", 14, 3, 123, 4, "Exchange2010_SP2", "Exchange2010_SP2"),
    ServerVersion("2013", "Exchange 2013", 15, 0, 775, 7, "V2_4", "Exchange2013"),
    ServerVersion("2013_SP1", "Exchange 2013 SP1", 15, 0, 939, 16, "V2_11", "Exchange2013_SP1"),
    ServerVersion("2016", "Exchange 2016", 15, 1, 2176, 12, "V2017_07_11", "V2017_07_11"),
    ServerVersion("2019", "Exchange 2019", 15, 2, 1118, 7, "V2017_07_11", "V2018_01_08"),
    # Exchange Server SE RTM, 15.2.2562.17 (MSDOC exchange/new-features/build-numbers-and-release-dates): the
    # Exchange 2019 CU15 code base renamed, same schema and ServerVersionInfo Version string.
    ServerVersion("SE", "Exchange Server SE", 15, 2, 2562, 17, "V2017_07_11", "V2018_01_08"),
]
VERSIONS = {v.key: v for v in _TABLE}

# Request elements a server's own schema lacks: GetStreamingEvents "was introduced in Microsoft Exchange
# Server 2010 Service Pack 1 (SP1)" (Exchange 2010 EWS reference, learn.microsoft.com ff406184(v=exchg.140)).
NEWER_ELEMENTS = {  # (parent element, child element or None for the operation itself) -> first server build
    ("Subscribe", "StreamingSubscriptionRequest"): (14, 1),
    ("GetStreamingEvents", None): (14, 1),
}


def unknown_element(version: ServerVersion, operation: str, child: str | None) -> bool:
    first = NEWER_ELEMENTS.get((operation, child))
    return first is not None and (version.major, version.minor) < first


def get_version(key: str) -> ServerVersion:
    key = str(key).replace(" ", "_").upper().replace("EXCHANGE", "").replace("SERVER_", "").strip("_")
    try:
        return VERSIONS[key]
    except KeyError:
        raise ValueError(f"unknown Exchange version {key!r}; choose one of {', '.join(VERSIONS)}") from None
