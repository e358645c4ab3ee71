"""P10: client reminders N hours before (never twice), the no-SMTP warning, and an outbox message page."""
from __future__ import annotations

from datetime import timedelta

from webtools import login

from portal.extensions import db
from portal.models import Appointment, NotificationSetting, OrganisationSetting, OutboxMessage
from portal.notifications.reminders import send_reminders


def _reminders():
    return db.session.execute(db.select(OutboxMessage).where(OutboxMessage.subject.like("Reminder:%"))
                              .order_by(OutboxMessage.id)).scalars().all()


def test_p10_a_client_gets_one_reminder_24_hours_before(app, world):
    start = world.appt.start  # Mon 9 Mar 2026 10:00 New York; Jo Client has an email
    assert send_reminders(now=start - timedelta(hours=25)) == []  # not yet
    written = send_reminders(now=start - timedelta(hours=23, minutes=55))
    assert [(m.recipient, m.audience) for m in written] == [("jo@client.test", "clients")]
    assert written[0].subject == "Reminder: Consultation on Mon 9 Mar at 10:00 EDT"
    assert "A reminder of your appointment." in written[0].body and "Main Street" in written[0].body
    assert send_reminders(now=start - timedelta(hours=20)) == []  # never twice
    assert send_reminders(now=start - timedelta(hours=1)) == []
    assert len(_reminders()) == 1
    assert db.session.get(Appointment, world.appt.id).reminded_at is not None


def test_p10_reminder_hours_setting_off_switch_and_cancelled_appointments(app, world):
    start = world.appt.start
    OrganisationSetting.put("reminder_hours", "2")
    db.session.commit()
    assert send_reminders(now=start - timedelta(hours=3)) == []
    OrganisationSetting.put("reminder_hours", "0")
    db.session.commit()
    assert send_reminders(now=start - timedelta(hours=1)) == []  # 0 = off
    OrganisationSetting.put("reminder_hours", "2")
    world.appt.status = "cancelled"
    db.session.commit()
    assert send_reminders(now=start - timedelta(hours=1)) == []
    world.appt.status = "booked"
    db.session.add(NotificationSetting(audience="clients", enabled=False))
    db.session.commit()
    assert send_reminders(now=start - timedelta(hours=1)) == []  # the clients switch is off
    assert send_reminders(now=start + timedelta(minutes=1)) == []  # started: too late
    assert _reminders() == []


def test_p10_two_racing_ticks_remind_once(app, world):
    """The claim is one conditional UPDATE: a second tick that read the same due list claims nothing."""
    from portal.notifications import reminders

    now = world.appt.start - timedelta(hours=2)
    ids = reminders.due(now, 24)
    assert ids == [world.appt.id]
    assert reminders._claim(world.appt.id, now) is True
    db.session.commit()
    assert reminders._claim(world.appt.id, now) is False
    db.session.rollback()
    assert send_reminders(now=now) == []


def test_p10_notification_pages_warn_without_smtp_and_edit_reminder_hours(client, world, admin_user, app):
    login(client, admin_user)
    app.config["SMTP_HOST"] = ""
    page = client.get("/settings/notifications/clients").get_data(as_text=True)
    assert 'id="no-smtp"' in page and "Email is not delivered:</strong> no SMTP server is configured," in page
    assert "On · not delivered" in page and ">On<" not in page
    assert 'id="no-smtp"' in client.get("/settings/notifications/outbox").get_data(as_text=True)
    resp = client.post("/settings/notifications/clients", data={"enabled": "y", "reminder_hours": "6"})
    assert resp.status_code == 302
    assert OrganisationSetting.get_int("reminder_hours", 24) == 6
    bad = client.post("/settings/notifications/clients", data={"enabled": "y", "reminder_hours": "-3"})
    assert "Enter a number of hours from 0 (no reminders) to 336." in bad.get_data(as_text=True)
    assert OrganisationSetting.get_int("reminder_hours", 24) == 6
    app.config["SMTP_HOST"] = "127.0.0.1"
    page = client.get("/settings/notifications/clients").get_data(as_text=True)
    assert 'id="no-smtp"' not in page and ">On<" in page


def test_p10_an_outbox_row_opens_to_show_the_whole_message(client, world, admin_user):
    login(client, admin_user)
    world.msg.body = "Hello Jo,\n\nYour appointment is booked.\n\n— Sundial"
    db.session.commit()
    listing = client.get("/settings/notifications/outbox").get_data(as_text=True)
    assert f'href="/settings/notifications/outbox/{world.msg.id}"' in listing
    page = client.get(f"/settings/notifications/outbox/{world.msg.id}").get_data(as_text=True)
    assert "Hello Jo,\n\nYour appointment is booked.\n\n— Sundial" in page
    assert "jo@client.test" in page and "<h1>Hello</h1>" in page


def test_p10_the_safety_net_tick_writes_and_queues_due_reminders(app, world, queue_redis):
    """The scheduled job: each tick writes the due reminders and queues their delivery; the next tick none."""
    from portal.jobs.queues import get_queue
    from portal.jobs.safety_net import tick
    from portal.models import utcnow

    soon = utcnow() + timedelta(hours=3)
    world.appt.start, world.appt.end = soon, soon + timedelta(hours=1)
    db.session.commit()
    tick()
    reminders = _reminders()
    assert [m.recipient for m in reminders] == ["jo@client.test"]
    assert (reminders[0].id,) in [j.args for j in get_queue("notify").jobs]
    tick()
    assert len(_reminders()) == 1
