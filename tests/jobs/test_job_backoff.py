"""G3/G9: the jobs' retry loops use the shared back-off — a postponed export, a throttled mailbox, a failing
mailbox — so a server that keeps failing is asked less and less often, never every few seconds forever."""
from __future__ import annotations

from test_listener_harness import add_staff


def test_g9_a_postponed_export_is_retried_ever_later(app):
    from portal.jobs.export import _failures_key, _postponed_delay
    from portal.jobs.queues import redis_connection

    redis_connection().delete(_failures_key(4242))
    delays = [_postponed_delay(4242) for _ in range(8)]
    assert 5.0 <= delays[0] <= 10.0 and 640.0 <= delays[7] <= 1280.0  # 10 s doubling, equal jitter
    assert all(b > a for a, b in zip(delays, delays[1:], strict=False))


def test_g3_g9_a_mailbox_throttled_again_and_again_waits_longer_each_time_even_when_told_zero(app):
    from portal.engine.record import mailbox_failures
    from portal.ews_soap.errors import Throttled
    from portal.extensions import db
    from portal.models import MailboxState

    (staff,) = add_staff(["throttled@example.com"])
    waits = []
    for _ in range(6):
        with mailbox_failures(staff.id, waits.append):
            raise Throttled("busy", backoff_seconds=0.0)
    assert 2.5 <= waits[0] <= 5.0 and 80.0 <= waits[5] <= 160.0
    assert db.session.get(MailboxState, staff.id).failures == 6


def test_g9_a_failing_mailbox_is_tried_again_later_and_later(app):
    from portal.engine.record import mailbox_failures
    from portal.ews_soap.errors import EwsError
    from portal.extensions import db
    from portal.models import MailboxState, utcnow

    (staff,) = add_staff(["failing@example.com"])
    spans = []
    for _ in range(4):
        with mailbox_failures(staff.id, lambda wait: None):
            raise EwsError("the server failed")
        ms = db.session.get(MailboxState, staff.id)
        spans.append((ms.next_attempt_at - utcnow()).total_seconds())
    assert 55 <= spans[0] <= 120 and 470 <= spans[3] <= 960
