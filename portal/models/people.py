"""Users, staff members, locations, services and clients."""
from __future__ import annotations

import hmac
import secrets

from flask_login import UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from .base import UTCDateTime, utcnow


def new_session_token() -> str:
    return secrets.token_urlsafe(24)


staff_locations = db.Table(
    "staff_locations",
    db.Column("staff_id", db.ForeignKey("staff_members.id", ondelete="CASCADE"), primary_key=True),
    db.Column("location_id", db.ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True),
)


class User(UserMixin, db.Model):
    __tablename__ = "users"
    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(254), unique=True, nullable=False)
    name = db.Column(db.String(120), nullable=False, default="")
    password_hash = db.Column(db.String(256), nullable=False)
    role = db.Column(db.String(10), nullable=False, default="staff")  # "admin" | "staff"
    staff_id = db.Column(db.ForeignKey("staff_members.id"), nullable=True)
    is_enabled = db.Column(db.Boolean, nullable=False, default=True)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    # R1: part of every session and remember-me cookie; replacing it revokes them all on the server.
    session_token = db.Column(db.String(64), nullable=False, default=new_session_token, server_default="")
    # P9 display preferences: a zone (NULL = their own, or the location's) and the clock ("24" or "12").
    timezone = db.Column(db.String(64), nullable=True)
    clock = db.Column(db.String(2), nullable=False, default="24", server_default="24")

    staff = db.relationship("StaffMember", foreign_keys=[staff_id])

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.is_enabled

    def get_id(self) -> str:  # Flask-Login stores this in the session and the remember-me cookie
        if not self.session_token:
            self.revoke_sessions()
        return f"{self.id}:{self.session_token}"

    def token_matches(self, token: str) -> bool:
        return bool(self.session_token) and hmac.compare_digest(self.session_token, token)

    def revoke_sessions(self) -> None:
        """R1: every cookie issued so far stops working on its next request."""
        self.session_token = new_session_token()

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)
        self.revoke_sessions()

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


class Location(db.Model):
    __tablename__ = "locations"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(120), nullable=False)
    address = db.Column(db.String(300), nullable=False, default="")
    timezone = db.Column(db.String(64), nullable=False, default="UTC")

    def __repr__(self) -> str:
        return f"<Location {self.name}>"


class StaffMember(db.Model):
    __tablename__ = "staff_members"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(120), nullable=False)
    email = db.Column(db.String(254), unique=True, nullable=False)
    timezone = db.Column(db.String(64), nullable=False, default="UTC")  # IANA name
    takes_appointments = db.Column(db.Boolean, nullable=False, default=True)
    primary_location_id = db.Column(db.ForeignKey("locations.id"), nullable=True)
    # P2: JSON list of seven "HH:MM-HH:MM" spans (Monday first, "" = day off) in the staff member's own
    # zone; NULL = the default, 09:00-17:00 on weekdays (portal.booking.slots reads and writes it).
    working_hours = db.Column(db.Text, nullable=True)
    updated_at = db.Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    primary_location = db.relationship("Location", foreign_keys=[primary_location_id])
    locations = db.relationship("Location", secondary=staff_locations, lazy="selectin")

    def __repr__(self) -> str:
        return f"<StaffMember {self.email}>"


class Service(db.Model):
    __tablename__ = "services"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(120), nullable=False)
    duration_minutes = db.Column(db.Integer, nullable=False, default=30)


class Client(db.Model):
    __tablename__ = "clients"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(120), nullable=False)
    email = db.Column(db.String(254), nullable=True)
    phone = db.Column(db.String(40), nullable=True)
