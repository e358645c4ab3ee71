"""LinkView (portal/engine/read.py): the engine's link rows as sync values; get/in answer without raising."""
from __future__ import annotations

from portal.engine.read import LinkView
from portal.models import ExchangeLink


def test_g1_link_view_get_and_contains_answer_for_present_and_missing_keys():
    row = ExchangeLink(staff_id=1, item_key="k1", item_id="I1", change_key="C1", content_hash="h", absence_id=7)
    rows = {"k1": row}
    view = LinkView(rows)
    got = view.get("k1")
    assert (got.item_key, got.item_id, got.change_key, got.content_hash, got.absence_id) == ("k1", "I1", "C1", "h", 7)
    assert view.get("missing") is None and view.get("missing", "d") == "d"
    assert "k1" in view and "missing" not in view
    rows["k2"] = ExchangeLink(staff_id=1, item_key="k2", item_id="I2")  # live: rows the Applier adds count at once
    assert "k2" in view and view.get("k2").item_id == "I2" and len(view) == 2
    del rows["k1"]
    assert view.get("k1") is None and list(view) == ["k2"]
