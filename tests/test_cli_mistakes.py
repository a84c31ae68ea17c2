"""Every mistake a new user made (issue 20), through the command line.

Each case runs ``quarch ...`` as the console script does (``quarch.cli.main``, stderr
captured at the file descriptor, so whatever typer, rich or a library prints is
seen) and asserts: exit status 2, exactly one line on stderr starting ``error:`` that
names what is accepted, no traceback, nothing on stdout, and no run folder (or output
file) left behind. A few cases need the real process (Ctrl-C, ``--debug``); they run
``python -m quarch.cli`` in a subprocess.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from quarch.cli import main
from quarch.config import SearchConfig
from quarch.study import Run, run_search

from ._scope import per_module

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"

# (id, argv with {tmp} and {run} placeholders, expected start of the error line,
#  files to write first {name: text}, modules to hide)
Case = tuple[str, list[str], str, dict[str, str], tuple[str, ...]]

SEARCH_CASES: list[Case] = [
    (
        "device-profile-on-mlp",
        ["search", "--space", "mlp", "--device-profile", "cortex-m7"],
        "error: --device-profile applies to spaces cnn, hqnn; space 'mlp' has no such option",
        {},
        (),
    ),
    (
        "qubit-budget-on-mlp",
        ["search", "--space", "mlp", "--qubit-budget", "4"],
        "error: --qubit-budget applies to space hqnn only; space 'mlp' has no such option",
        {},
        (),
    ),
    (
        "supercircuit-on-mlp",
        ["search", "--space", "mlp", "--supercircuit"],
        "error: --supercircuit applies to spaces cnn, hqnn; space 'mlp' has no such option",
        {},
        (),
    ),
    (
        "supercircuit-on-nb201",
        ["search", "--space", "nb201", "--supercircuit"],
        "error: --supercircuit applies to spaces cnn, hqnn; space 'nb201' has no such option",
        {},
        (),
    ),
    (
        "misspelt-evaluator-option-in-config",
        ["search", "--config", "{tmp}/c.toml"],
        "error: space 'cnn' takes no evaluator option 'lattency'; it takes: device_profile, latency,",
        {"c.toml": 'space = "cnn"\n[evaluator_options]\nlattency = "model"\n'},
        (),
    ),
    (
        "misspelt-evaluator-option-flag",
        ["search", "--space", "cnn", "--evaluator-option", "lattency=model"],
        "error: space 'cnn' takes no evaluator option 'lattency'; it takes: device_profile, latency,",
        {},
        (),
    ),
    (
        "unknown-space-option",
        ["search", "--space", "mlp", "--space-option", "bogus=1"],
        "error: space 'mlp' takes no option 'bogus'; it takes: max_layers, widths, "
        "activations, learning_rates",
        {},
        (),
    ),
    (
        "unknown-strategy-option",
        ["search", "--space", "mlp", "--strategy", "qiea", "--strategy-option", "bogus=1"],
        "error: strategy 'qiea' takes no option 'bogus'; its options: n_quantum, observations, "
        "step, crossover, update_every, screen, surrogate (`quarch strategies qiea`)",
        {},
        (),
    ),
    (
        "strategy-option-value-its-constructor-refuses",
        ["search", "--space", "mlp", "--strategy", "qiea", "--strategy-option", "n_quantum=0"],
        "error: strategy 'qiea': n_quantum must be an integer >= 1; got 0",
        {},
        (),
    ),
    (
        "strategy-option-value-optuna-refuses",
        [
            "search",
            "--space",
            "mlp",
            "--strategy",
            "nsga2",
            "--strategy-option",
            "population_size=1",
        ],
        "error: strategy 'nsga2': ",
        {},
        (),
    ),
    (
        "top-level-key-below-an-options-table",
        ["search", "--config", "{tmp}/c.toml"],
        "error: strategy 'random' takes no option 'strategy'; its options: none (`quarch "
        "strategies random`) ('strategy' is a config key: in a TOML file, keys below "
        "[strategy_options] belong to it; put them above it)",
        {"c.toml": 'space = "mlp"\n[strategy_options]\nstrategy = "qiea"\n'},
        (),
    ),
    (
        "top-level-key-below-the-evaluator-table",
        ["search", "--config", "{tmp}/c.toml"],
        "error: space 'mlp' takes no evaluator option 'trials'; it takes: save_weights "
        "('trials' is a config key: in a TOML file, keys below [evaluator_options] belong "
        "to it; put them above it)",
        {"c.toml": 'space = "mlp"\n[evaluator_options]\nsave_weights = false\ntrials = 3\n'},
        (),
    ),
    (
        "strategy-option-quarch-sets-in-config",
        ["search", "--config", "{tmp}/c.toml"],
        "error: strategy 'tpe' takes no option 'seed'; its options: consider_prior,",
        {"c.toml": 'space = "mlp"\nstrategy = "tpe"\n[strategy_options]\nseed = 3\n'},
        (),
    ),
    (
        "mlp-lr-option-its-lr-choice-would-ignore",
        ["search", "--space", "mlp", "--evaluator-option", "lr=0.05"],
        "error: space 'mlp' chooses the learning rate (lr among 0.003, 0.01, 0.03), so "
        "--evaluator-option lr would have no effect; set the choices with --space-option "
        "learning_rates=0.05 (or 0.01,0.05)",
        {},
        (),
    ),
    (
        "mlp-activation-the-model-lacks",
        ["search", "--space", "mlp", "--space-option", "activations=relu,swish"],
        "error: space 'mlp' rejected its options {'activations': 'relu,swish'}: activations "
        "must be a non-empty subset of ['relu', 'tanh', 'gelu', 'sigmoid', 'silu']; got "
        "['relu', 'swish']",
        {},
        (),
    ),
    (
        "mlp-width-zero",
        ["search", "--space", "mlp", "--space-option", "widths=0,8"],
        "error: space 'mlp' rejected its options {'widths': '0,8'}: widths must be a "
        "non-empty list of integers >= 1; got [0, 8]",
        {},
        (),
    ),
    (
        "mlp-negative-learning-rate",
        ["search", "--space", "mlp", "--space-option", "learning_rates=-1"],
        "error: space 'mlp' rejected its options {'learning_rates': -1}: learning_rates must "
        "be a non-empty list of numbers > 0; got [-1]",
        {},
        (),
    ),
    (
        "cnn-negative-learning-rate",
        ["search", "--space", "cnn", "--dataset", "digits", "--evaluator-option", "lr=-1"],
        "error: space 'cnn' refused its evaluator options {'lr': -1}: lr must be a number > 0; "
        "got -1",
        {},
        (),
    ),
    (
        "cnn-supernet-without-recalibration-batches",
        [
            "search",
            "--space",
            "cnn",
            "--dataset",
            "digits",
            "--supercircuit",
            "--evaluator-option",
            "recalibration_batches=0",
        ],
        "error: space 'cnn' refused its evaluator options {'recalibration_batches': 0, "
        "'supercircuit': True}: recalibration_batches must be >= 1; got 0",
        {},
        (),
    ),
    (
        "flag-option-as-a-word",
        ["search", "--space", "hqnn", "--evaluator-option", "save_weights=no"],
        "error: space 'hqnn': evaluator option 'save_weights' must be true or false; got 'no'",
        {},
        (),
    ),
    (
        "evaluator-option-value-out-of-range",
        ["search", "--space", "hqnn", "--evaluator-option", "noise_samples=0"],
        "error: noise_samples must be an integer >= 1; got 0",
        {},
        (),
    ),
    (
        "evaluator-option-value-not-a-number",
        ["search", "--space", "hqnn", "--evaluator-option", "job_overhead_s=soon"],
        "error: space 'hqnn' refused its evaluator options {'job_overhead_s': 'soon'}: could "
        "not convert string to float: 'soon'",
        {},
        (),
    ),
    (
        "objective-the-space-cannot-produce",
        ["search", "--space", "mlp", "--objectives", "val_error,latency_ms"],
        "error: space 'mlp' does not produce metric(s) 'latency_ms' with this config; it "
        "produces: flops, params, test_error, val_accuracy, val_error",
        {},
        (),
    ),
    (
        "budget-the-space-cannot-produce",
        ["search", "--space", "mlp", "--budget", "latency_ms<=10"],
        "error: space 'mlp' does not produce metric(s) 'latency_ms'",
        {},
        (),
    ),
    (
        "storage-url-that-cannot-open",
        ["search", "--space", "mlp", "--storage", "foo://bar"],
        "error: cannot open storage 'foo://bar'",
        {},
        (),
    ),
    (
        "more-weights-than-objectives",
        ["search", "--space", "mlp", "--weights", "1,0.01,0.001,0.1"],
        "error: got 4 weights for 2 objectives ['val_error', 'params']; give one each",
        {},
        (),
    ),
    (
        "nb201-with-a-tabular-data-set",
        ["search", "--space", "nb201", "--dataset", "iris"],
        "error: unknown nb201 data set 'iris'; choose from ['cifar10', 'cifar100']",
        {},
        (),
    ),
    (
        "cnn-without-the-onnx-extra",
        ["search", "--space", "cnn", "--dataset", "digits"],
        "error: space 'cnn' measures latency_ms with ONNX Runtime on the local-cpu profile, "
        "which needs the onnx extra (missing: onnx, onnxruntime): pip install 'quarch[onnx]'",
        {},
        ("onnx", "onnxruntime"),
    ),
    (
        "config-value-of-the-wrong-type",
        ["search", "--config", "{tmp}/c.toml"],
        "error: config key 'trials' takes an integer; got 'ten'",
        {"c.toml": 'space = "mlp"\ntrials = "ten"\n'},
        (),
    ),
    (
        "config-file-of-unknown-format",
        ["search", "--config", "{tmp}/c.ini"],
        "error: config file '{tmp}/c.ini': unknown format '.ini'; name it .toml, .json, .yaml, .yml",
        {"c.ini": "[search]\nspace = mlp\n"},
        (),
    ),
    (
        "unknown-pruner",
        ["search", "--space", "mlp", "--pruner", "bogus"],
        "error: unknown pruner 'bogus'; choose from: none, median, hyperband",
        {},
        (),
    ),
    (
        "pruner-with-several-objectives",
        ["search", "--space", "mlp", "--pruner", "median"],
        "error: --pruner median needs one objective or --weights",
        {},
        (),
    ),
    (
        "pruner-on-a-table-look-up",
        ["search", "--space", "nb201", "--pruner", "median", "--objectives", "val_error"],
        "error: --pruner median: space 'nb201' is scored by a table look-up",
        {},
        (),
    ),
    (
        "no-space",
        ["search", "--dataset", "iris"],
        "error: a search needs a space: give --space NAME",
        {},
        (),
    ),
    (
        "evaluator-option-without-value",
        ["search", "--space", "mlp", "--evaluator-option", "lr"],
        "error: --evaluator-option takes KEY=VALUE; got 'lr'",
        {},
        (),
    ),
    (
        "strategy-option-without-key",
        ["search", "--space", "mlp", "--strategy-option", "=3"],
        "error: --strategy-option takes KEY=VALUE; got '=3'",
        {},
        (),
    ),
    (
        "space-option-given-twice",
        [
            "search",
            "--space",
            "mlp",
            "--space-option",
            "max_layers=2",
            "--space-option",
            "max_layers=3",
        ],
        "error: --space-option max_layers is given twice",
        {},
        (),
    ),
    (
        "negative-timeout",
        ["search", "--space", "mlp", "--timeout", "-5"],
        "error: timeout must be > 0 seconds; got -5.0",
        {},
        (),
    ),
    (
        # the refusal shows the user's options and no hint about TOML tables: the data
        # set a dataset-aware space receives is quarch's doing, not the user's
        "space-option-with-a-bad-value",
        ["search", "--space", "hqnn", "--dataset", "iris", "--space-option", "max_qubits=0"],
        "error: space 'hqnn' rejected its options {'max_qubits': 0}: max_qubits must be an "
        "integer in [2, 16] (min_qubits..16); got 0\n",
        {},
        (),
    ),
    (
        "space-option-dataset-contradicts-the-data-set",
        ["search", "--space", "hqnn", "--dataset", "iris", "--space-option", "dataset=wine"],
        "error: space option dataset='wine' contradicts --dataset 'iris'; the space takes its "
        "data set from --dataset (drop the option)",
        {},
        (),
    ),
    (
        "edge-profile-unknown",
        ["search", "--space", "cnn", "--device-profile", "nope"],
        "error: unknown edge device profile 'nope'; known: cortex-m7, raspi4, local-cpu",
        {},
        (),
    ),
    (
        # Optuna's HyperbandPruner checks these at the first epoch: 25 failed trials,
        # ~15 s and a run folder before the search gave up
        "hyperband-option-optuna-checks-only-at-the-first-epoch",
        [
            "search",
            "--space",
            "mlp",
            "--objectives",
            "val_error",
            "--pruner",
            "hyperband",
            "--pruner-option",
            "reduction_factor=1",
        ],
        "error: --pruner hyperband: bad pruner_options {'reduction_factor': 1}: The value of "
        "`reduction_factor` is 1, but must be `reduction_factor >= 2`",
        {},
        (),
    ),
    (
        "hyperband-max-resource-below-its-min",
        [
            "search",
            "--space",
            "mlp",
            "--objectives",
            "val_error",
            "--pruner",
            "hyperband",
            "--pruner-option",
            "max_resource=0",
        ],
        "error: --pruner hyperband: bad pruner_options {'max_resource': 0}: max_resource must "
        "be 'auto' or an integer >= min_resource (1); got 0",
        {},
        (),
    ),
    (
        "weights-all-zero",  # every architecture would cost 0: the pick is arbitrary
        ["search", "--space", "mlp", "--weights", "0,0"],
        "error: weights are all 0, so every architecture would cost the same; give at least "
        "one objective of ['val_error', 'params'] a weight > 0",
        {},
        (),
    ),
    (
        "in-memory-sqlite-storage",  # the run folder could never be read again
        ["search", "--space", "mlp", "--storage", "sqlite:///:memory:"],
        "error: storage 'sqlite:///:memory:' keeps the study in memory: it would be gone when "
        "the search ends",
        {},
        (),
    ),
    (
        "sqlite-url-with-a-host",  # SQLAlchemy cannot open it; it was read as ./x.db
        ["search", "--space", "mlp", "--storage", "sqlite://x.db"],
        "error: storage 'sqlite://x.db' names a host, and SQLite has none: a file is "
        "sqlite:///NAME (relative to this folder) or sqlite:////abs/path/NAME, with three or "
        "four '/'",
        {},
        (),
    ),
    (
        "toml-file-holding-json",
        ["search", "--config", "{tmp}/c.toml"],
        "error: cannot parse config file '{tmp}/c.toml': Invalid statement (at line 1, column "
        "1) (it looks like JSON: name the file .json)",
        {"c.toml": '{"space": "mlp"}\n'},
        (),
    ),
    (
        "config-file-that-is-a-folder",
        ["search", "--config", "{tmp}"],
        "error: config file '{tmp}' is a folder; name a .toml, .json or .yaml file",
        {},
        (),
    ),
    (
        "password-in-an-unreachable-database-url",
        ["search", "--space", "mlp", "--storage", "postgresql+psycopg://ann:s3cret@127.0.0.1:9/db"],
        "error: cannot open storage 'postgresql+psycopg://ann:***@127.0.0.1:9/db'",
        {},
        (),
    ),
]


def _run_cli(
    capfd: pytest.CaptureFixture[str], argv: list[str]
) -> tuple[int, str, str]:  # fmt: skip
    code = main(argv)
    out, err = capfd.readouterr()
    return code, out, err


def _one_line(code: int, out: str, err: str, expected: str) -> None:
    assert code == 2, (code, err)
    assert out == "", out
    assert err.startswith(expected), err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err and "s3cret" not in err


def _hide(monkeypatch: pytest.MonkeyPatch, modules: tuple[str, ...]) -> None:
    """Make ``modules`` look uninstalled (``import`` fails, ``find_spec`` is None)."""
    for m in modules:
        monkeypatch.setitem(sys.modules, m, None)


@pytest.mark.parametrize(
    ("argv", "expected", "files", "hidden"),
    [pytest.param(*c[1:], id=c[0]) for c in SEARCH_CASES],
)
def test_search_mistake(
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    argv: list[str],
    expected: str,
    files: dict[str, str],
    hidden: tuple[str, ...],
) -> None:
    monkeypatch.chdir(tmp_path)  # a default run folder would appear here
    if "nb201" in argv:
        if not (SHARED / "nb201").is_dir():
            pytest.skip("shared nb201 table absent")
        argv = [*argv, "--data-dir", str(SHARED)]
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    _hide(monkeypatch, hidden)
    out_dir = tmp_path / "run"
    args = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code, out, err = _run_cli(capfd, [*args, "--out", str(out_dir)])
    _one_line(code, out, err, expected.replace("{tmp}", str(tmp_path)))
    assert not out_dir.exists(), "a failed start left a run folder behind"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files), "something was written"


@pytest.mark.parametrize(
    ("argv", "files", "hint"),
    [
        (["search", "--config", "c.toml"], {"c.toml": 'space = "mlp"\ntrails = 2\n'},
         "('trails': did you mean 'trials'?)"),
        (["search", "--space", "mlp", "--strategy", "qiea", "--strategy-option",
          "n_quantums=3"], {}, "('n_quantums': did you mean 'n_quantum'?)"),
        (["search", "--space", "mlp", "--space-option", "max_layer=3"], {},
         "('max_layer': did you mean 'max_layers'?)"),
        (["search", "--space", "cnn", "--dataset", "mnist", "--evaluator-option",
          "latncy=model"], {}, "('latncy': did you mean 'latency'?)"),
        (["search", "--space", "hqn"], {}, "('hqn': did you mean 'hqnn'?)"),
        (["search", "--space", "mlp", "--strategy", "qiae"], {},
         "('qiae': did you mean 'qiea'?)"),
        (["search", "--space", "mlp", "--dataset", "wines"], {},
         "('wines': did you mean 'wine'?)"),
        # a slip of case alone: difflib by itself finds no likely name for these
        (["search", "--config", "c.toml"], {"c.toml": 'space = "mlp"\nTrials = 2\n'},
         "('Trials': did you mean 'trials'?)"),
        (["search", "--space", "mlp", "--space-option", "MAX_LAYERS=3"], {},
         "('MAX_LAYERS': did you mean 'max_layers'?)"),
        (["search", "--space", "mlp", "--strategy", "QIEA"], {},
         "('QIEA': did you mean 'qiea'?)"),
    ],
)  # fmt: skip
def test_a_misspelt_key_is_named_with_the_likely_one(
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    argv: list[str],
    files: dict[str, str],
    hint: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    code, out, err = _run_cli(capfd, [*argv, "--out", str(tmp_path / "run")])
    _one_line(code, out, err, "error: ")
    assert hint in err
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope=per_module)
def hqnn_run(tiny_hqnn_run: Path) -> Path:
    return tiny_hqnn_run


def _complete_trial(run: Path) -> int:
    return Run.open(run).result().complete[0].number


RUN_CASES: list[tuple[str, Callable[[Path, int], list[str]], str, tuple[str, ...]]] = [
    (
        "export-qiskit-without-the-extra",
        lambda run, n: ["export", str(run), "--trial", str(n), "--format", "qiskit"],
        "error: --format qiskit needs the qiskit extra (missing: qiskit): pip install "
        "'quarch[qiskit]'",
        ("qiskit",),
    ),
    (
        "export-qasm3-without-the-extra",
        lambda run, n: ["export", str(run), "--trial", str(n), "--format", "qasm3"],
        "error: --format qasm3 needs the qiskit extra (missing: qiskit)",
        ("qiskit",),
    ),
    (
        "export-unknown-format",
        lambda run, n: ["export", str(run), "--trial", str(n), "--format", "qpy"],
        "error: unknown export format 'qpy'; choose from: torch, onnx, onnx-int8, qasm, qasm3, "
        "qiskit, pennylane",
        (),
    ),
    (
        "export-a-trial-that-does-not-exist",
        lambda run, n: ["export", str(run), "--trial", "99", "--format", "torch"],
        "error: run '{run}' has no trial 99; it has 0..1",
        (),
    ),
    (
        "resume-with-a-different-data-set",
        lambda run, n: ["search", "--resume", str(run), "--dataset", "wine"],
        "error: --resume continues a run with its saved config; only --data-dir, --device,",
        (),
    ),
    (
        "train-on-something-that-is-no-torch-device",
        lambda run, n: ["train", str(run), "--trial", str(n), "--device", "gpu"],
        "error: --device 'gpu' is not a torch device",
        (),
    ),
    (
        "new-run-in-a-run-folder",
        lambda run, n: ["search", "--space", "mlp", "--out", str(run)],
        "error: run folder '{run}' already holds a study; continue it with `quarch search "
        "--resume {run}`, replace it with --overwrite, or choose another --out",
        (),
    ),
    (
        "trials-of-a-folder-that-is-no-run",
        lambda run, n: ["trials", str(run.parent / "nowhere")],
        "error: '{parent}/nowhere': no such folder",
        (),
    ),
    (
        "trials-in-a-state-there-is-none-of",  # the states named are every one it takes
        lambda run, n: ["trials", str(run), "--state", "done"],
        "error: --state takes complete, pruned, fail, running or waiting; got 'done'",
        (),
    ),
    (
        "report-of-a-folder-that-is-no-run",
        lambda run, n: ["report", str(run.parent / "nowhere")],
        "error: '{parent}/nowhere': no such folder",
        (),
    ),
    (
        "worker-on-a-sqlite-file-that-does-not-exist",
        lambda run, n: ["worker", "--storage", f"sqlite:///{run.parent}/nowhere", "--study", "s"],
        "error: no study database at '{parent}/nowhere' (storage 'sqlite:///{parent}/nowhere')",
        (),
    ),
    (
        "dry-run-in-a-run-folder",  # worded for the command line, as without --dry-run
        lambda run, n: ["search", "--space", "mlp", "--out", str(run), "--dry-run"],
        "error: run folder '{run}' already holds a study; continue it with `quarch search "
        "--resume {run}`, replace it with --overwrite, or choose another --out",
        (),
    ),
    (
        "resume-into-another-out",  # was: "cannot resume '.../nowhere': not a run folder"
        lambda run, n: ["search", "--resume", str(run), "--out", str(run.parent / "nowhere")],
        "error: --resume continues a run with its saved config; only --data-dir, --device, "
        "--pruner, --pruner-option, --ray, --ray-address, --timeout, --trial-timeout, --trials, "
        "--workers may change; got --out",
        (),
    ),
    (
        "resume-names-the-flags-as-typed",  # not --strategy-options, which does not exist
        lambda run, n: [
            "search",
            "--resume",
            str(run),
            "--strategy-option",
            "x=1",
            "--budget",
            "params<=9",
        ],
        "error: --resume continues a run with its saved config; only --data-dir, --device, "
        "--pruner, --pruner-option, --ray, --ray-address, --timeout, --trial-timeout, --trials, "
        "--workers may change; got --budget, --strategy-option",
        (),
    ),
    (
        "export-sample-for-a-format-that-binds-none",  # silently ignored before
        lambda run, n: [
            "export",
            str(run),
            "--trial",
            str(n),
            "--format",
            "qasm3",
            "--sample",
            "3",
        ],
        "error: --sample applies to --format qasm, not 'qasm3' (it keeps the inputs as `input "
        "float[64]` parameters)",
        (),
    ),
    (
        "worker-on-a-run-with-a-study-name",  # the name was ignored: the run has its own
        lambda run, n: ["worker", "--run", str(run), "--study", "other"],
        "error: --study names a study in --storage; the run folder --run RUN holds its own "
        "(drop --study)",
        (),
    ),
    (
        "resume-a-folder-that-is-no-run",
        lambda run, n: ["search", "--resume", str(run.parent / "nowhere")],
        "error: '{parent}/nowhere': no such folder",
        (),
    ),
]


@pytest.mark.parametrize(
    ("make_argv", "expected", "hidden"), [pytest.param(*c[1:], id=c[0]) for c in RUN_CASES]
)
def test_mistake_on_a_run(
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    hqnn_run: Path,
    make_argv: Callable[[Path, int], list[str]],
    expected: str,
    hidden: tuple[str, ...],
) -> None:
    before = sorted(p.relative_to(hqnn_run) for p in hqnn_run.rglob("*"))
    _hide(monkeypatch, hidden)
    argv = make_argv(hqnn_run, _complete_trial(hqnn_run))
    # qiskit's file must be .qpy; any other format gets a name no format claims
    written = tmp_path / ("circuit.qpy" if "qiskit" in argv else "exported")
    if argv[0] == "export":
        argv += ["--out", str(written)]
    code, out, err = _run_cli(capfd, argv)
    want = expected.replace("{run}", str(hqnn_run)).replace("{parent}", str(hqnn_run.parent))
    _one_line(code, out, err, want)
    assert not written.exists()
    assert sorted(p.relative_to(hqnn_run) for p in hqnn_run.rglob("*")) == before
    assert not (hqnn_run.parent / "nowhere").exists()


def test_qiskit_export_is_named_qpy(
    capfd: pytest.CaptureFixture[str], tmp_path: Path, hqnn_run: Path
) -> None:
    target = tmp_path / "circuit.qasm"
    n = _complete_trial(hqnn_run)
    code, out, err = _run_cli(
        capfd, ["export", str(hqnn_run), "--trial", str(n), "--format", "qiskit", "--out", str(target)]
    )  # fmt: skip
    _one_line(
        code, out, err,
        "error: --format qiskit writes Qiskit's binary QPY format; name the file .qpy (got "
        "'circuit.qasm'), or use --format qasm3 for OpenQASM 3 text",
    )  # fmt: skip
    assert not target.exists()


# -- the real process -------------------------------------------------------------------
def _cli(*args: str, cwd: Path, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quarch.cli", *args], cwd=cwd, capture_output=True, text=True,
        timeout=300, **kw,
    )  # fmt: skip


def test_debug_after_the_subcommand_shows_the_traceback(tmp_path: Path) -> None:
    p = _cli("search", "--space", "nope", "--debug", cwd=tmp_path)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[-1] == "error: unknown space 'nope'; choose from: mlp, nb201, cnn, hqnn"
    assert "NoSuchOption" not in p.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("how", "workers"), [("ctrl-c", 1), ("ctrl-c", 2), ("sigterm", 2)])
def test_an_interrupted_search_says_how_to_resume(tmp_path: Path, how: str, workers: int) -> None:
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) during a
    search: exit 130, one line saying how far it got and how to continue; the
    interrupted trial is failed and the run resumes. SIGTERM to the search alone
    (``docker stop``, ``timeout``, a batch system's time limit) killed it silently and
    left a trial RUNNING and its workers working; now it takes the same path, with 143,
    the code a shell reports for SIGTERM."""
    run = tmp_path / "run"
    argv = [sys.executable, "-m", "quarch.cli", "search", "--space", "mlp", "--dataset",
            "digits", "--epochs", "2000", "--trials", "4", "--quiet", "--out", str(run),
            "--workers", str(workers)]  # fmt: skip
    # as a terminal starts it: with SIGINT at its default (a shell's background job, such
    # as a CI script run with `&`, ignores SIGINT, and Python keeps ignoring it then)
    proc = subprocess.Popen(
        argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300  # a loaded 2-core machine starts slowly
        while not _running_trials(run) and time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
        if not _running_trials(run):
            proc.kill()
            _out, err = proc.communicate(timeout=60)
            raise AssertionError(f"no trial started (exit {proc.returncode}): {err[-2000:]}")
        time.sleep(0.5)
        if how == "ctrl-c":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            os.kill(proc.pid, signal.SIGTERM)  # the search only, not its workers
        try:
            _out, err = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:  # say where it hung, not only that it did
            os.killpg(proc.pid, signal.SIGKILL)
            _out, err = proc.communicate(timeout=60)
            raise AssertionError(f"still running 300 s after {how}: {err[-3000:]}") from None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == (130 if how == "ctrl-c" else 128 + signal.SIGTERM), err
    result = Run.open(run).result()
    assert err.splitlines() == [
        f"error: interrupted with {result.done} of 4 trials done; continue with "
        f"`quarch search --resume {run}`"
    ], err
    assert result.done < 4
    failed = result.failed
    reason = "interrupted: the search was stopped (Ctrl-C or SIGTERM)"
    assert failed and all(t.fail_reason == reason for t in failed), [t.fail_reason for t in failed]
    assert not any(t.state == "RUNNING" for t in result.trials)


def _running_trials(run: Path) -> bool:
    if not Run.exists(run):
        return False
    try:
        return any(t.state == "RUNNING" for t in Run.open(run).result().trials)
    except Exception:  # the study is being created right now
        return False


def test_nothing_left_in_the_working_folder(tmp_path: Path) -> None:
    """A start that fails before its first trial leaves no folder in the working folder
    either (the default run folder is runs/SPACE-DATASET-STRATEGY-sSEED)."""
    p = _cli("search", "--space", "mlp", "--storage", "foo://bar", cwd=tmp_path)
    assert p.returncode == 2 and p.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_a_ctrl_c_inside_an_import_is_not_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C landing in an import's lock callback reaches ``sys.unraisablehook``
    (Python would print "Exception ignored in ..." and a traceback beside the CLI's one
    line): the hook ``quarch`` installs drops the report (the interrupt is delivered
    again: ``tests/test_interrupts_truth.py``) and passes every other exception on,
    once however often ``main`` runs (it calls the installer each time)."""
    import types
    import weakref

    from quarch._errors import quiet_interrupted_imports

    seen: list[type] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: seen.append(info.exc_type))
    quiet_interrupted_imports()
    installed = sys.unraisablehook
    quiet_interrupted_imports()
    assert sys.unraisablehook is installed  # not wrapped twice

    def fire(exc: type[BaseException]) -> None:
        class Dropped:
            pass

        def callback(_: object) -> None:
            raise exc

        obj = Dropped()
        ref = weakref.ref(obj, callback)  # a callback's exception goes to the hook
        del obj
        assert ref() is None

    old = signal.signal(signal.SIGINT, signal.default_int_handler)  # as outside pytest
    try:
        with pytest.raises(KeyboardInterrupt):  # delivered again in this thread
            fire(KeyboardInterrupt)
            time.sleep(5)
    finally:
        signal.signal(signal.SIGINT, old)
    fire(ValueError)
    assert seen == [ValueError]
    sys.unraisablehook(types.SimpleNamespace(exc_type=RuntimeError))
    assert seen == [ValueError, RuntimeError]


# -- found by a hunt for dead ends (paths, storage, benchmarks, encodings) ---------------
@pytest.mark.parametrize("blank", ["", " "])
@pytest.mark.parametrize("command", ["search", "report", "benchmark"])
def test_a_blank_out_is_refused_not_taken_for_the_working_folder(
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    hqnn_run: Path,
    command: str,
    blank: str,
) -> None:
    """``--out "$DIR"`` with ``DIR`` unset: ``report`` wrote into the working folder,
    ``search`` and ``benchmark`` into their default folders, ``"  "`` made a folder named
    by spaces."""
    monkeypatch.chdir(tmp_path)
    argv = {
        "search": ["search", "--space", "mlp", "--trials", "1"],
        "report": ["report", str(hqnn_run)],
        "benchmark": ["benchmark", "--task", "synthetic-qubo", "--seeds", "1", "--trials", "2"],
    }[command]
    what = {"search": "--out must name the run folder", "report": "--out must name the report "
            "folder", "benchmark": "--out must name the benchmark folder"}[command]  # fmt: skip
    code, out, err = _run_cli(capfd, [*argv, "--out", blank])
    _one_line(code, out, err, f"error: {what}; got {blank!r}")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("blank", ["", " "])
def test_a_blank_ray_address_is_refused_not_run_without_ray(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, blank: str
) -> None:
    """``--ray-address "$HEAD"`` with ``HEAD`` unset ran the search without Ray, silently."""
    monkeypatch.chdir(tmp_path)
    argv = ["search", "--space", "mlp", "--trials", "1", "--ray-address", blank]
    code, out, err = _run_cli(capfd, argv)
    _one_line(code, out, err, "error: ray_address must name a Ray cluster (host:port or "
              f"'auto'); got {blank!r}")  # fmt: skip
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("shorthand", ["sqlite", "journal"])
def test_a_worker_on_a_storage_shorthand_is_told_to_name_the_run(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    shorthand: str,
) -> None:  # fmt: skip
    """``quarch worker --storage journal`` said "run folder '.' has no journal.log": the
    shorthands name a run folder's own file, which ``--run RUN`` joins."""
    monkeypatch.chdir(tmp_path)
    code, out, err = _run_cli(capfd, ["worker", "--storage", shorthand])
    _one_line(code, out, err, f"error: --storage {shorthand} means a run folder's own "
              f"{shorthand} file; join a run on this machine with --run RUN")  # fmt: skip


@pytest.mark.parametrize(
    "storage",
    ["sqlite", "sqlite:///{run}/study.db", "sqlite+pysqlite:///{run}/./study.db?timeout=9"],
)
def test_resume_with_the_runs_own_storage_named(
    capfd: pytest.CaptureFixture[str], hqnn_run: Path, storage: str
) -> None:
    """``--storage sqlite``, or a SQLite URL of the run's own ``study.db``, on a SQLite
    run is no change (each was refused as "a different storage": the saved config holds
    no storage, the default)."""
    code, out, err = _run_cli(
        capfd, ["search", "--resume", str(hqnn_run), "--storage", storage.format(run=hqnn_run),
                "--trials", "3", "--dry-run", "--json"],
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["trials"] == 3


def test_resume_with_another_sqlite_file_is_refused(
    capfd: pytest.CaptureFixture[str], hqnn_run: Path, tmp_path: Path
) -> None:
    code, out, err = _run_cli(
        capfd, ["search", "--resume", str(hqnn_run), "--storage", f"sqlite:///{tmp_path}/o.db",
                "--trials", "3", "--dry-run", "--json"],
    )  # fmt: skip
    _one_line(code, out, err, f"error: cannot resume {str(hqnn_run)!r} with a different "
              "storage; start a new run (--out) instead")  # fmt: skip


def test_a_relative_sqlite_url_is_recorded_absolute(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``--storage sqlite:///studies.db`` names a file in the working folder; the run
    records it as an absolute path, so ``quarch trials RUN`` works from anywhere (it
    said "no study database at 'studies.db'" from any other folder)."""
    from quarch.testing.evaluators import ArithmeticEvaluator

    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    cfg = SearchConfig(space="mlp", dataset="iris", trials=2, out="run",
                       storage="sqlite:///studies.db")  # fmt: skip
    run_search(cfg, progress=False, evaluator=ArithmeticEvaluator())
    db = tmp_path / "work" / "studies.db"
    assert json.loads((tmp_path / "work" / "run" / "run.json").read_text())["storage"] == (
        f"sqlite:///{db}"
    )
    monkeypatch.chdir(tmp_path)
    assert Run.open(tmp_path / "work" / "run").result().done == 2


def test_a_config_file_with_a_byte_order_mark(
    capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Windows editors (Notepad, PowerShell 5's ``Out-File -Encoding utf8``) begin a
    UTF-8 file with a BOM; TOML refused it as "Invalid statement (at line 1, column 1)"."""
    for name, text in [("c.toml", 'space = "mlp"\ntrials = 4\n'), ("c.json", '{"trials": 4}')]:
        (tmp_path / name).write_bytes(b"\xef\xbb\xbf" + text.encode())
        code, out, err = _run_cli(
            capfd, ["search", "--config", str(tmp_path / name), "--space", "mlp", "--out",
                    str(tmp_path / "run"), "--dry-run", "--json"],
        )  # fmt: skip
        assert code == 0, err
        assert json.loads(out)["trials"] == 4
    assert not (tmp_path / "run").exists()


def test_an_output_that_cannot_show_a_character_escapes_it(hqnn_run: Path, tmp_path: Path) -> None:
    """With ``PYTHONIOENCODING=ascii`` (or a C locale) the summary of a run folder
    ``rün`` failed with an internal error (UnicodeEncodeError, exit 1) after the work."""
    run = tmp_path / "rün"
    shutil.copytree(hqnn_run, run)
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    p = _cli("trials", str(run), cwd=tmp_path, env=env)
    assert p.returncode == 0, p.stderr
    assert "r\\xfcn" in p.stdout and p.stderr == ""


def test_escaping_is_undone_for_an_in_process_caller(
    hqnn_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``main()`` escapes what an ASCII output cannot show, and gives the caller its
    streams back as they were (it left them escaping for the rest of the process)."""
    import io

    run = tmp_path / "rün"
    shutil.copytree(hqnn_run, run)
    out = io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="strict")
    err = io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="strict")
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    assert main(["trials", str(run)]) == 0
    assert (out.errors, err.errors) == ("strict", "strict")
    out.flush()
    assert b"r\\xfcn" in out.buffer.getvalue()  # type: ignore[attr-defined]


def test_version(capfd: pytest.CaptureFixture[str]) -> None:
    from quarch import __version__

    code, out, err = _run_cli(capfd, ["--version"])
    assert (code, out, err) == (0, f"quarch {__version__}\n", "")


_TASKS = """
import dataclasses

from quarch.benchmark import Task
from quarch.objectives import Objective
from quarch.space import Choice, Space

SPACE = Space([Choice("depth", [1, 2, 3, 4]), Choice("width", [16, 32])], name="toy")


class Ev:
    fingerprint = "toy"

    def evaluate(self, arch, *, seed):
        return {"val_error": arch["depth"] / 10}


def ok(*, seed=0):
    return Task(name="toy", space=SPACE, evaluator=Ev(), objective=Objective(["val_error"]),
                judge=lambda a: a["depth"] / 10, maximize=False, optimum=0.1, target=0.1,
                score_name="error", oracle=0.1, oracle_label="depth 1")


def no_arguments():
    return ok()


def needs_more(seed, size):
    return ok()


def raises(*, seed=0):
    raise ValueError("no table here")


def bad_judge(*, seed=0):
    return dataclasses.replace(ok(), judge=lambda a: 1 / 0)


class NoMetric(Ev):
    def evaluate(self, arch, *, seed):
        return {"error": arch["depth"] / 10}


class DeepFails(Ev):
    def evaluate(self, arch, *, seed):
        if arch["depth"] > 1:
            raise RuntimeError("too deep")
        return super().evaluate(arch, seed=seed)


def no_metric(*, seed=0):
    return dataclasses.replace(ok(), evaluator=NoMetric())


def deep_fails(*, seed=0):
    return dataclasses.replace(ok(), evaluator=DeepFails())
"""


@pytest.mark.parametrize(
    ("factory", "argv", "expected"),
    [
        ("needs_more", [], "error: task '{m}:needs_more': its factory requires 'size', which "
         "quarch cannot give; it passes seed, data_dir and budgets as keywords"),
        ("raises", [], "error: task '{m}:raises': its factory raised ValueError: no table here"),
        ("bad_judge", [], "error: the task's judge failed on the pick {'depth': "),
        ("ok", ["--strategies", "grid,random", "--trials", "9"], "error: strategy 'grid' "
         "proposes each of 8 architectures once; --trials must be at most 8"),
    ],
)  # fmt: skip
def test_a_task_of_your_own_that_cannot_run(
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    factory: str,
    argv: list[str],
    expected: str,
) -> None:
    """A user's task factory or judge that fails, or asks for what quarch cannot pass:
    one line naming the task (an internal error, exit 1, before); ``grid`` asked for
    more queries than cells is refused as ``quarch search`` refuses it (it warned and
    repeated cells, printing the warning's source line)."""
    module = f"tasks_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(_TASKS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    code, out, err = _run_cli(
        capfd, ["benchmark", "--task", f"{module}:{factory}", "--seeds", "1",
                *(argv or ["--trials", "3"]), "--quiet"],
    )  # fmt: skip
    _one_line(code, out, err, expected.replace("{m}", module))
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "__pycache__") == [f"{module}.py"]


def test_a_task_whose_every_evaluation_fails_is_an_error_not_a_blank_table(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An evaluator that never returns the objective's metric made every query a failure
    and the benchmark ended with exit 0, a table of blanks and "[0 feasible]"; now one
    line naming the first failure, and no benchmark folder. Some failures are one
    ``warning:`` line (not Python's file, line and source line) above the table."""
    module = f"tasks_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(_TASKS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    common = ["--strategies", "random", "--seeds", "2", "--trials", "3", "--quiet"]
    code, out, err = _run_cli(capfd, ["benchmark", "--task", f"{module}:no_metric", *common])
    _one_line(code, out, err, "error: benchmark toy: every evaluation failed (6 of 6); the "
              "first (random, seed 0: KeyError: \"evaluator returned no ['val_error']; it "
              "returned ['error']\")")  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "__pycache__") == [f"{module}.py"]
    code, out, err = _run_cli(
        capfd, ["benchmark", "--task", f"{module}:deep_fails", *common, "--out", "b"]
    )
    assert code == 0, err
    failed = err.splitlines()[0]
    want = r"warning: benchmark toy: (\d) of 6 evaluations failed, each a wasted query; the "
    match = re.fullmatch(want + r"first \(random, seed 0: RuntimeError: too deep\)", failed)
    assert match is not None, err
    rows = list(csv.DictReader((tmp_path / "b" / "results.csv").open()))
    # only depth 1 evaluates: some queries failed, not all (then it would be the error)
    assert int(match.group(1)) > 0 and "QuarchWarning" not in err and len(rows) == 2


def test_a_task_factory_of_no_parameters(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``def toy():`` was called with ``seed=``, ``data_dir=``, ``budgets=`` (an empty
    signature was taken for one that could not be read): an internal error."""
    module = f"tasks_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(_TASKS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    code, out, err = _run_cli(
        capfd, ["benchmark", "--task", f"{module}:no_arguments", "--seeds", "1", "--trials",
                "2", "--json", "--out", str(tmp_path / "b")],
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["task"] == "toy"


def _idle_workers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Spawned workers that never work (this process does the trials): the names of
    those started are appended to the list returned."""
    import multiprocessing

    started: list[str] = []

    class _Idle:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            started.append(kwargs.get("name", ""))

        def start(self) -> None:
            pass

        def join(self, timeout: float | None = None) -> None:
            pass

        def is_alive(self) -> bool:
            return False

        def terminate(self) -> None:
            pass

    monkeypatch.setattr(multiprocessing.get_context("spawn"), "Process", _Idle)
    return started


@pytest.mark.parametrize(("workers", "cores"), [(3, 2), (2, 2), (4, 1)])
def test_more_workers_than_cores_run_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, workers: int, cores: int
) -> None:
    """Workers beyond the cores gain no speed and each holds its own torch: the run
    goes on, with one warning line saying so; as many workers as cores say nothing."""
    from quarch._warnings import QuarchWarning
    from quarch.testing.evaluators import ArithmeticEvaluator

    started = _idle_workers(monkeypatch)
    monkeypatch.setattr("quarch.study._parallel._cores", lambda: cores)
    cfg = SearchConfig(space="mlp", dataset="iris", trials=4, workers=workers,
                       out=str(tmp_path / "run"))  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert run_search(cfg, progress=False, evaluator=ArithmeticEvaluator()).done == 4
    said = [str(w.message) for w in caught if w.category is QuarchWarning]
    assert len(started) == workers - 1
    if workers <= cores:
        assert said == []
    else:
        assert said == [
            f"{workers} workers on {cores} core(s): they share the cores at one torch "
            f"thread each, and each holds its own torch and data in memory; --workers "
            f"{cores} uses the same cores"
        ]


def test_workers_beyond_the_work_are_not_started(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``--workers 64`` with 2 trials spawned 63 processes (each importing torch), and a
    benchmark's ``--workers 64`` of 1 run made a pool of 64: at most one per trial (per
    run) now."""
    import multiprocessing
    import multiprocessing.context

    from quarch.benchmark import run_benchmark
    from quarch.testing.evaluators import ArithmeticEvaluator

    started = _idle_workers(monkeypatch)
    cfg = SearchConfig(space="mlp", dataset="iris", trials=2, workers=64,
                       out=str(tmp_path / "run"))  # fmt: skip
    assert run_search(cfg, progress=False, evaluator=ArithmeticEvaluator()).done == 2
    assert started == ["quarch-worker-1"]

    pools: list[int] = []
    real_pool = multiprocessing.context.BaseContext.Pool

    def pool(self: Any, processes: int | None = None, *args: Any, **kwargs: Any) -> Any:
        pools.append(processes or 0)
        return real_pool(self, processes, *args, **kwargs)

    monkeypatch.setattr(multiprocessing.context.BaseContext, "Pool", pool)
    run_benchmark(task="synthetic-qubo", strategies=["random"], seeds=1, trials=2,
                  out=str(tmp_path / "b"), progress=False, workers=64)  # fmt: skip
    assert pools == [1]
