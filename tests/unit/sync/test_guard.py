"""Habit 8: a side that suddenly looks empty is never propagated as mass deletion."""
from __future__ import annotations

from portal.sync.actions import RemoveAbsence, Skip
from portal.sync.plan import linked_units, needs_confirmation, removals


def test_d1_empty_calendar_needs_confirmation():
    assert needs_confirmation(20, 20)
    assert needs_confirmation(10, 9)


def test_d1_ordinary_deletions_pass():
    assert not needs_confirmation(20, 3)
    assert not needs_confirmation(3, 3)  # a small calendar may well be emptied
    assert not needs_confirmation(0, 0)


def test_removals_counts_only_destructive_actions():
    assert removals([RemoveAbsence("a", 1), Skip("b", "I3", "free")]) == 1


def test_u4_a_deleted_series_counts_as_one_item():
    acts = [RemoveAbsence(f"uid:S|2026-03-{d:02d}T10:00:00+00:00", d) for d in range(1, 20)]
    assert removals(acts) == 1
    assert linked_units([a.item_key for a in acts] + ["single"]) == 2
    assert not needs_confirmation(linked_units([a.item_key for a in acts] + ["single"]), removals(acts))
