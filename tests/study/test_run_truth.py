"""A run folder read and written through :class:`quarch.study.Run` (``_run.py``), and
the search's progress bar (``_progress.py``), each against its docstring's claim.

The truth is the file system (what ``write`` leaves, what ``open`` refuses), the JSON
the standard library reads back, and the minimum (or maximum) of the values shown.
"""

from __future__ import annotations

import json
import locale
import pickle
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
import torch

from quarch import RunError
from quarch.config import SearchConfig
from quarch.objectives import Objective
from quarch.study import Run, run_search
from quarch.study._progress import SearchProgress
from quarch.study._result import TrialRecord
from quarch.study._run import objective_of
from quarch.testing.evaluators import ArithmeticEvaluator


def _cfg(tmp_path: Path, **kw: Any) -> SearchConfig:
    base: dict[str, Any] = {"space": "mlp", "dataset": "iris", "trials": 3,
                            "strategy": "random", "out": str(tmp_path / "run")}  # fmt: skip
    base.update(kw)
    return SearchConfig(**base)


def _folder(tmp_path: Path, config: Any = None, meta: Any = None) -> Path:
    d = tmp_path / "f"
    d.mkdir(exist_ok=True)
    cfg = config if config is not None else _cfg(tmp_path).to_dict()
    (d / "config.json").write_text(cfg if isinstance(cfg, str) else json.dumps(cfg))
    m = meta if meta is not None else {"storage": "sqlite"}
    (d / "run.json").write_text(m if isinstance(m, str) else json.dumps(m))
    return d


# -- writing and opening ------------------------------------------------------------------
def test_write_then_open_gives_the_run_back(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, seed=11)
    meta = {"storage": "journal", "fingerprint": 1234, "seed": 11}
    Run(tmp_path / "a" / "b", cfg, meta).write()  # parents are created
    d = tmp_path / "a" / "b"
    assert sorted(p.name for p in d.iterdir()) == ["config.json", "run.json"]
    text = (d / "run.json").read_text()
    assert text == json.dumps(meta, indent=2) + "\n"
    assert json.loads((d / "config.json").read_text()) == cfg.to_dict()
    run = Run.open(str(d))
    assert run.dir == d and run.config == cfg and run.meta == meta
    assert run.storage == "journal" and run.fingerprint == "1234"
    Run(d, cfg, {"x": 1}).write()  # writing again replaces both files
    assert Run.open(d).meta == {"x": 1}


def test_a_folder_without_both_files_is_no_run(tmp_path: Path) -> None:
    d = _folder(tmp_path)
    assert Run.exists(d) and Run.exists(str(d))
    for missing in ("config.json", "run.json"):
        keep = (d / missing).read_text()
        (d / missing).unlink()
        with pytest.raises(RunError) as e:
            Run.open(d)
        assert str(e.value) == (
            f"{str(d)!r} is not a quarch run folder (config.json or run.json missing)"
        )
        assert Run.exists(d) == (missing == "config.json")  # run.json is the mark
        (d / missing).write_text(keep)
    (d / "run.json").unlink()
    (d / "run.json").mkdir()  # not a file
    with pytest.raises(RunError, match="is not a quarch run folder"):
        Run.open(d)


@pytest.mark.parametrize(
    ("config", "meta", "reason"),
    [
        ("{", None, "has a corrupt JSON file: Expecting property name"),
        (None, "[1, 2", "has a corrupt JSON file: Expecting"),
        (None, "[" * 100000 + "]" * 100000, "has a corrupt JSON file: maximum recursion"),
        ("[1]", None, "has a corrupt JSON file (not an object)"),
        (None, '"text"', "has a corrupt JSON file (not an object)"),
        ({"space": "mlp", "trials": -1}, None, "has a damaged config.json: "),
        (None, {"storage": 3}, "has a damaged run.json: bad 'storage'"),
        (None, {"storage": None}, "has a damaged run.json: bad 'storage'"),
    ],
)
def test_a_damaged_file_is_one_run_error(
    tmp_path: Path, config: Any, meta: Any, reason: str
) -> None:
    d = _folder(tmp_path, config, meta)
    with pytest.raises(RunError) as e:
        Run.open(d)
    assert str(e.value).startswith(f"run folder {str(d)!r} {reason}")
    assert e.value.__cause__ is None


def test_bytes_that_are_not_utf8_are_a_corrupt_file(tmp_path: Path) -> None:
    d = _folder(tmp_path)
    (d / "run.json").write_bytes(b'{"storage": "\xff"}')
    with pytest.raises(RunError, match=r"has a corrupt JSON file: 'utf-8' codec can't decode"):
        Run.open(d)


@pytest.fixture
def ascii_locale() -> Iterator[None]:
    """This process's character type locale set to ``C`` (ASCII), as a minimal system
    or a ``LANG=C`` shell has it; Python then reads a text file without an encoding as
    ASCII."""
    old = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        yield
    finally:
        locale.setlocale(locale.LC_CTYPE, old)


def test_files_edited_in_utf8_open_in_any_locale(tmp_path: Path, ascii_locale: None) -> None:
    """JSON is UTF-8 (RFC 8259, section 8.1): a ``config.json`` and ``run.json`` edited
    by hand with a literal ``é`` (quarch itself writes ``\u00e9``) open in an ASCII
    locale too, with the text as written."""
    cfg = {**_cfg(tmp_path).to_dict(), "study_name": "étude"}
    d = _folder(tmp_path)
    (d / "config.json").write_bytes(json.dumps(cfg, ensure_ascii=False).encode())
    (d / "run.json").write_bytes('{"storage": "sqlite", "note": "café"}'.encode())
    run = Run.open(d)
    assert run.config.study_name == "étude" and run.meta["note"] == "café"


def test_a_file_that_cannot_be_read_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = _folder(tmp_path)

    def refuse(self: Path, *a: Any, **k: Any) -> str:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_text", refuse)
    with pytest.raises(RunError) as e:
        Run.open(d)
    assert str(e.value) == f"cannot read run folder {str(d)!r}: Permission denied"


def test_meta_defaults_of_old_runs(tmp_path: Path) -> None:
    d = _folder(tmp_path, meta={})
    run = Run.open(d)
    assert run.storage == "sqlite" and run.fingerprint is None
    assert run.objective.to_dict() == Objective(list(run.config.objectives)).to_dict()


def test_a_config_whose_objective_is_damaged(tmp_path: Path) -> None:
    run = Run(tmp_path, _cfg(tmp_path, budgets=["params<<3"]), {})
    with pytest.raises(RunError) as e:
        _ = run.objective
    assert str(e.value) == (
        f"run folder {str(tmp_path)!r} has a damaged config.json: malformed budget "
        "'params<<3'; expected METRIC<=NUMBER (or <, >=, >), e.g. latency_ms<=100"
    )


def test_objective_of_is_the_configs_objective(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, objectives=["val_error", "params"], weights=[1.0, 0.01],
               budgets=["params<=100"])  # fmt: skip
    got = objective_of(cfg)
    assert list(got.metrics) == ["val_error", "params"] and list(got.weights or []) == [1.0, 0.01]
    assert [str(b) for b in got.budgets] == ["params<=100"]


# -- reading trials -----------------------------------------------------------------------
@pytest.fixture
def run(tmp_path: Path) -> Run:
    class Some(ArithmeticEvaluator):  # the second trial raises: failed
        calls = 0

        def evaluate(self, arch: Any, *, seed: int) -> dict[str, float]:
            self.calls += 1
            if self.calls == 2:
                raise RuntimeError("boom")
            return super().evaluate(arch, seed=seed)

    run_search(_cfg(tmp_path, trials=3), progress=False, evaluator=Some())
    return Run.open(tmp_path / "run")


def test_trial_returns_a_complete_trial_and_refuses_others(run: Run) -> None:
    res = run.result()
    complete = [t for t in res.trials if t.state == "COMPLETE"]
    failed = [t for t in res.trials if t.state == "FAIL"]
    assert complete and failed
    assert run.trial(complete[0].number) == complete[0]
    assert run.trial(complete[0].number, result=res) == complete[0]
    names = ", ".join(str(t.number) for t in complete)
    with pytest.raises(RunError) as e:
        run.trial(failed[0].number)
    assert (
        str(e.value) == f"trial {failed[0].number} is failed, not complete; complete ones: {names}"
    )
    last = len(res.trials)
    with pytest.raises(RunError) as e:
        run.trial(last)
    assert str(e.value) == f"run {str(run.dir)!r} has no trial {last}; it has 0..{last - 1}"


def test_a_run_without_trials_says_so(run: Run) -> None:
    """It said "has no trial 0; it has 0..-1"."""
    res = run.result()
    res.trials = []
    with pytest.raises(RunError) as e:
        run.trial(0, result=res)
    assert str(e.value) == f"run {str(run.dir)!r} has no trial 0; it has no trials yet"


def _record(number: int, state: str) -> TrialRecord:
    return TrialRecord(number=number, state=state, params={}, metrics={}, values=None,
                       feasible=True, seed=None)  # fmt: skip


@pytest.mark.parametrize(
    ("state", "word"),
    [("FAIL", "failed"), ("RUNNING", "still running"), ("WAITING", "waiting to run"),
     ("PRUNED", "pruned")],
)  # fmt: skip
def test_trial_says_the_state_in_words(run: Run, state: str, word: str) -> None:
    res = run.result()
    res.trials = [_record(0, state)]
    with pytest.raises(RunError) as e:
        run.trial(0, result=res)
    assert str(e.value) == f"trial 0 is {word}, not complete; no trial of this run is complete"


def test_trial_lists_ten_complete_ones_and_counts_the_rest(run: Run) -> None:
    res = run.result()
    for n_done, tail in ((10, ""), (11, " and 1 more"), (13, " and 3 more")):
        res.trials = [_record(0, "FAIL")] + [_record(k, "COMPLETE") for k in range(1, n_done + 1)]
        with pytest.raises(RunError) as e:
            run.trial(0, result=res)
        first = ", ".join(str(k) for k in range(1, min(n_done, 10) + 1))
        assert str(e.value) == f"trial 0 is failed, not complete; complete ones: {first}{tail}"


def test_a_study_that_cannot_be_read_is_a_run_error(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Any, *a: Any, **k: Any) -> Any:
        raise ValueError("bad\n   json " + "x" * 300)

    monkeypatch.setattr(optuna.Study, "get_trials", broken)
    with pytest.raises(RunError) as e:
        run.result()
    detail = ("bad json " + "x" * 300)[:200]
    assert str(e.value) == (
        f"run folder {str(run.dir)!r}: its study cannot be read (ValueError: {detail})"
    )


def test_the_study_and_result_are_the_folders(run: Run, tmp_path: Path) -> None:
    optuna.create_study(storage=f"sqlite:///{run.dir / 'study.db'}", study_name="other")
    study = run.study()  # the run's own study, by the config's name
    assert study.study_name == "quarch" and len(study.trials) == 4  # 3 complete, 1 failed
    res = run.result()
    assert res.run_dir == run.dir and res.config == run.config
    assert [t.number for t in res.trials] == [t.number for t in study.trials] == [0, 1, 2, 3]
    assert res.study is not None and res.study.study_name == "quarch"
    assert len(res.study.trials) == 4
    assert res.objective.to_dict() == run.objective.to_dict()


# -- weights and evaluators ------------------------------------------------------------
def test_saved_weights_are_the_saved_tensors_or_none(tmp_path: Path) -> None:
    run = Run(tmp_path, _cfg(tmp_path), {})
    assert run.saved_weights(5) is None
    run.weights_dir.mkdir()
    torch.save({"w": torch.arange(3.0)}, run.weights_dir / "seed_5.pt")
    got = run.saved_weights(5)
    assert got is not None and torch.equal(got["w"], torch.arange(3.0))
    assert run.saved_weights(6) is None


def _cut(path: Path) -> None:
    torch.save({"w": torch.arange(3.0)}, path)
    path.write_bytes(path.read_bytes()[:40])


@pytest.mark.parametrize(
    ("write", "why"),
    [
        (lambda p: p.write_bytes(b""), "EOFError: it ends too early"),
        (_cut, "RuntimeError: PytorchStreamReader failed reading zip archive: failed finding "
               "central directory"),
        (lambda p: p.write_bytes(pickle.dumps(print, protocol=2)),
         "UnpicklingError: Weights only load failed"),
    ],
)  # fmt: skip
def test_a_damaged_weights_file_is_one_line_naming_it(
    tmp_path: Path, write: Callable[[Path], None], why: str
) -> None:
    """An empty weights file made ``torch.load`` raise ``EOFError``, which the command
    line took for Ctrl-C; a damaged one was a traceback."""
    run = Run(tmp_path, _cfg(tmp_path), {})
    run.weights_dir.mkdir()
    path = run.weights_dir / "seed_5.pt"
    write(path)
    with pytest.raises(RunError) as e:
        run.saved_weights(5)
    assert str(e.value) == (
        f"weights file {str(path)!r} cannot be read ({why}); delete it, and the trial is "
        "trained again from its seed"
    )


@pytest.mark.parametrize("held", [[torch.zeros(1)], {"w": 1.0}])
def test_a_weights_file_that_holds_no_state_dict_is_refused(tmp_path: Path, held: Any) -> None:
    run = Run(tmp_path, _cfg(tmp_path), {})
    run.weights_dir.mkdir()
    torch.save(held, run.weights_dir / "seed_5.pt")
    with pytest.raises(RunError) as e:
        run.saved_weights(5)
    path = run.weights_dir / "seed_5.pt"
    assert str(e.value) == (
        f"weights file {str(path)!r} holds a {type(held).__name__}, not a state_dict of "
        "tensors; delete it, and the trial is trained again from its seed"
    )


def test_saved_weights_of_a_gpu_search_load_on_the_cpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file whose tensors were saved on a GPU (its storages tagged ``cuda:0``, as
    ``torch.save`` tags them there) loads on a machine without one."""
    import torch.serialization

    run = Run(tmp_path, _cfg(tmp_path), {})
    run.weights_dir.mkdir()
    with monkeypatch.context() as m:
        m.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        torch.save({"w": torch.arange(3.0)}, run.weights_dir / "seed_1.pt")
    if not torch.cuda.is_available():  # the tag is real: torch refuses it without a map
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(run.weights_dir / "seed_1.pt", weights_only=True)
    got = run.saved_weights(1)
    assert got is not None and got["w"].device.type == "cpu"
    assert torch.equal(got["w"], torch.arange(3.0))


class _Payload:
    """Not a tensor: a weights file holding it is not a ``state_dict``."""


def test_saved_weights_load_tensors_only(tmp_path: Path) -> None:
    """A weights file is unpickled with ``weights_only``: an arbitrary object in it is
    refused, not built (unpickling can run code)."""
    run = Run(tmp_path, _cfg(tmp_path), {})
    run.weights_dir.mkdir()
    torch.save({"w": torch.zeros(1), "x": _Payload()}, run.weights_dir / "seed_2.pt")
    with pytest.raises(Exception, match="Weights only load failed"):
        run.saved_weights(2)


def test_the_evaluator_is_built_from_the_runs_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import quarch.spaces

    seen: list[tuple[SearchConfig, Any]] = []

    spaces: list[Any] = []

    def make(space: Any, cfg: SearchConfig, weights_dir: Any) -> str:
        seen.append((cfg, weights_dir))
        spaces.append(space)
        return "ev"

    monkeypatch.setattr(quarch.spaces, "make_evaluator", make)
    opts = {"supernet": True, "supercircuit": True, "width_mult": 2}
    cfg = SearchConfig(space="cnn", dataset="digits", epochs=3, evaluator_options=opts)
    run = Run(tmp_path, cfg, {})
    assert run.evaluator() == "ev"
    assert seen[-1] == (cfg, None) and spaces[-1] is run.space
    run.evaluator(epochs=7, device="cuda:7")
    assert seen[-1][0].epochs == 7 and seen[-1][0].device == "cuda:7"
    assert seen[-1][0].evaluator_options == opts
    run.evaluator(standalone=True)
    assert seen[-1][0].evaluator_options == {"width_mult": 2} and seen[-1][0].epochs == 3
    assert seen[-1][0].device == cfg.device
    assert cfg.evaluator_options == opts  # the run's own config is untouched
    plain = Run(tmp_path, SearchConfig(space="cnn", dataset="digits"), {})
    plain.evaluator(standalone=True)  # no "supercircuit" option to drop: fine
    assert seen[-1][0].evaluator_options == {}


# -- the progress bar --------------------------------------------------------------------
def _rec(values: list[float] | None, feasible: bool = True) -> TrialRecord:
    return TrialRecord(number=0, state="COMPLETE", params={}, metrics={}, values=values,
                       feasible=feasible, seed=None)  # fmt: skip


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_the_bar_shows_the_best_feasible_value(
    direction: str, capsys: pytest.CaptureFixture[str]
) -> None:
    values = [0.5, 0.25, 0.75, 0.375]
    with SearchProgress(6, 1, enabled=True, names=["val_error"], directions=[direction]) as bar:
        bar.update(1, None)
        assert bar.best is None
        bar.update(2, _rec(None))  # a failed trial has no values
        bar.update(2, _rec([0.01], feasible=False))  # over a budget: not a candidate
        assert bar.best is None
        for k, v in enumerate(values, start=3):
            bar.update(k, _rec([v]))
        best = min(values) if direction == "minimize" else max(values)
        assert bar.best == [best]
        bar.update(6, _rec([0.0625], feasible=False))
        assert bar.best == [best]
    err = capsys.readouterr().err
    assert "search" in err and "6/6" in err and f"best val_error={best:.4g}" in err
    assert "\u2501" * 10 in err  # the bar itself, full
    assert re.search(r"(^|\n)search \u2501", err), err  # the label, as it is


def test_several_objectives_show_no_single_best(capsys: pytest.CaptureFixture[str]) -> None:
    with SearchProgress(2, 0, enabled=True, names=["val_error", "params"],
                        directions=["minimize", "minimize"]) as bar:  # fmt: skip
        bar.update(1, _rec([0.5, 10.0]))
        bar.update(2, _rec([0.25, 20.0]))
        assert bar.best == [0.5, 10.0]  # the first values, kept; no order among pairs
    err = capsys.readouterr().err
    # nothing between the count and the time left (rich's "0:00:00" or "-:--:--")
    assert re.search(r"2/2 +[-\d]:[-\d]{2}:[-\d]{2}", err), err


def test_a_disabled_bar_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with SearchProgress(3, 0, enabled=False, names=["val_error"],
                        directions=["minimize"]) as bar:  # fmt: skip
        bar.update(1, _rec([0.5]))
        bar.update(2, _rec([0.25]))
        assert bar.best == [0.25]
    assert capsys.readouterr().err == ""


def test_the_bar_starts_at_the_trials_already_done(capsys: pytest.CaptureFixture[str]) -> None:
    with SearchProgress(9, 4, enabled=True, names=["val_error"], directions=["minimize"]):
        pass
    err = capsys.readouterr().err
    assert re.search(r"4/9 +[-\d]:[-\d]{2}:[-\d]{2}", err), err  # no best value yet
