"""Bulk writes for the initial import (G1): one statement per table per page instead of one per row.

The ORM cannot batch these INSERTs on SQLite: it needs each new primary key back, and SQLite's RETURNING
order is arbitrary (sqlite.org/lang_returning.html), so SQLAlchemy falls back to one INSERT per row. Here the
absences are inserted in one multi-row INSERT … RETURNING and matched back to their rows by value (rows with
equal values are interchangeable); the links are read back by id in one SELECT.
"""
from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import insert

from ..extensions import db
from ..models import ExchangeLink, ExternalAbsence, SyncActivity

ABSENCE_VALUES = ("staff_id", "location_id", "start", "end", "title", "notes", "is_private", "is_all_day",
                  "free_busy", "origin")
LINK_VALUES = ("staff_id", "item_key", "item_id", "change_key", "content_hash", "master_item_id",
               "exchange_modified_at", "appointment_id", "absence_id", "synced_at")


@contextmanager
def keep_loaded() -> Iterator[None]:
    """Commits inside a job keep the rows it holds loaded: re-reading every link row after each page's commit
    was a quarter of the import's time. Only this job writes its mailbox's links while it holds the lock.
    Afterwards everything is expired once, so whatever runs next in this process (a worker that does not fork
    per job, a re-run) reads fresh rows."""
    session = db.session()
    before = session.expire_on_commit
    session.expire_on_commit = False
    try:
        yield
    finally:
        session.expire_on_commit = before
        session.expire_all()


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while one mailbox is imported (G1). Parsing a page and writing its rows
    allocate tens of thousands of objects that reference counting frees, yet they trigger collections that walk
    the worker's whole heap (Flask, SQLAlchemy, zeep, lxml): ≈ 10 % of an import's CPU measured in-process. An
    import leaves almost no cycles (162 unreachable objects after 3,000 events); the collector is back on, as it
    was, when the mailbox is done, and collects them then. In a forked job child it also keeps the collector from
    touching — and so copying — every page the child shares with its worker."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def insert_absences(rows: list[dict]) -> list[int]:
    """INSERT every absence at once; their ids, in the order of `rows`."""
    table = ExternalAbsence.__table__
    cols = [table.c[name] for name in ABSENCE_VALUES]
    result = db.session.execute(insert(table).returning(table.c.id, *cols), rows)
    free: dict[tuple, list[int]] = defaultdict(list)
    for rec in result:
        free[tuple(rec[1:])].append(rec[0])
    return [free[tuple(row[name] for name in ABSENCE_VALUES)].pop() for row in rows]


def insert_links(rows: list[dict]) -> dict[str, ExchangeLink]:
    """INSERT every link at once, then one SELECT to hold them as ORM rows (the session loads them itself, so a
    rollback later leaves no row in it that the database does not have)."""
    table = ExchangeLink.__table__
    ids = [id_ for (id_,) in db.session.execute(insert(table).returning(table.c.id), rows)]
    loaded = db.session.execute(db.select(ExchangeLink).where(ExchangeLink.id.in_(ids))).scalars()
    return {link.item_key: link for link in loaded}


def insert_activities(rows: list[dict]) -> None:
    """One executemany for the page's activity rows, in the order they were decided."""
    if rows:
        db.session.execute(insert(SyncActivity.__table__), rows)
