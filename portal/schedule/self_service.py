"""Who may book for whom (A1, P7): admins for everyone; staff for themselves when the organisation allows it.

`self_service` views are admin pages that staff may also use while the organisation setting is on (it is off
by default); the view itself then keeps a staff member to their own appointments (`own_only`). The access
test treats them as admin-only, which is what they are with the default setting.
"""
from __future__ import annotations

from functools import wraps

from flask import abort, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from ..extensions import db
from ..models import OrganisationSetting, StaffMember

KEY = "staff_self_service"
OFF = ("Only administrators book, reschedule and cancel here; your organisation has not turned on "
       "self-service for staff.")
NOT_YOURS = "Staff members book, reschedule and cancel only their own appointments."


def staff_self_service() -> bool:
    """P7: the organisation setting (off by default)."""
    return OrganisationSetting.get_bool(KEY, False)


def set_staff_self_service(on: bool) -> None:
    OrganisationSetting.put(KEY, "1" if on else "0")


def refuse(sentence: str):
    abort(make_response(render_template("schedule/forbidden.html", sentence=sentence), 403))


def self_service(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path))
        if not current_user.is_admin and (current_user.staff is None or not staff_self_service()):
            refuse(OFF)
        return view(*args, **kwargs)

    wrapper.access = "self_service"
    return wrapper


def own_only(staff_ids) -> None:
    """A staff user (self-service) may act only when they are the one and only staff member concerned."""
    if not current_user.is_admin and set(staff_ids or []) - {current_user.staff_id}:
        refuse(NOT_YOURS)


def can_book(member: StaffMember | None) -> bool:
    if not current_user.is_authenticated:
        return False
    if current_user.is_admin:
        return True
    return member is not None and member.id == current_user.staff_id and staff_self_service()


def staff_choices_for_user() -> list[StaffMember] | None:
    """The booking form's staff list for a staff user (just themselves); None for admins (everyone)."""
    if current_user.is_admin:
        return None
    return [db.session.get(StaffMember, current_user.staff_id)]
