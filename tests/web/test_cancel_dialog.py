"""P8: cancelling asks in the page (a <dialog>) for an optional reason and whether to notify the clients."""
from __future__ import annotations

from webtools import login

from portal.extensions import db
from portal.models import Appointment, AppointmentChange, NotificationSetting, OutboxMessage


def _messages(appt_id):
    return db.session.execute(db.select(OutboxMessage).filter_by(appointment_id=appt_id)).scalars().all()


def test_p8_the_appointment_page_cancels_through_an_in_page_dialog(client, world, admin_user):
    login(client, admin_user)
    page = client.get(f"/appointments/{world.appt.id}").get_data(as_text=True)
    assert '<dialog class="cancel-dialog" id="cancel-dialog"' in page
    assert 'name="reason"' in page and 'id="cancel-notify" name="notify_clients" value="1" checked' in page
    assert "confirm(" not in page and "onsubmit" not in page and "<script>" not in page
    db.session.add(NotificationSetting(audience="clients", enabled=False))
    db.session.commit()
    off = client.get(f"/appointments/{world.appt.id}").get_data(as_text=True)
    assert 'name="notify_clients" value="1" >' in off and "Client notifications are off" in off


def test_p8_reason_goes_to_history_and_emails(client, world, admin_user, queue_redis):
    login(client, admin_user)
    resp = client.post(f"/appointments/{world.appt.id}/cancel",
                       data={"reason": "  Client   is ill ", "notify_present": "1", "notify_clients": "1"})
    assert resp.status_code == 302
    assert db.session.get(Appointment, world.appt.id).status == "cancelled"
    change = db.session.execute(db.select(AppointmentChange).filter_by(kind="cancelled")).scalar_one()
    assert change.note == "Reason: Client is ill Clients were notified."
    msgs = _messages(world.appt.id)
    assert sorted(m.audience for m in msgs) == ["clients", "staff"]
    assert all("Reason: Client is ill" in m.body for m in msgs)
    page = client.get(f"/appointments/{world.appt.id}").get_data(as_text=True)
    assert "Reason: Client is ill Clients were notified." in page


def test_p8_unticked_notify_tells_only_staff_and_says_so(client, world, admin_user, queue_redis):
    login(client, admin_user)
    resp = client.post(f"/appointments/{world.appt.id}/cancel", data={"notify_present": "1"},
                       follow_redirects=True)
    assert "The clients were not notified." in resp.get_data(as_text=True)
    assert [m.audience for m in _messages(world.appt.id)] == ["staff"]
    change = db.session.execute(db.select(AppointmentChange).filter_by(kind="cancelled")).scalar_one()
    assert change.note == "Clients were not notified."
    again = client.post(f"/appointments/{world.appt.id}/cancel", data={"notify_present": "1"}, follow_redirects=True)
    assert "already cancelled" in again.get_data(as_text=True)  # nothing applied twice
    assert len(_messages(world.appt.id)) == 1
