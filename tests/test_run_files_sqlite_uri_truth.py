"""``trial_numbers`` on a SQLite built without URI file names.

SQLite reads a ``file:`` name as a URI only when the caller asks (``uri=True``) or
when the library was compiled with ``SQLITE_USE_URI=1``; upstream's default is 0
(Debian's and Ubuntu's builds turn it on, so this machine alone cannot tell). Without
it, ``file:///.../study.db?mode=ro`` is a relative file name under a folder ``file:``
that does not exist, the open fails and the reader would say "cannot tell" (``None``)
for every run. Truth: the numbers Optuna stores (``Run.open``), with ``sqlite3.connect``
made to behave as such a build does.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from quarch.study import Run

from .test_audit_cli_leftovers import run  # noqa: F401  (the fixture)

_REAL_CONNECT = sqlite3.connect


def _connect_without_uri_names(database: Any, *args: Any, uri: bool = False, **kw: Any) -> Any:
    """``sqlite3.connect`` of a SQLite compiled with ``SQLITE_USE_URI=0``: a ``file:``
    name is a URI only with ``uri=True``, else a plain (here relative) file name."""
    if not uri and str(database).startswith("file:"):
        database = Path(".") / "no-such-folder" / str(database)  # what such a build opens
    return _REAL_CONNECT(database, *args, uri=uri, **kw)


def test_trial_numbers_ask_for_a_uri_name(
    run: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from quarch._run_files import trial_numbers

    want = sorted(t.number for t in Run.open(run).study().get_trials(deepcopy=False))
    monkeypatch.setattr(sqlite3, "connect", _connect_without_uri_names)
    assert trial_numbers(run) == want == [0, 1]
