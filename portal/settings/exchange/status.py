"""What the User Accounts tab shows per staff member (S8): state rows, counts, delays, "3 min ago"."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, or_

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


PER_PAGE = 50


def state_of():
    """Row.state as SQL, so the tab filters, counts and pages in the database (S8 at 1,000 staff)."""
    return case((MailboxState.staff_id.is_(None), "not_connected"), (MailboxState.excluded.is_(True), "excluded"),
                (MailboxState.state.in_(list(STATE_BADGES)), MailboxState.state), else_="error")


def _listed(state: str | None = None, query: str | None = None):
    """Every staff member who takes appointments, with their state row, filtered by state and name/email."""
    stmt = (db.select(StaffMember, MailboxState).outerjoin(MailboxState, MailboxState.staff_id == StaffMember.id)
            .where(StaffMember.takes_appointments.is_(True)))
    if query:
        words = query.strip().lower()
        stmt = stmt.where(or_(func.lower(StaffMember.name).contains(words, autoescape=True),
                              func.lower(StaffMember.email).contains(words, autoescape=True)))
    if state:
        stmt = stmt.where(state_of() == state)
    return stmt


def unconfirmed_writes(staff_id: int | None = None) -> dict[int, int]:
    """G10: per staff member, the writes Exchange answered with success but did not apply."""
    stmt = db.select(ExchangeLink.staff_id, db.func.count(ExchangeLink.id)).where(
        ExchangeLink.unconfirmed_at.is_not(None))
    if staff_id is not None:
        stmt = stmt.where(ExchangeLink.staff_id == staff_id)
    return dict(db.session.execute(stmt.group_by(ExchangeLink.staff_id)).all())


def rows(state: str | None = None, query: str | None = None, page: int = 1, per_page: int | None = PER_PAGE,
         since: datetime | None = None) -> list[Row]:
    """One page of the tab, ordered by name; `since`: only rows whose state changed after that moment."""
    stmt = _listed(state, query).order_by(StaffMember.name, StaffMember.id)
    if since is not None:
        stmt = stmt.where(MailboxState.updated_at > since)
    if per_page:
        stmt = stmt.offset((max(page, 1) - 1) * per_page).limit(per_page)
    unconfirmed = unconfirmed_writes()
    return [Row(staff, mailbox, unconfirmed.get(staff.id, 0)) for staff, mailbox in db.session.execute(stmt)]


def matching(state: str | None = None, query: str | None = None) -> int:
    inner = _listed(state, query).with_only_columns(StaffMember.id).subquery()
    return db.session.execute(db.select(func.count()).select_from(inner)).scalar()


def counts() -> dict[str, int]:
    """Staff per state, over everyone (one GROUP BY)."""
    found = {s: 0 for s in MAILBOX_STATES}
    expr = state_of()
    stmt = _listed().with_only_columns(expr, func.count()).group_by(expr)
    for key, n in db.session.execute(stmt):
        found[key] = found.get(key, 0) + n
    return found


def cursor() -> datetime | None:
    """Where the live refresh starts next time: the newest state change, but never later than 10 s ago — a
    transaction stamps updated_at when it flushes and may commit a little later, so the last seconds are sent
    again (a row sent twice is harmless, one never sent is not)."""
    newest = db.session.execute(db.select(func.max(MailboxState.updated_at))).scalar()
    return min(newest, utcnow() - timedelta(seconds=10)) if newest else None


def listener_capacity() -> str:
    """How many mailboxes the service account can stream, when Exchange limits its streaming connections (the
    listener publishes it with its stats, listener_groups.capacity_sentence); "" otherwise or when Redis is down."""
    from ...extensions import redis_connection

    try:
        redis = redis_connection()
        for key in redis.scan_iter(match="sundial:listener:stats:*", count=100):
            sentence = (redis.hget(key, "capacity") or b"").decode()
            if sentence:
                return sentence
    except Exception:  # noqa: BLE001 - the tab renders without the sentence rather than failing
        return ""
    return ""


def live(found: dict[str, int]) -> bool:
    """The page polls quickly while anything imports, waits out throttling, or applies a confirmed emptying."""
    if any(found.get(s) for s in LIVE_STATES):
        return True
    if not found.get("needs_confirmation"):
        return False
    stmt = _listed("needs_confirmation").where(MailboxState.confirmed_empty_at.is_not(None))
    return any(Row(staff, m).confirmed for staff, m in db.session.execute(stmt))


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
