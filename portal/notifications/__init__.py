"""Notifications (G6): appointment messages into the outbox, delivered by the `notify` RQ job.

    msgs = notify_appointment(appointment, "booked")   # OutboxMessage rows, in the caller's transaction
    db.session.commit()
    # after the commit, the view queues ("notify", msg.id) jobs through jobs/after_commit.py

Kinds: booked, rescheduled, changed, changed_in_exchange, cancelled, cancelled_in_exchange, staff_removed,
reminder (P10, written by reminders.send_reminders from the safety-net tick).
"""
from .outbox import KINDS, notify_appointment

__all__ = ["KINDS", "notify_appointment"]
