"""The strategy kit's journal check writes only into the folder pytest gives it.

``StrategyTestCase.test_resume_journal`` runs in a user's own test suite, from
whatever working folder that suite runs in; the journal it resumes from belongs in
its ``tmp_path``, and nothing may appear in the working folder. Truth: the files in
an empty working folder and in ``tmp_path`` after the check.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from quarch.testing.strategies import StrategyTestCase


def test_the_journal_check_writes_into_tmp_path_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work, given = tmp_path / "work", tmp_path / "given"
    work.mkdir()
    given.mkdir()
    monkeypatch.chdir(work)
    StrategyTestCase().test_resume_journal("random", given)
    assert list(work.iterdir()) == []
    assert len(list(given.iterdir())) == 1  # the journal (its name is the kit's own)
