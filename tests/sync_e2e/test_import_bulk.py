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


def test_g1_import_runs_without_the_cyclic_collector_and_gives_it_back(world, monkeypatch):
    """The import pauses gc while it reads and writes a mailbox (CPU) and turns it back on afterwards, also when
    the import fails; a worker that had turned it off itself keeps it off."""
    import gc

    import portal.jobs.initial_sync as initial

    seen: list[bool] = []
    real = initial.import_pages

    def spy(ctx, links):
        seen.append(gc.isenabled())
        return real(ctx, links)

    monkeypatch.setattr(initial, "import_pages", spy)
    world.outlook(world.alice).create("Meeting", future(1, 9), future(1, 10))
    assert gc.isenabled()
    world.initial(world.alice)
    assert seen == [False] and gc.isenabled()
    assert len(world.absences(world.alice)) == 1

    def boom(ctx, links):
        seen.append(gc.isenabled())
        raise RuntimeError("the import failed half-way")

    monkeypatch.setattr(initial, "import_pages", boom)
    world.initial(world.bob)
    assert seen == [False, False] and gc.isenabled()

    gc.disable()
    try:
        monkeypatch.setattr(initial, "import_pages", spy)
        world.initial(world.bob)
        assert seen[-1] is False and not gc.isenabled()
    finally:
        gc.enable()
