"""Booking pages (C2, I5, G6): validate → commit → enqueue export + notifications → flash → redirect."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from rq import Queue
from webtools import login

from portal.extensions import db
from portal.models import Appointment, AppointmentChange, ExchangeIntegration, NotificationSetting, OutboxMessage

NY = ZoneInfo("America/New_York")


def _form(w, **over):
    data = {"service": w.service.id, "location": w.loc.id, "date": "2026-03-10", "time": "09:30",
            "staff": [w.sam.id, w.kim.id], "clients": [w.jo.id, w.max.id, w.noemail.id], "notes": "VIP"}
    data.update(over)
    return data


def test_c2_i5_admin_books_multi_staff_multi_client(client, world, admin_user, queue_redis):
    login(client, admin_user)
    resp = client.post("/appointments/new", data=_form(world))
    assert resp.status_code == 302 and "/schedule?staff=" in resp.headers["Location"]
    appt = db.session.execute(db.select(Appointment).filter_by(notes="VIP")).scalar_one()
    assert appt.start == datetime(2026, 3, 10, 9, 30, tzinfo=NY)  # the location's zone, stored as UTC
    assert appt.start.utcoffset().total_seconds() == 0
    assert {s.name for s in appt.staff} == {"Sam Staff", "Kim Colleague"}
    assert len(appt.clients) == 3
    assert [c.kind for c in db.session.execute(db.select(AppointmentChange)).scalars()] == ["booked"]
    # G6: one message per client with an email and per staff member, queued for delivery after the commit
    msgs = db.session.execute(db.select(OutboxMessage).filter_by(appointment_id=appt.id)).scalars().all()
    assert sorted((m.audience, m.recipient) for m in msgs) == [
        ("clients", "jo@client.test"), ("clients", "max@client.test"),
        ("staff", "kim@example.test"), ("staff", "sam@example.test")]
    kim_msg = next(m for m in msgs if m.recipient == "kim@example.test")
    assert kim_msg.subject == "Confirmed: Consultation on Tue 10 Mar at 08:30 CDT"  # Kim's own zone
    assert sorted(Queue("notify", connection=queue_redis).job_ids) == sorted(f"notify-{m.id}" for m in msgs)
    assert Queue("export", connection=queue_redis).count == 0  # no connected integration: no export job
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Booked Consultation for Jo Client, Max Client, Pat Phone." in page


def test_c2_conflict_is_refused_with_its_name(client, world, admin_user, queue_redis):
    login(client, admin_user)
    resp = client.post("/appointments/new", data=_form(world, date="2026-03-09", time="10:30"))
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "Sam Staff is busy Mon 9 Mar 10:00–11:00 EDT with Consultation (Jo Client)." in page
    assert db.session.execute(db.select(db.func.count(Appointment.id))).scalar_one() == 1
    assert db.session.execute(db.select(db.func.count(OutboxMessage.id))).scalar_one() == 1  # world's one


def test_c3_time_skipped_by_dst_is_refused(client, world, admin_user, queue_redis):
    login(client, admin_user)
    resp = client.post("/appointments/new", data=_form(world, date="2026-03-08", time="02:30"))
    assert resp.status_code == 422
    assert "02:30 does not exist on Sun 8 Mar 2026 in America/New_York" in resp.get_data(as_text=True)


def test_g6_switches_off_means_no_messages(client, world, admin_user, queue_redis):
    db.session.add_all([NotificationSetting(audience="clients", enabled=False),
                        NotificationSetting(audience="staff", enabled=False)])
    db.session.commit()
    login(client, admin_user)
    assert client.post("/appointments/new", data=_form(world)).status_code == 302
    assert db.session.execute(db.select(db.func.count(OutboxMessage.id))).scalar_one() == 1  # world's one


def test_e1_connected_integration_gets_an_export_job(client, world, admin_user, queue_redis):
    db.session.add(ExchangeIntegration(id=1, state="connected"))
    db.session.commit()
    login(client, admin_user)
    assert client.post("/appointments/new", data=_form(world)).status_code == 302
    appt = db.session.execute(db.select(Appointment).filter_by(notes="VIP")).scalar_one()
    jobs = Queue("export", connection=queue_redis).get_jobs()
    assert [(j.func_name, j.args) for j in jobs] == [("portal.jobs.export.export_appointment", (appt.id,))]


def test_redis_outage_never_loses_the_booking(app, client, world, admin_user):
    db.session.add(ExchangeIntegration(id=1, state="connected"))
    db.session.commit()
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    app.extensions.pop("sundial_redis", None)
    login(client, admin_user)
    resp = client.post("/appointments/new", data=_form(world), follow_redirects=True)
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "not reachable: the Exchange export and the notification emails will follow once it is back" in page
    appt = db.session.execute(db.select(Appointment).filter_by(notes="VIP")).scalar_one()
    change = db.session.execute(db.select(AppointmentChange).filter_by(appointment_id=appt.id)).scalar_one()
    assert change.exported_at is None  # still pending: the export picks it up later
    pending = db.session.execute(db.select(OutboxMessage).filter_by(appointment_id=appt.id)).scalars().all()
    assert len(pending) == 4 and {m.status for m in pending} == {"pending"}


def test_c2_edit_reschedule_and_cancel_pages(client, world, admin_user, queue_redis):
    login(client, admin_user)
    appt_id = world.appt.id
    page = client.get(f"/appointments/{appt_id}/edit").get_data(as_text=True)
    assert 'value="10:00"' in page and 'value="2026-03-09"' in page
    resp = client.post(f"/appointments/{appt_id}/edit",
                       data=_form(world, date="2026-03-09", time="15:00", staff=[world.sam.id],
                                  clients=[world.jo.id], duration="45", notes=""))
    assert resp.status_code == 302
    appt = db.session.get(Appointment, appt_id)
    assert (appt.start, appt.end) == (datetime(2026, 3, 9, 15, 0, tzinfo=NY), datetime(2026, 3, 9, 15, 45, tzinfo=NY))
    subjects = [m.subject for m in db.session.execute(db.select(OutboxMessage).filter_by(appointment_id=appt_id))
                .scalars()]
    assert subjects == ["Rescheduled: Consultation on Mon 9 Mar at 15:00 EDT"] * 2
    resp = client.post(f"/appointments/{appt_id}/cancel")
    assert resp.status_code == 302
    assert db.session.get(Appointment, appt_id).status == "cancelled"
    kinds = [c.kind for c in db.session.execute(db.select(AppointmentChange).order_by(AppointmentChange.id)).scalars()]
    assert kinds == ["rescheduled", "cancelled"]
    # a cancelled appointment is gone from the week view and its time is free again
    week = client.get(f"/schedule?staff={world.sam.id}&week=2026-03-09").get_data(as_text=True)
    assert "15:00–15:45" not in week


def test_a1_p7_staff_sees_only_their_own_schedule(client, world, admin_user):
    login(client, world.staff_user)
    refused = client.get(f"/schedule?staff={world.kim.id}&week=2026-03-09")
    assert refused.status_code == 403  # P7: another staff member's page says why, never shows one's own instead
    assert "Kim Colleague&#39;s schedule" in refused.get_data(as_text=True)
    page = client.get("/schedule?week=2026-03-09").get_data(as_text=True)
    assert "Sam Staff" in page and "Kim Colleague" not in page
    other = world.appt.__class__(service=world.service, location=world.chicago, start=world.appt.start,
                                 end=world.appt.end, staff=[world.kim], clients=[world.jo])
    db.session.add(other)
    db.session.commit()
    assert client.get(f"/appointments/{other.id}").status_code == 403
    assert client.get(f"/appointments/{world.appt.id}").status_code == 200


def test_a2_schedule_without_staff_explains_what_to_do(client, admin_user):
    from webtools import login as log_in

    from portal.models import User

    log_in(client, admin_user)
    page = client.get("/schedule").get_data(as_text=True)
    assert "There are no staff members yet." in page
    lonely = User(email="lonely@example.test", role="staff", name="Lonely")
    lonely.set_password("correct horse battery")
    db.session.add(lonely)
    db.session.commit()
    other = client.application.test_client()
    with client.application.app_context():  # a fresh `g`: Flask-Login caches the user there
        log_in(other, lonely)
        assert "Your login is not linked to a staff member yet." in other.get("/schedule").get_data(as_text=True)


def test_g6_staff_taken_off_an_appointment_are_told(client, world, admin_user, queue_redis):
    login(client, admin_user)
    assert client.post("/appointments/new", data=_form(world)).status_code == 302
    appt = db.session.execute(db.select(Appointment).filter_by(notes="VIP")).scalar_one()
    first = {m.id for m in db.session.execute(db.select(OutboxMessage)).scalars()}
    form = _form(world, staff=[world.sam.id], duration="60")
    assert client.post(f"/appointments/{appt.id}/edit", data=form).status_code == 302
    new = [m for m in db.session.execute(db.select(OutboxMessage)).scalars() if m.id not in first]
    assert sorted((m.recipient, m.subject.split(":")[0]) for m in new) == [
        ("jo@client.test", "Updated"), ("kim@example.test", "Removed"), ("max@client.test", "Updated"),
        ("sam@example.test", "Updated")]
    removed = next(m for m in new if m.recipient == "kim@example.test")
    assert "You are no longer on this appointment" in removed.body


def test_e1_g6_redis_down_gives_one_warning_and_the_safety_net_queues_the_work(app, client, world, admin_user,
                                                                                 queue_redis):
    """One behaviour for every view that starts a job (jobs/after_commit.py): the booking is saved, the admin
    reads one sentence, and once Redis is back the safety-net tick queues the export and the emails."""
    from datetime import timedelta

    from portal.jobs.after_commit import QUEUE_DOWN
    from portal.jobs.safety_net import tick
    from portal.models import utcnow

    db.session.add(ExchangeIntegration(id=1, state="connected"))
    db.session.commit()
    working_url = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    app.extensions.pop("sundial_redis", None)
    login(client, admin_user)
    page = client.post("/appointments/new", data=_form(world), follow_redirects=True).get_data(as_text=True)
    assert QUEUE_DOWN.split(":")[0] in page.replace("&#39;", "'")
    appt = db.session.execute(db.select(Appointment).filter_by(notes="VIP")).scalar_one()
    assert Queue("export", connection=queue_redis).count == 0

    app.config["REDIS_URL"] = working_url  # Redis is back; the next tick comes a while later
    app.extensions.pop("sundial_redis", None)
    long_ago = utcnow() - timedelta(minutes=5)
    for row in db.session.execute(db.select(OutboxMessage)).scalars():
        row.created_at = long_ago
    for row in db.session.execute(db.select(AppointmentChange)).scalars():
        row.created_at = long_ago
    db.session.commit()
    tick()
    exports = [(j.func_name, j.args) for j in Queue("export", connection=queue_redis).get_jobs()]
    assert exports == [("portal.jobs.export.export_appointment", (appt.id,))]
    outbox_ids = {m.id for m in db.session.execute(db.select(OutboxMessage)).scalars()}
    assert {j.args[0] for j in Queue("notify", connection=queue_redis).get_jobs()} == outbox_ids and outbox_ids
