"""G1 at scale: the initial import writes in bulk. Statements are counted on the engine while the job runs."""
from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

from portal.extensions import db

from .conftest import future

EVENTS = 300


@contextmanager
def counted_statements():
    """Every statement the database receives (an executemany is one round trip, as the server sees it)."""
    seen: list[str] = []

    def before(conn, cursor, statement, params, context, executemany):
        seen.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def test_g1_initial_import_costs_at_most_a_tenth_of_a_statement_per_event(world):
    ol = world.outlook(world.alice)
    for k in range(EVENTS):
        ol.create(f"Meeting {k}", future(1 + k % 60, 8 + k // 60), future(1 + k % 60, 9 + k // 60),
                  free_busy="Free" if k % 10 == 9 else "Busy")
    with counted_statements() as seen:
        world.initial(world.alice)
    imported = len(world.absences(world.alice))
    assert imported == EVENTS - EVENTS // 10  # Free events are not imported (I2); nothing else changed
    assert world.state(world.alice).state == "synced"
    per_event = len(seen) / imported
    assert per_event <= 0.1, f"{len(seen)} statements for {imported} events ({per_event:.2f} each)"
