"""Server affinity of the listened mailboxes (issue #7, EWS-FACTS §6).

On Exchange 2013 and later a streaming connection is served by one mailbox server; mailboxes whose SOAP
Autodiscover `ExternalEwsUrl` + `GroupingInformation` match may share it (MSDOC
how-to-maintain-affinity-between-group-of-subscriptions-and-mailbox-server). The listener asks for the mailboxes
whose affinity is unknown or a day old — ⌈n/100⌉ GetUserSettings requests — and stores it on MailboxState.
Until Exchange says, or when it cannot (Exchange 2010, Autodiscover down), a mailbox counts as served by the
configured EWS server, exactly as before: a missing affinity costs efficiency, never a notification.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

log = logging.getLogger("portal.listener")

REFRESH_AFTER = timedelta(hours=24)  # a mailbox moved to another database availability group is found again
RETRY_AFTER = timedelta(minutes=15)  # after Autodiscover failed
MAX_PER_PASS = 1000  # at most ten requests per listener pass; the rest follow in the next passes


def stale(rows, now: datetime) -> list:
    """The MailboxState rows to ask about (never asked, or asked more than a day ago)."""
    return [r for r in rows if r.affinity_checked_at is None or now - r.affinity_checked_at >= REFRESH_AFTER]


def refresh(integration, rows, now: datetime | None = None, session_factory=None) -> int:
    """Ask Autodiscover about `rows` that need it and store the answers; returns how many were asked.
    Credentials rejected → AuthenticationFailed propagates (the caller pauses the integration, SPEC G4)."""
    from ..ews_soap import AuthenticationFailed, EwsError
    from ..ews_soap.affinity import GROUPING_VERSIONS
    from ..extensions import db

    now = now or datetime.now(UTC)
    if integration.version not in GROUPING_VERSIONS or not integration.impersonation:
        return 0  # no GroupingInformation before 2013; delegate access has no subscriptions to group
    todo = stale(rows, now)[:MAX_PER_PASS]
    if not todo:
        return 0
    session = (session_factory or _session)(integration)
    try:
        answers = session.mailbox_affinity([r.primary_smtp for r in todo])
    except AuthenticationFailed:
        raise
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
    groups = {a.key for a in answers if a.key}
    log.info("server affinity of %d mailboxes: %d distinct (GroupingInformation)", len(todo), len(groups))
    return len(todo)


def _session(integration):
    from ..ews_soap import ExchangeSession
    from .session import server_config
    from .throttle import RedisGate

    return ExchangeSession(server_config(integration),
                           gate=RedisGate.for_integration(SimpleNamespace(server_url=integration.server_url)))
