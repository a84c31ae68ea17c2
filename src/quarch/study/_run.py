"""`Run`: a run folder, and the only code that reads or lays one out.

A run is a folder::

    RUN/
      config.json   the SearchConfig it was started with (defaults resolved)
      run.json      quarch version, seed, data fingerprint, storage, objective, time
      study.db      the Optuna study (SQLite; journal.log for several local workers
                    when no ``--storage`` is given, or a database named by it)
      weights/      seed_<seed>.pt: each trained trial's state_dict (trainable spaces)
      report/       the HTML report (``quarch report``)
      train/        trial_<N>.json: results of ``quarch train``

Export, train, the report and the benchmark read runs through :class:`Run`; the loop
writes them through it. So the layout above is defined here once, but for the names of
its first two files: :mod:`quarch._run_files` holds them and the check that a folder is
a run, which the command line runs before it imports the search loop.
"""

from __future__ import annotations

import dataclasses
import json
import numbers
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quarch._errors import QuarchError, RunError
from quarch._run_files import CONFIG_FILE, META_FILE, check_run_folder
from quarch.config import SearchConfig
from quarch.objectives import Objective
from quarch.study._result import SearchResult, TrialRecord
from quarch.study._storage import SQLITE_FILES, load_study

if TYPE_CHECKING:
    import optuna
    import torch

    from quarch.evaluate import Evaluator
    from quarch.space import Space
    from quarch.spaces import SpaceSpec

__all__ = ["Run"]

WEIGHTS_DIR = "weights"
TRAIN_DIR = "train"
REPORT_DIR = "report"


#: How a trial's state reads in a sentence (Optuna's "FAIL" gave "trial 3 is fail").
_STATE_WORDS = {"FAIL": "failed", "RUNNING": "still running", "WAITING": "waiting to run"}


class Run:
    """A run folder opened for reading (or being written by the loop).

    Args:
        path (str | Path): the folder.
        config (SearchConfig): its config.
        meta (dict): the contents of ``run.json``.

    Use :meth:`open` for an existing folder.

    Example:
        >>> run = Run.open("runs/demo")                     # doctest: +SKIP
        >>> run.result().best.params                         # doctest: +SKIP
    """

    #: The files and folders a run folder holds (what ``overwrite=True`` replaces).
    FILES: tuple[str, ...] = (CONFIG_FILE, META_FILE, *SQLITE_FILES, "journal.log")
    FOLDERS: tuple[str, ...] = (WEIGHTS_DIR, REPORT_DIR, TRAIN_DIR)

    def __init__(self, path: str | Path, config: SearchConfig, meta: dict[str, Any]) -> None:
        self.dir = Path(path)
        self.config = config
        self.meta = meta

    def __repr__(self) -> str:
        """What the run is (a notebook cell's last expression showed the object's
        address); reads no file: :meth:`result` reads the trials."""
        from quarch.study._display import run_repr

        return run_repr(str(self.dir), self.config)

    # -- reading -----------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path) -> Run:
        """Read the run folder ``path``.

        Raises:
            RunError: it is not a run folder, or a file in it is damaged.
        """
        d = check_run_folder(path)
        cfg_path, meta_path = d / CONFIG_FILE, d / META_FILE
        try:
            raw = json.loads(cfg_path.read_text(encoding="utf-8"))
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
            raise RunError(f"run folder {str(d)!r} has a corrupt JSON file: {e}") from None
        except OSError as e:
            raise RunError(f"cannot read run folder {str(d)!r}: {e.strerror or e}") from None
        if not isinstance(raw, dict) or not isinstance(meta, dict):
            raise RunError(f"run folder {str(d)!r} has a corrupt JSON file (not an object)")
        try:
            config = SearchConfig.from_dict(raw)
        except QuarchError as e:
            raise RunError(f"run folder {str(d)!r} has a damaged {CONFIG_FILE}: {e}") from None
        if not isinstance(meta.get("storage", "sqlite"), str):
            raise RunError(f"run folder {str(d)!r} has a damaged {META_FILE}: bad 'storage'")
        return cls(d, config, meta)

    @staticmethod
    def exists(path: str | Path) -> bool:
        """Whether ``path`` holds a run's metadata (``run.json``)."""
        return (Path(path) / META_FILE).exists()

    @cached_property
    def spec(self) -> SpaceSpec:
        """The registered spec of the run's space."""
        from quarch.spaces import get_spec

        return get_spec(self.config.space)

    @cached_property
    def space(self) -> Space:
        """The space the run searched (built from its config)."""
        return self.spec.build_space(self.config)

    @property
    def objective(self) -> Objective:
        """The run's objective: metrics, directions, weights and budgets."""
        return self._objective()

    def _objective(self) -> Objective:
        try:
            return objective_of(self.config)
        except QuarchError as e:
            raise RunError(
                f"run folder {str(self.dir)!r} has a damaged {CONFIG_FILE}: {e}"
            ) from None

    @property
    def fingerprint(self) -> str | None:
        """The data fingerprint the run was made with."""
        return self._fingerprint()

    def _fingerprint(self) -> str | None:
        fp = self.meta.get("fingerprint")
        return None if fp is None else str(fp)

    @property
    def storage(self) -> str:
        """Where the study lives (``sqlite``, ``journal`` or a URL)."""
        return self._storage()

    def _storage(self) -> str:
        return str(self.meta.get("storage", "sqlite"))

    def study(self) -> optuna.Study:
        """The run's Optuna study (to read it, plot it, or add trials)."""
        return load_study(self.storage, self.dir, self.config.study_name)

    def result(self) -> SearchResult:
        """The :class:`SearchResult` of the run as it stands now.

        Raises:
            RunError: the study cannot be read (a damaged ``study.db``/``journal.log``).
        """
        study = self.study()
        try:
            trials = [TrialRecord.from_frozen(t) for t in study.get_trials(deepcopy=False)]
        except Exception as e:  # a damaged study file: SQLAlchemy, JSON or value errors
            raise RunError(
                f"run folder {str(self.dir)!r}: its study cannot be read "
                f"({type(e).__name__}: {' '.join(str(e).split())[:200]})"
            ) from None
        return SearchResult(self.dir, self.config, self.objective, trials, study)

    def trial(self, number: int, *, result: SearchResult | None = None) -> TrialRecord:
        """The complete trial ``number``.

        Raises:
            RunError: ``number`` is not an integer (``"0"`` matched nothing and ``True``
                matched trial 1), no such trial, or it did not complete.
        """
        if isinstance(number, bool) or not isinstance(number, numbers.Integral):
            raise RunError(f"a trial number is an integer; got {number!r}")
        res = result if result is not None else self.result()
        match = [t for t in res.trials if t.number == number]
        if not match:
            has = f"it has 0..{len(res.trials) - 1}" if res.trials else "it has no trials yet"
            raise RunError(f"run {str(self.dir)!r} has no trial {number}; {has}")
        t = match[0]
        if t.state != "COMPLETE":
            done = [str(x.number) for x in res.trials if x.state == "COMPLETE"]
            pick = (
                "no trial of this run is complete"
                if not done
                else f"complete ones: {', '.join(done[:10])}"
                + (f" and {len(done) - 10} more" if len(done) > 10 else "")
            )
            state = _STATE_WORDS.get(t.state, t.state.lower())
            raise RunError(f"trial {number} is {state}, not complete; {pick}")
        return t

    def evaluator(
        self, *, standalone: bool = False, epochs: int | None = None, device: str | None = None
    ) -> Evaluator:
        """The run's evaluator, as the search built it.

        Args:
            standalone: train each architecture from scratch even when the search
                scored inherited weights (a weight-sharing run has no model of a trial's
                own to train or export).
            epochs: train this many epochs instead of the run's.
            device: train on this torch device instead of the run's (a search on a
                laptop's CPU, its winner trained to completion on a GPU, or back).
        """
        from quarch.spaces import make_evaluator

        cfg = self.config
        if epochs is not None:
            cfg = dataclasses.replace(cfg, epochs=epochs)
        if device is not None:
            cfg = dataclasses.replace(cfg, device=device)
        share = self.spec.weight_sharing
        if standalone:
            opts = {k: v for k, v in cfg.evaluator_options.items() if k != share}
            opts.pop("supercircuit", None)  # the name runs before 0.2 used in every space
            cfg = dataclasses.replace(cfg, evaluator_options=opts)
        return make_evaluator(self.space, cfg, weights_dir=None)

    # -- weights -----------------------------------------------------------------------
    @property
    def weights_dir(self) -> Path:
        """Where the search saves each trained trial's weights."""
        return self.dir / WEIGHTS_DIR

    def saved_weights(self, seed: int) -> dict[str, torch.Tensor] | None:
        """The ``state_dict`` the search saved for the trial with ``seed`` (on the CPU),
        or ``None`` when there is none.

        Raises:
            RunError: the file is damaged (cut short, overwritten) or holds something
                else; without it the trial is retrained from its seed.
        """
        import pickle

        import torch

        from quarch.evaluate import weights_file

        path = weights_file(self.weights_dir, seed)
        if not path.is_file():
            return None
        fix = "delete it, and the trial is trained again from its seed"
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except (EOFError, RuntimeError, pickle.UnpicklingError) as e:  # torch.load's errors
            text = str(e).strip()  # torch's first sentence; its advice is about pickles
            why = text.splitlines()[0].split(". ")[0] if text else "it ends too early"
            raise RunError(
                f"weights file {str(path)!r} cannot be read ({type(e).__name__}: {why}); {fix}"
            ) from None
        if not isinstance(state, dict) or not all(
            isinstance(v, torch.Tensor) for v in state.values()
        ):
            raise RunError(
                f"weights file {str(path)!r} holds a {type(state).__name__}, not a state_dict "
                f"of tensors; {fix}"
            )
        return state

    # -- other outputs -----------------------------------------------------------------
    @property
    def train_dir(self) -> Path:
        """Where ``quarch train`` writes ``trial_<N>.json``."""
        return self.dir / TRAIN_DIR

    @property
    def report_dir(self) -> Path:
        """Where ``quarch report`` writes by default."""
        return self.dir / REPORT_DIR

    # -- writing (the loop) ------------------------------------------------------------
    def write(self) -> None:
        """Write ``config.json`` and ``run.json`` (the folder is created)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config.save(self.dir / CONFIG_FILE)
        (self.dir / META_FILE).write_text(json.dumps(self.meta, indent=2) + "\n")


def objective_of(config: SearchConfig) -> Objective:
    """The objective a config describes."""
    return Objective(config.objectives, weights=config.weights, budgets=config.budgets)
