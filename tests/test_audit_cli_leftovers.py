"""The command line's leftovers of session 34's user-path audit (session 35, helper cli).

* refusals that imported torch first: ``search --device gpu``, ``--device-profile NOPE``
  (``quarch.cost`` imported every submodule, torch with them, so ``quarch.cost.devices``
  alone took 2.1 s), ``train``/``export RUN --trial 99`` (the study opened first);
* an evaluator flag the space has no option for, said in the flag's terms;
* ``mlp``'s ``lr`` evaluator option, which its ``lr`` choice made unusable;
* the torch export's ``metrics``, which held ``val_error``/``test_error`` alone;
* ``quarch worker --run`` on a finished run, which printed its table with no note.

The truth for each line is the library's own refusal of the same mistake (``Run.trial``,
``torch.device``, the registry of spaces), the trials as Optuna and ``sqlite3`` read
them, and the exported network's errors computed here from its ``state_dict``.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import pkgutil
import re
import socket
import sqlite3
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np
import optuna
import pytest
import torch

import quarch.cost
import quarch.study
from quarch._errors import ConfigError, QuarchError
from quarch.cli import main
from quarch.config import SearchConfig
from quarch.spaces import SPACES, get_spec
from quarch.study import Run

from ._fresh_cli import fresh
from ._scope import per_module


@pytest.fixture(scope=per_module)
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished two-trial ``mlp`` run (one epoch each) on iris."""
    out = tmp_path_factory.mktemp("leftovers") / "run"
    args = ["search", "--space", "mlp", "--trials", "2", "--epochs", "1", "--quiet"]
    assert main([*args, "--out", str(out)]) == 0
    return out


def _copy(run: Path, where: Path) -> Path:
    """A copy of the run (a test that writes into it leaves the shared one alone)."""
    import shutil

    dst = where / "copy"
    shutil.copytree(run, dst)
    return dst


# -- 1. refusals before torch ------------------------------------------------------------


def test_an_unknown_device_type_is_refused_without_torch(tmp_path: Path) -> None:
    """``--device gpu``: torch's own parser refuses it (the search's line starts the
    same), but it was asked only after torch was imported (2.2 s)."""
    code, loaded, err = fresh(["search", "--space", "mlp", "--device", "gpu"], tmp_path)
    assert (code, loaded) == (2, [])
    assert err == (
        "error: --device 'gpu' is not a torch device: torch has no device type 'gpu' "
        "(cpu, cuda, cuda:1, mps, xpu, ...); for a GPU: cuda (NVIDIA, AMD) or mps (Apple)\n"
    )
    with pytest.raises(RuntimeError):
        torch.device("gpu")  # truth: torch has no such type
    from quarch.evaluate import check_device

    with pytest.raises(ConfigError, match=r"^--device 'gpu' is not a torch device"):
        check_device("gpu")  # the search's own line, seconds later
    assert list(tmp_path.iterdir()) == []


def test_a_resumed_search_refuses_the_device_type_without_torch(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"space": "mlp"}))
    (folder / "run.json").write_text("{}")
    code, loaded, err = fresh(["search", "--resume", "r", "--device", "CUDA"], tmp_path)
    assert (code, loaded) == (2, [])
    assert err.startswith("error: --device 'CUDA' is not a torch device: torch has no device")
    assert err.endswith("('CUDA': did you mean 'cuda'?)\n")


def test_the_device_types_are_torchs() -> None:
    """The early check's list is the one ``torch.device`` names in its refusal, and
    each parses; a valid type with a bad index is left to torch."""
    from quarch._cli_search import _TORCH_DEVICE_TYPES, _check_device_name

    with pytest.raises(RuntimeError) as e:
        torch.device("nosuch")
    m = re.search(r"Expected one of (.*) device type at start", str(e.value))
    assert m is not None
    assert sorted(_TORCH_DEVICE_TYPES) == sorted(m.group(1).split(", "))
    for kind in _TORCH_DEVICE_TYPES:
        with warnings.catch_warnings():  # 'mkldnn' is deprecated, and still parsed
            warnings.simplefilter("ignore")
            torch.device(kind)
        _check_device_name(f"{kind}:0")


def _without_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    """The early check sees the modules of a fresh command, where torch is not loaded
    (torch itself stays loaded here: importing it twice would break this process)."""
    import quarch._cli_search as cs

    fresh_sys = SimpleNamespace(modules={}, stdout=sys.stdout, stderr=sys.stderr)
    monkeypatch.setattr(cs, "sys", fresh_sys)


def test_a_plugins_backend_is_left_to_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    """A backend renamed by a plugin (torch's privateuse1) exists once torch is
    imported: then torch's check decides, not the list."""
    from quarch._cli_search import _check_device_name

    assert "torch" in sys.modules  # imported by this module
    _check_device_name("npu")  # no refusal: torch decides later
    _without_torch(monkeypatch)
    with pytest.raises(ConfigError, match="torch has no device type 'npu'"):
        _check_device_name("npu")


def test_the_device_profiles_module_imports_no_torch() -> None:
    """``import quarch.cost.devices`` imported ``quarch.cost``, which imported
    ``classical`` and ``cutting``, and torch with them (2.1 s of 2.27 s)."""
    probe = "import sys, quarch.cost.devices; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_quarch_cost_names_are_its_submodules() -> None:
    """Each name ``quarch.cost`` offers is, read lazily, the object the one submodule
    that defines it holds (found by walking the package, not from its table)."""
    owners: dict[str, list[Any]] = {}
    for info in pkgutil.iter_modules(quarch.cost.__path__):
        mod = importlib.import_module(f"quarch.cost.{info.name}")
        for name in quarch.cost.__all__:
            value = mod.__dict__.get(name)
            here = getattr(value, "__module__", None) == mod.__name__
            if value is not None and (here or not callable(value)):
                owners.setdefault(name, []).append(value)
    for name in quarch.cost.__all__:
        assert any(getattr(quarch.cost, name) is v for v in owners[name]), name
    with pytest.raises(AttributeError) as e:
        quarch.cost.no_such_name  # noqa: B018
    assert str(e.value) == "module 'quarch.cost' has no attribute 'no_such_name'"


def test_a_trial_the_run_lacks_is_refused_without_torch(run: Path, tmp_path: Path) -> None:
    """``--trial 99``: ``Run.trial``'s line, from ``study.db`` read with ``sqlite3``,
    before the study is opened through Optuna (torch, SQLAlchemy)."""
    with pytest.raises(QuarchError) as e:
        Run.open(run).trial(99)
    for args in (["train", str(run), "--trial", "99"],
                 ["export", str(run), "--trial", "99", "--format", "torch", "--out", "x.pt"]):  # fmt: skip
        code, loaded, err = fresh(args, tmp_path)
        assert (code, loaded, err) == (2, [], f"error: {e.value}\n"), args
    assert list(tmp_path.iterdir()) == []
    assert sorted(p.name for p in run.iterdir()) == [
        "config.json",
        "run.json",
        "study.db",
        "weights",
    ]


def test_trial_numbers_are_optunas(run: Path) -> None:
    from quarch._run_files import trial_numbers

    want = sorted(t.number for t in Run.open(run).study().get_trials(deepcopy=False))
    assert trial_numbers(run) == want == [0, 1]


def test_trial_numbers_say_none_where_the_files_cannot_tell(run: Path, tmp_path: Path) -> None:
    """A journal or database storage, a study being written (its WAL holds trials
    ``study.db`` lacks), a study of another name, a missing or damaged file."""
    from quarch._run_files import trial_numbers

    copy = _copy(run, tmp_path)
    meta = json.loads((copy / "run.json").read_text())
    (copy / "run.json").write_text(json.dumps({**meta, "storage": "journal"}))
    assert trial_numbers(copy) is None
    (copy / "run.json").write_text(json.dumps(meta))
    assert trial_numbers(copy) == [0, 1]
    (copy / "study.db-wal").write_bytes(b"")
    assert trial_numbers(copy) is None
    (copy / "study.db-wal").unlink()
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "study_name": "other"}))
    assert trial_numbers(copy) == []  # Run.trial: "it has no trials yet"
    # what Run reads where a key is missing: the sqlite storage, the study "quarch"
    del meta["storage"], config["study_name"]
    (copy / "run.json").write_text(json.dumps(meta))
    (copy / "config.json").write_text(json.dumps(config))
    assert trial_numbers(copy) == [t.number for t in Run.open(copy).result().trials] == [0, 1]
    (copy / "study.db").write_bytes(b"not a database" * 100)
    assert trial_numbers(copy) is None
    (copy / "study.db").unlink()
    assert trial_numbers(copy) is None
    assert trial_numbers(tmp_path / "nothing") is None


def test_a_trial_of_a_run_being_written_is_still_found(run: Path, tmp_path: Path) -> None:
    """With a WAL beside it the files cannot tell, and ``Run.trial`` answers: the
    existing trial is exported, the missing one refused with the same line."""
    from quarch.finalize import _check_trial_early

    copy = _copy(run, tmp_path)
    _check_trial_early(copy, 0)
    (copy / "study.db-wal").write_bytes(b"")
    _check_trial_early(copy, 99)  # left to Run.trial
    (copy / "study.db-wal").unlink()
    with pytest.raises(QuarchError) as e:
        _check_trial_early(copy, 99)
    with pytest.raises(QuarchError) as want:
        Run.open(copy).trial(99)
    assert str(e.value) == str(want.value).replace(str(copy), str(copy))
    _check_trial_early(copy, "0")  # not an integer: Run.trial's own refusal
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "study_name": "empty"}))
    with sqlite3.connect(copy / "study.db") as db:  # a study of that name, no trials
        db.execute("INSERT INTO studies (study_name) VALUES ('empty')")
    db.close()
    with pytest.raises(QuarchError) as e:
        _check_trial_early(copy, 0)
    with pytest.raises(QuarchError) as want:
        Run.open(copy).trial(0)
    assert (
        str(e.value) == str(want.value) == f"run {str(copy)!r} has no trial 0; it has no trials yet"
    )


# -- 2. a flag the space has no option for -----------------------------------------------


@pytest.mark.parametrize(
    ("flag", "key"),
    [(["--noise", "ibm-heron"], "noise"), (["--supercircuit"], "supercircuit"),
     (["--device-profile", "raspi4"], "device_profile"), (["--qubit-budget", "4"], "qubit_budget")],
)  # fmt: skip
def test_an_evaluator_flag_the_space_lacks_is_said_in_the_flags_terms(
    tmp_path: Path, flag: list[str], key: str
) -> None:
    """``--noise`` on ``mlp`` was "takes no evaluator option 'noise'": an option the user
    never typed. The spaces that take it are the registry's (truth)."""
    takers = [n for n in SPACES.names() if key in get_spec(n).evaluator_options]
    assert "mlp" not in takers and takers
    where = f"space {takers[0]} only" if len(takers) == 1 else f"spaces {', '.join(takers)}"
    code, loaded, err = fresh(["search", "--space", "mlp", *flag], tmp_path)
    assert (code, loaded) == (2, [])
    assert err == f"error: {flag[0]} applies to {where}; space 'mlp' has no such option\n"
    assert list(tmp_path.iterdir()) == []


def test_the_flags_line_in_this_process(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same lines where mutation testing sees them; the search is never called."""
    called: list[str] = []
    monkeypatch.setattr(quarch.study, "run_search", lambda *a, **k: called.append("run"))
    monkeypatch.setattr(quarch.study, "check_search", lambda *a, **k: called.append("check"))
    for space, flag, where in (
        ("mlp", ["--noise", "ibm-heron"], "space hqnn only"),
        ("nb201", ["--supercircuit"], "spaces cnn, hqnn"),
        ("cnn", ["--qubit-budget", "3"], "space hqnn only"),
        ("cnn", ["--device-profile", "raspi4", "--noise", "ibm-heron"], "space hqnn only"),
    ):
        capsys.readouterr()
        code = main(["search", "--space", space, *flag, "--out", str(tmp_path / "r")])
        wrong = flag[-2] if flag[-1][0] != "-" else flag[-1]  # the last flag given
        want = f"error: {wrong} applies to {where}; space {space!r} has no such option\n"
        assert (code, capsys.readouterr().err) == (2, want)
    assert called == [] and list(tmp_path.iterdir()) == []


def test_a_flag_no_space_takes_is_said_so() -> None:
    from quarch._cli_search import _check_flags

    with pytest.raises(ConfigError) as e:
        _check_flags("mlp", {}, ["no_such_key"])
    assert str(e.value) == (
        "--no-such-key applies to no registered space; space 'mlp' has no such option"
    )
    _check_flags("mlp", {"no_such_key": ""}, ["no_such_key"])  # the space's own: no refusal


def test_the_device_lines_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without torch imported (a fresh command), the early check's whole line."""
    from quarch._cli_search import _check_device_name

    _without_torch(monkeypatch)
    lines: dict[str, str | None] = {}
    for device in ("gpu", "GPU:1", "CUDA", "cuda:1", "cpu", "mps", "xla:0", "tpu", "cuda:0:1"):
        try:
            _check_device_name(device)
            lines[device] = None
        except ConfigError as e:
            lines[device] = str(e)
    assert lines == {
        "gpu": "--device 'gpu' is not a torch device: torch has no device type 'gpu' (cpu, "
        "cuda, cuda:1, mps, xpu, ...); for a GPU: cuda (NVIDIA, AMD) or mps (Apple)",
        "GPU:1": "--device 'GPU:1' is not a torch device: torch has no device type 'GPU' "
        "(cpu, cuda, cuda:1, mps, xpu, ...); for a GPU: cuda (NVIDIA, AMD) or mps (Apple)",
        "CUDA": "--device 'CUDA' is not a torch device: torch has no device type 'CUDA' "
        "(cpu, cuda, cuda:1, mps, xpu, ...) ('CUDA': did you mean 'cuda'?)",
        "cuda:1": None, "cpu": None, "mps": None, "xla:0": None,
        "cuda:0:1": None,  # a type torch has: its index is torch's to refuse
        "tpu": "--device 'tpu' is not a torch device: torch has no device type 'tpu' "
        "(cpu, cuda, cuda:1, mps, xpu, ...)",
    }  # fmt: skip


def test_a_search_and_a_resume_refuse_the_device_in_this_process(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    called: list[str] = []
    for name in ("run_search", "check_search", "resume_search", "resume_config"):
        monkeypatch.setattr(quarch.study, name, lambda *a, _n=name, **k: called.append(_n))
    _without_torch(monkeypatch)
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"space": "mlp"}))
    (folder / "run.json").write_text("{}")
    for args in (["--space", "mlp", "--out", str(tmp_path / "new")], ["--resume", str(folder)]):
        capsys.readouterr()
        assert main(["search", *args, "--device", "gpu"]) == 2
        assert capsys.readouterr().err.startswith("error: --device 'gpu' is not a torch device")
    assert called == [] and sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_the_evaluator_option_names_line() -> None:
    """The line the search gave before (moved into ``check_evaluator_option_names``, which
    the early check shares): every unknown key, every known one, none, a config key."""
    from quarch.spaces import SpaceSpec

    class Bare(SpaceSpec):
        name = "bare"

    class Two(SpaceSpec):
        name = "two"
        evaluator_options: ClassVar[dict[str, str]] = {"beta": "", "alpha": ""}

    def line(spec: SpaceSpec, options: dict[str, object]) -> str:
        with pytest.raises(ConfigError) as e:
            spec.check_evaluator_option_names(SearchConfig(space="mlp", evaluator_options=options))
        return str(e.value)

    assert line(Bare(), {"x": 1}) == "space 'bare' takes no evaluator option 'x'; it takes: none"
    assert line(Two(), {"z": 1, "y": 2}) == (
        "space 'two' takes no evaluator option 'y', 'z'; it takes: alpha, beta"
    )
    assert line(Two(), {"trials": 3}) == (
        "space 'two' takes no evaluator option 'trials'; it takes: alpha, beta ('trials' is a "
        "config key: in a TOML file, keys below [evaluator_options] belong to it; put them "
        "above it)"
    )
    assert line(Two(), {"Alpha": 3}).endswith("('Alpha': did you mean 'alpha'?)")
    Two().check_evaluator_option_names(SearchConfig(space="mlp", evaluator_options={"beta": 1}))


def test_the_same_option_given_as_an_evaluator_option_keeps_the_spaces_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(["search", "--space", "mlp", "--evaluator-option", "noise=ibm-heron",
                 "--out", str(tmp_path / "r")])  # fmt: skip
    assert code == 2
    assert capsys.readouterr().err == (
        "error: space 'mlp' takes no evaluator option 'noise'; it takes: save_weights\n"
    )


def test_a_flag_of_a_space_that_takes_it_is_not_refused_early() -> None:
    from quarch._cli_search import _check_flags

    for space in SPACES.names():
        options = get_spec(space).evaluator_options
        _check_flags(space, options, [k for k in ("noise", "supercircuit") if k in options])


# -- 3. mlp's lr -------------------------------------------------------------------------


def test_mlp_lists_only_options_a_run_can_use() -> None:
    """Every mlp architecture carries an ``lr`` choice (whatever the space options), so
    an evaluator learning rate is never used: ``lr`` is not listed, and refused with
    the reason before anything runs; the options it lists pass the check."""
    from quarch.spaces.mlp import mlp_space

    spec = get_spec("mlp")
    for opts in ({}, {"learning_rates": [0.05]}, {"max_layers": 1, "widths": [4]}):
        assert "lr" in mlp_space(**opts).names
    assert "lr" not in spec.evaluator_options
    for key in spec.evaluator_options:
        spec.check(SearchConfig(space="mlp", dataset="iris", evaluator_options={key: True}))
    cfg = SearchConfig(space="mlp", dataset="iris", evaluator_options={"lr": 0.01},
                       space_options={"learning_rates": "0.05,0.1"})  # fmt: skip
    with pytest.raises(ConfigError) as e:
        spec.check(cfg)
    assert str(e.value) == (
        "space 'mlp' chooses the learning rate (lr among 0.05, 0.1), so --evaluator-option "
        "lr would have no effect; set the choices with --space-option learning_rates=0.05 "
        "(or 0.01,0.05)"
    )
    with pytest.raises(ConfigError) as e:
        spec.check_names(cfg)  # the CLI's early check: the same line
    assert "lr among 0.05, 0.1" in str(e.value)


# -- 4. the torch export's metrics -------------------------------------------------------


def _errors(run: Path, arch: dict[str, Any], state: dict[str, Any]) -> dict[str, float]:
    """The network's classification errors on the run's validation and test splits,
    computed here (argmax against the labels)."""
    ev: Any = Run.open(run).evaluator(standalone=True)
    model = ev.build(arch, seed=0)
    model.load_state_dict(state)
    model.eval()
    out = {}
    with torch.no_grad():
        for split in ("val", "test"):
            x = torch.as_tensor(getattr(ev.data, f"X_{split}"), dtype=torch.float32)
            y = np.asarray(getattr(ev.data, f"y_{split}"))
            out[f"{split}_error"] = float(np.mean(model(x).argmax(1).numpy() != y))
    return out


def test_the_torch_file_holds_the_trials_metrics(run: Path, tmp_path: Path) -> None:
    """``metrics``: the trial's, as Optuna stored them (``quarch trials``), with the
    errors of the file's own network (computed here); it held two of five."""
    study = optuna.load_study(study_name="quarch", storage=f"sqlite:///{run / 'study.db'}")
    stored = study.trials[1].user_attrs["metrics"]
    assert set(stored) > {"val_error", "test_error", "params", "flops"}
    out = tmp_path / "t.pt"
    assert main(["export", str(run), "--trial", "1", "--format", "torch", "--out", str(out),
                 "--quiet"]) == 0  # fmt: skip
    saved = torch.load(out, weights_only=False)
    measured = _errors(run, saved["arch"], saved["state_dict"])
    assert saved["metrics"].keys() == stored.keys()
    assert saved["metrics"] == pytest.approx({**stored, **measured})
    assert measured == pytest.approx({k: stored[k] for k in measured})  # the trial's weights


def test_a_retrained_export_holds_its_own_networks_metrics(run: Path, tmp_path: Path) -> None:
    """After ``--epochs``, the file's network is another training's: its own metrics."""
    out = tmp_path / "t.pt"
    assert main(["export", str(run), "--trial", "0", "--format", "torch", "--out", str(out),
                 "--epochs", "2", "--quiet"]) == 0  # fmt: skip
    saved = torch.load(out, weights_only=False)
    measured = _errors(run, saved["arch"], saved["state_dict"])
    assert {k: saved["metrics"][k] for k in measured} == pytest.approx(measured)
    trial = Run.open(run).trial(0)
    assert saved["metrics"]["params"] == trial.metrics["params"]  # the same architecture


# -- 5. a worker on a finished run -------------------------------------------------------


def test_a_worker_on_a_finished_run_says_so_and_never_joins(
    run: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    joined: list[object] = []
    monkeypatch.setattr(quarch.study, "join_study", lambda *a, **k: joined.append(a))
    done = len(Run.open(run).study().get_trials(states=[optuna.trial.TrialState.COMPLETE]))
    assert done == 2
    capsys.readouterr()
    assert main(["worker", "--run", str(run)]) == 0
    captured = capsys.readouterr()
    assert captured.err == (
        "note: the run is complete: 2 trials done, its budget is 2; nothing for a worker "
        f"to do (`quarch search --resume {run} --trials N` extends it)\n"
    )
    # the summary line wraps at the console's width where the path is long
    assert f"run: {run} trials: 2 complete: 2" in " ".join(captured.out.split())
    assert main(["worker", "--run", str(run), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["stopped"] == "already complete"
    assert captured.err.startswith("note: the run is complete")
    assert joined == []


def test_a_worker_on_a_run_with_trials_left_joins_it(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    copy = _copy(run, tmp_path)
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "trials": 3}))
    joined: list[object] = []

    def join(*a: Any, **k: Any) -> Any:
        joined.append(k["run_dir"])
        return dataclasses.replace(Run.open(copy).result(), stopped="budget")

    monkeypatch.setattr(quarch.study, "join_study", join)
    capsys.readouterr()
    assert main(["worker", "--run", str(copy)]) == 0
    assert joined == [copy] and capsys.readouterr().err == ""


def _result(owners: list[str | None], budget: int) -> Any:
    trials = [SimpleNamespace(system_attrs={} if o is None else {"quarch:owner": o})
              for o in owners]  # fmt: skip
    return SimpleNamespace(
        done=len(owners), config=SimpleNamespace(trials=budget), run_dir=Path("runs/x"),
        study=SimpleNamespace(get_trials=lambda deepcopy: trials),
    )  # fmt: skip


def test_a_database_worker_notes_only_a_budget_it_ran_none_of(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--storage``: the trials this process owns (the mark a worker sets on each
    trial it asks for) say whether it ran any."""
    from quarch.cli import _note_worker_idle
    from quarch.study._worker import OWNER

    assert OWNER == "quarch:owner"
    me = f"{socket.gethostname()}:{os.getpid()}"
    _note_worker_idle(_result(["other:1", me], 2), None, joined=True)
    _note_worker_idle(_result(["other:1", None, "other:2"], 3), None, joined=True)
    _note_worker_idle(_result(["other:1"], 3), None, joined=True)
    _note_worker_idle(_result([None], 1), Path("r"), joined=True)
    assert capsys.readouterr().err == (
        "note: the run is complete: 3 trials done, its budget is 3; nothing for a worker to "
        "do (`quarch search --resume runs/x --trials N` extends it on the run's machine)\n"
    )


def test_a_database_worker_on_a_finished_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    args = ["search", "--space", "mlp", "--trials", "1", "--epochs", "1", "--quiet"]
    assert main([*args, "--storage", url, "--out", "r"]) == 0
    # another process, as a worker is (this one ran the search: its trials are ours)
    done = subprocess.run([sys.executable, "-m", "quarch", "worker", "--storage", url],
                          capture_output=True, text=True, cwd=tmp_path, check=False)  # fmt: skip
    assert done.returncode == 0 and "run: r  trials: 1  complete: 1" in done.stdout
    assert done.stderr == (
        "note: the run is complete: 1 trials done, its budget is 1; nothing for a worker to "
        "do (`quarch search --resume r --trials N` extends it on the run's machine)\n"
    )
    con = sqlite3.connect(tmp_path / "db.sqlite")
    assert con.execute("SELECT COUNT(*) FROM trials").fetchone() == (1,)  # none added
    con.close()
