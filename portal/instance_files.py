"""Item 7: everything under instance/ (generated secrets, the SQLite database and its journals) is readable
by Sundial's own user only: the folder 0700, every file 0600."""
from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url


def secure_instance(instance_path: str, database_uri: str | None) -> None:
    """Create instance/ as 0700, pre-create a SQLite database file inside it as 0600 (SQLite gives its -wal,
    -shm and -journal files the database file's mode), and tighten files an older version left readable."""
    folder = Path(instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    db_file = _sqlite_file(database_uri)
    if db_file is not None and db_file.parent == folder and not db_file.exists():
        os.close(os.open(db_file, os.O_CREAT | os.O_WRONLY, 0o600))
    for path in folder.rglob("*"):
        if path.is_file() and path.stat().st_mode & 0o077:
            path.chmod(0o600)


def write_private(path: Path, text: str) -> None:
    """Write a new file that is 0600 from its first byte (no window with the default umask)."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def _sqlite_file(uri: str | None) -> Path | None:
    if not uri or not uri.startswith("sqlite"):
        return None
    name = make_url(uri).database
    return Path(name).resolve() if name and name != ":memory:" else None
