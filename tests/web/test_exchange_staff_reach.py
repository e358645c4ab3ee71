"""Authorize reaches a sample of staff calendars (S6, I1, S8): one missing, moving or not-granted mailbox is that
staff member's state on the User Accounts tab, never a failed Authorize; "reached N of M staff calendars".

Real HTTP + NTLM against the EWS simulator; the mailbox-level answers come from its switches.
"""
from __future__ import annotations

import pytest

from ews_simulator.testing import running_simulator
from portal.extensions import db
from portal.models import AuditEvent, ExchangeIntegration, MailboxState, SyncActivity
from tests.conftest import login
from tests.web.exchange_helpers import add_staff
from tests.web.test_exchange_authorize_sim import BASE, data_for, failure_of


@pytest.fixture(autouse=True)
def _private_queues(queue_redis):
    return queue_redis


@pytest.fixture(scope="module")
def sim():
    with running_simulator(version="2016", auth="ntlm") as s:
        s.add_mailbox(s.service_account.upn, name="Sundial service")
        s.add_mailbox("alice@example.com", name="Alice Able")
        s.add_mailbox("bob@example.com", name="Bob Baker")
        yield s


@pytest.fixture(autouse=True)
def _reset(sim):
    sim.faults.clear()
    sim.set_impersonation(sim.service_account.upn, True)
    yield
    sim.faults.clear()


@pytest.fixture
def admin(app, client, admin_user):
    app.config["EXCHANGE_PROBE_TIMEOUT"] = (3, 10)
    return login(client, admin_user)


def flashed(admin, resp) -> str:
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    return admin.get(resp.headers["Location"]).get_data(as_text=True).replace("&#39;", "'")


def state_of(staff) -> MailboxState:
    db.session.expire_all()
    return db.session.get(MailboxState, staff.id)


def test_s6_i1_cannot_find_user_for_one_staff_mailbox_still_authorizes(admin, sim, queue_redis):
    """The field report: a server answered ErrorCannotFindUser for the first staff member's missing mailbox."""
    sim.faults.cannot_find_user()
    carol = add_staff("Carol Nomailbox", "carol@example.com")  # first by id, as in the field
    alice = add_staff("Alice Able", "alice@example.com")
    add_staff("Bob Baker", "bob@example.com")
    html = flashed(admin, admin.post(BASE + "/authorize", data=data_for(sim)))
    assert "Reached 2 of 3 staff calendars checked." in html
    assert "carol@example.com" in html and "ErrorCannotFindUser" in html
    assert ExchangeIntegration.get().state == "connected"
    row = state_of(carol)
    assert row.state == "mailbox_not_found" and row.tried_address == "carol@example.com"
    assert state_of(alice).state == "initializing"
    from rq import Queue

    queued = [j.args[0] for j in Queue("sync", connection=queue_redis).get_jobs()]
    assert carol.id not in queued and alice.id in queued  # a mailbox that does not exist is not synced
    assert SyncActivity.query.filter_by(staff_id=carol.id, rule="S6").count() == 1
    assert "Reached 2 of 3" in AuditEvent.query.filter_by(action="authorized").one().detail


def test_s6_s8_moving_mailbox_is_its_own_state(admin, sim):
    alice = add_staff("Alice Able", "alice@example.com")
    bob = add_staff("Bob Baker", "bob@example.com")
    sim.faults.mailbox_unavailable("bob@example.com")
    html = flashed(admin, admin.post(BASE + "/authorize", data=data_for(sim)))
    assert "Reached 1 of 2 staff calendars checked." in html and "ErrorMailboxStoreUnavailable" in html
    assert state_of(bob).state == "mailbox_unavailable" and state_of(alice).state == "initializing"


def test_s6_s8_impersonation_denied_for_one_mailbox_is_that_staff_members_state(admin, sim):
    alice = add_staff("Alice Able", "alice@example.com")
    bob = add_staff("Bob Baker", "bob@example.com")
    sim.faults.impersonation_out_of_scope("alice@example.com")  # the role's management scope leaves Alice out
    html = flashed(admin, admin.post(BASE + "/authorize", data=data_for(sim)))
    assert "Reached 1 of 2 staff calendars checked." in html and "alice@example.com" in html
    assert state_of(alice).state == "no_access" and state_of(bob).state == "initializing"


def test_s6_g5_delegate_access_checks_the_sample_in_one_batched_request(admin, sim):
    sim.grant("alice@example.com", sim.service_account.upn, "author")  # bob granted nothing
    alice = add_staff("Alice Able", "alice@example.com")
    bob = add_staff("Bob Baker", "bob@example.com")
    sim.counters.reset()
    html = flashed(admin, admin.post(BASE + "/authorize", data=data_for(sim, impersonation=None)))
    assert "Reached 1 of 2 staff calendars checked." in html
    assert sim.counters["GetFolder"] == 2  # the service account's own calendar + one batch for the sample
    assert state_of(bob).state == "no_access" and state_of(alice).state == "initializing"


def test_s6_sample_is_bounded_and_says_so(app, admin, sim):
    app.config["EXCHANGE_PROBE_SAMPLE"] = 2
    for n in range(5):
        sim.add_mailbox(f"p{n}@example.com", name=f"Person {n}")
        add_staff(f"Person {n}", f"p{n}@example.com")
    sim.counters.reset()
    html = flashed(admin, admin.post(BASE + "/authorize", data=data_for(sim)))
    assert "Reached 2 of 2 staff calendars checked (a sample of the 5 staff who take appointments)." in html
    assert sim.counters["GetFolder"] == 3  # own calendar + one per sampled mailbox (impersonation is per request)
    assert sim.counters[("GetFolder", "p0@example.com")] == 1 and sim.counters[("GetFolder", "p2@example.com")] == 1


def test_s6_no_staff_mailbox_reached_still_fails_with_the_addresses(admin, sim):
    sim.faults.cannot_find_user()
    add_staff("Carol Nomailbox", "carol@example.com")
    add_staff("Dan Nomailbox", "dan@example.com")
    sentence = failure_of(admin.post(BASE + "/authorize", data=data_for(sim)))
    assert "carol@example.com, dan@example.com" in sentence and "Sundial problem" not in sentence
