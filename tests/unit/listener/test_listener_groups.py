"""G2: how mailboxes are grouped onto notification connections (pure planning)."""
from __future__ import annotations

from portal.listener.groups import Target, capacity_sentence, plan_groups


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


def where(plan):
    return {t.mailbox: g.key for g in plan.groups for t in g.members}


def test_g2_adding_or_removing_mailboxes_moves_nobody_else():
    """Sticky packing (issue 15): with the previous assignment every existing mailbox keeps its group."""
    first = plan_groups(targets(5000), "2016", True)
    assert len(first.groups) == 25 and all(len(g.members) == 200 for g in first.groups)
    # a new mailbox whose address sorts first: without history it would shift every group by one
    newcomer = Target("aaa-new@example.com", 99999, "")
    second = plan_groups(targets(5000) + [newcomer], "2016", True, previous=first.assignment)
    w1, w2 = where(first), where(second)
    assert {m for m, k in w2.items() if w1.get(m, k) != k} == set() and w2[newcomer.mailbox] not in w1.values()
    assert all(len(g.members) <= 200 for g in second.groups)
    # 50 mailboxes leave: the others stay, and the next newcomer fills a gap instead of opening a connection
    gone = set(targets(50, 100))
    third = plan_groups([t for t in targets(5000) if t not in gone] + [newcomer], "2016", True,
                        previous=second.assignment)
    w3 = where(third)
    assert all(w3[m] == k for m, k in w2.items() if m in w3)
    late = Target("zzz-late@example.com", 88888, "")
    fourth = plan_groups([t for t in targets(5000) if t not in gone] + [newcomer, late], "2016", True,
                         previous=third.assignment)
    assert where(fourth)[late.mailbox] == w1["user0100@example.com"]  # the first group with room
    assert len(fourth.groups) == len(third.groups)


def test_g2_an_affinity_change_moves_only_that_mailbox():
    everyone = targets(2000, 0, "dag-east") + targets(1000, 2000, "dag-west")
    first = plan_groups(everyone, "2016", True)
    moving = everyone[7]
    changed = [Target(t.mailbox, t.staff_id, "dag-west") if t == moving else t for t in everyone]
    second = plan_groups(changed, "2016", True, previous=first.assignment)
    w1, w2 = where(first), where(second)
    assert {m for m, k in w2.items() if w1[m] != k} == {moving.mailbox}
    group = next(g for g in second.groups if moving.mailbox in g.mailboxes)
    assert {t.affinity for t in group.members} == {"dag-west"} and len(group.members) <= 200


def test_g2_learning_affinities_in_passes_moves_no_group_twice():
    """Mailboxes join as their affinity is learnt (unknown ones are parked, listener_world): each pass only adds
    mailboxes; no mailbox already in a group moves."""
    everyone = [Target(t.mailbox, t.staff_id, "dag-east" if t.staff_id % 3 else "dag-west") for t in targets(5000)]
    previous: dict = {}
    for learnt in (1000, 2000, 3000, 4000, 5000):
        plan = plan_groups(everyone[:learnt], "2016", True, previous=previous)
        assert all(previous[m] == k for m, k in where(plan).items() if m in previous)
        previous = plan.assignment
    assert all(len(g.members) <= 200 for g in plan.groups)
    assert len(plan.groups) <= 5000 // 200 + 2  # packed: at most one partly filled group per affinity


def test_g2_connection_limit_keeps_the_first_groups_streaming_and_reads_the_rest_by_pull():
    plan = plan_groups(targets(700), "2013", impersonation=True, connection_limit=3)
    streaming = [g for g in plan.groups if g.mode == "streaming"]
    pulled = [t for g in plan.groups if g.mode == "pull" for t in g.members]
    assert len(streaming) == 3
    assert sum(len(g.members) for g in streaming) + len(pulled) == 700
    assert len(pulled) == 100
    assert "exceed" in plan.reason
    # without a limit learnt or set, every group streams: each connection impersonates its own anchor, charged
    # to that mailbox's budget (MSDOC how-to-maintain-affinity-between-group-of-subscriptions-and-mailbox-server)
    assert [g.mode for g in plan_groups(targets(700), "2013", True).groups] == ["streaming"] * 4
    # a lower limit later moves whole groups to pull, keeping their members together (stable keys)
    lower = plan_groups(targets(700), "2013", True, connection_limit=2, previous=plan.assignment)
    before, after = where(plan), where(lower)
    def strip(w):
        return {m: k.removeprefix("pull:over:") for m, k in w.items()}

    assert strip(after) == strip(before) and lower.assignment == plan.assignment
    assert sum(1 for g in lower.groups if g.mode == "streaming") == 2


def test_g2_capacity_sentence_says_how_many_mailboxes_one_service_account_can_stream():
    plan = plan_groups(targets(5000), "2016", True, connection_limit=10, learnt_limit=True)
    assert plan.capacity.startswith("This service account can stream notifications for at most 2000 mailboxes "
                                    "(10 connections × 200)")
    assert "2000 mailboxes stream; 3000 use pull subscriptions" in plan.capacity
    assert "ErrorExceededConnectionCount" in plan.capacity and "HangingConnectionLimit" in plan.capacity
    assert "a second one is not supported" in plan.capacity
    assert plan_groups(targets(1500), "2016", True, connection_limit=10).capacity == ""  # all of them stream
    assert capacity_sentence(3, 600, 0, True) == ""


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
