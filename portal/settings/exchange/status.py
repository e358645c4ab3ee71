"""What the User Accounts tab shows per staff member (S8): state rows, counts, delays, "3 min ago"."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ...extensions import db
from ...models import MAILBOX_STATES, ExchangeLink, MailboxState, StaffMember, SyncActivity, utcnow
from .messages import STATE_BADGES

LIVE_STATES = frozenset({"initializing", "throttled"})  # the page polls while any row is in one of these


@dataclass
class Row:
    staff: StaffMember
    mailbox: MailboxState | None
    unconfirmed: int = 0  # G10: writes Exchange answered with success but did not apply

    @property
    def state(self) -> str:
        if self.mailbox is None:
            return "not_connected"
        if self.mailbox.excluded:
            return "excluded"
        return self.mailbox.state if self.mailbox.state in STATE_BADGES else "error"

    @property
    def badge(self) -> tuple[str, str]:
        return STATE_BADGES[self.state]

    @property
    def confirmed(self) -> bool:
        """An admin confirmed the emptied calendar and the sync has not applied it yet."""
        m = self.mailbox
        return bool(self.state == "needs_confirmation" and m.confirmed_empty_at and m.updated_at
                    and (m.updated_at - m.confirmed_empty_at).total_seconds() < 5)

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES or self.confirmed

    @property
    def progress_percent(self) -> int | None:
        m = self.mailbox
        if m is None or not m.progress_total:
            return None
        done = (m.progress_imported or 0) + (m.progress_exported or 0)
        return max(0, min(100, round(100 * done / m.progress_total)))


def rows(state: str | None = None, query: str | None = None) -> list[Row]:
    """Every staff member who takes appointments (and anyone excluded or still holding a state row)."""
    stmt = (db.select(StaffMember, MailboxState).outerjoin(MailboxState, MailboxState.staff_id == StaffMember.id)
            .where(StaffMember.takes_appointments.is_(True)).order_by(StaffMember.name, StaffMember.id))
    unconfirmed = unconfirmed_writes()
    result = [Row(staff, mailbox, unconfirmed.get(staff.id, 0)) for staff, mailbox in db.session.execute(stmt)]
    if query:
        q = query.strip().lower()
        result = [r for r in result if q in r.staff.name.lower() or q in r.staff.email.lower()]
    if state:
        result = [r for r in result if r.state == state]
    return result


def unconfirmed_writes(staff_id: int | None = None) -> dict[int, int]:
    """G10: per staff member, the writes Exchange answered with success but did not apply."""
    stmt = db.select(ExchangeLink.staff_id, db.func.count(ExchangeLink.id)).where(
        ExchangeLink.unconfirmed_at.is_not(None))
    if staff_id is not None:
        stmt = stmt.where(ExchangeLink.staff_id == staff_id)
    return dict(db.session.execute(stmt.group_by(ExchangeLink.staff_id)).all())


def counts(all_rows: list[Row]) -> dict[str, int]:
    found = {s: 0 for s in MAILBOX_STATES}
    for r in all_rows:
        found[r.state] = found.get(r.state, 0) + 1
    return found


def ago(when: datetime | None, now: datetime | None = None) -> str:
    if when is None:
        return "never"
    seconds = int(((now or utcnow()) - when).total_seconds())
    if seconds < 45:
        return "just now"
    if seconds < 90:
        return "1 min ago"
    if seconds < 3600:
        return f"{round(seconds / 60)} min ago"
    if seconds < 86400:
        hours = round(seconds / 3600)
        return f"{hours} hour{'s' if hours != 1 else ''} ago"
    days = round(seconds / 86400)
    return f"{days} day{'s' if days != 1 else ''} ago"


def until(when: datetime | None, now: datetime | None = None) -> str:
    if when is None:
        return ""
    seconds = int((when - (now or utcnow())).total_seconds())
    if seconds <= 0:
        return "resuming now"
    if seconds < 90:
        return f"for {seconds} s more"
    return f"for {round(seconds / 60)} min more"


def delay_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{round(seconds)} s"
    return f"{round(seconds / 60)} min"


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def delays_last_hour(now: datetime | None = None, staff_id: int | None = None) -> dict[str, float | None | int]:
    """p50/p95 of the measured change → applied delay over the last hour (G2)."""
    since = (now or utcnow()) - timedelta(hours=1)
    stmt = db.select(SyncActivity.delay_seconds).where(SyncActivity.at >= since,
                                                       SyncActivity.delay_seconds.is_not(None))
    if staff_id is not None:
        stmt = stmt.where(SyncActivity.staff_id == staff_id)
    values = [float(v) for v in db.session.execute(stmt).scalars()]
    return {"p50": percentile(values, 50), "p95": percentile(values, 95), "n": len(values)}
