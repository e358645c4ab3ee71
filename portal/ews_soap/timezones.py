"""IANA ↔ Windows time-zone ids for StartTimeZone/EndTimeZone/TimeZoneContext (EWS-FACTS §10).

Source: Unicode CLDR `common/supplemental/windowsZones.xml`, the territory="001" (golden zone) rows for the
zones Sundial's customers use; the reverse map is derived. EWS wants the Windows id ("W. Europe Standard Time").
Unknown zones return None: times are then sent in UTC (always correct for the instant; only all-day snapping
and the zone shown to attendees fall back to UTC).
"""

from __future__ import annotations

IANA_TO_WINDOWS: dict[str, str] = {
    "UTC": "UTC",
    "Etc/UTC": "UTC",
    "Europe/London": "GMT Standard Time",
    "Europe/Dublin": "GMT Standard Time",
    "Europe/Lisbon": "GMT Standard Time",
    "Europe/Berlin": "W. Europe Standard Time",
    "Europe/Amsterdam": "W. Europe Standard Time",
    "Europe/Zurich": "W. Europe Standard Time",
    "Europe/Vienna": "W. Europe Standard Time",
    "Europe/Rome": "W. Europe Standard Time",
    "Europe/Stockholm": "W. Europe Standard Time",
    "Europe/Oslo": "W. Europe Standard Time",
    "Europe/Paris": "Romance Standard Time",
    "Europe/Brussels": "Romance Standard Time",
    "Europe/Madrid": "Romance Standard Time",
    "Europe/Copenhagen": "Romance Standard Time",
    "Europe/Warsaw": "Central European Standard Time",
    "Europe/Prague": "Central Europe Standard Time",
    "Europe/Budapest": "Central Europe Standard Time",
    "Europe/Athens": "GTB Standard Time",
    "Europe/Bucharest": "GTB Standard Time",
    "Europe/Helsinki": "FLE Standard Time",
    "Europe/Kiev": "FLE Standard Time",
    "Europe/Kyiv": "FLE Standard Time",
    "Europe/Istanbul": "Turkey Standard Time",
    "Europe/Moscow": "Russian Standard Time",
    "Africa/Johannesburg": "South Africa Standard Time",
    "Africa/Lagos": "W. Central Africa Standard Time",
    "Africa/Cairo": "Egypt Standard Time",
    "Africa/Nairobi": "E. Africa Standard Time",
    "Asia/Dubai": "Arabian Standard Time",
    "Asia/Jerusalem": "Israel Standard Time",
    "Asia/Kolkata": "India Standard Time",
    "Asia/Calcutta": "India Standard Time",
    "Asia/Singapore": "Singapore Standard Time",
    "Asia/Hong_Kong": "China Standard Time",
    "Asia/Shanghai": "China Standard Time",
    "Asia/Tokyo": "Tokyo Standard Time",
    "Asia/Seoul": "Korea Standard Time",
    "Australia/Sydney": "AUS Eastern Standard Time",
    "Australia/Melbourne": "AUS Eastern Standard Time",
    "Australia/Brisbane": "E. Australia Standard Time",
    "Australia/Perth": "W. Australia Standard Time",
    "Australia/Adelaide": "Cen. Australia Standard Time",
    "Pacific/Auckland": "New Zealand Standard Time",
    "Pacific/Honolulu": "Hawaiian Standard Time",
    "America/Anchorage": "Alaskan Standard Time",
    "America/Los_Angeles": "Pacific Standard Time",
    "America/Vancouver": "Pacific Standard Time",
    "America/Phoenix": "US Mountain Standard Time",
    "America/Denver": "Mountain Standard Time",
    "America/Edmonton": "Mountain Standard Time",
    "America/Chicago": "Central Standard Time",
    "America/Winnipeg": "Central Standard Time",
    "America/Mexico_City": "Central Standard Time (Mexico)",
    "America/New_York": "Eastern Standard Time",
    "America/Toronto": "Eastern Standard Time",
    "America/Detroit": "Eastern Standard Time",
    "America/Halifax": "Atlantic Standard Time",
    "America/St_Johns": "Newfoundland Standard Time",
    "America/Sao_Paulo": "E. South America Standard Time",
    "America/Argentina/Buenos_Aires": "Argentina Standard Time",
    "America/Bogota": "SA Pacific Standard Time",
    "America/Puerto_Rico": "SA Western Standard Time",
}


def windows_zone(iana: str | None) -> str | None:
    """Windows time-zone id for an IANA name, or None when unknown."""
    return IANA_TO_WINDOWS.get(iana) if iana else None



# The reverse map: the first IANA name listed for each Windows id (its golden zone).
WINDOWS_TO_IANA: dict[str, str] = {}
for _iana, _win in IANA_TO_WINDOWS.items():
    WINDOWS_TO_IANA.setdefault(_win, _iana)


def iana_zone(windows: str | None) -> str | None:
    """IANA name for a Windows time-zone id (a series' StartTimeZone, U6), or None when unknown."""
    return WINDOWS_TO_IANA.get(windows) if windows else None
