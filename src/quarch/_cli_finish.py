"""The commands on a finished run's chosen trial: ``train`` (to completion, with several
seeds and the classical ablation) and ``export`` (for the next tool).

Split from :mod:`quarch.cli` (which holds the search and the run-wide commands) to keep
each command module short; they register themselves on the same application.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from quarch._cli_app import JsonFlag, RunArg, _Command, _interrupted_plainly, _out, app
from quarch._cli_search import _check_device_name
from quarch._errors import ConfigError
from quarch._paths import check_named
from quarch._run_files import check_run_folder

__all__: list[str] = []


@app.command(cls=_Command)
def train(
    run: RunArg,
    trial: Annotated[int, typer.Option(metavar="N", help="Trial number to train.")],
    epochs: Annotated[
        int | None, typer.Option(metavar="N", help="Training epochs. [default: the run's]")
    ] = None,
    seeds: Annotated[int, typer.Option(metavar="N", help="Seeds to train with.")] = 3,
    device: Annotated[
        str | None,
        typer.Option(metavar="DEV", help="Torch device: cpu, cuda, cuda:1. [default: the run's]"),
    ] = None,
    json_out: JsonFlag = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Train a trial's architecture to completion with several seeds (+ classical ablation)."""
    check_run_folder(run)  # before torch is imported
    if device is not None:
        _check_device_name(device)  # search's line, before torch (2-5 s)
    from quarch.finalize import train_trial

    with _interrupted_plainly():
        res = train_trial(
            run, trial, epochs=epochs, seeds=seeds, progress=not (quiet or json_out),
            device=device,
        )  # fmt: skip
    summary = res.to_json()
    if json_out:
        sys.stdout.write(json.dumps(summary) + "\n")
        return
    n_seeds = len(res.seeds)
    table = Table(
        title=f"trial {trial}: {res.epochs} epoch{'s' * (res.epochs != 1)}, "
        f"{n_seeds} seed{'s' * (n_seeds != 1)}",
        # "75.00 ± 11.79" said neither what the spread is nor over what
        caption=f"mean ± standard deviation (n-1) over the {n_seeds} seeds"
        if n_seeds > 1
        else None,
    )
    for col in ("model", "params", "val accuracy %", "test accuracy %"):
        table.add_column(col)

    def ms(d: dict[str, Any]) -> str:
        spread = "(one seed)" if d["std"] is None else f"± {d['std']:.2f}"
        return f"{d['mean']:.2f} {spread}"

    table.add_row(
        "searched", f"{res.params:g}", ms(summary["val_accuracy"]), ms(summary["test_accuracy"])
    )
    if "classical_ablation" in summary:
        a = summary["classical_ablation"]
        table.add_row(
            "classical ablation", f"{a['params']:g}", ms(a["val_accuracy"]), ms(a["test_accuracy"])
        )
    _out.print(table)
    from quarch.study._run import TRAIN_DIR  # loaded by train_trial already

    saved = Path(run) / TRAIN_DIR / f"trial_{trial}.json"
    if saved.is_file():  # train_trial wrote it: say where, as report and benchmark do
        _out.print(f"saved: {saved}")


@app.command(cls=_Command)
def export(
    run: RunArg,
    trial: Annotated[int, typer.Option(metavar="N", help="Trial number to export.")],
    format: Annotated[
        str,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help="torch, onnx, onnx-int8, qasm (OpenQASM 2, inputs bound to one sample), "
            "qasm3 (OpenQASM 3, inputs kept), qiskit (a .qpy file) or pennylane.",
        ),
    ],
    # text, not a Path: Path('') is '.', refused as "export file '.' is a folder"
    out: Annotated[str, typer.Option(metavar="FILE", help="File to write.")],
    epochs: Annotated[
        int | None, typer.Option(metavar="N", help="Train this many epochs first.")
    ] = None,
    sample: Annotated[
        int | None,
        typer.Option(
            metavar="I", help="qasm: the test sample whose features are bound. [default: 0]"
        ),
    ] = None,
    full_int8: Annotated[
        bool,
        typer.Option(
            "--full-int8",
            help="onnx-int8: quantise every node, including the one-channel stem that is "
            "kept in float by default (for integer-only targets such as microcontrollers).",
        ),
    ] = False,
    device: Annotated[
        str | None,
        typer.Option(
            metavar="DEV",
            help="Torch device for any training first: cpu, cuda. [default: the run's]",
        ),
    ] = None,
    json_out: JsonFlag = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Export a trial's trained architecture for the next tool."""
    check_named(out, "--out", "file to write")
    from quarch.finalize import EXPORT_FORMATS, export_trial

    if sample is not None and format in EXPORT_FORMATS and format != "qasm":
        keeps = (
            " (it keeps the inputs as `input float[64]` parameters)" if format == "qasm3" else ""
        )
        raise ConfigError(f"--sample applies to --format qasm, not {format!r}{keeps}")
    if device is not None:
        _check_device_name(device)  # search's line, before torch (2-5 s)
    with _interrupted_plainly():
        res = export_trial(
            run, trial, format, out, epochs=epochs, sample=sample or 0, full_int8=full_int8,
            progress=not (quiet or json_out), device=device,
        )  # fmt: skip
    if json_out:
        sys.stdout.write(
            json.dumps({"path": str(res.path), "format": res.format, **res.checks}) + "\n"
        )
        return
    _out.print(f"wrote {res.path} ({res.format})")
    for k, v in res.checks.items():
        _out.print(f"  {k}: {_check_text(k, v)}")
    for note in _int8_notes(res.checks):
        _out.print(f"  note: {note}")


def _check_text(key: str, value: Any) -> str:
    """An export check as a person reads it: accuracies are percentages and errors
    fractions, so each number says its unit (``test_error: 0.9025`` above
    ``onnx_test_accuracy: 9.749303621169917`` read as two different models); four
    significant digits, as the search's tables show them. ``--json`` keeps the values."""
    if isinstance(value, bool) or not isinstance(value, (int, float, list)):
        return str(value)
    if isinstance(value, list):
        return ", ".join(map(str, value))
    unit = (
        " %" if key.endswith("_accuracy")
        else " ms" if key.endswith("_ms")
        else " bytes" if key.endswith("_bytes")
        else ""
    )  # fmt: skip
    return f"{value:.4g}{unit}" if isinstance(value, float) else f"{value}{unit}"


def _int8_notes(checks: dict[str, Any]) -> list[str]:
    """What an ``onnx-int8`` export's figures mean when int8 did not pay here: slower at
    batch 1, or a larger file. The note said int8 "saves memory" below an int8 file
    larger than the float one (7010 against 4150 bytes for an iris ``mlp``). And 7-bit
    weights, which the export chose for this CPU: without the note nothing said so
    (a digits ``cnn``'s file was 7-bit on an AVX2 machine, its 8-bit model fused 21 %
    of the outputs' range away from its own arithmetic)."""
    notes = []
    f32_ms, i8_ms = checks.get("fp32_latency_ms"), checks.get("int8_latency_ms")
    f32_b, i8_b = checks.get("fp32_bytes"), checks.get("int8_bytes")
    larger = f32_b is not None and i8_b is not None and i8_b > f32_b
    if f32_ms is not None and i8_ms is not None and i8_ms > f32_ms:
        memory = "" if larger else " and saves memory"
        notes.append(
            f"the int8 model is slower than the float one here ({i8_ms:.4f} vs "
            f"{f32_ms:.4f} ms at batch 1): for networks this small ONNX Runtime's per-node "
            f"cost outweighs its int8 kernels' gain; int8 pays off on batches{memory} "
            "(python benchmarks/int8_export.py RUN compares both)"
        )
    if larger:
        notes.append(
            f"the int8 file is larger than the float one here ({i8_b} vs {f32_b} bytes): "
            "the nodes, scales and zero points that quantisation adds outweigh the bytes "
            "8-bit weights save in a network this small"
        )
    if checks.get("weight_bits") == 7:
        notes.append(
            "the weights are 7-bit: this CPU's fused int8 kernels did not compute the "
            "8-bit model (x86 with AVX2 but no VNNI saturates; checked on the calibration "
            "images), so the file suits this CPU; export on the target for 8 bits there"
        )
    return notes
