"""Request budget, asserted with the simulator's per-operation counters.

Designed budget (portal/ews_soap/session.py docstring):
- fetching 1,000 events with bodies = 1 FindItem (CalendarView, MaxEntriesReturned 1000 = EWSFindCountLimit)
  + 10 GetItem (100 ids per batch) = 11 requests; an initial sync of the same 1,000 items = 2 SyncFolderItems
  pages (512 + 488);
- an idle SyncFolderItems poll = exactly 1 request;
- a CalendarView window holding more than 1,000 items continues from its last item (1,500 items → 2 FindItem);
- NTLM costs 2 extra round trips (two 401s) once per new keep-alive connection, never per call;
- create/update/delete of n items = ⌈n/50⌉ requests each; an update with nothing to set costs none.
"""

from __future__ import annotations

import pytest
from ews_simkit import ALICE, HOUR, T0, counting, populate, session

from portal.ews_soap import CalendarEvent, EventUpdate, ItemRef, NewEvent
from portal.ews_soap.transport import close_pools

running_simulator = pytest.importorskip("ews_simulator.testing").running_simulator


@pytest.fixture(scope="module")
def sim():
    with running_simulator(version="2016", auth="ntlm") as s:
        populate(s)
        outlook = s.outlook(ALICE)
        for i in range(1000):  # 1,000 events, ten a day, in January 2027
            start = T0.replace(year=2027, month=1, day=1) + HOUR * (24 * (i // 10) + i % 10)
            outlook.create(f"Event {i}", start, start + HOUR / 2, body=f"body {i}")
        yield s
        close_pools()


WINDOW = (T0.replace(year=2027, month=1, day=1), T0.replace(year=2027, month=6, day=1))


def test_fetching_1000_events_costs_11_requests(sim):
    ews = session(sim, impersonation=True)
    ews.probe()  # warm the keep-alive connection (NTLM handshake happens here)
    with counting(sim) as by_op:
        events = ews.calendar_view(ALICE, *WINDOW)
        full = ews.get_items(ALICE, [e.item_id for e in events])
    assert len(events) == 1000 and all(isinstance(e, CalendarEvent) and e.body_text for e in full)
    assert by_op() == {"FindItem": 1, "GetItem": 10}


def test_g1_initial_sync_of_1000_items_costs_two_pages(sim):
    ews = session(sim, impersonation=True)
    ews.probe()
    with counting(sim) as by_op:
        pages = list(ews.sync_all(ALICE, None, None))
    assert [len(p.changes) for p in pages] == [512, 488] and pages[-1].includes_last
    assert by_op() == {"SyncFolderItems": 2}


def test_g2_idle_sync_poll_costs_exactly_one_request(sim):
    ews = session(sim, impersonation=True)
    state = [p for p in ews.sync_all(ALICE, None, None)][-1].sync_state
    with counting(sim) as by_op:
        page = ews.sync_folder_items(ALICE, None, state)
    assert page.changes == [] and page.includes_last
    assert by_op() == {"SyncFolderItems": 1}  # no 401: NTLM authenticated the kept-alive connection


def test_ntlm_handshake_once_per_connection(sim):
    close_pools()
    ews = session(sim, impersonation=True)
    with counting(sim) as by_op:
        for _ in range(5):
            ews.primary_calendar(ALICE)
    assert by_op() == {"GetFolder": 5, "(401)": 2}


def test_calendar_view_over_find_limit_continues_from_last_item(sim):
    outlook = sim.outlook(ALICE)
    extra = [outlook.create(f"Extra {i}", WINDOW[0] + HOUR * (24 * (i // 5) + 12 + i % 5),
                            WINDOW[0] + HOUR * (24 * (i // 5) + 12 + i % 5) + HOUR / 2) for i in range(500)]
    try:
        ews = session(sim, impersonation=True)
        ews.probe()
        with counting(sim) as by_op:
            events = ews.calendar_view(ALICE, *WINDOW)
        assert len(events) == 1500 and len({e.item_id for e in events}) == 1500
        assert by_op() == {"FindItem": 2}
    finally:
        for item_id in extra:
            outlook.delete(item_id)


@pytest.mark.parametrize(("n", "batches", "update_batches"), [(1, 1, 0), (50, 1, 1), (51, 2, 1), (120, 3, 3)])
def test_e1_e2_batched_writes_cost_one_request_per_50_items(sim, n, batches, update_batches):
    """create_events / update_events / delete_items: ⌈n/50⌉ requests; an update with nothing to set costs none."""
    ews = session(sim, impersonation=True)
    ews.probe()
    start = T0.replace(year=2028, month=3, day=1)
    events = [NewEvent(f"Batch {n}-{i}", start + HOUR * i, start + HOUR * i + HOUR / 2) for i in range(n)]
    with counting(sim) as by_op:
        made = ews.create_events(ALICE, events)
    assert by_op() == {"CreateItem": batches}
    assert len(made) == n and all(r.error is None and r.item_id for r in made)
    # the last update sets nothing: it is left out of the requests
    updates = [EventUpdate(r.item_id, r.change_key, subject=f"Batch {n} renamed") for r in made[:-1]]
    updates.append(EventUpdate(made[-1].item_id, made[-1].change_key))
    with counting(sim) as by_op:
        updated = ews.update_events(ALICE, updates)
    assert by_op() == ({"UpdateItem": update_batches} if update_batches else {})
    assert all(r.error is None for r in updated) and updated[-1].change_key == made[-1].change_key
    folder = sim.store.folder(ALICE, "calendar")
    subjects = [i.subject for i in sim.store.folder_items(folder.id) if i.subject.startswith(f"Batch {n}")]
    assert sorted(subjects) == sorted([f"Batch {n} renamed"] * (n - 1) + [f"Batch {n}-{n - 1}"])
    with counting(sim) as by_op:
        deleted = ews.delete_items(ALICE, [ItemRef(r.item_id, r.change_key) for r in updated])
    assert by_op() == {"DeleteItem": batches}
    assert all(r.error is None for r in deleted)
    assert not [i for i in sim.store.folder_items(folder.id) if i.subject.startswith(f"Batch {n}")]
