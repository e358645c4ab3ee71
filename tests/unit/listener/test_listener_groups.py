"""G2: how mailboxes are grouped onto notification connections (pure planning)."""
from __future__ import annotations

from portal.listener.groups import Target, plan_groups


def targets(n, start=0, affinity=""):
    return [Target(f"user{i:04d}@example.com", i, affinity) for i in range(start, start + n)]


def test_g2_250_mailboxes_share_two_streaming_groups_of_at_most_200():
    plan = plan_groups(targets(250), "2016", impersonation=True)
    assert plan.mode == "streaming"
    assert len(plan.groups) == 2
    assert all(g.mode == "streaming" and len(g.members) <= 200 for g in plan.groups)
    assert sorted(t for g in plan.groups for t in g.members) == sorted(targets(250))


def test_g2_anchor_is_the_groups_first_mailbox():
    plan = plan_groups(targets(5), "2019", impersonation=True)
    (group,) = plan.groups
    assert group.anchor == group.members[0].mailbox == min(t.mailbox for t in targets(5))
    assert group.staff_for("USER0003@example.com") == 3


def test_g2_a_new_mailbox_changes_one_group_only():
    before = plan_groups(targets(300), "2016", True).by_key()
    after = plan_groups(targets(301), "2016", True).by_key()
    assert before.keys() == after.keys()
    changed = [k for k in before if before[k].members != after[k].members]
    assert len(changed) == 1


def test_g2_streaming_connections_never_exceed_the_servers_hanging_connection_limit():
    plan = plan_groups(targets(700), "2013", impersonation=True)  # 2013: 3 connections of 200
    streaming = [g for g in plan.groups if g.mode == "streaming"]
    pulled = [t for g in plan.groups if g.mode == "pull" for t in g.members]
    assert len(streaming) <= 3
    assert sum(len(g.members) for g in streaming) + len(pulled) == 700
    assert len(pulled) >= 100
    assert "exceed" in plan.reason
    assert len(plan_groups(targets(700), "2016", True).groups) == 4  # 10 allowed on 2016


def test_g2_exchange_2010_rtm_uses_pull_subscriptions():
    plan = plan_groups(targets(10), "2010", impersonation=True)
    assert plan.mode == "pull" and [g.mode for g in plan.groups] == ["pull"]
    assert plan_groups(targets(10), "2010_SP1", True).mode == "streaming"


def test_g2_delegate_access_cannot_subscribe_and_falls_back_to_the_safety_net():
    plan = plan_groups(targets(10), "2016", impersonation=False)
    assert plan.mode == "polling" and plan.groups == ()
    assert "Delegate access" in plan.reason


def test_g2_mailboxes_of_different_affinity_never_share_a_connection():
    plan = plan_groups(targets(3, 0, "a") + targets(3, 3, "b"), "2016", True)
    assert len(plan.groups) == 2
    assert all(len({t.affinity for t in g.members}) == 1 for g in plan.groups)


def test_g2_no_mailboxes_no_groups():
    assert plan_groups([], "2016", True).groups == ()
