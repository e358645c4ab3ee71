"""The booking form's staff and client pickers at 1,000 staff and clients (issue 15).

The form never lists everyone: it shows what is chosen, then the first PICKER_SHOWN matches of a search (by
name, and email for clients and staff), with a sentence saying how many there are. The search works without
JavaScript (a "Find" submit button re-renders the form with everything typed so far, no booking is made) and,
with booking-form.js, as you type through `GET /appointments/choices` (JSON). A POST validates against the
submitted ids themselves, so a choice found by a search is a valid choice. A fixed number of queries either way.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import jsonify, request
from sqlalchemy import func

from ..extensions import db
from ..models import Client, StaffMember
from . import bp
from .day import like_pattern
from .records import client_search
from .self_service import self_service, staff_choices_for_user

PICKER_SHOWN = 30


@dataclass
class Picker:
    choices: list[tuple[int, str]] = field(default_factory=list)  # chosen first, then the other matches
    total: int = 0  # matches of the search (everyone when there is no search)
    shown: int = 0  # matches on the list (chosen or not)
    q: str = ""
    others: int = 0  # the last `others` choices are the matches not chosen

    @property
    def sentence(self) -> str:
        return picker_sentence(self.total, self.shown, self.q)


def picker_sentence(total: int, shown: int, q: str) -> str:
    if total == 0:
        return f"Nobody matches “{q}”." if q else "Nobody to choose yet."
    if shown < total:
        return (f"Showing {shown} of {total:,} matches for “{q}”: type more to narrow." if q else
                f"Showing {shown} of {total:,}: type a name to find others.")
    return f"{total:,} match{'es' if total == 1 else ''} “{q}”." if q else ""


def search_text(raw: str | None) -> str:
    return " ".join((raw or "").split())[:100]


def _staff_filter(q: str):
    like = like_pattern(q)
    return func.lower(StaffMember.name).like(like, escape="\\") | func.lower(StaffMember.email).like(like, escape="\\")


def staff_picker(q: str, chosen: list[int], current: set[int] | None = None, limit: int = PICKER_SHOWN) -> Picker:
    """Who may be booked: staff who take appointments (and whoever is already on the appointment being edited)."""
    own = staff_choices_for_user()
    if own is not None:  # self-service: only themselves
        return Picker([(s.id, s.name) for s in own], len(own), len(own), "", len(own))
    ex, current = db.session.execute, current or set()
    kept = []
    if chosen:
        kept = ex(db.select(StaffMember.id, StaffMember.name)
                  .where(StaffMember.id.in_(chosen),
                         StaffMember.takes_appointments.is_(True) | StaffMember.id.in_(current or [0]))).all()
        order = {i: n for n, i in enumerate(chosen)}
        kept.sort(key=lambda r: order[r[0]])
    if not limit:  # a POST being validated: the chosen ones are the choices
        return Picker([(i, n) for i, n in kept], 0, 0, q, 0)
    cond = [StaffMember.takes_appointments.is_(True)] + ([_staff_filter(q)] if q else [])
    total = ex(db.select(func.count(StaffMember.id)).where(*cond)).scalar_one()
    matches = ex(db.select(StaffMember.id, StaffMember.name).where(*cond)
                 .order_by(StaffMember.name, StaffMember.id).limit(limit)).all()
    return _picker([(i, n) for i, n in kept], [(i, n) for i, n in matches], total, q)


def _picker(kept: list[tuple[int, str]], matches: list[tuple[int, str]], total: int, q: str) -> Picker:
    skip = {i for i, _ in kept}
    others = [(i, label) for i, label in matches if i not in skip]
    return Picker(kept + others, total, len(matches), q, len(others))


def client_label(name: str, email: str | None) -> str:
    return f"{name} · {email}" if email else name


def client_picker(q: str, chosen: list[int], limit: int = PICKER_SHOWN) -> Picker:
    ex = db.session.execute
    kept = []
    if chosen:
        kept = ex(db.select(Client.id, Client.name, Client.email).where(Client.id.in_(chosen))).all()
        order = {i: n for n, i in enumerate(chosen)}
        kept.sort(key=lambda r: order[r[0]])
    if not limit:
        return Picker([(i, client_label(n, e)) for i, n, e in kept], 0, 0, q, 0)
    cond = [client_search(q)] if q else []
    total = ex(db.select(func.count(Client.id)).where(*cond)).scalar_one()
    matches = ex(db.select(Client.id, Client.name, Client.email).where(*cond)
                 .order_by(Client.name, Client.id).limit(limit)).all()
    return _picker([(i, client_label(n, e)) for i, n, e in kept], [(i, client_label(n, e)) for i, n, e in matches],
                   total, q)


@bp.route("/appointments/choices")
@self_service
def picker_choices():
    """JSON for the pickers' search as you type: ?kind=staff|clients&q=…&chosen=<id>… → the first matches
    (not the chosen ones, which the form keeps) and the sentence."""
    kind = request.args.get("kind", "staff")
    q = search_text(request.args.get("q"))
    chosen = [int(i) for i in request.args.getlist("chosen") if i.isdigit()][:200]
    if kind == "staff":
        p = staff_picker(q, chosen)
    elif kind == "clients":
        p = client_picker(q, chosen)
    else:
        return jsonify(error="kind must be staff or clients"), 400
    items = p.choices[len(p.choices) - p.others:] if p.others else []
    return jsonify(items=[{"id": i, "label": label} for i, label in items], total=p.total, sentence=p.sentence)
