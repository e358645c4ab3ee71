"""Organisation-wide settings as key → value rows (P7 staff self-service, P10 reminder hours)."""
from __future__ import annotations

from ..extensions import db
from .base import UTCDateTime, utcnow


class OrganisationSetting(db.Model):
    __tablename__ = "organisation_settings"
    key = db.Column(db.String(40), primary_key=True)
    value = db.Column(db.String(200), nullable=False, default="")
    updated_at = db.Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    @classmethod
    def get_bool(cls, key: str, default: bool) -> bool:
        row = db.session.get(cls, key)
        return default if row is None else row.value == "1"

    @classmethod
    def get_int(cls, key: str, default: int) -> int:
        row = db.session.get(cls, key)
        try:
            return default if row is None else int(row.value)
        except ValueError:
            return default

    @classmethod
    def put(cls, key: str, value: str) -> None:
        row = db.session.get(cls, key)
        if row is None:
            db.session.add(cls(key=key, value=value))
        else:
            row.value = value
