from flask_wtf import FlaskForm
from wtforms import BooleanField


class NotificationSwitchForm(FlaskForm):
    enabled = BooleanField("Send general notifications")
