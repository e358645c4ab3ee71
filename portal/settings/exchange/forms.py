"""Forms of the Microsoft Exchange settings (SPEC S2–S5, I3).

The password field is write-only: it is never given a value when rendered, and leaving it blank
keeps the stored password (S5). CSRF is on for every form (S1).
"""
from __future__ import annotations

from urllib.parse import urlsplit

from cryptography import x509
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp, ValidationError

from ...auth.forms import EMAIL_SHAPE
from ...ews_soap.probe import VERSIONS
from . import messages

# Labels of portal.ews_soap's versions table (its one copy); 2019 and SE are sent as Exchange2016 (S3).
VERSION_CHOICES = [(label, name) for label, (_header, name) in VERSIONS.items()]
VERSION_NAMES = dict(VERSION_CHOICES)

AUTH_CHOICES = [
    ("auto", "Basic or NTLM (whichever the server offers)"),
    ("ntlm", "NTLM only"),
    ("negotiate", "Negotiate (Kerberos, falling back to NTLM)"),
    ("basic", "Basic only (over https)"),
]

UPN_SHAPE = Regexp(EMAIL_SHAPE.regex.pattern, message="Enter the service account's user name as user@domain.")
MAX_CA_BYTES = 256 * 1024


def load_ca_pem(data: bytes) -> str:
    """Validate an uploaded CA bundle: PEM, at least one X.509 certificate. Returns the PEM text."""
    if len(data) > MAX_CA_BYTES:
        raise ValidationError("The certificate file is too large; upload only your CA certificate (PEM).")
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ValidationError(
            "This file is not a PEM certificate; export your CA certificate as Base-64 (PEM, starts with "
            "-----BEGIN CERTIFICATE-----) and upload it again.") from None
    if not certs:
        raise ValidationError("The file holds no certificate.")
    return data.decode("ascii", errors="strict")


def _choices(pairs):
    return [SelectChoice(value, label) for value, label in pairs]


class ConfigurationForm(FlaskForm):
    auth_type = RadioField("Authentication", choices=_choices(AUTH_CHOICES), default="auto")
    username = StringField("Service account user name", validators=[DataRequired(
        message="Enter the service account's user name as user@domain."), Length(max=254), UPN_SHAPE],
        description="The account's user principal name (UPN), e.g. svc-sundial@bank.example.")
    password = PasswordField("Password", validators=[Optional(), Length(max=256)])
    kerberos_realm = StringField("Kerberos realm (optional)", validators=[Optional(), Length(max=255), Regexp(
        r"^[A-Za-z0-9.-]+(@[A-Za-z0-9.:\[\]-]+)?$", message="Enter the realm, e.g. BANK.EXAMPLE, optionally with "
        "its KDC: BANK.EXAMPLE@dc1.bank.example:88.")],
        description="Only for Negotiate. Blank: the user name's domain in capitals, its KDC found through DNS.")
    version = SelectField("Exchange version", choices=_choices(VERSION_CHOICES), default="2016")
    server_url = StringField("Exchange server address (EWS URL)", validators=[DataRequired(
        message="Enter the Exchange server address, e.g. https://mail.bank.example/EWS/Exchange.asmx."),
        Length(max=500)])
    server_url_source = HiddenField(default="manual")
    allow_http = BooleanField("Allow plain http (lab servers only)")
    display_name = StringField("Display name", default="Microsoft Exchange", validators=[DataRequired(
        message="Enter a display name; it titles the Exchange column of the User Accounts tab."),
        Length(max=120)])
    impersonation = BooleanField("The service account is configured for impersonation", default=True)
    show_titles = BooleanField("Display Microsoft Exchange event titles in Sundial")
    block_busy = BooleanField("Busy", default=True)
    block_oof = BooleanField("Out of office", default=True)
    block_tentative = BooleanField("Tentative", default=True)
    ca_cert = FileField("Internal CA certificate (optional, PEM)")
    remove_ca_cert = BooleanField("Remove the stored CA certificate")
    sync_interval_minutes = IntegerField("Safety-net sync every (minutes)", default=5, validators=[
        DataRequired(message="Enter how often every mailbox is re-checked, in minutes."),
        NumberRange(min=1, max=1440, message="Choose between 1 and 1440 minutes.")])
    # S10: the one way to send a password Exchange already rejected (the account was unlocked meanwhile)
    resend_password = BooleanField("An administrator has unlocked the account and this password is right: send "
                                   "it once more")
    use_version = HiddenField()  # set by the one-click "choose the server's version" button

    ca_pem: str | None = None  # the validated upload, when one was given

    def validate_server_url(self, field):
        value = (field.data or "").strip()
        field.data = value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError("Enter a full address starting with https://, e.g. https://mail.bank.example/EWS/Exchange.asmx.")
        if parts.scheme == "http" and not self.allow_http.data:
            raise ValidationError(messages.PLAIN_HTTP_SENTENCE)

    def validate_server_url_source(self, field):
        if field.data not in ("autodiscover", "guessed", "manual"):
            field.data = "manual"

    def validate_kerberos_realm(self, field):
        field.data = (field.data or "").strip() or None

    def validate_username(self, field):
        field.data = (field.data or "").strip()

    def validate_ca_cert(self, field):
        upload = field.data
        if not upload or not getattr(upload, "filename", ""):
            return
        self.ca_pem = load_ca_pem(upload.read())

    def validate_use_version(self, field):
        if field.data and field.data not in VERSION_NAMES:
            field.data = ""


class ActionForm(FlaskForm):
    """A CSRF-only form for the POST buttons (exclude, include, re-sync, confirm, disconnect)."""


class AutodiscoverForm(FlaskForm):
    """The as-you-type lookup takes the user name only: it never sends a password (S10)."""

    username = StringField(validators=[DataRequired(), Length(max=254), UPN_SHAPE])
