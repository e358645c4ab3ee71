"""Booking, staff, client, service and location forms. Choices are filled by the views from the database."""
from __future__ import annotations

from zoneinfo import available_timezones

from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget, Select, html_params

from ..auth.forms import EMAIL_SHAPE
from ..booking.slots import WEEKDAYS, HoursError, parse_span
from ..validators import no_control_chars, plausible_date

US_ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
            "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu"]


def zone_choices() -> list[tuple[str, str]]:
    rest = sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))
    return [(z, z) for z in US_ZONES] + [(z, z) for z in rest if z not in US_ZONES] + [("UTC", "UTC")]


class CheckboxListField(SelectMultipleField):
    """Several choices as a list of checkboxes (easier than Ctrl-click in a multi-select)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ManyOptionsSelect(Select):
    """A select rendered in one pass: WTForms' option-by-option rendering took 35 ms for 1,000 services (the
    booking form at 1,000 staff). Same markup for plain (value, label) choices."""

    def __call__(self, field, **kwargs):
        kwargs.setdefault("id", field.id)
        flags = getattr(field, "flags", {})
        for k in self.validation_attrs:
            if getattr(flags, k, False) and k not in kwargs:
                kwargs[k] = True
        chosen = field.data
        options = "".join(
            f'<option {"selected " if field.coerce(value) == chosen else ""}value="{escape(value)}">'
            f"{escape(label)}</option>" for value, label in field.choices)
        return Markup(f"<select {html_params(name=field.name, **kwargs)}>{options}</select>")


class AppointmentForm(FlaskForm):
    service = SelectField("Service", coerce=int, validators=[InputRequired()], widget=ManyOptionsSelect())
    location = SelectField("Location", coerce=int, validators=[InputRequired()])
    date = DateField("Date", validators=[DataRequired(), plausible_date])
    # P9: 24-hour by default; "2:30 PM" is accepted too (the first format is the one shown, set per viewer).
    time = TimeField("Start time", validators=[DataRequired()], format=["%H:%M", "%I:%M %p", "%I:%M%p"])
    duration = IntegerField("Length (minutes)", validators=[Optional(), NumberRange(min=5, max=24 * 60)])
    staff = CheckboxListField("Staff", coerce=int, validators=[DataRequired("Choose at least one staff member.")])
    clients = CheckboxListField("Clients", coerce=int)
    # A walk-in: a new client created in the booking's own transaction (name given → created).
    # no Optional(): it would skip the check below
    new_client_name = StringField("Name", validators=[Length(max=120), no_control_chars])
    new_client_email = EmailField("Email", validators=[Optional(), Length(max=254), EMAIL_SHAPE])
    new_client_phone = StringField("Phone", validators=[Optional(), Length(max=40), no_control_chars])
    notes = TextAreaField("Internal notes", validators=[Length(max=5000)])

    def validate_clients(self, field):
        if not field.data and not (self.new_client_name.data or "").strip():
            raise ValidationError("Choose at least one client, or enter a new client's name.")

    def validate_new_client_name(self, field):
        if not (field.data or "").strip() and ((self.new_client_email.data or "").strip()
                                               or (self.new_client_phone.data or "").strip()):
            raise ValidationError("Enter the new client's name (or clear their email and phone).")


class StaffForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120), no_control_chars])
    email = EmailField("Email (the Exchange mailbox's primary address)",
                       validators=[DataRequired(), Length(max=254), EMAIL_SHAPE])
    timezone = SelectField("Time zone", validators=[DataRequired()])
    takes_appointments = BooleanField("Takes appointments")
    locations = CheckboxListField("Locations", coerce=int, validators=[DataRequired("Choose at least one location.")])
    primary_location = SelectField("Primary location", coerce=int, validators=[InputRequired()])
    login_password = PasswordField("Sundial login password", validators=[
        Optional(), Length(min=10, message="Use at least 10 characters.")])

    def validate_primary_location(self, field):
        if self.locations.data and field.data not in self.locations.data:
            self.locations.data = list(self.locations.data) + [field.data]


def _hours_check(form, field):
    """P2: '09:00-17:00' or empty (day off); the slot finder's parser gives the sentence."""
    try:
        parse_span(field.data or "", field.label.text)
    except HoursError as exc:
        raise ValidationError(str(exc)) from None


for _i, _day in enumerate(WEEKDAYS):  # hours_0 (Monday) … hours_6 (Sunday), wall clock in their zone
    setattr(StaffForm, f"hours_{_i}", StringField(_day, validators=[Length(max=20), _hours_check]))


class PreferencesForm(FlaskForm):
    timezone = SelectField("Show times in", validators=[Optional()])
    clock = SelectField("Clock", choices=[("24", "24-hour (14:30)"), ("12", "12-hour (2:30 PM)")])


class ClientForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120), no_control_chars])
    email = EmailField("Email", validators=[Optional(), Length(max=254), EMAIL_SHAPE])
    phone = StringField("Phone", validators=[Optional(), Length(max=40), no_control_chars])


class ServiceForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120), no_control_chars])
    duration_minutes = IntegerField("Length (minutes)", validators=[
        InputRequired("Enter the length in minutes."),
        NumberRange(min=5, max=24 * 60, message="Enter a length from 5 to 1440 minutes.")])


class LocationForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120), no_control_chars])
    address = StringField("Address", validators=[Optional(), Length(max=300), no_control_chars])
    timezone = SelectField("Time zone", validators=[DataRequired()])
