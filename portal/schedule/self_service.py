"""Who may book for whom (A1, P7): admins for everyone; staff for themselves when the organisation allows it."""
from __future__ import annotations

from flask_login import current_user

from ..extensions import db
from ..models import OrganisationSetting, StaffMember


def staff_self_service() -> bool:
    """P7: the organisation setting (off by default)."""
    return OrganisationSetting.get_bool("staff_self_service", False)


def can_book(member: StaffMember | None) -> bool:
    if not current_user.is_authenticated:
        return False
    if current_user.is_admin:
        return True
    return member is not None and member.id == current_user.staff_id and staff_self_service()


def set_staff_self_service(on: bool) -> None:
    OrganisationSetting.put("staff_self_service", "1" if on else "0")
    db.session.flush()
