"""Server affinity of the listened mailboxes (EWS-FACTS §6).

On Exchange 2013 and later a streaming connection is served by one mailbox server; mailboxes whose SOAP
Autodiscover `ExternalEwsUrl` + `GroupingInformation` match may share it (MSDOC
how-to-maintain-affinity-between-group-of-subscriptions-and-mailbox-server). The listener asks for the mailboxes
whose affinity is unknown or a day old — ⌈n/100⌉ GetUserSettings requests — and stores it on MailboxState.
It asks once before it opens any connection, then from its own thread (`AffinityRefresher`), never from the
loop that renews its Redis leases: a slow Autodiscover must not let another listener take its groups.
Until Exchange says, or when it cannot (Exchange 2010, Autodiscover down or refusing the account), a mailbox
counts as served by the configured EWS server, exactly as before: a missing affinity costs efficiency, never
a notification. Autodiscover is its own IIS virtual directory with its own authentication settings, so a 401
there does not pause the integration (SPEC G4 is decided by EWS itself).
"""
from __future__ import annotations

import logging
import threading
from datetime import timedelta

log = logging.getLogger("portal.listener")

LISTENED_STATES = ("synced", "initializing", "throttled")
REFRESH_AFTER = timedelta(hours=24)  # a mailbox moved to another database availability group is found again
RETRY_AFTER = timedelta(minutes=15)  # after Autodiscover failed
MAX_PER_PASS = 1000  # at most ten requests per pass; the rest follow in the next passes


def listened_rows():
    """MailboxState rows the listener subscribes to: connected, with a primary address, not excluded."""
    from ..extensions import db
    from ..models import MailboxState

    return db.session.execute(
        db.select(MailboxState).where(
            MailboxState.state.in_(LISTENED_STATES), MailboxState.primary_smtp.is_not(None),
            MailboxState.excluded.is_(False)).order_by(MailboxState.staff_id)).scalars().all()


def stale(rows, now) -> list:
    """The MailboxState rows to ask about (never asked, or asked more than a day ago)."""
    return [r for r in rows if r.affinity_checked_at is None or now - r.affinity_checked_at >= REFRESH_AFTER]


def refresh(integration, rows, now=None, session_factory=None) -> int:
    """Ask Autodiscover about `rows` that need it and store the answers; returns how many were asked."""
    from ..engine.connect import connect
    from ..ews_soap import EwsError
    from ..ews_soap.versions import GROUPING_INFORMATION
    from ..extensions import db
    from ..models import utcnow

    now = now or utcnow()
    if integration.version not in GROUPING_INFORMATION or not integration.impersonation:
        return 0  # no GroupingInformation before 2013; delegate access has no subscriptions to group
    todo = stale(rows, now)[:MAX_PER_PASS]
    if not todo:
        return 0
    try:
        answers = (session_factory or connect)(integration).mailbox_affinity([r.primary_smtp for r in todo])
    except EwsError as exc:
        log.warning("Autodiscover could not tell the server affinity of %d mailboxes (%s); grouping them by the "
                    "EWS address for now, asking again in %d minutes", len(todo), exc,
                    RETRY_AFTER.total_seconds() // 60)
        for row in todo:
            row.affinity_checked_at = now - REFRESH_AFTER + RETRY_AFTER
        db.session.commit()
        return len(todo)
    for row, answer in zip(todo, answers, strict=True):
        row.affinity = answer.key
        row.affinity_checked_at = now
    db.session.commit()
    log.info("server affinity of %d mailboxes: %d distinct (GroupingInformation)", len(todo),
             len({a.key for a in answers if a.key}))
    return len(todo)


def refresh_connected() -> int:
    """One pass for the connected integration (inside an app context)."""
    from ..extensions import db
    from ..models import ExchangeIntegration

    integration = ExchangeIntegration.get()
    if integration is None or integration.state != "connected":
        db.session.rollback()
        return 0
    return refresh(integration, listened_rows())


class AffinityRefresher(threading.Thread):
    """The listener's background pass every `interval` seconds (new mailboxes, daily re-checks)."""

    def __init__(self, app, interval: float):
        super().__init__(name="listener-affinity", daemon=True)
        self.app, self.interval = app, interval
        self.stop_event = threading.Event()

    def pass_once(self) -> int:
        try:
            with self.app.app_context():
                return refresh_connected()
        except Exception:  # noqa: BLE001 - a database hiccup: the next pass tries again
            log.exception("server affinity pass failed")
            return 0

    def learn_all(self, most_passes: int = 20) -> int:
        """Passes until every listened mailbox's affinity is known (or asked): at start, so groups are packed once
        by server affinity instead of in waves as passes of MAX_PER_PASS come back."""
        asked = 0
        for _ in range(most_passes):
            n = self.pass_once()
            asked += n
            if n < MAX_PER_PASS:
                break
        return asked

    def run(self) -> None:
        while not self.stop_event.wait(self.interval):
            self.pass_once()

    def stop(self) -> None:
        self.stop_event.set()
