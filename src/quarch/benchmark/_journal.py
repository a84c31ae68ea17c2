"""A benchmark's finished runs, kept as they end (``finished_runs.jsonl``): what a
stopped benchmark leaves, the settings a rerun must share to take them, and the line
refusing a file of other settings. Apart from the harness that writes them, which is
about running the jobs."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from quarch._errors import RunExistsError
from quarch._paths import writing
from quarch._software import resumed, software
from quarch.benchmark._tasks import resolve_task

__all__ = ["RUNS_FILE"]

#: The file in a benchmark's folder holding each (strategy, seed) run as it finishes,
#: until the results are written: what a stopped benchmark keeps, and what the same
#: command run again takes instead of running those runs again.
RUNS_FILE = "finished_runs.jsonl"


class _Journal:
    """The finished runs of a benchmark, one JSON line each in ``out_dir/RUNS_FILE``
    after a line of the settings they were run with.

    A stopped benchmark (Ctrl-C, SIGTERM, a worker that died) kept none of its runs:
    they were held in memory until the last one. Each is now written as it arrives; a
    run of the same command (same task and task code, trials, budgets, data folder and
    quarch version: :func:`_settings`) takes the runs the file holds for its (strategy,
    seed) pairs, as ``quarch search --resume`` keeps its finished trials. A line cut
    short by a kill is not a run: it is read as missing and run again.

    The first line also records the software the kept runs were made with
    (:func:`quarch._software.software`): a rerun with other software (an upgraded
    library, an edited quarch checkout: ``quarch_source``) takes them, as ``quarch
    search --resume`` does, says so once and records it in the header's
    ``software_changes``, which the result's JSON carries (:attr:`header`).

    A file holding runs of other settings is refused (:class:`RunExistsError`, before
    any run), unless ``overwrite``: it was replaced at the first run the new settings
    finished, without a word, and a mistyped ``--trials`` lost a stopped benchmark's
    hours. Refusing is what a user of quarch's search, Optuna or NNI meets: ``quarch
    search`` into a folder holding a run is refused unless ``--overwrite`` (or
    ``--resume``), Optuna's ``create_study`` refuses a study name in use unless
    ``load_if_exists``, and NNI resumes an experiment with its own stored config, never
    another's; none mixes or drops trials because a setting differs. A file whose runs
    are all unreadable (nothing to lose) is replaced as before.
    """

    def __init__(self, out_dir: Path, settings: dict[str, Any], *, overwrite: bool = False) -> None:
        self.path = out_dir / RUNS_FILE
        first, runs = self._read()
        found = first.get("settings") if isinstance(first, dict) else None
        if runs and found != settings and not overwrite:
            raise RunExistsError(
                _other_settings(self.path, len(runs), found, settings), str(out_dir)
            )
        self.kept: dict[tuple[str, int], dict[str, Any]] = {} if overwrite else runs
        #: the file's first line: the settings, the software the runs were made with
        #: (absent for runs kept by a quarch that did not record it) and its changes
        self.header: dict[str, Any] = {"settings": settings}
        if self.kept and isinstance(first, dict):
            resumed(self.header, first, out_dir, parts="runs",
                    record="the result's software_changes, in --json,")  # fmt: skip
        else:
            self.header["software"] = software()
        self.written = 0
        self.made: list[Path] = []
        self._file: Any = None

    def _read(self) -> tuple[Any, dict[tuple[str, int], dict[str, Any]]]:
        """The file's first line (``None`` when it is no JSON) and the runs the file
        holds; no line and no runs where there is no file."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            return None, {}
        first = _json_line(lines[0]) if lines else None
        rows = (_json_line(line) for line in lines[1:])
        return first, {(r["strategy"], r["seed"]): r for r in rows if _is_run(r)}

    def take(self, strategy: str, seed: int) -> dict[str, Any] | None:
        """The kept run of ``(strategy, seed)``, or ``None`` when it is to be run."""
        return self.kept.get((strategy, seed))

    def add(self, row: dict[str, Any]) -> None:
        """Write ``row`` (a finished run) and flush it: it is kept from now on."""
        if self._file is None:  # the first run of this benchmark: a fresh file
            # a folder that cannot be written (only the write can tell: /proc looks
            # writable to root) stops the benchmark here, in the line the results'
            # write would give, rather than after every run
            with writing(self.path.parent, "benchmark folder"):
                self._start()
        self._file.write(json.dumps(row, default=_plain) + "\n")
        self._file.flush()
        self.written += 1

    def _start(self) -> None:
        missing = [d for d in (self.path.parent, *self.path.parent.parents) if not d.exists()]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.made = missing  # deepest first: removed again if the runs come to nothing
        part = self.path.with_name(f".{RUNS_FILE}.part")
        lines = [self.header, *self.kept.values()]
        part.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
        os.replace(part, self.path)
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115

    def close(self, *, done: bool) -> None:
        """Close the file; ``done`` (the results are written, or the runs are worth
        nothing): remove it, and the folders it made that nothing else went into."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if done:
            self.path.unlink(missing_ok=True)
            for folder in self.made:
                with contextlib.suppress(OSError):  # not empty: the results, a user's file
                    folder.rmdir()

    @property
    def finished(self) -> int:
        """The runs finished: those taken from the file and those written since."""
        return len(self.kept) + self.written

    def stopped(self, total: int) -> KeyboardInterrupt:
        """Ctrl-C's exception, saying what the stop leaves when it leaves runs."""
        if not self.finished:
            return KeyboardInterrupt()
        return KeyboardInterrupt(self.left(total))

    def left(self, total: int) -> str:
        """What a stopped benchmark leaves: the runs kept, and how to finish it."""
        kept = self.finished
        if not kept:
            return "no run finished; the same command runs them all again"
        return (
            f"{kept} of {total} runs finished and are kept in {str(self.path)!r}; run the "
            "same command again to finish it"
        )


def _plain(value: Any) -> Any:
    """A NumPy number or array in a run (a task's own judge may return one) as JSON's;
    anything else JSON cannot write (an option of a user's space that is an object) as
    its text, which is what ``results.csv`` shows of it."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    return str(value)


def _json_line(line: str) -> Any:
    """A line of the runs file, or ``None`` when it is no JSON (cut short by a kill)."""
    try:
        return json.loads(line)
    except ValueError:
        return None


def _is_run(row: Any) -> bool:
    """Whether a line holds a run as :func:`run_one` returns it."""
    return (
        isinstance(row, dict)
        and isinstance(row.get("strategy"), str)
        and (isinstance(row.get("seed"), int) and isinstance(row.get("curve"), list))
    )


def _settings(
    task: str, trials: int, budgets: Sequence[str], data_dir: str | None
) -> dict[str, Any]:
    """What a run's result depends on besides its (strategy, seed): a kept run is taken
    only by a benchmark of the same (:class:`_Journal`). A task of the user's own adds
    its code (:func:`_task_code`): quarch's version identifies only quarch's."""
    from quarch import __version__

    out = {"task": task, "trials": trials, "budgets": list(budgets),
           "data_dir": None if data_dir is None else str(data_dir), "quarch": __version__}  # fmt: skip
    code = _task_code(resolve_task(task))
    if code is not None:  # absent for quarch's tasks: their files of session 38 still match
        out["task_code"] = code
    return out


def _task_code(factory: Callable[..., Any]) -> str | None:
    """``sha256:`` of the source file of the module defining a task factory (of the
    function a ``functools.partial`` wraps), or ``None`` for one of quarch's own (its
    version says which) or one without a readable file.

    A task of the user's own (``package.module:function``, or a plug-in's) edited
    between a stopped benchmark and its rerun was another task, and its runs were
    mixed with the earlier ones. Only the factory's module is read: an edit to another
    module it imports (an evaluator kept apart) is not seen."""
    while isinstance(factory, functools.partial):
        factory = factory.func
    name = getattr(factory, "__module__", None)
    if not isinstance(name, str) or name.partition(".")[0] == "quarch":
        return None
    path = getattr(sys.modules.get(name), "__file__", None)
    if not path:
        return None
    try:
        return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def _other_settings(path: Path, runs: int, found: Any, settings: dict[str, Any]) -> str:
    """The line refusing a runs file of other settings: how many runs it holds and
    which settings differ, as ``trials 20, not 30``."""
    if not isinstance(found, dict):
        why = "its settings line is unreadable"
    else:
        keys = [*settings, *(k for k in found if k not in settings)]
        why = ", ".join(_differs(k, found.get(k), settings.get(k)) for k in keys
                        if found.get(k) != settings.get(k))  # fmt: skip
    return (
        f"{str(path)!r} holds {runs} run{'' if runs == 1 else 's'} of a stopped benchmark "
        "with other settings "
        f"({why}); run that benchmark's command again to finish it, or pass "
        "overwrite=True (--overwrite) to replace them"
    )


def _differs(key: str, was: Any, now: Any) -> str:
    """One setting that differs, as ``trials 20, not 30``."""
    if key == "task_code":
        return "the task's code changed"
    return f"{key} {_shown(was)}, not {_shown(now)}"


def _shown(value: Any) -> str:
    """A setting as the refusal shows it: text as it is, ``none`` for none."""
    if value is None:
        return "none"
    return value if isinstance(value, str) else json.dumps(value)
