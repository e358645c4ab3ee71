"""G10: a write Exchange answers with success is confirmed (start, end, busy status) with one batched GetItem;
a write the server did not apply is written once more, then reported — never silently "exported"."""
from __future__ import annotations

from datetime import timedelta

from portal.booking.appointments import reschedule
from portal.extensions import db
from portal.models import ExchangeLink
from tests.sync_e2e.conftest import future


def _item(world, who, appt):
    (item,) = [i for i in world.items(who) if i.subject == appt.service.name]
    return item


def _move(world, appt, hours=2):
    from portal.jobs.queues import enqueue_export

    reschedule(appt, appt.start + timedelta(hours=hours), appt.end + timedelta(hours=hours))
    db.session.commit()
    enqueue_export(appt.id)
    world.run()


def actions(world, who, rule=None):
    return [(a.action, a.rule, a.reason) for a in world.activity(who, rule)]


def test_g10_update_that_kept_its_old_time_is_written_once_more_and_confirmed(world):
    world.initial()
    appt = world.book(start=future(days=4))
    world.run()
    world.sim.faults.update_keeps_time()  # time + attendees together: "success", old time kept
    world.sim.counters.reset()
    _move(world, appt)
    item = _item(world, world.alice, appt)
    assert item.start == appt.start and item.end == appt.end  # the second, time-only write took
    assert world.sim.counters["UpdateItem"] == 2 and world.sim.counters["GetItem"] == 2
    last = world.activity(world.alice)[-1]
    assert last.action == "exported" and "written a second time and confirmed" in last.reason
    assert db.session.execute(db.select(ExchangeLink).where(ExchangeLink.unconfirmed_at.is_not(None))).first() is None


def test_g10_write_the_server_never_applies_is_reported_not_exported(world, client, admin_user):
    world.initial()
    appt = world.book(start=future(days=4))
    world.run()
    before = _item(world, world.alice, appt).start
    world.sim.faults.update_keeps_time(always=True)
    _move(world, appt)
    assert _item(world, world.alice, appt).start == before  # the server really kept it
    last = world.activity(world.alice)[-1]
    assert (last.action, last.rule) == ("write_not_applied", "G10")
    assert "written once more, Exchange still holds" in last.reason
    assert not [a for a in world.activity(world.alice) if a.action == "exported" and a.at >= last.at]
    link = db.session.execute(db.select(ExchangeLink).where(ExchangeLink.appointment_id == appt.id)).scalar_one()
    assert link.unconfirmed_at is not None
    from tests.conftest import login

    html = login(client, admin_user).get("/settings/integrations/exchange/accounts").get_data(as_text=True)
    assert 'data-unconfirmed="1"' in html and "Exchange accepted but did not apply" in html
    page = client.get(f"/settings/integrations/exchange/accounts/{world.alice.id}/activity").get_data(as_text=True)
    assert 'data-unconfirmed="1"' in page and "Exchange still holds" in page
    world.sync(world.alice)  # the next sync neither loops on it nor moves the appointment back
    db.session.refresh(appt)
    assert appt.start == before + timedelta(hours=2)
    assert [a.action for a in world.activity(world.alice)].count("write_not_applied") == 1
    world.sim.faults.update_keeps_time(False)
    _move(world, appt, hours=1)  # the next write is confirmed and clears the report
    db.session.refresh(link)
    assert link.unconfirmed_at is None and _item(world, world.alice, appt).start == appt.start


def test_g10_a_burst_of_writes_is_confirmed_with_one_get_item(world):
    world.initial()
    world.sim.counters.reset()
    for day in (3, 4, 5):
        world.book(start=future(days=day))
    world.run()
    exported = [a for a in world.activity(world.alice) if a.action == "exported"]
    assert len(exported) == 3
    # each export job is one burst here: one CreateItem + one GetItem read-back per appointment, nothing more
    assert world.sim.counters["GetItem"] == world.sim.counters["CreateItem"] == 3
