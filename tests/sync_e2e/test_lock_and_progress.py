"""The frame every mailbox job runs in, end to end: the per-mailbox lock outlives its short expiry while a
long sync works and is never overlapped (G3: nothing applied twice), and the initial import writes its
progress page by page for the User Accounts tab (S8, G1)."""
from __future__ import annotations

import time

from portal.engine.apply import FAULTS
from portal.engine.locks import lock_name, mailbox_lock
from portal.extensions import db
from portal.models import MailboxState

from .conftest import future


def test_g3_a_sync_running_longer_than_the_lock_expiry_keeps_the_mailbox(world):
    world.app.config["MAILBOX_LOCK_SECONDS"] = 1.5
    world.initial(world.alice)
    world.outlook(world.alice).create("Slow day", future(1, 13), future(1, 14))
    seen = []

    def slow_commit():  # the job is still working, 3 x the lock expiry after taking the lock
        time.sleep(4.5)
        with mailbox_lock(world.alice.id) as other_worker:
            seen.append((bool(other_worker), world.redis.pttl(lock_name(world.alice.id))))

    FAULTS["before_commit"] = slow_commit
    world.sync(world.alice)
    FAULTS.clear()
    [(other_got_it, ttl_ms)] = seen
    assert other_got_it is False and 0 < ttl_ms <= 1500  # still held, still with a short expiry
    assert [a.title for a in world.absences(world.alice)] == ["Slow day"]
    assert world.state(world.alice).state == "synced"
    assert world.redis.exists(lock_name(world.alice.id)) == 0  # released when the job ended


def test_g3_a_sync_whose_lock_passed_to_another_worker_commits_nothing(world):
    world.app.config["MAILBOX_LOCK_SECONDS"] = 0.5
    world.initial(world.alice)
    world.outlook(world.alice).create("Contested", future(1, 13), future(1, 14))
    newcomer = world.redis.lock(lock_name(world.alice.id), timeout=30, thread_local=False)

    def frozen_past_the_expiry():  # this job's lock lapsed and another worker took the mailbox
        world.redis.delete(lock_name(world.alice.id))
        assert newcomer.acquire(blocking=False)

    FAULTS["before_commit"] = frozen_past_the_expiry
    world.sync(world.alice)
    FAULTS.clear()
    assert world.absences(world.alice) == []  # rolled back: the newcomer does this work
    assert world.state(world.alice).state == "synced" and world.state(world.alice).last_error is None
    assert newcomer.owned()  # the loser neither renewed nor released the newcomer's lock
    newcomer.release()
    world.sync(world.alice)
    assert [a.title for a in world.absences(world.alice)] == ["Contested"]


def _committed(world, staff_id):
    """What the User Accounts tab would read right now: committed values, through another connection."""
    with db.engine.connect() as conn:
        row = conn.execute(db.select(MailboxState.state, MailboxState.progress_imported,
                                     MailboxState.progress_total).where(MailboxState.staff_id == staff_id)).one()
    return tuple(row)


def test_s8_g1_initial_import_progress_is_committed_page_by_page(world):
    world.app.config["SYNC_MAX_CHANGES"] = 3  # SyncFolderItems pages of 3 items
    ol = world.outlook(world.alice)
    for n in range(8):
        ol.create(f"E{n}", future(1 + n % 4, 8 + n), future(1 + n % 4, 9 + n))
    world.book(start=future(6, 15))
    seen = []
    FAULTS["before_commit"] = lambda: seen.append(_committed(world, world.alice.id))
    world.initial(world.alice)
    FAULTS.clear()
    importing = [s for s in seen if s[0] == "initializing"]
    assert importing[:3] == [("initializing", 0, 8), ("initializing", 3, 8), ("initializing", 6, 8)]
    st = world.state(world.alice)
    assert (st.state, st.progress_imported, st.progress_exported, st.progress_total) == ("synced", 8, 1, 8)
    assert len(world.absences(world.alice)) == 8 and len(world.items(world.alice)) == 9


def test_g1_an_interrupted_import_resumes_without_duplicates(world):
    world.app.config["SYNC_MAX_CHANGES"] = 3
    ol = world.outlook(world.alice)
    for n in range(7):
        ol.create(f"E{n}", future(1 + n % 3, 8 + n), future(1 + n % 3, 9 + n))
    commits = []

    def killed_on_the_second_commit():
        commits.append(1)
        if len(commits) == 2:
            raise RuntimeError("worker killed mid-import")

    FAULTS["before_commit"] = killed_on_the_second_commit
    world.initial(world.alice)
    FAULTS.clear()
    assert len(world.absences(world.alice)) == 3  # the first page stayed; the second was rolled back
    assert world.state(world.alice).sync_state is None
    world.initial(world.alice)
    assert sorted(a.title for a in world.absences(world.alice)) == [f"E{n}" for n in range(7)]
    assert world.state(world.alice).state == "synced"


def after_the_first_page(change):
    """A commit hook that changes Exchange once, while the first import page is being committed."""
    commits = []

    def hook():
        commits.append(1)
        if len(commits) == 1:
            change()
    return hook


def test_d1_an_event_deleted_while_the_import_pages_is_not_left_behind(world):
    """SyncFolderItems reports a Delete on a later page for an item an earlier page already sent: the absence
    that earlier page created goes again, in this import and in every later sync."""
    world.app.config["SYNC_MAX_CHANGES"] = 3
    ol = world.outlook(world.alice)
    ids = [ol.create(f"E{n}", future(1 + n % 3, 8 + n), future(1 + n % 3, 9 + n)) for n in range(7)]
    FAULTS["before_commit"] = after_the_first_page(lambda: ol.delete(ids[0]))
    world.initial(world.alice)
    FAULTS.clear()
    assert sorted(a.title for a in world.absences(world.alice)) == [f"E{n}" for n in range(1, 7)]
    world.sync(world.alice)
    assert sorted(a.title for a in world.absences(world.alice)) == [f"E{n}" for n in range(1, 7)]


def test_u4_a_series_changed_while_the_import_pages_is_imported_once(world):
    """A recurring master sent again on a later page (it changed meanwhile) is expanded once, in its last
    version: five occurrences, not ten."""
    world.app.config["SYNC_MAX_CHANGES"] = 3
    ol = world.outlook(world.alice)
    series = ol.create_recurring("Weekly 1", future(2, 7), future(2, 8), count=5)
    for n in range(6):
        ol.create(f"E{n}", future(1 + n % 3, 10 + n), future(1 + n % 3, 11 + n))
    FAULTS["before_commit"] = after_the_first_page(lambda: ol.rename(series, "Weekly 2"))
    world.initial(world.alice)
    FAULTS.clear()
    weekly = [a for a in world.absences(world.alice) if a.title.startswith("Weekly")]
    assert [a.title for a in weekly] == ["Weekly 2"] * 5
    assert len({a.start for a in weekly}) == 5


def test_d1_a_paged_re_initialization_holds_its_removals_for_the_mass_deletion_guard(world):
    """Habit 8 on a paged re-import: absences that would go (their events all made free) are not removed
    page by page; the whole set meets the guard first and waits for an admin."""
    world.app.config["SYNC_MAX_CHANGES"] = 3
    ol = world.outlook(world.alice)
    ids = [ol.create(f"E{n}", future(1 + n % 3, 8 + n), future(1 + n % 3, 9 + n)) for n in range(7)]
    world.initial(world.alice)
    assert len(world.absences(world.alice)) == 7
    for item_id in ids:
        ol.make_free(item_id)
    world.initial(world.alice)  # e.g. after an email change or an invalid sync state
    assert world.state(world.alice).state == "needs_confirmation"
    assert len(world.absences(world.alice)) == 7
