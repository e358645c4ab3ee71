"""R5: input checks shared by the forms: control characters in names, dates a calendar can show."""
from __future__ import annotations

import re
from datetime import date

from wtforms.validators import ValidationError

# C0 controls (CR, LF, TAB, NUL …), DEL and C1 controls: in a name they can break an e-mail subject line
# (header injection) or an Exchange subject, so they are refused where the person types them.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


def has_control_chars(value: str | None) -> bool:
    return bool(CONTROL.search(value or ""))


def no_control_chars(form, field) -> None:
    if has_control_chars(field.data):
        raise ValidationError("Use letters, digits and punctuation only: line breaks, tabs and other control "
                              "characters are not allowed here.")


def plausible_day(day: date | None) -> bool:
    return day is not None and FIRST_DAY <= day <= LAST_DAY


def plausible_date(form, field) -> None:
    if field.data is not None and not plausible_day(field.data):
        raise ValidationError(f"Choose a date between {FIRST_DAY.year} and {LAST_DAY.year}.")
