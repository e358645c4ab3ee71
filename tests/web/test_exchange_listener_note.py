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
