"""G2 at scale, against the simulator over HTTP with NTLM: 250 mailboxes share two streaming connections
(not 250), and two listener processes split the groups, one taking over when the other dies."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from test_listener_harness import connect_integration, listener_thread, mailbox_rows, open_streams, wait_for

from ews_simulator.testing import running_simulator

pytestmark = pytest.mark.slow


def tomorrow(hour: int) -> datetime:
    """A future time: the event's date does not matter to the listener, but a past one would read as a bug."""
    return (datetime.now(UTC) + timedelta(days=1)).replace(hour=hour, minute=0, second=0, microsecond=0)


@pytest.fixture
def sim250():
    with running_simulator(version="2016", auth="ntlm", heartbeat_s=1.0) as sim:
        for i in range(250):
            sim.add_mailbox(f"staff{i:03d}@example.com", name=f"Staff {i}")
        yield sim


def test_g2_250_mailboxes_use_two_streaming_connections_not_250(app, redis_url, sim250):
    connect_integration(sim250)
    mailbox_rows([f"staff{i:03d}@example.com" for i in range(250)])
    with listener_thread(app, redis_url) as listener:
        assert wait_for(lambda: sim250.counters["GetStreamingEvents"] >= 2 and
                        sum(r.stats["connections"] for r in listener.runners.values()) >= 2, timeout=60)
        groups = listener.world.plan.groups
        assert len(groups) == 2 and all(len(g.members) <= 200 for g in groups)
        assert sim250.counters["Subscribe"] == 250
        assert sim250.counters["GetStreamingEvents"] == 2
        assert open_streams(sim250) == 2
        # each connection was anchored on its group's first mailbox (X-AnchorMailbox, EWS-FACTS §6)
        assert {g.anchor for g in groups} == {m for (op, m) in sim250.counters.snapshot()
                                               if op == "GetStreamingEvents"}
        # a change in any mailbox arrives over one of those two connections
        sim250.outlook("staff137@example.com").create("Dentist", tomorrow(10), tomorrow(11))
        assert wait_for(lambda: sum(r.stats["notifications"] for r in listener.runners.values()) >= 1)
        assert sim250.counters["GetStreamingEvents"] == 2


def test_g2_two_listeners_split_groups_and_one_takes_over_when_the_other_dies(app, redis_url, sim250):
    connect_integration(sim250)
    mailbox_rows([f"staff{i:03d}@example.com" for i in range(250)])
    with listener_thread(app, redis_url, owner="one") as one, listener_thread(app, redis_url, owner="two") as two:
        assert wait_for(lambda: len(one.runners) == 1 and len(two.runners) == 1, timeout=60)
        assert set(one.runners).isdisjoint(two.runners)
        assert wait_for(lambda: sim250.counters["GetStreamingEvents"] >= 2, timeout=60)
        orphaned = set(two.runners)
        two.crash_now()  # the process dies: no release, no goodbye; its lease expires
        assert wait_for(lambda: set(one.runners) >= orphaned, timeout=30)
        moved = next(iter(orphaned))
        runner = one.runners[moved]
        # its subscriptions exist once it opens its connection; the dead listener's connection is gone
        assert wait_for(lambda: runner.stats["connections"] >= 1 and open_streams(sim250) == 2, timeout=30)
        member = one.world.plan.by_key()[moved].members[5].mailbox
        sim250.outlook(member).create("Moved group still heard", tomorrow(10), tomorrow(11))
        assert wait_for(lambda: runner.stats["notifications"] >= 1)
        assert one.runners[moved] is runner


def test_g2_mailboxes_of_two_database_availability_groups_get_one_connection_each(app, redis_url):
    """EWS-FACTS §6: SOAP Autodiscover's GroupingInformation decides which mailboxes share a connection; each
    connection is anchored on a mailbox of its own group, and Autodiscover is asked once, in batches of 100."""
    from portal.extensions import db
    from portal.models import MailboxState

    emails = [f"staff{i:03d}@example.com" for i in range(120)]
    with running_simulator(version="2016", auth="ntlm", heartbeat_s=1.0) as sim:
        for i, email in enumerate(emails):
            sim.add_mailbox(email, name=f"Staff {i}", grouping="DAG-EAST" if i % 2 else "DAG-WEST")
        connect_integration(sim)
        mailbox_rows(emails)
        with listener_thread(app, redis_url) as listener:
            assert wait_for(lambda: listener.world is not None and len(listener.world.plan.groups) == 2 and
                            len(listener.runners) == 2 and sim.counters["GetStreamingEvents"] >= 2 and
                            all(r.stats["connections"] >= 1 for r in listener.runners.values()), timeout=60)
            groups = listener.world.plan.groups
            # asked before connecting: two connections, none opened for a first grouping and then replaced
            assert sim.counters["GetStreamingEvents"] == 2 and sum(r.stats["connections"]
                                                                   for r in listener.runners.values()) == 2
            for group in groups:
                dags = {int(t.mailbox[5:8]) % 2 for t in group.members}
                assert len(dags) == 1 and len(group.members) == 60
                assert group.anchor == group.members[0].mailbox
            assert sim.counters["GetUserSettings"] == 2  # ⌈120 / 100⌉, not asked again on every refresh
            east = emails[1]
            sim.outlook(east).create("Heard over the DAG-EAST connection", tomorrow(10), tomorrow(11))
            east_runner = next(r for r in listener.runners.values()
                               if east in {t.mailbox for t in r.group.members})
            assert wait_for(lambda: east_runner.stats["notifications"] >= 1)
        stored = {m.primary_smtp: m.affinity for m in db.session.execute(db.select(MailboxState)).scalars()}
        assert stored[emails[0]].endswith("|DAG-WEST") and stored[emails[1]].endswith("|DAG-EAST")


def test_g4_autodiscover_refusing_the_account_neither_pauses_nor_blocks_grouping(app, redis_url):
    """Autodiscover is its own IIS virtual directory: a 401 there says nothing about the EWS password, so the
    integration stays connected, the mailboxes keep the EWS server's affinity and are asked again later."""
    from portal.ews_soap import AuthenticationFailed
    from portal.listener.affinity import listened_rows, refresh
    from portal.models import ExchangeIntegration

    class Refusing:
        def mailbox_affinity(self, mailboxes):
            raise AuthenticationFailed("HTTP 401")

    with running_simulator(version="2016", auth="ntlm") as sim:
        integ = connect_integration(sim)
        mailbox_rows(["a@example.com", "b@example.com"])
        assert refresh(integ, listened_rows(), session_factory=lambda _: Refusing()) == 2
        assert ExchangeIntegration.get().state == "connected"
        rows = listened_rows()
        assert [r.affinity for r in rows] == [None, None] and all(r.affinity_checked_at for r in rows)
        assert refresh(integ, rows, session_factory=lambda _: Refusing()) == 0  # not again before 15 min


def test_g2_a_connection_limit_reported_by_exchange_is_learnt_and_not_retried_beyond(app, redis_url):
    """A server that charges every streaming connection to the service account (simulator switch
    hanging_charged_to="account", HangingConnectionLimit 2) answers the third connection ErrorExceededConnectionCount:
    the listener lowers the limit it learnt, reads the groups beyond it by pull subscriptions, stops asking for more
    connections, and says how many mailboxes the service account can stream."""
    emails = [f"staff{i:03d}@example.com" for i in range(5)]
    with running_simulator(version="2016", auth="ntlm", heartbeat_s=1.0, hanging_connection_limit=2,
                           hanging_charged_to="account") as sim:
        for i, email in enumerate(emails):
            sim.add_mailbox(email, name=f"Staff {i}")
        connect_integration(sim)
        mailbox_rows(emails)
        with listener_thread(app, redis_url, max_per_group=1, fallback_pull_interval_seconds=0.5) as listener:
            def settled():
                plan = listener.world.plan if listener.world else None
                streaming = [g for g in plan.groups if g.mode == "streaming"] if plan else []
                return (plan is not None and 1 <= len(streaming) <= 2 and open_streams(sim) == len(streaming)
                        and len(listener.runners) == 5)
            assert wait_for(settled, timeout=60)
            fp = listener.world.fingerprint
            limit = listener.learnt.get(fp)
            assert limit == 2  # the three refused groups are read by pull; the two open connections stay open
            plan = listener.world.plan
            assert sum(1 for g in plan.groups if g.mode == "streaming") == limit
            assert sorted(t.mailbox for g in plan.groups for t in g.members) == emails  # nobody dropped
            assert f"at most {limit} mailboxes ({limit} connections × 1)" in plan.capacity
            assert "HangingConnectionLimit" in plan.capacity
            # not retried beyond the limit: no more GetStreamingEvents once settled (streams last a "minute" = 60 s)
            before = sim.counters["GetStreamingEvents"]
            import time
            time.sleep(3)
            assert sim.counters["GetStreamingEvents"] == before
            # a mailbox read by pull is still heard
            pulled = next(g for g in plan.groups if g.mode == "pull").members[0].mailbox
            sim.outlook(pulled).create("Heard by pull", tomorrow(10), tomorrow(11))
            runner = next(r for r in listener.runners.values() if pulled in r.group.mailboxes)
            assert wait_for(lambda: runner.stats["notifications"] >= 1, timeout=20)
