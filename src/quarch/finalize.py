"""After a search: train a chosen trial to completion, and export it.

Both rebuild the trial's architecture from the run folder and train it with the run's
own evaluator (same data split, same seed), so the exported weights are those the
trial's metrics came from (or, with more ``epochs``, a longer training of them).

* :func:`train_trial` trains with several seeds and reports mean and spread of the
  validation and test accuracy, with the classical ablation beside hybrid networks:
  the same network with the quantum layer replaced by a classical layer of the same
  number of trainable parameters, trained the same way.
* :func:`export_trial` writes ``torch`` (state dict + architecture), ``onnx``
  (checked against torch with ONNX Runtime), ``onnx-int8`` (static quantisation), and
  for hybrid networks ``qasm`` (OpenQASM 2.0, weights bound, inputs bound to one
  sample, which the file and the result say), ``qasm3`` (OpenQASM 3, weights bound,
  inputs kept as ``input float[64]`` parameters), ``qiskit`` (QPY, weights bound,
  inputs as parameters ``x[j]``; the file must be named ``.qpy``; for a run on a
  calibrated device, the circuit routed there on its physical qubits, layout in its
  ``metadata``) and ``pennylane`` (a
  self-contained Python file defining the circuit).

Every extra a format needs is checked before anything is trained, and training (``quarch
train``, an export that retrains) can show a progress bar.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import statistics
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from quarch._errors import ConfigError, RunError, did_you_mean
from quarch._paths import check_file, writing
from quarch._run_files import check_run_folder

if TYPE_CHECKING:  # quarch.study imports torch: only where a run is opened (see _open)
    from quarch.study import Run, TrialRecord

__all__ = ["EXPORT_FORMATS", "ExportResult", "TrainResult", "export_trial", "train_trial"]

EXPORT_FORMATS = ("torch", "onnx", "onnx-int8", "qasm", "qasm3", "qiskit", "pennylane")

#: Modules each format needs beyond the core install, and the extra that brings them.
_FORMAT_NEEDS: dict[str, tuple[tuple[str, ...], str]] = {
    "onnx": (("onnx", "onnxruntime"), "onnx"),
    "onnx-int8": (("onnx", "onnxruntime"), "onnx"),
    "qasm3": (("qiskit",), "qiskit"),
    "qiskit": (("qiskit",), "qiskit"),
}


#: File suffixes that name a format. A file of another format under such a name misleads
#: the next tool (ONNX Runtime handed OpenQASM text as ``x.onnx``), so it is refused;
#: any other suffix is left to the user.
_SUFFIX_FORMATS: dict[str, tuple[str, ...]] = {
    ".pt": ("torch",), ".pth": ("torch",), ".onnx": ("onnx", "onnx-int8"),
    ".qasm": ("qasm", "qasm3"), ".qasm3": ("qasm3",), ".qpy": ("qiskit",),
    ".py": ("pennylane",),
}  # fmt: skip
#: The suffix each format's file is suggested to have.
_SUFFIX = {"torch": ".pt", "onnx": ".onnx", "onnx-int8": ".onnx", "qasm": ".qasm",
           "qasm3": ".qasm3", "qiskit": ".qpy", "pennylane": ".py"}  # fmt: skip


def _check_count(name: str, value: Any, low: int, what: str = "") -> None:
    """Refuse a count that is not an integer (a bool, a float, a string from Python)
    or is below ``low``: one line, before any work."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer{what}; got {value!r}")
    if value < low:
        raise ConfigError(f"{name} must be >= {low}{what}; got {value}")


def _check_format(fmt: str, out: Path) -> None:
    """Refuse, before any training, a format whose extra is missing or a file name
    that would hide what the file holds."""
    needs = _FORMAT_NEEDS.get(fmt)
    if needs is not None:
        missing = [m for m in needs[0] if importlib.util.find_spec(m) is None]
        if missing:
            raise ConfigError(
                f"--format {fmt} needs the {needs[1]} extra (missing: {', '.join(missing)}): "
                f"pip install 'quarch[{needs[1]}]'"
            )
    if fmt == "qiskit" and out.suffix.lower() != ".qpy":
        raise ConfigError(
            f"--format qiskit writes Qiskit's binary QPY format; name the file .qpy (got "
            f"{out.name!r}), or use --format qasm3 for OpenQASM 3 text"
        )
    named = _SUFFIX_FORMATS.get(out.suffix.lower())
    if named is not None and fmt not in named:
        raise ConfigError(
            f"the file name {out.name!r} says {' or '.join(named)}, but --format {fmt} "
            f"writes something else; name it {_SUFFIX[fmt]} (or choose --format {named[0]})"
        )


@contextlib.contextmanager
def _training_bar(enabled: bool, runs: int, epochs: int, what: str) -> Iterator[Any]:
    """A progress bar on stderr over ``runs`` trainings of up to ``epochs`` epochs each,
    fed by :func:`quarch.evaluate.epoch_hook` from inside any evaluator. Yields
    ``begin(label)``, called before each training. Early stopping ends a training
    before its last epoch; the bar then jumps to the next one."""
    yield from _training_bar_body(enabled, runs, epochs, what)


def _training_bar_body(enabled: bool, runs: int, epochs: int, what: str) -> Iterator[Any]:
    """:func:`_training_bar`'s body, undecorated (mutmut mutates no decorated function)."""
    from quarch.evaluate import epoch_hook

    if not enabled:
        yield lambda label: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

    from quarch.study._progress import progress_bar  # one line of the cell in a notebook

    total = max(1, runs * epochs)
    now: dict[str, Any] = {"run": -1, "label": ""}
    with progress_bar(
        TextColumn(f"[bold]{what}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[label]}"), TimeElapsedColumn(),
        console=Console(file=sys.stderr),
    ) as bar:  # fmt: skip
        task = bar.add_task(what, total=total, label="")

        def begin(label: str) -> None:
            now["run"] = int(now["run"]) + 1
            now["label"] = label
            bar.update(task, completed=int(now["run"]) * epochs, label=label)

        def on_epoch(epoch: int, val_error: float) -> None:
            done = min(total, int(now["run"]) * epochs + epoch + 1)
            text = f"{now['label']} epoch {epoch + 1}: val error {val_error:.4f}".strip()
            bar.update(task, completed=done, label=text)

        with epoch_hook(on_epoch):
            yield begin
        bar.update(task, completed=total)


def _seed(t: TrialRecord) -> int:
    """The seed a trial was evaluated with (recorded by every quarch run)."""
    if t.seed is None:
        raise RunError(f"trial {t.number} has no recorded seed; it was not run by quarch")
    return int(t.seed)


def _broken_budgets(budgets: Sequence[Any], metrics: dict[str, float]) -> str:
    """The run's budgets the exported network breaks, each with its value (``""`` for
    none): a trial over a budget is no result of the search, and its export said nothing
    of it."""
    return ", ".join(
        f"{b} ({b.metric}={metrics[b.metric]:.6g})"
        for b in budgets
        if b.metric in metrics and b.violation(metrics[b.metric]) > 0
    )


def _open(run_dir: str | Path, trial: int) -> tuple[Run, TrialRecord]:
    # Imported here, not at the top: `quarch export` refuses its flags and a folder that
    # is not a run before torch (which quarch.study loads) costs it seconds.
    from quarch.study import Run

    run = Run.open(run_dir)
    _check_space(run.config.space, run.spec)
    return run, run.trial(trial)


def _check_space(space: str, spec: Any, fmt: str | None = None) -> None:
    """Refuse a space with no model (a table look-up), or one that does not export
    ``fmt``; the same lines from :func:`_open` and, before torch, from
    :func:`_check_space_early`."""
    if not spec.is_trainable():
        raise ConfigError(
            f"space {space!r} is scored by a table look-up; it has no model to train or export"
        )
    if fmt is not None and fmt not in spec.export_formats:
        raise ConfigError(f"space {space!r} exports {', '.join(spec.export_formats)}, not {fmt!r}")


def _check_trial_early(run_dir: str | Path, trial: Any) -> None:
    """``Run.trial``'s refusal of a trial the run does not have, from the run's
    ``study.db`` read with ``sqlite3`` alone (:func:`quarch._run_files.trial_numbers`):
    ``--trial 99`` said so after the study was opened through torch and Optuna, seconds
    later. Anything the files cannot tell (another storage, a study being written, a
    trial number that is not an integer) is left to ``Run.trial``."""
    from quarch._run_files import trial_numbers

    if isinstance(trial, bool) or not isinstance(trial, int):
        return
    numbers = trial_numbers(run_dir)
    if numbers is None or trial in numbers:
        return
    has = f"it has 0..{len(numbers) - 1}" if numbers else "it has no trials yet"
    raise RunError(f"run {str(Path(run_dir))!r} has no trial {trial}; {has}")


def _check_space_early(run_dir: str | Path, fmt: str | None = None) -> None:
    """:func:`_check_space` from the run's ``config.json`` alone (``json`` and the space
    registry: no torch, no study), so `quarch export --format qasm` of a ``cnn`` run
    says so in a fraction of a second. A file this cannot read is left to ``Run.open``,
    whose line names what is wrong with it."""
    from quarch._run_files import saved_space
    from quarch.spaces import check_run_space, get_spec

    space = saved_space(run_dir)
    if space is None:
        return
    check_run_space(run_dir, space)
    _check_space(space, get_spec(space), fmt)


#: The formats that write the quantum layer's circuit rather than the whole network.
_CIRCUIT_FORMATS = ("qasm", "qasm3", "qiskit", "pennylane")


def _check_circuit_export(fmt: str, trial: int, model: Any, ev: Any, arch: Any) -> None:
    """Refuse, from the untrained network, a circuit format the trial cannot be written
    in: no quantum layer, or an amplitude embedding where the format has no gate for it
    (OpenQASM 2 and 3 and an unrouted Qiskit circuit; PennyLane has
    ``qml.AmplitudeEmbedding``, and a circuit routed on a calibrated device prepares
    the amplitudes with Mottonen rotations)."""
    layers = _quantum_layers(model)
    if not layers:
        raise ConfigError(f"--format {fmt} exports quantum circuits; trial {trial} has none")
    circuit = layers[0][1].plan.circuit
    if fmt == "pennylane" or not any(op.name == "amplitude_embedding" for op in circuit.ops):
        return
    if fmt == "qiskit" and getattr(ev, "routed_circuit", lambda a: None)(arch) is not None:
        return
    raise ConfigError(
        f"--format {fmt}: trial {trial} loads its inputs as amplitudes (an amplitude "
        "embedding), which OpenQASM and an unrouted Qiskit circuit have no gate for; export "
        "it with --format pennylane (qml.AmplitudeEmbedding) or torch, or as --format qiskit "
        "from a run on a calibrated device (--device-profile), whose routed circuit prepares "
        "the amplitudes with rotations"
    )


def _quantum_layers(model: Any) -> list[tuple[str, Any]]:
    from quarch.quantum import QuantumLayer

    return [(n, m) for n, m in model.named_modules() if isinstance(m, QuantumLayer)]


# -- training ----------------------------------------------------------------------------
@dataclass
class TrainResult:
    """Accuracies (%) of a trained trial over seeds, and of its classical ablation."""

    trial: int
    epochs: int
    seeds: list[int]
    val_accuracy: list[float]
    test_accuracy: list[float]
    params: float
    ablation_val_accuracy: list[float] = field(default_factory=list)
    ablation_test_accuracy: list[float] = field(default_factory=list)
    ablation_params: float | None = None

    @staticmethod
    def _ms(xs: list[float]) -> dict[str, float | None]:
        if not xs:
            return {}
        # one seed has no spread to measure: None, not a spread of 0
        return {"mean": statistics.fmean(xs), "std": statistics.stdev(xs) if len(xs) > 1 else None}

    def to_json(self) -> dict[str, Any]:
        """Summary with mean and standard deviation of each accuracy."""
        out: dict[str, Any] = {
            "trial": self.trial,
            "epochs": self.epochs,
            "seeds": self.seeds,
            "params": self.params,
            "val_accuracy": {"values": self.val_accuracy, **self._ms(self.val_accuracy)},
            "test_accuracy": {"values": self.test_accuracy, **self._ms(self.test_accuracy)},
        }
        if self.ablation_test_accuracy:
            out["classical_ablation"] = {
                "params": self.ablation_params,
                "val_accuracy": {
                    "values": self.ablation_val_accuracy,
                    **self._ms(self.ablation_val_accuracy),
                },
                "test_accuracy": {
                    "values": self.ablation_test_accuracy,
                    **self._ms(self.ablation_test_accuracy),
                },
            }
        return out


def train_trial(
    run_dir: str | Path,
    trial: int,
    *,
    epochs: int | None = None,
    seeds: int = 3,
    ablation: bool = True,
    progress: bool = False,
    device: str | None = None,
) -> TrainResult:
    """Train trial ``trial`` of a run with ``seeds`` seeds (the trial's own seed first).

    Hybrid networks (models holding a ``QuantumLayer``) are trained beside their
    classical ablation with the same seeds. The result is also saved as
    ``RUN/train/trial_<N>.json``. ``progress`` shows a bar over every epoch on stderr.
    ``device`` trains on that torch device instead of the run's (checked before any
    training: an unusable one is a :class:`ConfigError`). A result file that cannot be
    written is an :class:`OutputError`, also before any training. A noise-aware
    ``hqnn`` trial trains under the noise of the physical qubits it was scored on (its
    recorded region), with a warning when its ``layout`` names others now.
    """
    _check_count("seeds", seeds, 1)
    if epochs is not None:
        _check_count("epochs", epochs, 1)
    _check_space_early(run_dir)
    _check_trial_early(run_dir, trial)
    run, t = _open(run_dir, trial)
    saved = check_file(run.train_dir / f"trial_{trial}.json", "result file")  # before training
    ev: Any = run.evaluator(standalone=True, epochs=epochs, device=device)
    place = _spec_hook(run, "place_trial")
    if place is not None:  # hqnn: trained again on the qubits the trial was scored on
        place(ev, t)
    from quarch.study import trial_seed

    seed0 = _seed(t)
    seed_list = [seed0] + [trial_seed(seed0, k) for k in range(1, seeds)]
    val, test, params = [], [], 0.0
    hybrid = False
    n_epochs = int(epochs or getattr(ev, "epochs", None) or 1)
    can_ablate = ablation and hasattr(ev, "fit_ablation")
    runs = len(seed_list) * (2 if can_ablate else 1)
    with _training_bar(progress, runs, n_epochs, f"train trial {trial}") as begin:
        for k, s in enumerate(seed_list):
            begin(f"seed {k + 1}/{len(seed_list)}")
            model, m = ev.fit(t.params, seed=s, epochs=epochs)
            val.append(100.0 * (1.0 - m["val_error"]))
            test.append(100.0 * (1.0 - m["test_error"]))
            params = m["params"]
            hybrid = hybrid or bool(_quantum_layers(model))
        out = TrainResult(trial, n_epochs, seed_list, val, test, params)
        if can_ablate and hybrid:
            for k, s in enumerate(seed_list):
                begin(f"ablation seed {k + 1}/{len(seed_list)}")
                _, m = ev.fit_ablation(t.params, seed=s, epochs=epochs)
                out.ablation_val_accuracy.append(100.0 * (1.0 - m["val_error"]))
                out.ablation_test_accuracy.append(100.0 * (1.0 - m["test_error"]))
                out.ablation_params = m["params"]
    with writing(saved, "result file"):
        saved.parent.mkdir(exist_ok=True)
        saved.write_text(json.dumps(out.to_json(), indent=2) + "\n")
    return out


# -- export ------------------------------------------------------------------------------
@dataclass
class ExportResult:
    """What was written, and the checks made on it."""

    path: Path
    format: str
    checks: dict[str, Any] = field(default_factory=dict)


def _onnx(model: Any, ev: Any, path: Path) -> dict[str, Any]:
    import torch

    try:
        import onnxruntime  # noqa: F401  # the onnx extra's runtime
    except ImportError:
        raise ConfigError("ONNX export needs the onnx extra: pip install 'quarch[onnx]'") from None
    if _quantum_layers(model):
        raise ConfigError(
            "ONNX has no complex tensors, so a hybrid network's quantum layer cannot be "
            "exported to ONNX; use --format qasm, qiskit or pennylane for the circuit"
        )
    from quarch.cost.onnx import fake_quantised, float_graph, onnx_accuracy, ort_session, to_onnx

    model = model.cpu().eval()
    x = torch.as_tensor(ev.data.X_val[:64], dtype=torch.float32)
    # quarch's exporter turns fake quantisation off, so an 8-bit-trained CNN exports as
    # the float graph that onnx-int8 then quantises for real.
    graph = to_onnx(model, tuple(ev.data.input_shape))
    path.write_bytes(graph)
    sess = ort_session(str(path))  # on the CPU, as every quarch session
    got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    with float_graph(model), torch.no_grad():  # the float graph is what was exported
        want = model(x).numpy()
    checks: dict[str, Any] = {
        "max_abs_diff_vs_torch": float(np.max(np.abs(got - want))),
        "checked_samples": len(x),
        # the file's own score, beside the trial's test_error: they differ for an
        # 8-bit-trained network, whose file is its float graph
        "onnx_test_accuracy": 100.0 * onnx_accuracy(graph, ev.data.X_test, ev.data.y_test),
    }
    if fake_quantised(model):
        checks["compared_with"] = (
            "the float graph (fake quantisation off), which this file holds; the trial's "
            "metrics are the 8-bit-trained network's (onnx-int8 quantises it for real)"
        )
    return checks


def _onnx_int8(model: Any, ev: Any, path: Path, full: bool, repeats: int) -> dict[str, Any]:
    """Static int8 quantisation with calibration on training images; accuracy and latency
    of the float and int8 models on the test split, measured the same way. ``full``
    quantises every node (see :func:`quarch.cost.onnx.quantize_int8`)."""
    try:
        from quarch.cost.onnx import (
            measure_latency_ms,
            onnx_accuracy,
            quantize_int8,
            to_onnx,
            weight_bits,
        )
    except ImportError:
        raise ConfigError("int8 export needs the onnx extra: pip install 'quarch[onnx]'") from None
    if _quantum_layers(model):
        raise ConfigError("a hybrid network's quantum layer cannot be quantised to int8 ONNX")
    shape = tuple(ev.data.input_shape)
    f32 = to_onnx(model.cpu().eval(), shape)
    calib = np.asarray(ev.data.X_train[:512], dtype=np.float32)
    int8 = quantize_int8(f32, calib, keep_float=[] if full else None)
    path.write_bytes(int8)
    X, y = ev.data.X_test, ev.data.y_test
    return {
        "fp32_test_accuracy": 100.0 * onnx_accuracy(f32, X, y),
        "int8_test_accuracy": 100.0 * onnx_accuracy(int8, X, y),
        "fp32_latency_ms": measure_latency_ms(f32, shape, repeats=repeats),
        "int8_latency_ms": measure_latency_ms(int8, shape, repeats=repeats),
        "fp32_bytes": len(f32),
        "int8_bytes": len(int8),
        # 7 where this CPU's fused kernels do not compute the 8-bit model (AVX2, no VNNI)
        "weight_bits": weight_bits(int8),
    }


def export_trial(
    run_dir: str | Path,
    trial: int,
    fmt: str,
    out: str | Path,
    *,
    epochs: int | None = None,
    sample: int = 0,
    full_int8: bool = False,
    repeats: int = 50,
    progress: bool = False,
    device: str | None = None,
) -> ExportResult:
    """Write trial ``trial``'s trained network in format ``fmt`` to ``out``.

    A trial whose search saved its weights (``RUN/weights/``: every trainable space does,
    unless ``save_weights=false``) is loaded; anything else is trained with its own seed
    and the run's settings (standalone, when the search scored inherited weights).
    ``checks["weights"]`` says which. ``torch`` writes a dict (``space``, ``arch``,
    ``state_dict``, ``input_shape``, ``n_classes``, ``metrics``: the trial's metrics, as
    ``quarch trials`` shows them, with ``val_error`` and ``test_error`` measured on the
    file's network; after ``epochs``, the retrained network's own); the network again is
    ``Run.open(run_dir).evaluator(standalone=True).build(arch, seed=0)`` with that
    ``state_dict`` loaded.

    Args:
        run_dir: the run folder.
        trial: a complete trial's number.
        fmt: one of :data:`EXPORT_FORMATS`.
        out: the file to write.
        epochs: train this many epochs instead of the search's.
        device: train (when it must) on this torch device instead of the run's; the
            file is written from the CPU either way.
        sample: for ``qasm``, the test-split sample whose features are bound.
        full_int8: for ``onnx-int8``, quantise every node, the one-channel stem that
            stays in float by default included (integer-only targets).
        repeats: for ``onnx-int8``, timed ONNX Runtime runs of each model (batch 1).
        progress: show a progress bar on stderr when the trial has to be retrained.

    Raises:
        ConfigError: a format the run's space does not export, or a missing extra.
        RunError: no such trial, or it did not complete.
        OutputError: ``out`` cannot be written (checked before any training).
    """
    if fmt not in EXPORT_FORMATS:
        raise ConfigError(
            f"unknown export format {fmt!r}; choose from: {', '.join(EXPORT_FORMATS)}"
            f"{did_you_mean([fmt], EXPORT_FORMATS)}"
        )
    if full_int8 and fmt != "onnx-int8":
        raise ConfigError(f"--full-int8 applies to --format onnx-int8, not {fmt!r}")
    if epochs is not None:
        _check_count("epochs", epochs, 1)
    # sample's upper end needs the data; this much is known before loading it
    _check_count("sample", sample, 0, " (a test-split row)")
    _check_count("repeats", repeats, 1)
    _check_format(fmt, Path(out))
    check_file(out, "export file")  # before any training
    check_run_folder(run_dir)  # before torch: Run.open would refuse it seconds later
    _check_space_early(run_dir, fmt)
    _check_trial_early(run_dir, trial)
    import torch

    run, t = _open(run_dir, trial)
    _check_space(run.config.space, run.spec, fmt)
    ev: Any = run.evaluator(standalone=True, epochs=epochs, device=device)
    if fmt in _CIRCUIT_FORMATS and hasattr(ev, "build"):  # before loading or training it
        _check_circuit_export(fmt, trial, ev.build(t.params, seed=0), ev, t.params)
    loaded = _saved_model(run, t, ev) if epochs is None else None
    if loaded is not None:
        model, metrics = loaded
    else:
        n_epochs = int(epochs or getattr(ev, "epochs", None) or 1)
        with _training_bar(progress, 1, n_epochs, f"retrain trial {trial}") as begin:
            begin("")
            model, metrics = ev.fit(t.params, seed=_seed(t), epochs=epochs)
    if epochs is None:  # the trial's own network: its metrics, as `quarch trials` shows them
        metrics = {**t.metrics, **metrics}  # with what was measured (again) on this one
    model = model.to("cpu")  # every format is written (and checked) from the CPU
    path = Path(out)
    with writing(path, "export file"):  # what check_file cannot see: /proc, a full disk
        path.parent.mkdir(parents=True, exist_ok=True)
        checks: dict[str, Any] = {
            "weights": "loaded" if loaded is not None else "retrained",
            "val_error": metrics["val_error"],
            "test_error": metrics["test_error"],
        }
        broken = _broken_budgets(run.objective.budgets, {**t.metrics, **metrics})
        if broken:
            checks["budgets"] = f"broken: {broken}"
        if fmt == "torch":
            with open(path, "wb") as f:  # torch's own open fails with a RuntimeError
                torch.save(
                    {
                        "space": run.config.space,
                        "arch": t.params,
                        "state_dict": model.state_dict(),
                        "input_shape": list(ev.data.input_shape),
                        "n_classes": ev.data.n_classes,
                        "metrics": metrics,
                    },
                    f,
                )
        elif fmt == "onnx":
            checks.update(_onnx(model, ev, path))
        elif fmt == "onnx-int8":
            checks.update(_onnx_int8(model, ev, path, full=full_int8, repeats=repeats))
        else:
            layers = _quantum_layers(model)
            if not layers:
                raise ConfigError(
                    f"--format {fmt} exports quantum circuits; trial {trial} has none"
                )
            from quarch.quantum import pennylane_source, to_qasm, to_qiskit

            _, layer = layers[0]
            circuit, weights = layer.plan.circuit, layer.weights.detach().cpu()
            measured = ", ".join(f"<{w}>" for w in layer.observables)
            checks["observables"] = measured  # what the layer returns to the head, in order
            if fmt == "qasm":
                # a circuit without inputs: its layer sees no features, and none are bound
                bound = circuit.bind(
                    weights=weights, inputs=_layer_inputs(model, layer, ev, sample)
                )
                path.write_text(
                    f"// quarch run {Path(run_dir).name}, trial {trial}: trained weights bound;\n"
                    f"// input features bound to test sample {sample} (OpenQASM 2.0 has no inputs;\n"
                    "// use --format qasm3 or qiskit for a circuit with input parameters)\n"
                    f"// the network reads {measured} of the final state\n" + to_qasm(bound)
                )
                checks["n_qubits"] = circuit.n_qubits
                if circuit.n_inputs:
                    checks["inputs"] = (
                        f"bound to test sample {sample} (OpenQASM 2.0 has no inputs; "
                        "--format qasm3 keeps them as input parameters)"
                    )
            elif fmt == "qasm3":
                from qiskit import qasm3

                qc = to_qiskit(circuit, weights)
                path.write_text(
                    f"// quarch run {Path(run_dir).name}, trial {trial}: trained weights bound;\n"
                    "// input float[64] _x_<j>_ is feature j of what the quantum layer receives\n"
                    "// (after the network's classical front-end)\n"
                    f"// the network reads {measured} of the final state\n" + qasm3.dumps(qc)
                )
                checks["n_qubits"] = circuit.n_qubits
                checks["inputs"] = f"{len(qc.parameters)} input parameters"
            elif fmt == "qiskit":
                from qiskit import qpy

                from quarch.cost.routed_layout import with_layout

                # on a calibrated device: the circuit routed there, on the physical
                # qubits the trial was scored on (its recorded region)
                routed = _routed(run, ev, t)
                if routed is not None:
                    qc = with_layout(routed.full_device_qiskit(weights.tolist()), routed)
                    checks.update(device=routed.device, layout=routed.physical_layout)
                else:
                    qc = to_qiskit(circuit, weights)
                # on the circuit's own wires (a routed one maps them: metadata's layout)
                qc.metadata = {
                    **(qc.metadata or {}),
                    "observables": [str(w) for w in layer.observables],
                }
                with open(path, "wb") as f:
                    qpy.dump(qc, f)
                checks["file"] = "QPY (binary): read it with qiskit.qpy.load"
                checks["parameters"] = [p.name for p in qc.parameters]
            else:
                path.write_text(pennylane_source(circuit, weights, layer.observables))
    return ExportResult(path, fmt, checks)


def _routed(run: Run, ev: Any, t: TrialRecord) -> Any:
    """Trial ``t``'s routed circuit on the qubits it was scored on: the space's
    ``routed_trial`` (hqnn reads the trial's recorded region, and warns when its
    ``layout`` names other qubits now), else the evaluator's ``routed_circuit``, else
    ``None`` (no calibrated device)."""
    own = _spec_hook(run, "routed_trial")
    if own is not None:
        return own(ev, t)
    return getattr(ev, "routed_circuit", lambda arch: None)(t.params)


def _spec_hook(run: Run, name: str) -> Any:
    """The run's space spec's method ``name``, or ``None``: a spec without it, or a
    custom space given to ``run_search`` (no spec to ask)."""
    try:
        return getattr(run.spec, name, None)
    except Exception:
        return None


def _saved_model(run: Run, t: TrialRecord, ev: Any) -> tuple[Any, Any] | None:
    """The trial's network with the weights its search saved (``cnn`` and ``hqnn`` runs
    write ``RUN/weights/seed_<seed>.pt``), scored on the validation and test splits;
    ``None`` when the run saved none. Loading is faster than retraining and exports
    exactly the network the trial's metrics came from."""
    import torch

    from quarch.evaluate import classification_error

    state = run.saved_weights(_seed(t))
    if state is None:
        return None
    model = ev.build(t.params, seed=_seed(t))
    model.load_state_dict(state)
    data = ev.data
    errors = {
        f"{split}_error": classification_error(
            model,
            torch.as_tensor(getattr(data, f"X_{split}"), dtype=torch.float32),
            torch.as_tensor(getattr(data, f"y_{split}")),
        )
        for split in ("val", "test")
    }
    return model, errors


def _layer_inputs(model: Any, layer: Any, ev: Any, sample: int) -> list[float]:
    """The features the quantum layer sees for test sample ``sample``."""
    import torch

    if not 0 <= sample < len(ev.data.X_test):
        raise ConfigError(f"sample must be in [0, {len(ev.data.X_test) - 1}]; got {sample}")
    seen: list[torch.Tensor] = []
    h = layer.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach()))
    try:
        model.eval()
        with torch.no_grad():
            model(torch.as_tensor(ev.data.X_test[sample : sample + 1], dtype=torch.float32))
    finally:
        h.remove()
    vals = seen[0].reshape(-1).tolist()
    if not all(math.isfinite(v) for v in vals):
        raise RunError("the quantum layer's inputs are not finite for this sample")
    return vals
