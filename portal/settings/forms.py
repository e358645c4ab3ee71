from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField
from wtforms.validators import NumberRange, Optional


class NotificationSwitchForm(FlaskForm):
    enabled = BooleanField("Send general notifications")
    # P10, clients only: 0 turns reminders off.
    reminder_hours = IntegerField("Reminder, hours before the appointment", validators=[
        Optional(), NumberRange(min=0, max=336, message="Enter a number of hours from 0 (no reminders) to 336.")])
