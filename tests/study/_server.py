"""A SQLite file standing in for a database server, for the tests of runs on one.

Every ``RDBStorage`` quarch's storage module opens, whatever URL it is given (a
``postgresql+psycopg://`` one with a password), writes one SQLite file instead; the
URLs it was given are recorded, so a test can check which one (with or without the
password) reached the database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from optuna.storages import RDBStorage

from quarch.study import _storage

#: A server URL with a password, which run folders must never store.
URL = "postgresql+psycopg://ann:s3cret@db.example/q"


def file_as_server(monkeypatch: pytest.MonkeyPatch, db: Path) -> list[str]:
    """Make every storage quarch opens the SQLite file ``db``; return the list the URLs
    it is opened with are appended to."""
    opened: list[str] = []

    class Server(RDBStorage):  # the URL's database, as a file
        def __init__(self, url: str, **kw: Any) -> None:
            opened.append(url)
            super().__init__(f"sqlite:///{db}", **kw)

    monkeypatch.setattr(_storage, "RDBStorage", Server)
    return opened
