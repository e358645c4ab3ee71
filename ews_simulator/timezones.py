"""Windows time zone ids (what EWS uses in StartTimeZone/TimeZoneContext) <-> IANA zones.

Subset of CLDR's windowsZones.xml ("001" territory mappings); unknown ids fall back to UTC.
"""
from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

WINDOWS_TO_IANA = {
    "UTC": "UTC", "Coordinated Universal Time": "UTC", "GMT Standard Time": "Europe/London",
    "Greenwich Standard Time": "Atlantic/Reykjavik", "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris", "Central Europe Standard Time": "Europe/Budapest",
    "Central European Standard Time": "Europe/Warsaw", "E. Europe Standard Time": "Europe/Chisinau",
    "FLE Standard Time": "Europe/Kiev", "GTB Standard Time": "Europe/Bucharest",
    "Russian Standard Time": "Europe/Moscow", "Turkey Standard Time": "Europe/Istanbul",
    "Israel Standard Time": "Asia/Jerusalem", "South Africa Standard Time": "Africa/Johannesburg",
    "Egypt Standard Time": "Africa/Cairo", "Arabian Standard Time": "Asia/Dubai",
    "India Standard Time": "Asia/Calcutta", "China Standard Time": "Asia/Shanghai",
    "Singapore Standard Time": "Asia/Singapore", "Tokyo Standard Time": "Asia/Tokyo",
    "Korea Standard Time": "Asia/Seoul", "AUS Eastern Standard Time": "Australia/Sydney",
    "E. Australia Standard Time": "Australia/Brisbane", "Cen. Australia Standard Time": "Australia/Adelaide",
    "W. Australia Standard Time": "Australia/Perth", "New Zealand Standard Time": "Pacific/Auckland",
    "Eastern Standard Time": "America/New_York", "Central Standard Time": "America/Chicago",
    "Mountain Standard Time": "America/Denver", "US Mountain Standard Time": "America/Phoenix",
    "Pacific Standard Time": "America/Los_Angeles", "Alaskan Standard Time": "America/Anchorage",
    "Hawaiian Standard Time": "Pacific/Honolulu", "Atlantic Standard Time": "America/Halifax",
    "Newfoundland Standard Time": "America/St_Johns", "Canada Central Standard Time": "America/Regina",
    "SA Pacific Standard Time": "America/Bogota", "E. South America Standard Time": "America/Sao_Paulo",
    "Argentina Standard Time": "America/Buenos_Aires", "Pacific SA Standard Time": "America/Santiago",
    "Central Standard Time (Mexico)": "America/Mexico_City", "Morocco Standard Time": "Africa/Casablanca",
    "W. Central Africa Standard Time": "Africa/Lagos", "E. Africa Standard Time": "Africa/Nairobi",
    "Pakistan Standard Time": "Asia/Karachi", "SE Asia Standard Time": "Asia/Bangkok",
    "Taipei Standard Time": "Asia/Taipei", "Iran Standard Time": "Asia/Tehran",
}
IANA_TO_WINDOWS = {v: k for k, v in reversed(list(WINDOWS_TO_IANA.items()))}
IANA_TO_WINDOWS.update({"Europe/Amsterdam": "W. Europe Standard Time", "Europe/Vienna": "W. Europe Standard Time",
                        "Europe/Rome": "W. Europe Standard Time", "Europe/Madrid": "Romance Standard Time",
                        "Europe/Brussels": "Romance Standard Time", "Europe/Dublin": "GMT Standard Time",
                        "Europe/Lisbon": "GMT Standard Time", "Europe/Helsinki": "FLE Standard Time",
                        "Europe/Kyiv": "FLE Standard Time", "Etc/UTC": "UTC", "Asia/Kolkata": "India Standard Time",
                        "America/Toronto": "Eastern Standard Time", "America/Vancouver": "Pacific Standard Time"})


def _full_tables():
    """exchangelib (a dev dependency) carries the whole CLDR table; use it when it is installed."""
    try:
        from exchangelib.winzone import IANA_TO_MS_TIMEZONE_MAP, MS_TIMEZONE_TO_IANA_MAP  # noqa: PLC0415
    except ImportError:
        return {}, {}
    return dict(MS_TIMEZONE_TO_IANA_MAP), {k: v[0] for k, v in IANA_TO_MS_TIMEZONE_MAP.items()}


_MORE_W2I, _MORE_I2W = None, None


def _lookup(table: dict, extra_index: int, key: str):
    global _MORE_W2I, _MORE_I2W
    if key in table:
        return table[key]
    if _MORE_W2I is None:
        _MORE_W2I, _MORE_I2W = _full_tables()
    return (_MORE_W2I, _MORE_I2W)[extra_index].get(key)


def zone(windows_id: str | None) -> ZoneInfo:
    name = _lookup(WINDOWS_TO_IANA, 0, windows_id or "UTC") or "UTC"
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def windows_id(iana: str | None) -> str:
    if not iana:
        return "UTC"
    if iana in WINDOWS_TO_IANA:  # already a Windows id
        return iana
    return _lookup(IANA_TO_WINDOWS, 1, iana) or "UTC"


def utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC)


def fmt(dt: datetime) -> str:
    """EWS dateTime in UTC with a Z, as Exchange sends them (EWS-FACTS section 10)."""
    return utc(dt).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_dt(value: str, context_zone: str | None = None) -> datetime:
    """Offset-less values are read in the TimeZoneContext zone, else UTC (EWS-FACTS section 10)."""
    value = value.strip()
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone(context_zone))
    return utc(dt)
