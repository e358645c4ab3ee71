"""All tables. Import models from here."""
from .base import UTCDateTime, utcnow
from .exchange import (
    MAILBOX_STATES,
    AuditEvent,
    ExchangeIntegration,
    ExchangeLink,
    MailboxState,
    MailboxStatus,
    SyncActivity,
)
from .notifications import AUDIENCES, NotificationSetting, OutboxMessage
from .ops import AlertIncident
from .organisation import OrganisationSetting
from .people import Client, Location, Service, StaffMember, User, staff_locations
from .schedule import Appointment, AppointmentChange, ExternalAbsence, appointment_clients, appointment_staff

__all__ = [
    "UTCDateTime", "utcnow", "MAILBOX_STATES", "MailboxStatus", "AuditEvent", "ExchangeIntegration", "ExchangeLink",
    "MailboxState", "SyncActivity", "AUDIENCES", "NotificationSetting", "OutboxMessage", "OrganisationSetting",
    "Client",
    "Location", "Service", "StaffMember", "User", "staff_locations", "Appointment", "AppointmentChange",
    "ExternalAbsence", "appointment_clients", "appointment_staff", "AlertIncident",
]
