"""The search loop and everything that reads a finished run.

* :func:`run_search`, :func:`resume_search`, :func:`join_study`: the loop (``_loop``;
  :func:`check_search` and :func:`stored_config` say what a search would write),
  its workers (``_worker``: one process; ``_parallel``: several on one machine;
  ``_ray``: Ray tasks), the study's storage (``_storage``) and the progress bar
  (``_progress``);
* :class:`Run`: a run folder, the only reader of one (config, space spec, evaluator,
  trials, saved weights); export, train, report and benchmark read runs through it;
* :class:`SearchResult` and :class:`TrialRecord`: what a run produced.
"""

from __future__ import annotations

from quarch.study._loop import (
    STUDY_NAME,
    check_search,
    join_study,
    load_result,
    open_study,
    resume_config,
    resume_search,
    run_search,
    space_for,
    stored_config,
)
from quarch.study._result import SearchResult, TrialRecord
from quarch.study._run import Run
from quarch.study._worker import trial_seed

__all__ = [
    "STUDY_NAME",
    "Run",
    "SearchResult",
    "TrialRecord",
    "check_search",
    "join_study",
    "load_result",
    "open_study",
    "resume_config",
    "resume_search",
    "run_search",
    "space_for",
    "stored_config",
    "trial_seed",
]
