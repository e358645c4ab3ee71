"""G2 fallbacks and lifecycle against the simulator: Exchange 2010 RTM pulls (GetEvents), delegate access
cannot subscribe (safety net only), a paused integration closes every connection, a newly connected
mailbox is picked up on the next refresh."""
from __future__ import annotations

import pytest
from test_listener_e2e import ALICE, BOB, slot, visible
from test_listener_harness import Sundial, listener_thread, open_streams, wait_for

from ews_simulator.testing import running_simulator

pytestmark = pytest.mark.slow
CAROL = "carol@example.com"


def make_sim(version):
    sim = running_simulator(version=version, auth="ntlm", heartbeat_s=1.0)
    handle = sim.__enter__()
    for email in (ALICE, BOB, CAROL):
        handle.add_mailbox(email, name=email.split("@")[0].title())
    return sim, handle


@pytest.fixture
def sim2010():
    ctx, handle = make_sim("2010")
    yield handle
    ctx.__exit__(None, None, None)


@pytest.fixture
def sim2016():
    ctx, handle = make_sim("2016")
    yield handle
    ctx.__exit__(None, None, None)


def test_g2_exchange_2010_pulls_events_on_a_short_interval(app, redis_url, sim2010):
    sundial = Sundial(app, sim2010, redis_url, [ALICE, BOB], version="2010")
    sundial.initial()
    with listener_thread(app, redis_url, pull_interval_seconds=0.3) as listener:
        assert wait_for(lambda: sim2010.counters["GetEvents"] >= 4)
        assert listener.world.plan.mode == "pull"
        assert sim2010.counters["GetStreamingEvents"] == 0 and sim2010.counters["Subscribe"] == 2
        wait_for(lambda: sundial.queued() >= 2)
        sundial.run()  # the catch-up after subscribing
        start, end = slot(days=10)
        sim2010.outlook(BOB).create("Pulled", start, end)
        assert wait_for(lambda: sundial.queued() >= 1)
        ran = sundial.run()
        assert ("sync_mailbox", (sundial.by_email(BOB).id, "notification")) in ran
        assert visible(sundial, BOB, start)
    sundial.close()


def test_g2_delegate_access_cannot_subscribe_so_only_the_safety_net_runs(app, redis_url, sim2016, caplog):
    sundial = Sundial(app, sim2016, redis_url, [ALICE], impersonation=False)
    for email in (ALICE,):
        sim2016.grant(email, sim2016.service_account.upn, "editor")
    sundial.initial()
    caplog.set_level("INFO", logger="portal.listener")
    with listener_thread(app, redis_url) as listener:
        assert wait_for(lambda: listener.world is not None and listener.world.plan.mode == "polling")
        assert listener.runners == {}
        assert sim2016.counters["Subscribe"] == 0 and sim2016.counters["GetStreamingEvents"] == 0
    assert "Delegate access cannot subscribe" in caplog.text
    sundial.close()


def test_g2_paused_integration_closes_every_connection_and_resumes_after_authorize(app, redis_url, sim2016):
    from portal.extensions import db

    sundial = Sundial(app, sim2016, redis_url, [ALICE, BOB])
    sundial.initial()
    with listener_thread(app, redis_url) as listener:
        assert wait_for(lambda: open_streams(sim2016) == 1)
        sundial.integration.state = "paused"
        db.session.commit()
        assert wait_for(lambda: listener.runners == {} and open_streams(sim2016) == 0)
        sundial.integration.state = "connected"
        db.session.commit()
        assert wait_for(lambda: open_streams(sim2016) == 1)
    sundial.close()


def test_g2_a_mailbox_connected_later_is_picked_up_without_restarting(app, redis_url, sim2016):
    from portal.jobs.queues import enqueue_initial_sync

    sundial = Sundial(app, sim2016, redis_url, [ALICE, CAROL])
    carol = sundial.by_email(CAROL)
    enqueue_initial_sync(sundial.by_email(ALICE).id)
    sundial.run()
    with listener_thread(app, redis_url) as listener:
        assert wait_for(lambda: open_streams(sim2016) == 1)
        assert [t.mailbox for g in listener.world.plan.groups for t in g.members] == [ALICE]
        enqueue_initial_sync(carol.id)  # Carol's mailbox becomes connected
        sundial.run()
        assert wait_for(lambda: CAROL in [t.mailbox for r in listener.runners.values() for t in r.subs.values()])
        wait_for(lambda: sundial.queued() >= 1)
        sundial.run()
        start, end = slot(days=11)
        sim2016.outlook(CAROL).create("Heard on the new subscription", start, end)
        assert wait_for(lambda: sundial.queued() >= 1)
        sundial.run()
        assert visible(sundial, CAROL, start)
        assert sim2016.counters[("Subscribe", ALICE)] == 1  # Alice's subscription was kept
    sundial.close()
