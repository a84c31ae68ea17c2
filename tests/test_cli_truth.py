"""The command line against the README: each refusal's whole line and exit code, nothing
left behind by a refused command, flags and config files merged as documented, and the
run folder read back with ``sqlite3``, ``json`` and Optuna directly.

Everything runs in-process through ``quarch.cli.main`` (as the console script does),
with stdout and stderr captured; only one small search is run (module fixture).
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import optuna
import pytest

import quarch
import quarch.study
from quarch import ConfigError
from quarch._cli_app import _kv, _split
from quarch._errors import QuarchError
from quarch.cli import main
from quarch.config import SearchConfig

from ._scope import per_module

#: the run the fixture makes, under its working folder (the default name: the space's
#: default data set, the default strategy and seed)
DEFAULT_RUN = Path("runs") / "mlp-iris-random-s0"
#: ``--resume`` may change these (README: data dir, workers, device, pruner, timeouts,
#: trials, Ray); ``sorted`` by field name, spelt as flags
RESUMABLE_FLAGS = ("--data-dir, --device, --pruner, --pruner-option, --ray, --ray-address, "
                   "--timeout, --trial-timeout, --trials, --workers")  # fmt: skip


@pytest.fixture(scope=per_module)
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A working folder holding one finished run at the default run folder."""
    cwd = tmp_path_factory.mktemp("home")
    old = os.getcwd()
    os.chdir(cwd)
    try:
        code = main(["search", "--space", "mlp", "--trials", "2", "--epochs", "1",
                     "--weights", "1,0.001", "--quiet"])  # fmt: skip
        assert code == 0
    finally:
        os.chdir(old)
    yield cwd


@pytest.fixture
def in_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(home)
    return home


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()  # not a shared fixture's output (per test under mutmut)
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _refused(capsys: pytest.CaptureFixture[str], argv: list[str], line: str, code: int = 2) -> None:
    """Exit ``code``, exactly ``error: LINE`` on stderr, nothing on stdout."""
    got, out, err = _run(capsys, *argv)
    assert (got, err, out) == (code, f"error: {line}\n", ""), err


def _trials_in_db(run: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(run / "study.db") as db:
        return db.execute("SELECT number, state FROM trials ORDER BY number").fetchall()


# -- the run folder, read back directly --------------------------------------------------


def test_the_run_folder_read_back(in_home: Path) -> None:
    run = DEFAULT_RUN
    assert _trials_in_db(run) == [(0, "COMPLETE"), (1, "COMPLETE")]
    study = optuna.load_study(study_name="quarch", storage=f"sqlite:///{run / 'study.db'}")
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 2
    stored = json.loads((run / "config.json").read_text())
    assert (stored["space"], stored["dataset"], stored["strategy"], stored["seed"]) == (
        "mlp", "iris", "random", 0
    )  # fmt: skip
    assert (stored["trials"], stored["epochs"], stored["weights"]) == (2, 1, [1.0, 0.001])
    assert SearchConfig.from_dict(stored).run_dir == run


# -- refusals before any work: one line, exit 2, nothing written -------------------------


@pytest.mark.parametrize(
    ("flags", "line"),
    [
        (["--weights", "1,x"], "--weights takes numbers; got 'x'"),
        (["--strategy-option", "n_quantum"], "--strategy-option takes KEY=VALUE; got 'n_quantum'"),
        (["--space-option", " =3"], "--space-option takes KEY=VALUE; got ' =3'"),
        (["--evaluator-option", "lr"], "--evaluator-option takes KEY=VALUE; got 'lr'"),
        (["--pruner-option", "a=1", "--pruner-option", " a =2"], "--pruner-option a is given twice"),
        (["--trials", "0"], "trials must be a positive integer; got 0"),
        (["--seed", "-1"], "seed must be an integer from 0 to 4294967295 (2**32 - 1, the "
         "seeds numpy's RandomState and Optuna's samplers take); got -1"),
        (["--seed", "4294967296", "--strategy", "tpe"], "seed must be an integer from 0 to "
         "4294967295 (2**32 - 1, the seeds numpy's RandomState and Optuna's samplers take); "
         "got 4294967296"),
        (["--workers", "2", "--ray"], "use either --workers (local processes) or --ray, not both"),
        (["--evaluator-option", "device_profile=raspi4", "--device-profile", "cortex-m7"],
         "--device-profile cortex-m7 and --evaluator-option device_profile=raspi4 set the same "
         "option; give one"),
        (["--supercircuit", "--evaluator-option", "supercircuit=false"],
         "--supercircuit and --evaluator-option supercircuit=False set the same option; give one"),
        (["--noise", "ibm-fez", "--evaluator-option", "noise=ibm-heron", "--qubit-budget", "3"],
         "--noise ibm-fez and --evaluator-option noise=ibm-heron set the same option; give one"),
        (["--pruner", "often"], "unknown pruner 'often'; choose from: none, median, hyperband"),
        (["--noise", "ibm-heron"],
         "--noise applies to space hqnn only; space 'mlp' has no such option"),
    ],
)  # fmt: skip
def test_a_bad_flag_is_one_line_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, flags: list[str], line: str
) -> None:
    run = tmp_path / "r"
    _refused(capsys, ["search", "--space", "mlp", "--out", str(run), *flags], line)
    assert not run.exists() and not (tmp_path / "runs").exists()


def test_a_search_needs_a_space(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _refused(capsys, ["search", "--out", str(tmp_path / "r")],
             "a search needs a space: give --space NAME (`quarch spaces` lists them)")  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_config_file_refusals(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "none.toml"
    _refused(capsys, ["search", "--config", str(missing)],
             f"config file {str(missing)!r} does not exist")  # fmt: skip
    bad = tmp_path / "c.toml"
    bad.write_text('space = "mlp"\ntrails = 3\n')
    known = sorted(f.name for f in dataclasses.fields(SearchConfig))
    _refused(capsys, ["search", "--config", str(bad)],
             f"unknown config key(s) ['trails'] ('trails': did you mean 'trials'?); "
             f"known: {known}")  # fmt: skip
    bad.write_text('space = "mlp"\nepochs = "5"\n')
    _refused(capsys, ["search", "--config", str(bad)],
             "config key 'epochs' takes an integer; got '5'")  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]


@pytest.mark.parametrize(
    ("flags", "got"),
    [
        (["--seed", "3"], "--seed"),
        (["--out", "elsewhere"], "--out"),
        (["--study-name", "s"], "--study-name"),
        (["--noise", "ibm-heron"], "--evaluator-option"),
        (["--strategy-option", "a=1"], "--strategy-option"),
        (["--budget", "params<=1", "--space-option", "a=1", "--overwrite", "--config", "c.toml"],
         "--budget, --config, --overwrite, --space-option"),
        (["--objectives", "val_error", "--weights", "1", "--max-train", "9"],
         "--max-train, --objectives, --weights"),
    ],
)  # fmt: skip
def test_resume_refuses_what_may_not_change(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, flags: list[str], got: str
) -> None:
    """Refused before the run is opened (so even a folder that does not exist gets this
    line), naming every flag that may change and every one given that may not."""
    run = tmp_path / "r"
    _refused(capsys, ["search", "--resume", str(run), *flags],
             f"--resume continues a run with its saved config; only {RESUMABLE_FLAGS} may "
             f"change; got {got}")  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_resume_may_name_its_own_folder_and_change_the_documented_fields(
    capsys: pytest.CaptureFixture[str], in_home: Path
) -> None:
    run = DEFAULT_RUN
    before = (run / "config.json").read_text()
    code, out, err = _run(capsys, "search", "--resume", str(run), "--out", str(run.absolute()),
                          "--trials", "5", "--timeout", "30", "--device", "cpu",
                          "--storage", "sqlite",
                          "--dry-run", "--json")  # fmt: skip
    assert (code, err) == (0, ""), err
    cfg = json.loads(out)
    assert (cfg["trials"], cfg["timeout"], cfg["seed"]) == (5, 30.0, 0)
    assert (run / "config.json").read_text() == before
    assert _trials_in_db(run) == [(0, "COMPLETE"), (1, "COMPLETE")]


def test_a_folder_holding_a_run_is_not_overwritten(
    capsys: pytest.CaptureFixture[str], in_home: Path
) -> None:
    run = str(DEFAULT_RUN)
    before = (DEFAULT_RUN / "config.json").read_text()
    _refused(capsys, ["search", "--space", "mlp", "--trials", "1", "--quiet"],
             f"run folder {run!r} already holds a study; continue it with `quarch search "
             f"--resume {run}`, replace it with --overwrite, or choose another --out")  # fmt: skip
    assert (DEFAULT_RUN / "config.json").read_text() == before
    assert _trials_in_db(DEFAULT_RUN) == [(0, "COMPLETE"), (1, "COMPLETE")]


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["worker"], "give exactly one of --storage URL or --run RUN"),
        (["worker", "--storage", "sqlite:///x.db", "--run", "r"],
         "give exactly one of --storage URL or --run RUN"),
        (["worker", "--run", "r", "--study", "s"],
         "--study names a study in --storage; the run folder --run RUN holds its own "
         "(drop --study)"),
        (["trials", "r", "--state", "done"],
         "--state takes complete, pruned, fail, running or waiting; got 'done'"),
        (["benchmark", "--task", "synthetic-qubo", "--seeds", "0"],
         "seeds and trials must be >= 1; got seeds=0, trials=100"),
        (["benchmark", "--task", "synthetic-qubo", "--trials", "0"],
         "seeds and trials must be >= 1; got seeds=10, trials=0"),
        (["export", "r", "--trial", "0", "--format", "onnx", "--out", "m.onnx", "--sample", "1"],
         "--sample applies to --format qasm, not 'onnx'"),
        (["export", "r", "--trial", "0", "--format", "qasm3", "--out", "m.qasm", "--sample", "0"],
         "--sample applies to --format qasm, not 'qasm3' (it keeps the inputs as "
         "`input float[64]` parameters)"),
        (["search", "--bogus"], "No such option: --bogus (Possible options: --out)"),
        (["nope"], "No such command 'nope'."),
        (["train", "r"], "Missing option '--trial'."),
        (["search", "--space", "mlp", "--", "--debug"],
         "Got unexpected extra argument(s) (--debug)"),
    ],
)  # fmt: skip
def test_other_commands_refuse_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    argv: list[str], line: str,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    _refused(capsys, argv, line)
    assert list(tmp_path.iterdir()) == []


def test_trials_state_spellings(capsys: pytest.CaptureFixture[str], in_home: Path) -> None:
    """``--state`` in any case; ``fail`` and ``failed`` both; as Optuna records them."""
    for state, want in (("COMPLETE", 2), ("complete", 2), ("failed", 0), ("fail", 0),
                        ("pruned", 0), ("running", 0), ("waiting", 0)):  # fmt: skip
        code, out, err = _run(capsys, "trials", str(DEFAULT_RUN), "--state", state, "--json")
        assert (code, err) == (0, ""), err
        assert len(json.loads(out)) == want, state


# -- what main() makes of errors ---------------------------------------------------------


def _raising(error: BaseException) -> Any:
    def run_search(*args: Any, **kwargs: Any) -> Any:
        raise error

    return run_search


@pytest.mark.parametrize(
    ("error", "line", "code"),
    [
        (ConfigError("two\n  lines"), "two lines", 2),
        (QuarchError(""), "unknown error", 2),
        (QuarchError("cannot open postgresql://ann:s3cret@db/q"),
         "cannot open postgresql://ann:***@db/q", 2),
        (RuntimeError("boom\nthere"), "internal error (RuntimeError): boom there (rerun with "
         "--debug)", 1),
        (KeyboardInterrupt(), "interrupted before the run started; nothing was written", 130),
    ],
)  # fmt: skip
def test_errors_during_the_work(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    error: BaseException, line: str, code: int,
) -> None:  # fmt: skip
    monkeypatch.setattr(quarch.study, "run_search", _raising(error))
    _refused(capsys, ["search", "--space", "mlp", "--out", str(tmp_path / "r")], line, code)


def test_debug_anywhere_shows_the_traceback_masked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(quarch.study, "run_search",
                        _raising(RuntimeError("at postgresql://u:pw@h/d")))  # fmt: skip
    code, out, err = _run(capsys, "search", "--space", "mlp", "--debug", "--out",
                          str(tmp_path / "r"))  # fmt: skip
    lines = err.splitlines()
    assert (code, out) == (1, "")
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[-2] == "RuntimeError: at postgresql://u:***@h/d"
    assert lines[-1] == (
        "error: internal error (RuntimeError): at postgresql://u:***@h/d (rerun with --debug)"
    )
    assert "pw" not in err
    # a user's mistake with --debug: the traceback, then the same line as without
    code, out, err = _run(capsys, "--debug", "search", "--space", "mlp", "--trials", "0")
    assert code == 2 and err.startswith("Traceback (most recent call last):")
    assert err.endswith("\nerror: trials must be a positive integer; got 0\n")
    code, out, err = _run(capsys, "search", "--space", "mlp", "--bogus", "--debug")
    assert code == 2 and err.startswith("Traceback (most recent call last):")
    assert err.endswith("\nerror: No such option: --bogus (Possible options: --out)\n")


def test_an_interrupt_says_how_far_the_run_got(
    capsys: pytest.CaptureFixture[str], in_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C: 130 and the trials done (read from the study) with the resume command;
    a search without --out names the default folder, with the space's data set."""
    done = len(_trials_in_db(DEFAULT_RUN))
    monkeypatch.setattr(quarch.study, "run_search", _raising(KeyboardInterrupt()))
    monkeypatch.setattr(quarch.study, "resume_search", _raising(KeyboardInterrupt()))
    assert done == 2  # the whole budget: nothing is left for a resume
    want = (f"interrupted with all 2 trials done; nothing is left to run; see them with "
            f"`quarch trials {DEFAULT_RUN}`")  # fmt: skip
    _refused(capsys, ["search", "--space", "mlp", "--overwrite"], want, 130)
    _refused(capsys, ["search", "--resume", str(DEFAULT_RUN)], want, 130)
    # with trials left, the line says how many and how to go on
    monkeypatch.setattr(quarch.study, "resume_search", _raising(KeyboardInterrupt()))
    want = (f"interrupted with 2 of 5 trials done; continue with `quarch search --resume "
            f"{DEFAULT_RUN} --trials 5`")  # fmt: skip
    _refused(capsys, ["search", "--resume", str(DEFAULT_RUN), "--trials", "5"], want, 130)
    _refused(capsys, ["search", "--space", "mlp", "--dataset", "wine"],
             "interrupted before the run started; nothing was written", 130)  # fmt: skip
    # a config whose run folder cannot be named (a space's ``resolve`` refuses it; a
    # mistyped space or device profile is refused before the search is called)
    named = quarch.study.stored_config
    monkeypatch.setattr(quarch.study, "stored_config", _raising(ConfigError("unnamed")))
    _refused(capsys, ["search", "--space", "mlp", "--dataset", "wine"],
             "interrupted before the run started; nothing was written", 130)  # fmt: skip
    monkeypatch.setattr(quarch.study, "stored_config", named)
    # a folder with run metadata whose run cannot be read
    broken = in_home / "broken"
    broken.mkdir()
    (broken / "run.json").write_text((DEFAULT_RUN / "run.json").read_text())
    (broken / "config.json").write_text("{")
    _refused(capsys, ["search", "--space", "mlp", "--out", str(broken)],
             f"interrupted; continue with `quarch search --resume {broken}`", 130)  # fmt: skip


def test_sigterm_is_an_interrupt_with_143(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def terminated(*args: Any, **kwargs: Any) -> Any:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
        raise AssertionError("SIGTERM did not interrupt")

    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(quarch.study, "run_search", terminated)
    _refused(capsys, ["search", "--space", "mlp", "--out", str(tmp_path / "r")],
             "interrupted before the run started; nothing was written", 143)  # fmt: skip
    assert signal.getsignal(signal.SIGTERM) == before
    # Ctrl-C itself stays 130
    monkeypatch.setattr(quarch.study, "run_search", _raising(KeyboardInterrupt()))
    _refused(capsys, ["search", "--space", "mlp", "--out", str(tmp_path / "r")],
             "interrupted before the run started; nothing was written", 130)  # fmt: skip


def test_an_interrupt_or_exit_outside_a_search(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C in a command that leaves nothing to resume: one line and 130 (typer
    hands it back as an exit status); an exit with a status keeps it, silently."""
    import typer

    import quarch.search

    monkeypatch.setattr(quarch.search, "strategy_kind", _raising(KeyboardInterrupt()))
    _refused(capsys, ["strategies"], "interrupted", 130)

    def leave(*args: Any, **kwargs: Any) -> Any:
        raise typer.Exit(3)

    monkeypatch.setattr(quarch.search, "strategy_kind", leave)
    assert _run(capsys, "strategies") == (3, "", "")
    monkeypatch.setattr(quarch.search, "strategy_kind", lambda name: "x")
    code, out, err = _run(capsys, "strategies", "--json")
    assert (code, err) == (0, "") and {r["kind"] for r in json.loads(out)} == {"x"}


def test_version_and_no_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "--version")
    assert (code, out, err) == (0, f"quarch {quarch.__version__}\n", "")
    # no command: the help (click's convention: on stderr, exit 2), not silence
    code, out, err = _run(capsys)
    assert (code, out) == (2, "")
    assert err.startswith("Usage: quarch [OPTIONS] COMMAND [ARGS]...")
    for command in ("search", "trials", "worker", "export", "spaces"):
        assert f" {command} " in err, command


def test_help_shows_the_config_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    """The flags default to "not given" (a config file may set the field); the help
    shows SearchConfig's defaults, and usage lines name arguments plainly."""
    code, out, _ = _run(capsys, "search", "--help")
    assert code == 0
    text = " ".join(out.split())
    cfg = SearchConfig(space="mlp")
    for flag, field in (("--strategy", "strategy"), ("--trials", "trials"), ("--seed", "seed"),
                        ("--device", "device"), ("--workers", "workers"),
                        ("--study-name", "study_name"), ("--pruner", "pruner")):  # fmt: skip
        start = text.index(f"{flag} ")
        end = text.index("]", start)
        assert text[start : end + 1].endswith(f"[default: {getattr(cfg, field)}]"), flag
    code, out, _ = _run(capsys, "report", "--help")
    assert "Usage: quarch report [OPTIONS] RUN" in out and "{RUN}" not in out


# -- flags and config files merged -------------------------------------------------------


def test_flags_override_a_file_and_add_to_its_tables(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "c.toml"
    path.write_text('space = "mlp"\ntrials = 3\nseed = 4\nbudgets = ["params<=900"]\n'
                    'pruner = "median"\n[evaluator_options]\nsave_weights = true\n'
                    "[pruner_options]\nn_warmup_steps = 1\n")  # fmt: skip
    run = tmp_path / "r"
    code, out, err = _run(capsys, "search", "--config", str(path), "--trials", "6",
                          "--pruner-option", "n_startup_trials=2", "--objectives",
                          " val_error, ,params", "--weights", "1, 0.5", "--out", str(run),
                          "--dry-run", "--json")  # fmt: skip
    assert (code, err) == (0, ""), err
    cfg = json.loads(out)
    assert (cfg["trials"], cfg["seed"], cfg["budgets"]) == (6, 4, ["params<=900"])
    assert cfg["evaluator_options"] == {"save_weights": True}
    assert cfg["pruner_options"] == {"n_warmup_steps": 1, "n_startup_trials": 2}
    assert (cfg["objectives"], cfg["weights"]) == (["val_error", "params"], [1.0, 0.5])
    code, out, err = _run(capsys, "search", "--config", str(path), "--evaluator-option",
                          "save_weights=false", "--pruner-option", "n_warmup_steps=3",
                          "--objectives", "val_error", "--out", str(run), "--dry-run")  # fmt: skip
    assert (code, err) == (0, ""), err
    head, _, rest = out.partition("\n")
    assert head == f"ok: the search can start; it would write {run} with this config:"
    shown = json.loads(rest)
    assert shown["evaluator_options"] == {"save_weights": False}
    assert shown["pruner_options"] == {"n_warmup_steps": 3}
    assert rest == json.dumps(shown, indent=2, sort_keys=True) + "\n"
    # a long path with brackets: one line, as given, and the config still JSON (rich
    # wrapped both at 80 columns in a pipe and read "[x]" as a style tag)
    run = tmp_path / ("[x]/" + "long-name-" * 12) / "r"
    code, out, err = _run(capsys, "search", "--space", "mlp", "--out", str(run), "--dry-run")
    assert (code, err) == (0, ""), err
    head, _, rest = out.partition("\n")
    assert head == f"ok: the search can start; it would write {run} with this config:"
    assert json.loads(rest)["out"] == str(run)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]


def test_every_table_of_a_file_takes_keys_from_its_flag(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``--space-option``, ``--strategy-option`` (and the evaluator's and pruner's, above)
    add to the file's table key by key; a flag's key replaces the file's."""
    path = tmp_path / "c.json"
    path.write_text(json.dumps({
        "space": "mlp", "strategy": "qiea", "budgets": ["params<=900"],
        "space_options": {"max_layers": 2, "widths": [4]},
        "strategy_options": {"n_quantum": 3, "step": 0.1},
    }))  # fmt: skip
    code, out, err = _run(capsys, "search", "--config", str(path), "--space-option",
                          "widths=[4, 8]", "--strategy-option", "observations=2",
                          "--strategy-option", "step=0.3", "--budget", "params<=800",
                          "--budget", "flops<=10000", "--out", str(tmp_path / "r"),
                          "--dry-run", "--json")  # fmt: skip
    assert (code, err) == (0, ""), err
    cfg = json.loads(out)
    assert cfg["space_options"] == {"max_layers": 2, "widths": [4, 8]}
    assert cfg["strategy_options"] == {"n_quantum": 3, "step": 0.3, "observations": 2}
    assert cfg["budgets"] == ["params<=800", "flops<=10000"]


def test_each_flag_lands_in_its_field(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = _run(capsys, "search", "--space", "mlp", "--dataset", "wine",
                          "--strategy", "tpe", "--trials", "7", "--seed", "5", "--timeout", "99",
                          "--data-dir", str(tmp_path), "--epochs", "2", "--batch-size", "8",
                          "--max-train", "50", "--device", "cpu", "--workers", "2",
                          "--storage", "journal", "--study-name", "s1", "--trial-timeout", "60",
                          "--out", str(tmp_path / "r"), "--dry-run", "--json")  # fmt: skip
    assert (code, err) == (0, ""), err
    cfg = json.loads(out)
    want = {"space": "mlp", "dataset": "wine", "strategy": "tpe", "trials": 7, "seed": 5,
            "timeout": 99.0, "data_dir": str(tmp_path.resolve()), "epochs": 2, "batch_size": 8,
            "max_train": 50, "device": "cpu", "workers": 2, "storage": "journal",
            "study_name": "s1", "trial_timeout": 60.0, "out": str(tmp_path / "r")}  # fmt: skip
    assert {k: cfg[k] for k in want} == want
    assert not (tmp_path / "r").exists()


def test_what_the_search_and_resume_are_handed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The progress bar only without ``--quiet`` and ``--json``; ``--overwrite``; on
    resume the new budget, timeout and the changes, nothing else."""
    seen: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def record(*args: Any, **kwargs: Any) -> Any:
        seen.append((args, kwargs))
        raise ConfigError("recorded")

    monkeypatch.setattr(quarch.study, "run_search", record)
    monkeypatch.setattr(quarch.study, "resume_search", record)
    run = tmp_path / "r"
    run.mkdir()  # a run folder as the command's own check sees it; the stub reads none
    for name in ("config.json", "run.json"):
        (run / name).write_text("{}")
    for flags, progress in (([], True), (["--quiet"], False), (["--json"], False)):
        _refused(capsys, ["search", "--space", "mlp", "--out", str(run), *flags], "recorded")
        (cfg,), kwargs = seen.pop()
        assert kwargs == {"progress": progress, "overwrite": False}
        assert cfg == SearchConfig(space="mlp", out=str(run))
    _refused(capsys, ["search", "--space", "mlp", "--out", str(run), "--overwrite"], "recorded")
    assert seen.pop()[1] == {"progress": True, "overwrite": True}
    _refused(capsys, ["search", "--resume", str(run), "--trials", "9", "--timeout", "5",
                      "--workers", "3", "--storage", "sqlite", "--quiet"], "recorded")  # fmt: skip
    args, kwargs = seen.pop()
    assert args == (run,)
    assert kwargs == {"trials": 9, "timeout": 5.0, "progress": False,
                      "overrides": {"workers": 3, "storage": "sqlite"}}  # fmt: skip
    _refused(capsys, ["search", "--resume", str(run)], "recorded")
    assert seen.pop() == ((run,), {"trials": None, "timeout": None, "progress": True,
                                   "overrides": {}})  # fmt: skip
    assert seen == []


def test_key_value_flags_and_comma_lists() -> None:
    assert _kv(["a=1", "b=[1, 2]", "c= x y ", "d=true", "e=", "f=a=b", " g =null"], "--x") == {
        "a": 1, "b": [1, 2], "c": "x y", "d": True, "e": "", "f": "a=b", "g": None,
    }  # fmt: skip
    assert _kv(None, "--x") == {} and _kv([], "--x") == {}
    with pytest.raises(ConfigError) as e:
        _kv(["=1"], "--space-option")
    assert str(e.value) == "--space-option takes KEY=VALUE; got '=1'"
    assert _split(None) is None
    assert _split(" a, ,b,") == ["a", "b"] and _split("") == []


# -- what a search prints ----------------------------------------------------------------


def test_the_summary_and_early_stops(
    capsys: pytest.CaptureFixture[str], in_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The summary's counts against the study; the early-stop notes on stderr."""
    from quarch.study import Run

    result = Run.open(DEFAULT_RUN).result()
    trials = optuna.load_study(
        study_name="quarch", storage=f"sqlite:///{DEFAULT_RUN / 'study.db'}"
    ).trials
    values = {t.number: t.values[0] for t in trials}
    best = min(values, key=lambda n: values[n])
    stops = {
        "timeout": (dataclasses.replace(result.config, timeout=90.0, trials=7),
                    f"note: stopped by --timeout after 90 s with 2 of 7 trials done; continue "
                    f"with `quarch search --resume {DEFAULT_RUN}`\n"),
        "already complete": (dataclasses.replace(result.config, trials=1),
                             f"note: the run already has 2 trials done, its budget is 1; "
                             f"nothing to do (`quarch search --resume {DEFAULT_RUN} --trials N` "
                             f"extends it)\n"),
        None: (result.config, ""),
    }  # fmt: skip
    cases = [(stopped, config, note) for stopped, (config, note) in stops.items()]
    cases.append(("timeout", dataclasses.replace(result.config, timeout=None),
                  f"note: stopped by --timeout after its time with 2 of 2 trials done; "
                  f"continue with `quarch search --resume {DEFAULT_RUN}`\n"))  # fmt: skip
    for stopped, config, note in cases:
        fake = dataclasses.replace(result, stopped=stopped, config=config)
        monkeypatch.setattr(quarch.study, "resume_search", lambda *a, r=fake, **k: r)
        code, out, err = _run(capsys, "search", "--resume", str(DEFAULT_RUN), "--quiet")
        assert (code, err) == (0, note)
        text = " ".join(out.split())
        assert f"chosen: trial {best}, weighted cost {values[best]:.4g} (= 1*val_error + " \
               "0.001*params, lowest of the feasible trials)" in text  # fmt: skip
        assert text.endswith(f"run: {DEFAULT_RUN} trials: 2 complete: 2 failed: 0")
        code, out, err = _run(capsys, "search", "--resume", str(DEFAULT_RUN), "--json")
        assert (code, err) == (0, note)
        summary = json.loads(out)
        assert summary["stopped"] == stopped
        assert summary["best"]["weighted_cost"] == pytest.approx(values[best])


def _table(out: str, raw: bool = False) -> tuple[str, list[list[str]]]:
    """A rich table printed one row a line: its title and its rows' cells (``raw``:
    with their padding, which shows the alignment)."""
    lines = out.splitlines()
    rows = [ln.strip("┃│").split(ln[0]) for ln in lines if ln[:1] in "┃│"]
    return lines[0].strip(), rows if raw else [[c.strip() for c in r] for r in rows]


def test_the_pareto_table_against_the_study(
    capsys: pytest.CaptureFixture[str], in_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The table a weighted search prints, against Optuna's trials: the Pareto set of
    (val_error, params) by brute force, each row's metrics and weighted cost, and the
    architecture as the trial's own parameters."""
    import quarch._cli_app

    monkeypatch.setattr(quarch._cli_app._out, "_width", 400)  # one line per row
    trials = optuna.load_study(
        study_name="quarch", storage=f"sqlite:///{DEFAULT_RUN / 'study.db'}"
    ).trials
    metrics = {t.number: t.user_attrs["metrics"] for t in trials}
    vals = {n: (m["val_error"], m["params"]) for n, m in metrics.items()}
    front = sorted(
        (n for n, v in vals.items()
         if not any(w[0] <= v[0] and w[1] <= v[1] and w != v for w in vals.values())),
        key=lambda n: vals[n],
    )  # fmt: skip
    code, out, err = _run(capsys, "search", "--resume", str(DEFAULT_RUN), "--trials", "2")
    assert code == 0
    title, rows = _table(out)
    assert title == f"Pareto set ({len(front)} of 2 complete)"
    assert rows[0] == ["trial", "val_error", "params", "weighted cost",
                       "architecture (the choices it uses)"]  # fmt: skip
    assert [int(r[0]) for r in rows[1:]] == front
    by_number = {t.number: t for t in trials}
    for row in rows[1:]:
        t = by_number[int(row[0])]
        v, p = vals[t.number]
        assert float(row[1]) == pytest.approx(v, rel=1e-3)
        assert float(row[2]) == pytest.approx(p, rel=1e-3)
        assert float(row[3]) == pytest.approx(v + 0.001 * p, rel=1e-3)
        assert t.values is not None and float(row[3]) == pytest.approx(t.values[0], rel=1e-3)
        shown = dict(kv.split("=", 1) for kv in row[4].split(", "))
        assert shown and all(str(t.params[k]) == s for k, s in shown.items())
        assert "n_layers" in shown
        n = int(shown["n_layers"])  # widths beyond the layers are not used
        assert {k for k in shown if k.startswith("width_")} == {f"width_{i}" for i in range(n)}
    # numbers are right-aligned (one space of padding after each), the text is not
    _, raw = _table(out, raw=True)
    for row in raw[1:]:
        assert all(c.endswith(f"{c.strip()} ") for c in row[:4]), row
        assert row[4].startswith(f" {row[4].strip()}")
    costs = {n: vals[n][0] + 0.001 * vals[n][1] for n in vals}
    best = min(costs, key=lambda n: costs[n])
    chosen = next(ln for ln in out.splitlines() if ln.startswith("chosen:"))
    assert chosen == (f"chosen: trial {best}, weighted cost {costs[best]:.4g} (= 1*val_error "
                      "+ 0.001*params, lowest of the feasible trials)")  # fmt: skip
    assert out.splitlines()[-1] == f"run: {DEFAULT_RUN}  trials: 2  complete: 2  failed: 0"
    assert err.startswith("note: the run already has 2 trials done")


def test_the_summary_counts_and_the_pareto_set_without_weights(
    capsys: pytest.CaptureFixture[str], in_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Failed, pruned and skipped trials are counted (and the failed ones' command
    named); without weights there is no cost column and no chosen trial; a folder with
    brackets in its name is printed as it is."""
    import quarch._cli_app
    from quarch.objectives import Objective
    from quarch.study import Run
    from quarch.study._worker import INTERRUPTED, UNOWNED

    result = Run.open(DEFAULT_RUN).result()
    assert len(_trials_in_db(DEFAULT_RUN)) == len(result.trials) == 2
    first = result.trials[0]
    extra = [
        dataclasses.replace(first, number=2, state="FAIL", values=None, fail_reason="boom"),
        dataclasses.replace(first, number=5, state="FAIL", values=None, fail_reason=INTERRUPTED),
        dataclasses.replace(first, number=6, state="FAIL", values=None, fail_reason=UNOWNED),
        dataclasses.replace(first, number=3, state="PRUNED", values=None, prune_reason="e1"),
        dataclasses.replace(first, number=4, state="PRUNED", values=None, skip_reason="over"),
    ]
    folder = Path("runs") / "[test] x"
    fake = dataclasses.replace(
        result, trials=result.trials + extra, objective=Objective(["val_error", "params"]),
        run_dir=folder,
    )  # fmt: skip
    monkeypatch.setattr(quarch.study, "resume_search", lambda *a, **k: fake)
    code, out, err = _run(capsys, "search", "--resume", str(DEFAULT_RUN), "--quiet")
    assert (code, err) == (0, "")
    text = " ".join(out.split())
    assert "weighted cost" not in text and "chosen:" not in text
    # the Pareto set of (val_error, params) by brute force over the two complete trials
    vals = {t.number: (t.metrics["val_error"], t.metrics["params"]) for t in result.complete}
    front = [n for n, v in vals.items()
             if not any(w[0] <= v[0] and w[1] <= v[1] and w != v for w in vals.values())]  # fmt: skip
    assert text.startswith(f"Pareto set ({len(front)} of 2 complete)")
    monkeypatch.setattr(quarch._cli_app._out, "_width", 400)  # one line per row
    code, out, err = _run(capsys, "search", "--resume", str(DEFAULT_RUN), "--quiet")
    _, rows = _table(out)
    assert rows[0] == ["trial", "val_error", "params", "architecture (the choices it uses)"]
    assert sorted(int(r[0]) for r in rows[1:]) == sorted(front)
    assert all(len(r) == 4 for r in rows)
    assert text.endswith(
        f"run: {folder} trials: 7 complete: 2 failed: 3 (2 interrupted) pruned: 1 skipped (over budget "
        f"before training): 1 failed trials and their reasons: quarch trials {folder}"
    )


# -- listings against the registries -----------------------------------------------------


def test_listings_against_the_registries(capsys: pytest.CaptureFixture[str]) -> None:
    from quarch.benchmark import task_names
    from quarch.benchmark._tasks import task_description, task_factories
    from quarch.search import STRATEGIES, strategy_kind, strategy_options
    from quarch.spaces import SPACES, get_spec

    code, out, _ = _run(capsys, "strategies", "--json")
    assert code == 0
    assert json.loads(out) == [
        {"name": e.name, "description": e.description, "kind": strategy_kind(e.name)}
        for e in STRATEGIES.entries()
    ]
    code, out, _ = _run(capsys, "spaces", "--json")
    assert json.loads(out) == [
        {"name": e.name, "description": e.description,
         "default_dataset": get_spec(e.name).default_dataset}
        for e in SPACES.entries()
    ]  # fmt: skip
    code, out, _ = _run(capsys, "tasks", "--json")
    assert json.loads(out) == [
        {"name": n, "description": task_description(f)} for n, f in task_factories().items()
    ]
    assert [row["name"] for row in json.loads(out)] == task_names()
    code, out, _ = _run(capsys, "strategies", "qiea", "--json")
    row = json.loads(out)
    assert row["name"] == "qiea"
    assert row["options"] == json.loads(json.dumps(strategy_options("qiea"), default=repr))
    # the tables name every entry (a missing default data set as an empty cell)
    code, out, _ = _run(capsys, "spaces")
    assert code == 0 and "None" not in out
    assert all(name in out for name in SPACES.names())
    code, out, _ = _run(capsys, "strategies")
    assert all(name in out for name in STRATEGIES.names())


# -- output paths and the errors' own parts ----------------------------------------------


@pytest.mark.parametrize("denied", [os.W_OK, os.X_OK])
def test_a_folder_that_cannot_be_written_or_entered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, denied: int
) -> None:
    """A folder needs write and search permission to hold a new one (POSIX); the line
    names the folder asked for and the one that refuses. Permissions are faked (root
    may write anywhere)."""
    from quarch._errors import OutputError
    from quarch._paths import check_file, check_folder, folder_problem

    real = os.access
    locked = tmp_path / "locked"
    locked.mkdir()

    def access(path: Any, mode: int) -> bool:
        if Path(path) == locked:
            return not mode & denied
        return real(path, mode)

    monkeypatch.setattr(os, "access", access)
    want = Path(locked / "run")
    assert folder_problem(want, "run folder") == (
        f"cannot write the run folder {str(want)!r}: {str(locked)!r} is not writable"
    )
    assert folder_problem(tmp_path / "free") is None
    with pytest.raises(OutputError) as e:
        check_folder(want / "deeper")
    assert str(e.value) == (
        f"cannot write the folder {str(want / 'deeper')!r}: {str(locked)!r} is not writable"
    )
    with pytest.raises(OutputError) as e:
        check_file(locked / "x.csv")
    assert str(e.value) == (
        f"cannot write the file {str(locked / 'x.csv')!r}: cannot write the folder "
        f"{str(locked)!r}: {str(locked)!r} is not writable"
    )
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError) as e:
        check_folder(tmp_path / "f" / "sub")
    assert str(e.value) == (
        f"cannot make the folder {str(tmp_path / 'f' / 'sub')!r}: {str(tmp_path / 'f')!r} is a file"
    )


def test_a_run_exists_error_keeps_its_message(in_home: Path) -> None:
    """For a Python caller the error's text is the message; the CLI words its own line
    from ``run_dir``."""
    from quarch._errors import RunExistsError

    with pytest.raises(RunExistsError) as e:
        quarch.study.run_search(SearchConfig(space="mlp", out=str(DEFAULT_RUN)), progress=False)
    assert e.value.run_dir == str(DEFAULT_RUN)
    assert str(DEFAULT_RUN) in str(e.value) and str(e.value) == e.value.args[0]
    assert str(RunExistsError("m", "d")) == "m"


def test_used_params_of_an_unregistered_space_are_all_its_params() -> None:
    from quarch._cli_app import _used_params

    params = {"n_layers": 1, "width_0": 8, "width_1": 16}
    assert _used_params("no-such-space", params) == params
    assert _used_params("mlp", {**params, "activation": "relu", "lr": 0.01}) == {
        "n_layers": 1, "width_0": 8, "activation": "relu", "lr": 0.01,
    }  # fmt: skip


def test_a_file_cut_short_is_an_internal_error_not_an_interrupt(
    capsys: pytest.CaptureFixture[str], in_home: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """An ``EOFError`` in a command (``torch.load`` of an empty weights file, before
    ``Run.saved_weights`` named it) was turned by typer into an abort: a blank line,
    ``error: aborted`` and Ctrl-C's 130. Any other file read short still is an
    internal error's one line."""
    import shutil

    from quarch.study import Run

    run = tmp_path / "run"
    shutil.copytree(DEFAULT_RUN, run)
    weights = sorted((run / "weights").iterdir())
    assert weights
    for f in weights:
        f.write_bytes(b"")
    out = tmp_path / "m.pt"
    args = ["export", str(run), "--trial", "0", "--format", "torch", "--out", str(out), "--quiet"]
    code, stdout, err = _run(capsys, *args)
    assert (code, stdout) == (2, "") and err.startswith("error: weights file ")
    assert err.count("\n") == 1
    assert "cannot be read (EOFError: it ends too early)" in err

    def cut_short(*args: Any, **kwargs: Any) -> Any:
        raise EOFError

    monkeypatch.setattr(Run, "saved_weights", cut_short)
    _refused(capsys, args,
             "internal error (EOFError): a file ended too early (rerun with --debug)", 1)  # fmt: skip
    assert not out.exists()


def test_a_registry_table_of_entries_without_text(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user's registered entry may have no description or extra value: an empty cell;
    the column names are the keys, spaced."""
    import quarch._cli_app
    from quarch._cli_lists import _registry_table

    class Entry:
        def __init__(self, name: str, description: str | None) -> None:
            self.name, self.description = name, description

    class Registry:
        def entries(self) -> list[Entry]:
            return [Entry("mine", None), Entry("other", "a text")]

    monkeypatch.setattr(quarch._cli_app._out, "_width", 400)
    _registry_table(Registry(), "things", False, {"default_dataset": lambda n: None})
    title, rows = _table(capsys.readouterr().out)
    assert title == "things"
    assert rows == [["name", "description", "default dataset"], ["mine", "", ""],
                    ["other", "a text", ""]]  # fmt: skip
    _registry_table(Registry(), "things", True)
    assert json.loads(capsys.readouterr().out) == [
        {"name": "mine", "description": None}, {"name": "other", "description": "a text"}
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("error", "line", "code"),
    [
        (KeyboardInterrupt(), "interrupted", 130),
        (RuntimeError("x"), "internal error (RuntimeError): x (rerun with --debug)", 1),
    ],
)
def test_what_escapes_typer_itself(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    error: BaseException, line: str, code: int,
) -> None:  # fmt: skip
    """Ctrl-C while typer builds the command (before its own handler), and anything else
    escaping it: still one line with its status."""
    import typer

    import quarch.cli

    def app(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(quarch.cli, "app", app)
    _refused(capsys, ["spaces"], line, code)

    def aborted(*args: Any, **kwargs: Any) -> Any:
        raise typer.Abort()

    monkeypatch.setattr(quarch.cli, "app", aborted)
    _refused(capsys, ["spaces"], "aborted", 130)

    def leave(*args: Any, **kwargs: Any) -> Any:
        raise typer.Exit(4)

    monkeypatch.setattr(quarch.cli, "app", leave)
    assert _run(capsys, "spaces") == (4, "", "")


# -- the flags that fill evaluator options, the resume's dry run, --report ---------------


def test_the_evaluator_flags_land_in_its_options_beside_the_generic_flag(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``--device-profile``, ``--qubit-budget``, ``--noise`` and ``--supercircuit`` are
    the evaluator options of those names (README), beside ``--evaluator-option``'s keys
    (one option given two values by both is refused: ``test_a_bad_flag_is_one_line_and_
    writes_nothing``; until session 34 the named flag silently won); ``--ray`` is the
    config's ``ray``."""
    code, out, err = _run(capsys, "search", "--space", "hqnn", "--supercircuit",
                          "--device-profile", "ibm-heron", "--qubit-budget", "4",
                          "--noise", "device", "--evaluator-option", "shots=64",
                          "--evaluator-option", "qubit_budget=4", "--ray",
                          "--out", str(tmp_path / "r"), "--dry-run", "--json")  # fmt: skip
    assert (code, err) == (0, ""), err
    cfg = json.loads(out)
    assert cfg["evaluator_options"] == {"shots": 64, "device_profile": "ibm-heron",
                                        "qubit_budget": 4, "noise": "device",
                                        "supercircuit": True}  # fmt: skip
    assert (cfg["ray"], cfg["workers"]) == (True, 1)
    code, out, err = _run(capsys, "search", "--space", "hqnn", "--out", str(tmp_path / "r"),
                          "--dry-run", "--json")  # fmt: skip
    assert (code, err) == (0, ""), err
    assert (json.loads(out)["evaluator_options"], json.loads(out)["ray"]) == ({}, False)
    assert list(tmp_path.iterdir()) == []


def test_a_resume_dry_run_shows_the_config_it_would_continue_with(
    capsys: pytest.CaptureFixture[str], in_home: Path
) -> None:
    """The saved config with the changes given, the storage among them (a database
    URL's password is not saved, so a resume may name it again), printed as a new
    search's dry run prints: the folder, then the JSON; nothing written."""
    run = DEFAULT_RUN
    before = (run / "config.json").read_text()
    saved = json.loads(before)
    code, out, err = _run(capsys, "search", "--resume", str(run), "--out", str(run),
                          "--storage", "sqlite", "--trial-timeout", "30", "--dry-run")  # fmt: skip
    assert (code, err) == (0, ""), err
    head, _, rest = out.partition("\n")
    assert head == f"ok: the search can start; it would write {run} with this config:"
    shown = json.loads(rest)
    assert shown == {**saved, "out": str(run), "storage": "sqlite", "trial_timeout": 30.0}
    # no change given: the saved config as it is (its own folder, no time limit)
    code, out, err = _run(capsys, "search", "--resume", str(run), "--dry-run", "--json")
    assert (code, err) == (0, ""), err
    assert json.loads(out) == {**saved, "out": str(run), "timeout": None}
    assert (run / "config.json").read_text() == before
    assert _trials_in_db(run) == [(0, "COMPLETE"), (1, "COMPLETE")]


def test_report_writes_the_runs_report_and_names_it(
    capsys: pytest.CaptureFixture[str], in_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--report``: the run's report is written when the search ends (asked of
    ``write_report`` for the run's own folder) and its page named, in the JSON summary
    and as the line after the table; without it no report is asked for."""
    import types

    import quarch.report
    from quarch.study import Run

    result = Run.open(DEFAULT_RUN).result()
    asked: list[Path] = []
    page = in_home / "elsewhere" / "index.html"

    def write_report(run_dir: Any, **kwargs: Any) -> Any:
        asked.append(Path(run_dir))
        return types.SimpleNamespace(html=page, images=[])

    monkeypatch.setattr(quarch.report, "write_report", write_report)
    monkeypatch.setattr(quarch.study, "resume_search", lambda *a, **k: result)
    code, out, err = _run(capsys, "search", "--resume", str(DEFAULT_RUN), "--report", "--json")
    assert (code, err) == (0, ""), err
    assert asked == [result.run_dir]
    assert json.loads(out) == {**result.to_json(), "report": str(page)}
    code, out, err = _run(capsys, "search", "--resume", str(DEFAULT_RUN), "--report")
    assert (code, err) == (0, ""), err
    assert out.splitlines()[-1] == f"report: {page}"
    code, out, err = _run(capsys, "search", "--resume", str(DEFAULT_RUN), "--json")
    assert (code, err, len(asked)) == (0, "", 2)
    assert json.loads(out) == result.to_json()

    # Ctrl-C while the report is written: the search is done, and the line says so
    monkeypatch.setattr(quarch.report, "write_report", _raising(KeyboardInterrupt()))
    _refused(capsys, ["search", "--resume", str(DEFAULT_RUN), "--report", "--json"],
             f"interrupted while writing the report; the search ended with 2 of 2 trials "
             f"done; write the report with `quarch report {DEFAULT_RUN}`", 130)  # fmt: skip


def test_a_dry_run_with_overwrite_accepts_a_folder_holding_a_run(
    capsys: pytest.CaptureFixture[str], in_home: Path
) -> None:
    """``--dry-run --overwrite`` checks what the run would do: replace the run there
    (without ``--overwrite`` the same line as the search itself); nothing changes."""
    before = (DEFAULT_RUN / "config.json").read_text()
    code, out, err = _run(capsys, "search", "--space", "mlp", "--overwrite", "--dry-run",
                          "--json")  # fmt: skip
    assert (code, err) == (0, ""), err
    assert json.loads(out)["space"] == "mlp"
    assert (DEFAULT_RUN / "config.json").read_text() == before
    assert _trials_in_db(DEFAULT_RUN) == [(0, "COMPLETE"), (1, "COMPLETE")]


def test_an_interrupted_resume_names_trials_only_when_they_change_the_budget(
    capsys: pytest.CaptureFixture[str], in_home: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """A run of budget 5 with 2 trials done, stopped by Ctrl-C: the line's resume
    command is the bare one when the budget is the run's own (no ``--trials``, or
    ``--trials`` equal to it), and carries ``--trials N`` for a new budget N."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(DEFAULT_RUN, run)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "trials": 5}))
    monkeypatch.setattr(quarch.study, "resume_search", _raising(KeyboardInterrupt()))
    bare = f"interrupted with 2 of 5 trials done; continue with `quarch search --resume {run}`"
    _refused(capsys, ["search", "--resume", str(run)], bare, 130)
    _refused(capsys, ["search", "--resume", str(run), "--trials", "5"], bare, 130)
    _refused(capsys, ["search", "--resume", str(run), "--trials", "7"],
             f"interrupted with 2 of 7 trials done; continue with `quarch search --resume "
             f"{run} --trials 7`", 130)  # fmt: skip


def test_evaluator_flags_add_to_the_files_evaluator_table(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``--evaluator-option`` and the named evaluator flags add to a file's
    ``[evaluator_options]`` key by key (README: flags override a file), as the other
    tables' flags do."""
    path = tmp_path / "c.toml"
    path.write_text('space = "hqnn"\n[evaluator_options]\nshots = 64\nqubit_budget = 9\n')
    code, out, err = _run(capsys, "search", "--config", str(path), "--evaluator-option",
                          "noise=ibm-heron", "--qubit-budget", "4", "--out",
                          str(tmp_path / "r"), "--dry-run", "--json")  # fmt: skip
    assert (code, err) == (0, ""), err
    assert json.loads(out)["evaluator_options"] == {
        "shots": 64, "qubit_budget": 4, "noise": "ibm-heron"
    }  # fmt: skip


def test_a_flag_and_its_evaluator_option_may_agree(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ["search", "--space", "cnn", "--out", str(tmp_path / "r"), "--dry-run", "--json",
            "--evaluator-option", "device_profile=cortex-m7", "--device-profile", "cortex-m7"]  # fmt: skip
    capsys.readouterr()
    assert main(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["evaluator_options"]["device_profile"] == "cortex-m7"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("line", "joins"),
    [("interrupted with 1 of 4 trials done; continue with `quarch search --resume {run}`", True),
     ("interrupted with all 4 trials done; nothing is left to run; see them with "
      "`quarch trials {run}`", False)],
    ids=["unfinished", "finished"],
)  # fmt: skip
def test_an_interrupted_worker_says_how_to_join_again(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    line: str, joins: bool,
) -> None:  # fmt: skip
    """A worker stopped by Ctrl-C while its search runs on: resuming the search is not
    the only way on, so the line says how to join again (an unfinished run only)."""
    import quarch._cli_search as cs

    run = tmp_path / "run"
    run.mkdir()
    for name in ("config.json", "run.json"):
        (run / name).write_text("{}")

    def stop(*args: Any, **kw: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(cs, "_interrupted_line", lambda d, c, t=None: line.format(run=d))
    monkeypatch.setattr(quarch.study, "join_study", stop)
    capsys.readouterr()
    assert main(["worker", "--run", str(run)]) == 130
    again = f"; while its search still runs, `quarch worker --run {run}` joins it again"
    assert capsys.readouterr().err == f"error: {line.format(run=run)}{again if joins else ''}\n"


@pytest.mark.parametrize(
    ("done", "budget", "line"),
    [(4, 8, "note: the run already has 4 trials done, no fewer than --trials asks; nothing to "
            "do, and its budget stays 8 (`quarch search --resume {run}` continues to it)\n"),
     (8, 8, "note: the run already has 8 trials done, its budget is 8; nothing to do "
            "(`quarch search --resume {run} --trials N` extends it)\n")],
    ids=["unfinished", "finished"],
)  # fmt: skip
def test_the_nothing_to_do_line_tells_a_kept_budget_from_a_finished_run(
    capsys: pytest.CaptureFixture[str], done: int, budget: int, line: str
) -> None:
    """A resume whose ``--trials`` asks no more than is done runs nothing and the run
    keeps its budget (``tests/study/test_resume_budget_truth.py``): with trials left to
    run, the line says so rather than reading as a finished run."""
    from quarch._cli_search import _note_stop

    result = SimpleNamespace(done=done, config=SimpleNamespace(trials=budget, timeout=None),
                             stopped="already complete", run_dir=Path("runs/r"))  # fmt: skip
    _note_stop(result)
    assert capsys.readouterr().err == line.format(run=Path("runs/r"))
