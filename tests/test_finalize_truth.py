"""What ``train_trial`` and ``export_trial`` write, when, and what they refuse.

A stand-in run (``quarch.study.Run``, as :mod:`quarch.finalize` reads it) and evaluator
record every call, so each test knows which seeds, epochs and devices a training was asked for, whether anything was
trained before a refusal, and what the metrics were. The truth is then computed here:
accuracies from the recorded errors, the torch file's entries, ONNX Runtime on the
written file against the torch model, the int8 file against ``quantize_int8``'s own
output and calibration images, the quantum formats' headers and bound features
against the model's own front-end, the progress bar's totals from a recording bar.
"""

from __future__ import annotations

import importlib.util
import json
import math
import statistics
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np
import pytest
import torch
from torch import nn

import quarch.cost.onnx as qonnx
import quarch.finalize as fin
import quarch.study
from quarch import ConfigError, RunError
from quarch._errors import OutputError
from quarch.finalize import EXPORT_FORMATS, TrainResult, export_trial, train_trial
from quarch.study import trial_seed

SEED = 1234
TRIAL = 3


# -- a recording run and evaluator ----------------------------------------------------------
def _data(n_features: int = 4, n_classes: int = 3) -> SimpleNamespace:
    rng = np.random.default_rng(0)

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        return rng.normal(size=(n, n_features)), rng.integers(0, n_classes, n)

    (xt, yt), (xv, yv), (xs, ys) = split(600), split(100), split(40)
    return SimpleNamespace(
        input_shape=(n_features,), n_classes=n_classes,
        X_train=xt, y_train=yt, X_val=xv, y_val=yv, X_test=xs, y_test=ys,
    )  # fmt: skip


class _Net(nn.Module):
    """A classical classifier with batch-norm (so train and eval modes differ)."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.body = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class _Hybrid(nn.Module):
    """Linear front-end, a 2-qubit quantum layer, linear head."""

    def __init__(self, seed: int, inputs: bool = True) -> None:
        from quarch.quantum import AngleEmbedding, BasicEntanglerLayers, Circuit, QuantumLayer

        super().__init__()
        torch.manual_seed(seed)
        c = Circuit(2)
        if inputs:
            c = c.add(AngleEmbedding(2))
        c = c.add(BasicEntanglerLayers(1, 2))
        self.front = nn.Sequential(nn.Dropout(0.5), nn.Linear(4, 2))
        self.q = QuantumLayer(c)
        self.head = nn.Linear(2, 3)
        self.inputs = inputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.front(x)
        return self.head(self.q(h if self.inputs else h[:, :0]))


class _Ev:
    """Records ``fit``/``fit_ablation``/``build`` calls; metrics depend on the seed."""

    def __init__(self, make: Any, data: SimpleNamespace, epochs: int | None = 4) -> None:
        self.make, self.data = make, data
        self.extra = 0  # epochs trained beyond those asked for (the bar must cap them)
        self.calls: list[tuple[str, dict[str, Any], int, int | None]] = []
        if epochs is not None:
            self.epochs = epochs

    @staticmethod
    def metrics(seed: int, k: int) -> dict[str, float]:
        return {"val_error": (seed % 89) / 100 + k / 1000, "test_error": (seed % 83) / 100,
                "params": 100.0 + seed % 7 + k}  # fmt: skip

    def _train(self, kind: str, params: Any, seed: int, epochs: int | None) -> Any:
        from quarch.evaluate.training import _EPOCH_HOOK

        self.calls.append((kind, dict(params), seed, epochs))
        hook = _EPOCH_HOOK.get()
        n = epochs if epochs is not None else int(getattr(self, "epochs", 1))
        for e in range(n + self.extra if hook is not None else 0):
            hook(e, 0.123456 + e)  # type: ignore[misc]
        return self.make(seed), self.metrics(seed, len(self.calls) + (kind == "ablation"))

    def fit(self, params: Any, *, seed: int, epochs: int | None = None) -> Any:
        return self._train("fit", params, seed, epochs)

    def build(self, params: Any, *, seed: int) -> Any:
        self.calls.append(("build", dict(params), seed, None))
        return self.make(seed)


class _EvAblation(_Ev):
    def fit_ablation(self, params: Any, *, seed: int, epochs: int | None = None) -> Any:
        return self._train("ablation", params, seed, epochs)


class _Run:
    """Stands in for ``quarch.study.Run`` (``Run.open`` returns the one instance)."""

    def __init__(
        self, tmp: Path, ev: _Ev, *, formats: tuple[str, ...] = EXPORT_FORMATS,
        seed: int | None = SEED, saved: dict[str, Any] | None = None,
    ) -> None:  # fmt: skip
        self.ev, self.saved = ev, saved
        self.built: list[dict[str, Any]] = []
        self.spec = SimpleNamespace(export_formats=formats,
                                    is_trainable=lambda: bool(formats))  # fmt: skip
        self.config = SimpleNamespace(space="toy")
        self.objective = SimpleNamespace(budgets=[])  # no budget: none broken
        self.train_dir = tmp / "run" / "train"
        self.train_dir.parent.mkdir(exist_ok=True)
        # the metrics the search recorded (what `quarch trials` shows; a torch export
        # stores them, with the errors measured on its file's network)
        self.record = SimpleNamespace(number=TRIAL, params={"width": 6}, seed=seed,
                                      metrics={"val_error": 0.9, "test_error": 0.9,
                                               "params": 39.0, "qubits": 2.0})  # fmt: skip

    def trial(self, n: int) -> Any:
        if n != TRIAL:
            raise RunError(f"no trial {n}")
        return self.record

    def evaluator(self, **kwargs: Any) -> _Ev:
        self.built.append(kwargs)
        return self.ev

    def saved_weights(self, seed: int) -> Any:
        assert seed == SEED
        return self.saved


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """``fake(ev, **run options)`` installs a stand-in run; ``.opened`` lists the opens."""
    opened: list[Any] = []

    def install(ev: _Ev, **kw: Any) -> _Run:
        run = _Run(tmp_path, ev, **kw)

        class Opener:
            @staticmethod
            def open(path: Any) -> _Run:
                opened.append(path)
                return run

        # finalize reads quarch.study.Run when it opens a run (not at import: torch), and
        # checks the folder's two files first (tests/test_cli_early_refusals.py): here
        # the stand-in run is the folder
        monkeypatch.setattr(quarch.study, "Run", Opener)
        monkeypatch.setattr(fin, "check_run_folder", Path)
        return run

    install.opened = opened  # type: ignore[attr-defined]
    return install


def _line(e: pytest.ExceptionInfo[BaseException]) -> str:
    return str(e.value)


# -- refusals, and that they come first -----------------------------------------------------
def test_format_extras_and_the_qpy_name(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = importlib.util.find_spec
    missing: set[str] = set()
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda m, *a: None if m in missing else real(m, *a)
    )
    for fmt, mods, extra in (
        ("onnx", {"onnxruntime"}, "onnx extra (missing: onnxruntime): pip install 'quarch[onnx]'"),
        ("onnx-int8", {"onnx"}, "onnx extra (missing: onnx): pip install 'quarch[onnx]'"),
        ("onnx", {"onnx", "onnxruntime"}, "onnx extra (missing: onnx, onnxruntime): pip"),
        ("qasm3", {"qiskit"}, "qiskit extra (missing: qiskit): pip install 'quarch[qiskit]'"),
        ("qiskit", {"qiskit"}, "qiskit extra (missing: qiskit): pip install 'quarch[qiskit]'"),
    ):
        missing.clear()
        missing.update(mods)
        with pytest.raises(ConfigError) as e:  # before the run is even opened
            export_trial(tmp_path / "no-run", 0, fmt, tmp_path / "m.qpy")
        assert _line(e).startswith(f"--format {fmt} needs the {extra}")
    missing.update({"onnx", "onnxruntime", "qiskit"})
    for fmt in ("torch", "qasm", "pennylane"):  # need nothing beyond the core install
        fin._check_format(fmt, tmp_path / "m.x")
    missing.clear()
    with pytest.raises(ConfigError) as e:
        fin._check_format("qiskit", Path("d/c.qasm"))
    assert _line(e) == (
        "--format qiskit writes Qiskit's binary QPY format; name the file .qpy (got "
        "'c.qasm'), or use --format qasm3 for OpenQASM 3 text"
    )
    fin._check_format("qiskit", Path("c.QPY"))
    fin._check_format("qiskit", Path("c.qpy"))
    fin._check_format("qasm3", Path("c.qasm"))  # only qiskit's files are binary


def test_export_refusals_come_before_the_run_is_opened(fake: Any, tmp_path: Path) -> None:
    fake(_Ev(_Net, _data()))
    cases: list[tuple[dict[str, Any], str]] = [
        ({"fmt": "tflite"}, "unknown export format 'tflite'; choose from: torch, onnx, "
         "onnx-int8, qasm, qasm3, qiskit, pennylane"),
        ({"fmt": "onnx", "full_int8": True}, "--full-int8 applies to --format onnx-int8, not 'onnx'"),
        ({"fmt": "torch", "epochs": 0}, "epochs must be >= 1; got 0"),
        ({"fmt": "qasm", "sample": -1}, "sample must be >= 0 (a test-split row); got -1"),
        # from Python, counts of the wrong type (audit H4: a TypeError from inside)
        ({"fmt": "torch", "epochs": "1"}, "epochs must be an integer; got '1'"),
        ({"fmt": "torch", "epochs": 2.0}, "epochs must be an integer; got 2.0"),
        ({"fmt": "qasm", "sample": "1"}, "sample must be an integer (a test-split row); got '1'"),
        ({"fmt": "qasm", "sample": True}, "sample must be an integer (a test-split row); got True"),
        # repeats is checked with the rest, not after the model was written
        ({"fmt": "onnx-int8", "repeats": 0}, "repeats must be >= 1; got 0"),
        ({"fmt": "onnx-int8", "repeats": "5"}, "repeats must be an integer; got '5'"),
    ]  # fmt: skip
    for kw, line in cases:
        with pytest.raises(ConfigError) as e:
            export_trial(tmp_path, TRIAL, out=tmp_path / "m.x", **kw)
        assert _line(e) == line
    (tmp_path / "afile").write_text("")
    out = tmp_path / "afile" / "m.pt"
    with pytest.raises(OutputError) as no_file:
        export_trial(tmp_path, TRIAL, "torch", out)
    assert _line(no_file) == (
        f"cannot write the export file {str(out)!r}: folder {str(out.parent)!r} is a file, "
        "not a folder"
    )
    assert fake.opened == []


def test_export_refusals_from_the_run(fake: Any, tmp_path: Path) -> None:
    ev = _Ev(_Net, _data())
    run = fake(ev, formats=("torch", "onnx"))
    with pytest.raises(ConfigError) as e:
        export_trial(tmp_path, TRIAL, "qasm", tmp_path / "m.qasm")
    assert _line(e) == "space 'toy' exports torch, onnx, not 'qasm'"
    assert run.built == [] and ev.calls == []  # refused before the evaluator is built
    fake(ev, formats=())
    for call in (
        lambda: export_trial(tmp_path, TRIAL, "torch", tmp_path / "m.pt"),
        lambda: train_trial(tmp_path, TRIAL),
    ):
        with pytest.raises(ConfigError) as e:
            call()
        assert _line(e) == (
            "space 'toy' is scored by a table look-up; it has no model to train or export"
        )
    assert ev.calls == []
    fake(ev, seed=None)
    with pytest.raises(RunError) as no_seed:
        export_trial(tmp_path, TRIAL, "torch", tmp_path / "m.pt")
    assert _line(no_seed) == f"trial {TRIAL} has no recorded seed; it was not run by quarch"


def test_train_refusals_come_before_any_training(fake: Any, tmp_path: Path) -> None:
    ev = _Ev(_Net, _data())
    fake(ev)
    with pytest.raises(ConfigError) as e:
        train_trial(tmp_path, TRIAL, seeds=0)
    assert _line(e) == "seeds must be >= 1; got 0"
    with pytest.raises(ConfigError) as e:
        train_trial(tmp_path, TRIAL, epochs=0)
    assert _line(e) == "epochs must be >= 1; got 0"
    for kw, line in (({"seeds": 1.0}, "seeds must be an integer; got 1.0"),
                     ({"seeds": True}, "seeds must be an integer; got True"),
                     ({"epochs": "1"}, "epochs must be an integer; got '1'")):  # fmt: skip
        with pytest.raises(ConfigError) as e:
            train_trial(tmp_path, TRIAL, **kw)
        assert _line(e) == line
    assert fake.opened == []
    run = fake(ev)
    run.train_dir.write_text("a file where the folder goes")
    with pytest.raises(OutputError) as no_file:
        train_trial(tmp_path, TRIAL)
    saved = run.train_dir / f"trial_{TRIAL}.json"
    assert _line(no_file) == (
        f"cannot write the result file {str(saved)!r}: folder {str(run.train_dir)!r} is a "
        "file, not a folder"
    )
    assert ev.calls == []
    run.train_dir.unlink()
    assert train_trial(tmp_path, TRIAL, seeds=1, epochs=1).seeds == [SEED]  # the smallest


# -- training ---------------------------------------------------------------------------------
def _acc(err: float) -> float:
    return 100.0 * (1.0 - err)


def test_train_seeds_metrics_and_the_saved_summary(fake: Any, tmp_path: Path) -> None:
    ev = _EvAblation(_Net, _data())
    run = fake(ev)
    tr = train_trial(tmp_path / "r", TRIAL, seeds=3, epochs=2, device="meta")
    assert fake.opened == [tmp_path / "r"]
    assert run.built == [{"standalone": True, "epochs": 2, "device": "meta"}]
    seeds = [SEED, trial_seed(SEED, 1), trial_seed(SEED, 2)]
    assert tr.seeds == seeds
    assert ev.calls == [("fit", {"width": 6}, s, 2) for s in seeds]  # classical: no ablation
    want = [ev.metrics(s, k + 1) for k, s in enumerate(seeds)]
    assert tr.val_accuracy == [_acc(m["val_error"]) for m in want]
    assert tr.test_accuracy == [_acc(m["test_error"]) for m in want]
    assert tr.params == want[-1]["params"] and tr.epochs == 2 and tr.trial == TRIAL
    assert tr.ablation_val_accuracy == [] and tr.ablation_params is None
    saved = run.train_dir / f"trial_{TRIAL}.json"
    assert saved.read_text() == json.dumps(tr.to_json(), indent=2) + "\n"
    # the run's epochs when none are given; 1 for an evaluator that names none
    ev.calls.clear()
    assert train_trial(tmp_path / "r", TRIAL, seeds=1).epochs == 4
    assert ev.calls == [("fit", {"width": 6}, SEED, None)]
    fake(_Ev(_Net, _data(), epochs=None))
    assert train_trial(tmp_path / "r", TRIAL, seeds=1).epochs == 1
    assert train_trial(tmp_path / "r", TRIAL).seeds == seeds  # three seeds by default


def test_hybrid_training_has_its_ablation_with_the_same_seeds(fake: Any, tmp_path: Path) -> None:
    ev = _EvAblation(_Hybrid, _data())
    fake(ev)
    tr = train_trial(tmp_path, TRIAL, seeds=2)
    seeds = [SEED, trial_seed(SEED, 1)]
    assert [(c[0], c[2]) for c in ev.calls] == [("fit", s) for s in seeds] + [
        ("ablation", s) for s in seeds
    ]
    ab = [ev.metrics(s, k + 4) for k, s in enumerate(seeds)]  # calls 3 and 4, + 1
    assert tr.ablation_val_accuracy == [_acc(m["val_error"]) for m in ab]
    assert tr.ablation_test_accuracy == [_acc(m["test_error"]) for m in ab]
    assert tr.ablation_params == ab[-1]["params"]
    ev.calls.clear()
    train_trial(tmp_path, TRIAL, seeds=2, ablation=False)
    assert [c[0] for c in ev.calls] == ["fit", "fit"]
    ev2 = _Ev(_Hybrid, _data())  # an evaluator without an ablation
    fake(ev2)
    assert train_trial(tmp_path, TRIAL, seeds=1).ablation_test_accuracy == []


def test_train_result_summary() -> None:
    tr = TrainResult(5, 7, [1, 2, 3], [90.0, 80.0, 70.0], [60.0, 62.0, 67.0], 42.0)
    js = tr.to_json()
    assert js == {
        "trial": 5, "epochs": 7, "seeds": [1, 2, 3], "params": 42.0,
        "val_accuracy": {"values": [90.0, 80.0, 70.0], "mean": 80.0, "std": 10.0},
        "test_accuracy": {"values": [60.0, 62.0, 67.0], "mean": 63.0,
                          "std": statistics.stdev([60.0, 62.0, 67.0])},
    }  # fmt: skip
    one = TrainResult(5, 7, [1], [90.0], [60.0], 42.0, [50.0], [40.0], 41.0).to_json()
    assert one["val_accuracy"] == {"values": [90.0], "mean": 90.0, "std": None}
    assert one["classical_ablation"] == {
        "params": 41.0,
        "val_accuracy": {"values": [50.0], "mean": 50.0, "std": None},
        "test_accuracy": {"values": [40.0], "mean": 40.0, "std": None},
    }
    assert TrainResult._ms([]) == {}
    assert TrainResult._ms([1.0, 4.0]) == {"mean": 2.5, "std": math.sqrt(4.5)}  # two: a spread


class _Bar:
    """Records what ``rich.progress.Progress`` is asked to show."""

    made: ClassVar[list[_Bar]] = []

    def __init__(self, *columns: Any, console: Any, disable: bool) -> None:
        assert not disable  # progress=True outside a notebook: rich's bar, shown
        self.columns, self.console = columns, console
        self.updates: list[dict[str, Any]] = []
        self.tasks: list[tuple[str, int, str]] = []
        _Bar.made.append(self)

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *a: Any) -> None:
        self.closed = True

    def add_task(self, what: str, *, total: int, label: str) -> int:
        self.tasks.append((what, total, label))
        return 7

    def update(self, task: int, **kw: Any) -> None:
        assert task == 7
        self.updates.append(kw)


def test_progress_bar_counts_every_epoch_of_every_training(
    fake: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    import rich.progress

    monkeypatch.setattr(rich.progress, "Progress", _Bar)
    _Bar.made.clear()
    fake(_EvAblation(_Hybrid, _data()))
    train_trial(tmp_path, TRIAL, seeds=2, epochs=3, progress=True)
    (bar,) = _Bar.made
    assert bar.console.file is sys.stderr
    assert bar.tasks == [(f"train trial {TRIAL}", 12, "")]  # 2 seeds, 2 networks, 3 epochs
    assert bar.columns[0].text_format == f"[bold]train trial {TRIAL}"
    assert bar.columns[3].text_format == "{task.fields[label]}"
    assert [type(c).__name__ for c in bar.columns] == [
        "TextColumn", "BarColumn", "MofNCompleteColumn", "TextColumn", "TimeElapsedColumn",
    ]  # fmt: skip
    labels = [u for u in bar.updates if "epoch" not in u.get("label", "") and "label" in u]
    assert labels == [
        {"completed": 0, "label": "seed 1/2"},
        {"completed": 3, "label": "seed 2/2"},
        {"completed": 6, "label": "ablation seed 1/2"},
        {"completed": 9, "label": "ablation seed 2/2"},
    ]
    epochs = [u for u in bar.updates if "epoch" in u.get("label", "")]
    assert [u["completed"] for u in epochs] == list(range(1, 13))
    assert epochs[0]["label"] == "seed 1/2 epoch 1: val error 0.1235"
    assert epochs[-1]["label"] == "ablation seed 2/2 epoch 3: val error 2.1235"
    assert bar.updates[-1] == {"completed": 12} and bar.closed
    # a retraining export: one training, no label, its epochs; capped at the total
    _Bar.made.clear()
    ev = _Ev(_Net, _data(), epochs=2)
    ev.extra = 1
    fake(ev)
    export_trial(tmp_path, TRIAL, "torch", tmp_path / "m.pt", progress=True)
    (bar,) = _Bar.made
    assert bar.tasks == [(f"retrain trial {TRIAL}", 2, "")]
    assert [u["completed"] for u in bar.updates] == [0, 1, 2, 2, 2]
    assert bar.updates[1]["label"] == "epoch 1: val error 0.1235"  # stripped of the label
    # one epoch or no training at all: a total of at least 1
    _Bar.made.clear()
    with fin._training_bar(True, 0, 5, "x") as begin:
        begin("only")
    assert _Bar.made[0].tasks == [("x", 1, "")]
    _Bar.made.clear()
    train_trial(tmp_path, TRIAL, seeds=1, progress=False)
    train_trial(tmp_path, TRIAL, seeds=1)  # no bar by default
    assert _Bar.made == []
    # without an ablation: one training per seed; an evaluator naming no epochs: 1
    fake(_EvAblation(_Hybrid, _data()))
    train_trial(tmp_path, TRIAL, seeds=2, epochs=3, ablation=False, progress=True)
    assert _Bar.made[-1].tasks == [(f"train trial {TRIAL}", 6, "")]
    fake(_Ev(_Hybrid, _data(), epochs=None))
    train_trial(tmp_path, TRIAL, seeds=2, progress=True)
    assert _Bar.made[-1].tasks == [(f"train trial {TRIAL}", 2, "")]
    export_trial(tmp_path, TRIAL, "torch", tmp_path / "m.pt", progress=True)
    assert _Bar.made[-1].tasks == [(f"retrain trial {TRIAL}", 1, "")]
    _Bar.made.clear()
    export_trial(tmp_path, TRIAL, "torch", tmp_path / "m.pt")  # no bar by default
    assert _Bar.made == []


def test_a_write_that_fails_late_is_one_line_naming_the_file(
    fake: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``check_file`` cannot see beforehand (a full disk) is still one line."""

    def full(*a: Any, **k: Any) -> None:
        raise OSError(28, "No space left on device")

    run = fake(_Ev(_Net, _data()))
    monkeypatch.setattr(torch, "save", full)
    out = tmp_path / "m.pt"
    with pytest.raises(OutputError) as e:
        export_trial(tmp_path, TRIAL, "torch", out)
    assert _line(e) == f"cannot write the export file {str(out)!r}: No space left on device"
    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(OutputError) as e:
        train_trial(tmp_path, TRIAL, seeds=1)
    saved = run.train_dir / f"trial_{TRIAL}.json"
    assert _line(e) == f"cannot write the result file {str(saved)!r}: No space left on device"


# -- export: torch ---------------------------------------------------------------------------
def _wrong(model: nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with torch.no_grad():
        pred = model(torch.as_tensor(X, dtype=torch.float32)).argmax(1).numpy()
    return float((pred != y).mean())


def test_torch_export_of_a_retrained_trial(fake: Any, tmp_path: Path) -> None:
    ev = _Ev(_Net, _data())
    run = fake(ev)
    out = tmp_path / "a" / "b" / "m.pt"  # folders made
    res = export_trial(tmp_path / "r", TRIAL, "torch", out, device="meta")
    assert res.path == out and res.format == "torch"
    assert ev.calls == [("fit", {"width": 6}, SEED, None)]
    m = ev.metrics(SEED, 1)
    assert res.checks == {"weights": "retrained", "val_error": m["val_error"],
                          "test_error": m["test_error"]}  # fmt: skip
    blob = torch.load(out, weights_only=False)
    assert set(blob) == {"space", "arch", "state_dict", "input_shape", "n_classes", "metrics"}
    assert blob["space"] == "toy" and blob["arch"] == {"width": 6}
    assert blob["input_shape"] == [4] and blob["n_classes"] == 3
    assert blob["metrics"] == {**run.record.metrics, **m}  # the same training as the trial's
    want = _Net(SEED).state_dict()
    assert all(torch.equal(want[k], v) for k, v in blob["state_dict"].items())
    assert blob["state_dict"].keys() == want.keys()


def test_torch_export_loads_saved_weights_unless_epochs_are_given(
    fake: Any, tmp_path: Path
) -> None:
    data = _data()
    saved = _Net(99).state_dict()  # not what build(seed) makes
    ev = _Ev(_Net, data)
    run = fake(ev, saved=saved)
    res = export_trial(tmp_path, TRIAL, "torch", tmp_path / "m.pt")
    assert ev.calls == [("build", {"width": 6}, SEED, None)]
    assert run.built == [{"standalone": True, "epochs": None, "device": None}]
    net = _Net(0)
    net.load_state_dict(saved)
    assert res.checks == {
        "weights": "loaded",
        "val_error": pytest.approx(_wrong(net, data.X_val, data.y_val), abs=1e-12),
        "test_error": pytest.approx(_wrong(net, data.X_test, data.y_test), abs=1e-12),
    }
    blob = torch.load(res.path, weights_only=False)
    assert all(torch.equal(saved[k], v) for k, v in blob["state_dict"].items())
    measured = {k: res.checks[k] for k in ("val_error", "test_error")}
    assert blob["metrics"] == {**run.record.metrics, **measured}
    ev.calls.clear()
    again = export_trial(tmp_path, TRIAL, "torch", tmp_path / "e.pt", epochs=2)
    assert again.checks["weights"] == "retrained"
    m = ev.metrics(SEED, 1)  # another training's network: its own metrics alone
    assert torch.load(again.path, weights_only=False)["metrics"] == m
    assert ev.calls == [("fit", {"width": 6}, SEED, 2)]


def test_export_evaluator_gets_the_epochs_and_device_asked_for(fake: Any, tmp_path: Path) -> None:
    ev = _Ev(_Net, _data())
    run = fake(ev, saved=_Net(99).state_dict())
    res = export_trial(tmp_path / "r", TRIAL, "torch", tmp_path / "m.pt", epochs=1, device="meta")
    assert fake.opened == [tmp_path / "r"]
    assert run.built == [{"standalone": True, "epochs": 1, "device": "meta"}]
    # one epoch is a training of its own: the saved weights are not what it asks for
    assert ev.calls == [("fit", {"width": 6}, SEED, 1)]
    assert res.checks["weights"] == "retrained"


def test_export_writes_the_model_from_the_cpu(fake: Any, tmp_path: Path) -> None:
    """A network trained on another device is moved to the CPU before it is written."""
    moved: list[str] = []

    class Elsewhere(_Net):  # stands in for a network trained on a GPU
        def to(self, *args: Any, **kw: Any) -> Any:
            moved.append(str(args[0] if args else kw.get("device")))
            return super().to(*args, **kw)

    fake(_Ev(Elsewhere, _data()))
    export_trial(tmp_path, TRIAL, "torch", tmp_path / "m.pt", device="meta")
    assert moved == ["cpu"]


# -- export: ONNX ---------------------------------------------------------------------------
def test_onnx_export_is_checked_on_64_validation_rows(
    fake: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ort = pytest.importorskip("onnxruntime")
    data = _data()
    fake(_Ev(lambda s: _Net(s).train(), data))  # handed over in training mode
    res = export_trial(tmp_path, TRIAL, "onnx", tmp_path / "m.onnx")
    sess = ort.InferenceSession(str(res.path), providers=["CPUExecutionProvider"])
    x = data.X_val.astype(np.float32)
    net = _Net(SEED).eval()
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    got = sess.run(None, {"x": x})[0]
    assert np.abs(got - want).max() < 1e-5  # the eval-mode network
    assert res.checks["checked_samples"] == 64
    assert 0 <= res.checks["max_abs_diff_vs_torch"] < 1e-5
    # the file's own test accuracy: ONNX Runtime's argmax on the test split, by hand
    xt = data.X_test.astype(np.float32)
    hits = sess.run(None, {"x": xt})[0].argmax(axis=1) == data.y_test
    assert res.checks["onnx_test_accuracy"] == pytest.approx(100.0 * hits.mean(), abs=1e-9)
    assert "compared_with" not in res.checks  # nothing fake quantised: the same network
    # the check measures what was written: a file of another network shows its distance
    other = _Net(5).eval()
    real = qonnx.to_onnx
    monkeypatch.setattr(qonnx, "to_onnx", lambda m, shape: real(other, shape))
    res = export_trial(tmp_path, TRIAL, "onnx", tmp_path / "o.onnx")
    with torch.no_grad():
        gap = other(torch.from_numpy(x[:64])).numpy() - want[:64]
    assert res.checks["max_abs_diff_vs_torch"] == pytest.approx(np.abs(gap).max(), abs=1e-5)


def _to_onnx(model: nn.Module, shape: tuple[int, ...]) -> bytes:
    from quarch.cost.onnx import to_onnx

    return to_onnx(model, shape)


def test_onnx_export_compares_with_the_float_graph(fake: Any, tmp_path: Path) -> None:
    """A fake-quantised network exports its float graph, and is compared with it."""
    pytest.importorskip("onnxruntime")

    class Quant(_Net):
        def __init__(self, seed: int) -> None:
            super().__init__(seed)
            self.quant = True

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return super().forward(x) + (5.0 if self.quant else 0.0)

    data = _data()
    fake(_Ev(Quant, data))
    res = export_trial(tmp_path, TRIAL, "onnx", tmp_path / "m.onnx")
    assert res.checks["max_abs_diff_vs_torch"] < 1e-5
    assert res.checks["compared_with"] == (
        "the float graph (fake quantisation off), which this file holds; the trial's "
        "metrics are the 8-bit-trained network's (onnx-int8 quantises it for real)"
    )
    float_net = Quant(SEED).eval()
    float_net.quant = False  # what the file holds
    with torch.no_grad():
        pred = float_net(torch.as_tensor(data.X_test, dtype=torch.float32)).argmax(1).numpy()
    want = 100.0 * float((pred == data.y_test).mean())
    assert res.checks["onnx_test_accuracy"] == pytest.approx(want, abs=1e-9)


def test_int8_export_calibrates_on_training_images_and_reports_both_models(
    fake: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("onnxruntime")
    data = _data()
    fake(_Ev(_Net, data))
    real_quantize = qonnx.quantize_int8
    seen: dict[str, Any] = {}

    def quantize(f32: bytes, calib: np.ndarray, **kw: Any) -> bytes:
        seen.update(f32=f32, calib=calib, kw=kw)
        seen["int8"] = real_quantize(f32, calib, **kw)
        return seen["int8"]

    timed: list[tuple[bytes, tuple[int, ...], dict[str, Any]]] = []

    def latency(blob: bytes, shape: tuple[int, ...], **kw: Any) -> float:
        timed.append((blob, shape, kw))
        return 1.5 if blob == seen["f32"] else 2.5

    monkeypatch.setattr(qonnx, "quantize_int8", quantize)
    monkeypatch.setattr(qonnx, "measure_latency_ms", latency)
    res = export_trial(tmp_path, TRIAL, "onnx-int8", tmp_path / "m8.onnx", repeats=7)
    assert seen["kw"] == {"keep_float": None}
    assert seen["calib"].dtype == np.float32
    np.testing.assert_array_equal(seen["calib"], data.X_train[:512].astype(np.float32))
    assert res.path.read_bytes() == seen["int8"]
    assert seen["f32"] == _to_onnx(_Net(SEED).eval(), (4,))
    assert timed == [(seen["f32"], (4,), {"repeats": 7}), (seen["int8"], (4,), {"repeats": 7})]
    net = _Net(SEED).eval()
    f32_acc = 100 * (1 - _wrong(net, data.X_test, data.y_test))
    i8 = qonnx.ort_session(seen["int8"]).run(None, {"x": data.X_test.astype(np.float32)})[0]
    i8_acc = 100 * float((i8.argmax(1) == data.y_test).mean())
    c = res.checks
    assert c["fp32_test_accuracy"] == pytest.approx(f32_acc)
    assert c["int8_test_accuracy"] == pytest.approx(i8_acc)
    assert (c["fp32_latency_ms"], c["int8_latency_ms"]) == (1.5, 2.5)
    assert (c["fp32_bytes"], c["int8_bytes"]) == (len(seen["f32"]), len(seen["int8"]))
    assert c["weights"] == "retrained"
    timed.clear()
    export_trial(tmp_path, TRIAL, "onnx-int8", tmp_path / "f8.onnx", full_int8=True)
    assert seen["kw"] == {"keep_float": []}
    assert [kw for *_, kw in timed] == [{"repeats": 50}, {"repeats": 50}]  # the default


def test_onnx_refuses_hybrid_networks_and_missing_packages(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import sys

    ev = _Ev(_Hybrid, _data())
    model = _Hybrid(0)
    with pytest.raises(ConfigError) as e:
        fin._onnx(model, ev, tmp_path / "m.onnx")
    assert _line(e) == (
        "ONNX has no complex tensors, so a hybrid network's quantum layer cannot be "
        "exported to ONNX; use --format qasm, qiskit or pennylane for the circuit"
    )
    with pytest.raises(ConfigError) as e:
        fin._onnx_int8(model, ev, tmp_path / "m.onnx", False, 50)
    assert _line(e) == "a hybrid network's quantum layer cannot be quantised to int8 ONNX"
    assert not (tmp_path / "m.onnx").exists()
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ConfigError) as e:
        fin._onnx(_Net(0), ev, tmp_path / "m.onnx")
    assert _line(e) == "ONNX export needs the onnx extra: pip install 'quarch[onnx]'"
    monkeypatch.setitem(sys.modules, "quarch.cost.onnx", None)
    with pytest.raises(ConfigError) as e:
        fin._onnx_int8(_Net(0), ev, tmp_path / "m.onnx", False, 50)
    assert _line(e) == "int8 export needs the onnx extra: pip install 'quarch[onnx]'"


# -- export: circuits ------------------------------------------------------------------------
def _features(data: SimpleNamespace, sample: int) -> list[float]:
    net = _Hybrid(SEED).eval()
    with torch.no_grad():
        x = torch.as_tensor(data.X_test[sample : sample + 1], dtype=torch.float32)
        return net.front(x).reshape(-1).tolist()


def test_qasm_binds_the_weights_and_one_samples_features(fake: Any, tmp_path: Path) -> None:
    from quarch.quantum import to_qasm

    data = _data()
    fake(_Ev(_Hybrid, data))
    res = export_trial(tmp_path / "myrun", TRIAL, "qasm", tmp_path / "c.qasm", sample=5)
    layer = _Hybrid(SEED).q
    circuit = layer.plan.circuit
    bound = circuit.bind(weights=layer.weights.detach(), inputs=_features(data, 5))
    assert res.path.read_text() == (
        f"// quarch run myrun, trial {TRIAL}: trained weights bound;\n"
        "// input features bound to test sample 5 (OpenQASM 2.0 has no inputs;\n"
        "// use --format qasm3 or qiskit for a circuit with input parameters)\n"
        "// the network reads <Z0>, <Z1> of the final state\n" + to_qasm(bound)
    )  # the fake's layer measures <Z> on each of its 2 wires (QuantumLayer's default)
    assert res.checks["n_qubits"] == 2 and res.checks["observables"] == "<Z0>, <Z1>"
    assert res.checks["inputs"] == (
        "bound to test sample 5 (OpenQASM 2.0 has no inputs; --format qasm3 keeps them as "
        "input parameters)"
    )
    # the last row is a sample, one past it is not
    export_trial(tmp_path, TRIAL, "qasm", tmp_path / "c.qasm", sample=39)
    with pytest.raises(ConfigError) as e:
        export_trial(tmp_path, TRIAL, "qasm", tmp_path / "c.qasm", sample=40)
    assert _line(e) == "sample must be in [0, 39]; got 40"
    # a circuit without inputs binds its weights only, and says nothing of inputs
    fake(_Ev(lambda s: _Hybrid(s, inputs=False), data))
    res = export_trial(tmp_path, TRIAL, "qasm", tmp_path / "n.qasm")
    assert (
        res.path.read_text().splitlines()[1].startswith("// input features bound to test sample 0")
    )
    layer = _Hybrid(SEED, inputs=False).q
    assert res.path.read_text().endswith(
        to_qasm(layer.plan.circuit.bind(weights=layer.weights.detach()))
    )
    assert "inputs" not in res.checks


def test_qasm3_qiskit_and_pennylane_files(fake: Any, tmp_path: Path) -> None:
    pytest.importorskip("qiskit")
    from qiskit import qasm3, qpy

    from quarch.quantum import pennylane_source, to_qiskit

    fake(_Ev(_Hybrid, _data()))
    layer = _Hybrid(SEED).q
    circuit, weights = layer.plan.circuit, layer.weights.detach()
    q3 = export_trial(tmp_path / "myrun", TRIAL, "qasm3", tmp_path / "c.qasm3")
    qc = to_qiskit(circuit, weights)
    assert q3.path.read_text() == (
        f"// quarch run myrun, trial {TRIAL}: trained weights bound;\n"
        "// input float[64] _x_<j>_ is feature j of what the quantum layer receives\n"
        "// (after the network's classical front-end)\n"
        "// the network reads <Z0>, <Z1> of the final state\n" + qasm3.dumps(qc)
    )
    assert q3.checks["n_qubits"] == 2 and q3.checks["inputs"] == "2 input parameters"
    qk = export_trial(tmp_path, TRIAL, "qiskit", tmp_path / "c.qpy")
    with open(qk.path, "rb") as f:
        (back,) = qpy.load(f)
    assert qasm3.dumps(back) == qasm3.dumps(qc)
    assert back.metadata == {"observables": ["Z0", "Z1"]}
    assert qk.checks["file"] == "QPY (binary): read it with qiskit.qpy.load"
    assert qk.checks["parameters"] == ["x[0]", "x[1]"]
    assert "device" not in qk.checks
    pl = export_trial(tmp_path, TRIAL, "pennylane", tmp_path / "c.py")
    assert pl.path.read_text() == pennylane_source(circuit, weights, ["Z0", "Z1"])
    fake(_Ev(_Net, _data()))
    for fmt, name in (("qasm", "c.qasm"), ("qasm3", "c.qasm3"), ("qiskit", "c.qpy"),
                      ("pennylane", "c.py")):  # fmt: skip
        with pytest.raises(ConfigError) as e:
            export_trial(tmp_path, TRIAL, fmt, tmp_path / name)
        assert _line(e) == f"--format {fmt} exports quantum circuits; trial {TRIAL} has none"


def test_qiskit_export_of_a_routed_circuit(fake: Any, tmp_path: Path) -> None:
    pytest.importorskip("qiskit")
    from qiskit import QuantumCircuit, qasm3, qpy

    class Routed:
        device, physical_layout = "fake-dev", [4, 1]

        def full_device_qiskit(self, w: list[float]) -> QuantumCircuit:
            qc = QuantumCircuit(5)
            qc.rx(w[0], 4)
            qc.ry(w[1], 1)
            return qc

    ev = _Ev(_Hybrid, _data())
    asked: list[Any] = []

    def routed(arch: Any) -> Routed:
        asked.append(arch)
        return Routed()

    ev.routed_circuit = routed  # type: ignore[attr-defined]
    fake(ev)
    res = export_trial(tmp_path, TRIAL, "qiskit", tmp_path / "c.qpy")
    assert asked == [{"width": 6}]
    assert res.checks["device"] == "fake-dev" and res.checks["layout"] == [4, 1]
    with open(res.path, "rb") as f:
        (back,) = qpy.load(f)
    want = Routed().full_device_qiskit(_Hybrid(SEED).q.weights.tolist())
    assert qasm3.dumps(back) == qasm3.dumps(want)
    assert back.metadata == {"observables": ["Z0", "Z1"]}  # on the layer's own wires


class _Amp(nn.Module):
    """A 2-qubit layer that loads 4 features as amplitudes."""

    def __init__(self, seed: int) -> None:
        from quarch.quantum import BasicEntanglerLayers, Circuit, QuantumLayer

        super().__init__()
        torch.manual_seed(seed)
        c = Circuit(2).amplitude_embedding(4, normalize=True).add(BasicEntanglerLayers(1, 2))
        self.front, self.q, self.head = nn.Linear(4, 4), QuantumLayer(c), nn.Linear(2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.q(self.front(x)))


AMPLITUDE = (
    "--format {fmt}: trial 3 loads its inputs as amplitudes (an amplitude embedding), which "
    "OpenQASM and an unrouted Qiskit circuit have no gate for; export it with --format "
    "pennylane (qml.AmplitudeEmbedding) or torch, or as --format qiskit from a run on a "
    "calibrated device (--device-profile), whose routed circuit prepares the amplitudes with "
    "rotations"
)


def test_an_amplitude_embedding_is_refused_where_no_gate_writes_it(
    fake: Any, tmp_path: Path
) -> None:
    """Refused from the untrained network, before any training, in the formats with no
    gate for it; PennyLane writes it, and so does Qiskit for a run whose evaluator
    routes the circuit on a calibrated device (its metadata kept, observables added)."""
    pytest.importorskip("qiskit")
    from qiskit import QuantumCircuit, qpy

    ev = _Ev(_Amp, _data())
    fake(ev)
    for fmt, name in (("qasm", "c.qasm"), ("qasm3", "c.qasm3"), ("qiskit", "c.qpy")):
        ev.calls.clear()
        with pytest.raises(ConfigError) as e:
            export_trial(tmp_path, TRIAL, fmt, tmp_path / name)
        assert _line(e) == AMPLITUDE.format(fmt=fmt)
        assert [c[0] for c in ev.calls] == ["build"]  # nothing trained
        assert not (tmp_path / name).exists()
    pl = export_trial(tmp_path, TRIAL, "pennylane", tmp_path / "c.py")
    assert "qml.AmplitudeEmbedding(inputs[..., :4]" in pl.path.read_text()

    class Routed:
        device, physical_layout = "fake-dev", [1, 0]

        def full_device_qiskit(self, w: list[float]) -> QuantumCircuit:
            qc = QuantumCircuit(2)
            qc.ry(w[0], 0)
            qc.metadata = {"device": "fake-dev", "region": [1, 0]}
            return qc

    asked: list[Any] = []

    def routed(arch: Any) -> Routed:
        asked.append(arch)
        return Routed()

    ev.routed_circuit = routed  # type: ignore[attr-defined]
    res = export_trial(tmp_path, TRIAL, "qiskit", tmp_path / "c.qpy")
    assert asked == [{"width": 6}] * 2  # the check, then the export
    with open(res.path, "rb") as f:
        (back,) = qpy.load(f)
    assert back.metadata == {"device": "fake-dev", "region": [1, 0], "observables": ["Z0", "Z1"]}
    ev.routed_circuit = lambda arch: None  # type: ignore[attr-defined]  # not on a device
    with pytest.raises(ConfigError) as e:
        export_trial(tmp_path, TRIAL, "qiskit", tmp_path / "d.qpy")
    assert _line(e) == AMPLITUDE.format(fmt="qiskit")


def test_layer_inputs_are_what_the_layer_sees_in_eval_mode() -> None:
    data = _data()
    model = _Hybrid(SEED).train()  # dropout in front: eval mode decides
    ev = SimpleNamespace(data=data)
    got = fin._layer_inputs(model, model.q, ev, 7)
    assert got == pytest.approx(_features(data, 7), abs=1e-7)
    assert not model.q._forward_pre_hooks  # the hook is gone
    with pytest.raises(ConfigError) as e:
        fin._layer_inputs(model, model.q, ev, -1)
    assert _line(e) == "sample must be in [0, 39]; got -1"
    data.X_test[3, :] = np.nan
    with pytest.raises(RunError) as bad:
        fin._layer_inputs(model, model.q, ev, 3)
    assert _line(bad) == "the quantum layer's inputs are not finite for this sample"
    data.X_test[3, :] = [np.inf, 0, 0, 0]
    with pytest.raises(RunError):
        fin._layer_inputs(model, model.q, ev, 3)


def test_a_file_named_for_another_format_is_refused_before_the_run_is_read(
    tmp_path: Path,
) -> None:
    """`--format qasm --out x.onnx` wrote OpenQASM text into a file ONNX Runtime would be
    handed; a suffix that names a format must name the one written."""
    refused = [  # (format, file, what the name says, the suffix suggested)
        ("qasm", "x.onnx", "onnx or onnx-int8", ".qasm"),
        ("torch", "m.QASM", "qasm or qasm3", ".pt"),
        ("onnx", "m.pt", "torch", ".onnx"),
        ("onnx-int8", "m.pth", "torch", ".onnx"),
        ("qasm3", "c.py", "pennylane", ".qasm3"),
        ("pennylane", "c.qasm3", "qasm3", ".py"),
        ("qasm", "c.qasm3", "qasm3", ".qasm"),
    ]
    for fmt, name, says, suffix in refused:
        with pytest.raises(ConfigError) as e:
            export_trial(tmp_path / "no-run", 0, fmt, tmp_path / name)
        first = says.split(" or ")[0]
        assert str(e.value) == (
            f"the file name {name!r} says {says}, but --format {fmt} writes something "
            f"else; name it {suffix} (or choose --format {first})"
        ), fmt
    # a format's own suffix, or one no format claims: on to the run (missing here)
    for fmt, name in (("qasm3", "c.qasm"), ("onnx-int8", "m.ONNX"), ("torch", "m.bin"),
                      ("qasm", "circuit"), ("pennylane", "c.py"), ("qiskit", "c.qpy")):  # fmt: skip
        with pytest.raises(RunError, match="no-run': no such folder"):
            export_trial(tmp_path / "no-run", 0, fmt, tmp_path / name)
    assert list(tmp_path.iterdir()) == []
