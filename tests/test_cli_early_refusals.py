"""A mistyped name or run folder is refused before the search loop is imported.

``quarch search``, ``report``, ``trials``, ``train``, ``worker`` and ``export`` import torch,
Optuna's storages and SQLAlchemy with the search loop (about 2 s on a laptop). The refusals that need none of
them come first (``quarch._cli_search._check_names``, ``quarch._run_files``). Each case
runs ``quarch.cli.main`` in a fresh interpreter and reads which modules were loaded when
it returned. The truth for the line is the library's own refusal of the same mistake in
this process (``check_search`` for a config, ``Run.open`` for a folder), so an early
check that drifted from the search's would fail here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import quarch.report
import quarch.study
from quarch._errors import QuarchError
from quarch.cli import main
from quarch.config import SearchConfig
from quarch.study import Run, check_search

from ._fresh_cli import fresh, fresh_refusals
from ._scope import per_module


def _refusal(config: dict[str, object]) -> str:
    """The line ``check_search`` refuses ``config`` with, in this process."""
    with pytest.raises(QuarchError) as e:
        check_search(SearchConfig.from_dict(config))
    return str(e.value)


MISTAKES: list[tuple[list[str], dict[str, object]]] = [
    (["--space", "hqnnn"], {"space": "hqnnn"}),
    (["--space", "hqnn", "--strategy", "qiae"], {"space": "hqnn", "strategy": "qiae"}),
    (
        ["--space", "cnn", "--objectives", "val_error,latncy_ms"],
        {"space": "cnn", "objectives": ["val_error", "latncy_ms"]},
    ),
    (
        ["--space", "hqnn", "--budget", "params<=many"],
        {"space": "hqnn", "budgets": ["params<=many"]},
    ),
    (["--space", "hqnn", "--weights", "1,-1"], {"space": "hqnn", "weights": [1.0, -1.0]}),
    (
        ["--space", "hqnn", "--strategy", "qiea", "--strategy-option", "popsize=4"],
        {"space": "hqnn", "strategy": "qiea", "strategy_options": {"popsize": 4}},
    ),
    (
        ["--space", "hqnn", "--space-option", "max_qubit=3", "--space-option", "trials=4"],
        {"space": "hqnn", "space_options": {"max_qubit": 3, "trials": 4}},
    ),
    (
        ["--space", "hqnn", "--evaluator-option", "noize=ibm-fez"],
        {"space": "hqnn", "evaluator_options": {"noize": "ibm-fez"}},
    ),
    (
        ["--space", "hqnn", "--device-profile", "ibm-fes"],
        {"space": "hqnn", "evaluator_options": {"device_profile": "ibm-fes"}},
    ),
    (
        ["--space", "hqnn", "--noise", "raspi4"],
        {"space": "hqnn", "evaluator_options": {"noise": "raspi4"}},
    ),
    (
        ["--space", "cnn", "--device-profile", "ibm-heron"],
        {"space": "cnn", "evaluator_options": {"device_profile": "ibm-heron"}},
    ),
    (
        ["--space", "cnn", "--device-profile", "Raspi4"],
        {"space": "cnn", "evaluator_options": {"device_profile": "Raspi4"}},
    ),
    (
        ["--space", "mlp", "--evaluator-option", "lr=0.01"],
        {"space": "mlp", "evaluator_options": {"lr": 0.01}},
    ),
]
NAMES = ["space", "strategy", "metric", "budget", "weights", "strategy-option", "space-option",
         "evaluator-option", "device-profile", "noise-profile", "edge-profile-of-other-kind",
         "edge-profile", "mlp-lr"]  # fmt: skip


@pytest.fixture(scope=per_module)
def api_refusals(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str | None]]:
    """The run folder the cases name, and the library's refusal of each case's config
    in a fresh interpreter (one for all cases), by case name."""
    where = tmp_path_factory.mktemp("refusals")
    out = where / "run"
    lines = fresh_refusals([{**config, "out": str(out)} for _, config in MISTAKES], where)
    assert not out.exists()
    return out, dict(zip(NAMES, lines, strict=True))


@pytest.mark.parametrize(("name", "args"), [(n, a) for n, (a, _) in zip(NAMES, MISTAKES, strict=True)], ids=NAMES)  # fmt: skip
def test_a_mistyped_name_is_the_searchs_own_line_without_torch(
    tmp_path: Path, name: str, args: list[str], api_refusals: tuple[Path, dict[str, str | None]]
) -> None:
    out, refusals = api_refusals
    code, loaded, err = fresh(["search", *args, "--out", str(out)], tmp_path)
    assert (code, loaded) == (2, [])
    assert refusals[name] is not None
    assert err == f"error: {refusals[name]}\n"
    assert list(tmp_path.iterdir()) == [] and not out.exists()  # nothing written


@pytest.mark.parametrize(
    "args",
    [["search", "--resume", "RUN"], ["report", "RUN"], ["trials", "RUN"],
     ["train", "RUN", "--trial", "0"], ["worker", "--run", "RUN"],
     ["export", "RUN", "--trial", "0", "--format", "torch", "--out", "x.pt"]],
    ids=["resume", "report", "trials", "train", "worker", "export"],
)  # fmt: skip
def test_a_folder_that_is_not_a_run_is_refused_without_torch(
    tmp_path: Path, args: list[str]
) -> None:
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")  # run.json missing
    for folder in ("no-such-run", "half"):
        code, loaded, err = fresh([folder if a == "RUN" else a for a in args], tmp_path)
        assert (code, loaded) == (2, []), folder
        with pytest.raises(QuarchError) as e:
            Run.open(tmp_path / folder)
        assert err == f"error: {str(e.value).replace(str(tmp_path / folder), folder)}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["half"]


def test_a_worker_without_a_study_is_refused_without_torch(tmp_path: Path) -> None:
    code, loaded, err = fresh(["worker"], tmp_path)
    assert (code, loaded) == (2, [])
    assert err == "error: give exactly one of --storage URL or --run RUN\n"


@pytest.mark.parametrize(
    ("args", "config"),
    [(["--space-option", "max_qubits=0"], {"space_options": {"max_qubits": 0}})],
    ids=["space-option-value"],
)  # fmt: skip
def test_a_mistake_the_space_checks_is_still_refused_with_the_searchs_line(
    tmp_path: Path, args: list[str], config: dict[str, object]
) -> None:
    """The early checks leave the space's own checks of values (its options', which may
    depend on the data set the search resolves) to the search: the line is the same,
    only later. (Its evaluator options' names and device profiles are checked early
    since session 35: MISTAKES above.)"""
    code, loaded, err = fresh(["search", "--space", "hqnn", *args], tmp_path)
    assert code == 2 and "quarch.study" in loaded  # refused by the search loop itself
    assert err == f"error: {_refusal({'space': 'hqnn', **config})}\n"


# -- the same claims in this process (what mutation testing sees) -------------------------


def test_a_mistyped_name_never_reaches_the_search(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The search's entry points are never called: the command refused first, with the
    line the search itself gives (fresh processes above show torch is not imported)."""
    called: list[str] = []
    for name in ("run_search", "check_search"):
        monkeypatch.setattr(quarch.study, name, lambda *a, _n=name, **k: called.append(_n))
    out = tmp_path / "run"
    for args, config in MISTAKES:
        for dry in ([], ["--dry-run"]):
            capsys.readouterr()
            code = main(["search", *args, "--out", str(out), *dry])
            captured = capsys.readouterr()
            want = f"error: {_refusal({**config, 'out': str(out)})}\n"
            assert (code, captured.err, captured.out) == (2, want, ""), args
    assert called == [] and list(tmp_path.iterdir()) == []


def test_a_folder_that_is_not_a_run_never_reaches_the_reader(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    called: list[str] = []

    def stub(name: str) -> Callable[..., Any]:
        return lambda *a, **k: called.append(name)

    monkeypatch.setattr(quarch.study, "resume_search", stub("resume_search"))
    monkeypatch.setattr(quarch.study, "resume_config", stub("resume_config"))
    monkeypatch.setattr(quarch.study, "Run", stub("Run"))
    monkeypatch.setattr(quarch.report, "write_report", stub("write_report"))
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "run.json").write_text("{}")  # config.json missing
    for folder in (tmp_path / "no-such-run", tmp_path / "half"):
        with pytest.raises(QuarchError) as e:
            Run.open(folder)  # the reader's own line (bound before the stub)
        for args in (["search", "--resume", "RUN"], ["search", "--dry-run", "--resume", "RUN"],
                     ["report", "RUN"], ["trials", "RUN"], ["train", "RUN", "--trial", "0"],
                     ["export", "RUN", "--trial", "0", "--format", "torch",
                      "--out", str(tmp_path / "x.pt")]):  # fmt: skip
            capsys.readouterr()
            code = main([str(folder) if a == "RUN" else a for a in args])
            captured = capsys.readouterr()
            assert (code, captured.err, captured.out) == (2, f"error: {e.value}\n", ""), args
    assert called == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["half"]
    assert [p.name for p in (tmp_path / "half").iterdir()] == ["run.json"]


def test_an_unknown_export_format_is_refused_without_torch(tmp_path: Path) -> None:
    """The format is checked before the run folder, with ``export_trial``'s own line."""
    from quarch.finalize import export_trial

    with pytest.raises(QuarchError) as e:
        export_trial(tmp_path / "no-such-run", 0, "qasm4", tmp_path / "x.qasm")
    args = ["export", "no-such-run", "--trial", "0", "--format", "qasm4", "--out", "x.qasm"]
    code, loaded, err = fresh(args, tmp_path)
    assert (code, loaded) == (2, [])
    assert err == f"error: {e.value}\n"
    assert "did you mean 'qasm'" in err or "'qasm3'" in err
    assert list(tmp_path.iterdir()) == []


_NO_MODEL = "space 'nb201' is scored by a table look-up; it has no model to train or export"
_SPACE_MISTAKES = [
    ("mlp", ["export", "RUN", "--trial", "0", "--format", "qasm", "--out", "x.qasm"],
     "space 'mlp' exports {formats}, not 'qasm'"),
    ("nb201", ["export", "RUN", "--trial", "0", "--format", "torch", "--out", "x.pt"], _NO_MODEL),
    ("nb201", ["train", "RUN", "--trial", "0"], _NO_MODEL),
]  # fmt: skip


def _run_of(tmp_path: Path, space: str) -> Path:
    """A run folder as far as these checks read it: its two files, the space named."""
    run = tmp_path / "run"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"space": space}))
    (run / "run.json").write_text("{}")
    return run


@pytest.mark.parametrize(
    ("space", "args", "line"), _SPACE_MISTAKES, ids=["format", "export", "train"]
)
def test_what_a_runs_space_cannot_do_is_refused_without_torch(
    tmp_path: Path, space: str, args: list[str], line: str
) -> None:
    """The space's export formats (the registry's, truth here) and whether it has a model
    are read from ``config.json`` before ``Run.open`` (torch, the study): 0.5-0.6 s
    instead of 2.3-3.6 s at load 2-3 (session 34's audit)."""
    from quarch.spaces import get_spec

    run = _run_of(tmp_path, space)
    want = line.format(formats=", ".join(get_spec(space).export_formats))
    code, loaded, err = fresh(["run" if a == "RUN" else a for a in args], tmp_path)
    assert (code, loaded, err) == (2, [], f"error: {want}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "run.json"]


def test_what_a_runs_space_cannot_do_never_opens_the_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from quarch.spaces import get_spec

    opened: list[object] = []
    monkeypatch.setattr(quarch.study, "Run", lambda *a, **k: opened.append(a))
    for k, (space, args, line) in enumerate(_SPACE_MISTAKES):
        run = _run_of(tmp_path / str(k), space)
        want = line.format(formats=", ".join(get_spec(space).export_formats))
        capsys.readouterr()
        code = main([str(run) if a == "RUN" else str(tmp_path / a) if "." in a else a
                     for a in args])  # fmt: skip
        captured = capsys.readouterr()
        assert (code, captured.err, captured.out) == (2, f"error: {want}\n", ""), args
    assert opened == []
