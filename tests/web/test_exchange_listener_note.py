"""G9: the User Accounts tab says, per mailbox, why its notifications left the shared streaming connection."""
from __future__ import annotations

from tests.web.test_exchange_accounts import BASE, _private_queues, admin, connected, set_state, team  # noqa: F401


def test_g9_user_accounts_tab_says_why_per_mailbox(admin, team, connected):  # noqa: F811
    split = ("Streaming refused by the server (ErrorInvalidSubscription) — split to single-mailbox connections "
             "since 14:02 UTC.")
    set_state(team[0], "synced", listener_note=split)
    set_state(team[1], "synced")
    html = admin.get(BASE + "/accounts").get_data(as_text=True)
    assert html.count("data-listener-note") == 1
    assert split in html


def test_g2_user_accounts_tab_says_how_many_mailboxes_the_service_account_can_stream(admin, team, connected,  # noqa: F811
                                                                                      _private_queues):  # noqa: F811
    """Issue 15: when Exchange limits the service account's streaming connections, the tab says how many mailboxes
    it can stream (limit × 200), what the others use, and what an Exchange admin can raise."""
    from portal.listener.groups import Target, plan_groups
    from portal.ops.state_metrics import publish_listener_stats

    html = admin.get(BASE + "/accounts").get_data(as_text=True)
    assert "data-listener-capacity" not in html  # every mailbox streams: nothing to say
    targets = [Target(f"user{i:04d}@example.com", i, "") for i in range(5000)]
    plan = plan_groups(targets, "2016", True, connection_limit=10, learnt_limit=True)
    publish_listener_stats(_private_queues, "L1", {}, 60_000, capacity=plan.capacity)
    html = admin.get(BASE + "/accounts").get_data(as_text=True)
    assert html.count("data-listener-capacity") == 1
    assert ("This service account can stream notifications for at most 2000 mailboxes (10 connections × 200)"
            in html)
    assert "2000 mailboxes stream; 3000 use pull subscriptions" in html
    assert "HangingConnectionLimit" in html and "a second one is not supported" in html
