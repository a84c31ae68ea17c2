"""Every command's success path, run through the command line once.

``test_cli_mistakes.py`` runs what users got wrong; this runs what they get right:
``report``, ``train``, ``export`` in every format, ``benchmark``, ``devices``,
``worker --run`` and ``--help`` of every command. Each checks what the command wrote or
printed against the run it read (the trial's own metrics, the files' contents), not
only the exit code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from quarch.cli import app, main
from quarch.study import Run

from ._scope import per_module


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()  # not a shared fixture's output (per test under mutmut)
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope=per_module)
def hqnn_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("cli") / "hq"
    code = main([
        "search", "--space", "hqnn", "--dataset", "iris", "--strategy", "random",
        "--trials", "2", "--epochs", "1", "--seed", "2", "--out", str(run), "--quiet",
        "--space-option", "max_qubits=3", "--space-option", "max_layers=1",
        "--space-option", 'embeddings=["angle-y","iqp"]',
    ])  # fmt: skip
    assert code == 0
    return run


def _command_names() -> list[str]:
    import typer

    return [c.name or "" for c in typer.main.get_command(app).commands.values()]  # type: ignore[attr-defined]


@pytest.mark.parametrize("cmd", _command_names())
def test_help_of_every_command(capsys: pytest.CaptureFixture[str], cmd: str) -> None:
    code, out, err = _run(capsys, cmd, "--help")
    assert code == 0, err
    assert out.startswith(f"Usage: quarch {cmd} [OPTIONS]") and "--help" in out


def test_report(capsys: pytest.CaptureFixture[str], hqnn_run: Path, tmp_path: Path) -> None:
    code, _, err = _run(capsys, "report", str(hqnn_run), "--out", str(tmp_path / "rep"))
    assert code == 0, err
    html = (tmp_path / "rep" / "index.html").read_text()
    res = Run.open(hqnn_run).result()
    for t in res.complete:
        assert f"{t.metrics['val_error']:.4g}" in html or f"{t.metrics['val_error']:.3g}" in html
    assert list((tmp_path / "rep").glob("*.png"))


def test_train(capsys: pytest.CaptureFixture[str], hqnn_run: Path) -> None:
    t = Run.open(hqnn_run).result().complete[0]
    code, out, err = _run(capsys, "train", str(hqnn_run), "--trial", str(t.number),
                          "--seeds", "1", "--json", "--quiet")  # fmt: skip
    assert code == 0, err
    got = json.loads(out)  # one JSON object, nothing else on stdout
    # its first seed is the trial's own, and the search's epochs: the trial's scores again
    assert got["trial"] == t.number and got["seeds"][0] == t.seed
    assert got["params"] == t.metrics["params"]
    for split in ("val", "test"):
        want = 100 * (1 - t.metrics[f"{split}_error"])
        assert got[f"{split}_accuracy"]["values"][0] == pytest.approx(want, abs=1e-6)
    assert got["classical_ablation"]["params"] == pytest.approx(t.metrics["params"], rel=0.1)
    # one seed has no spread: none is reported (it was 0.0, read as "± 0.00")
    assert got["val_accuracy"]["std"] is None and got["test_accuracy"]["std"] is None
    code, out, err = _run(capsys, "train", str(hqnn_run), "--trial", str(t.number),
                          "--seeds", "1", "--quiet")  # fmt: skip
    assert code == 0, err
    assert "(one seed)" in out and "±" not in out
    epochs = Run.open(hqnn_run).config.epochs
    title = f"trial {t.number}: {epochs} epoch{'s' if epochs != 1 else ''}, 1 seed"
    assert out.splitlines()[0].strip() == title  # not "1 seeds"


FORMATS = {"torch": "pt", "qasm": "qasm", "qasm3": "qasm3", "qiskit": "qpy", "pennylane": "py"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_hqnn(
    capsys: pytest.CaptureFixture[str], hqnn_run: Path, tmp_path: Path, fmt: str
) -> None:
    if fmt == "qasm3":
        pytest.importorskip("qiskit_qasm3_import")
    t = Run.open(hqnn_run).result().complete[0]
    out_file = tmp_path / f"model.{FORMATS[fmt]}"
    code, out, err = _run(capsys, "export", str(hqnn_run), "--trial", str(t.number),
                          "--format", fmt, "--out", str(out_file), "--json", "--quiet")  # fmt: skip
    assert code == 0, err
    got = json.loads(out)
    assert Path(got["path"]) == out_file and out_file.stat().st_size > 0
    assert got["format"] == fmt and got["weights"] == "loaded"
    assert got["val_error"] == pytest.approx(t.metrics["val_error"], abs=1e-9)
    _reads_back(fmt, out_file, int(t.params["qubits"]))


def _reads_back(fmt: str, path: Path, n_qubits: int) -> None:
    """The file opens in the tool it is for."""
    if fmt == "torch":
        import torch

        assert "state_dict" in torch.load(path, weights_only=False)
    elif fmt == "qasm":
        import qiskit

        qc = qiskit.qasm2.loads(
            path.read_text(), custom_instructions=qiskit.qasm2.LEGACY_CUSTOM_INSTRUCTIONS
        )
        assert qc.num_qubits == n_qubits
    elif fmt == "qasm3":
        import qiskit

        assert qiskit.qasm3.loads(path.read_text()).num_qubits == n_qubits
    elif fmt == "qiskit":
        from qiskit import qpy

        with open(path, "rb") as f:
            (qc,) = qpy.load(f)
        assert qc.num_qubits == n_qubits
    else:
        ns: dict[str, Any] = {}
        exec(compile(path.read_text(), str(path), "exec"), ns)
        assert ns["N_WIRES"] == n_qubits


@pytest.fixture(scope=per_module)
def cnn_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("onnxruntime")
    run = tmp_path_factory.mktemp("cli") / "cnn"
    code = main(["search", "--space", "cnn", "--dataset", "digits", "--strategy", "random",
                 "--trials", "1", "--epochs", "1", "--objectives", "val_error,memory_kb",
                 "--out", str(run), "--quiet"])  # fmt: skip
    assert code == 0
    return run


@pytest.mark.parametrize("fmt", ["onnx", "onnx-int8"])
def test_export_cnn_onnx(
    capsys: pytest.CaptureFixture[str], cnn_run: Path, tmp_path: Path, fmt: str
) -> None:
    run = cnn_run
    code, out, err = _run(capsys, "export", str(run), "--trial", "0", "--format", fmt,
                          "--out", str(tmp_path / "m.onnx"), "--json", "--quiet")  # fmt: skip
    assert code == 0, err
    checks = json.loads(out)
    if fmt == "onnx":
        assert checks["max_abs_diff_vs_torch"] < 1e-4
    else:
        assert (tmp_path / "m.onnx").stat().st_size > 0 and checks["weights"] == "loaded"


def test_benchmark(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = _run(capsys, "benchmark", "--task", "synthetic-qubo", "--strategies",
                          "random,local", "--seeds", "2", "--trials", "8",
                          "--out", str(tmp_path / "b"), "--json", "--quiet")  # fmt: skip
    assert code == 0, err
    got = json.loads(out)
    text = json.dumps(got)
    assert "random" in text and "local" in text
    assert list((tmp_path / "b").iterdir())


def test_devices(capsys: pytest.CaptureFixture[str]) -> None:
    from quarch.cost.devices import list_devices

    code, out, err = _run(capsys, "devices", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert [r["name"] for r in rows] == [d["name"] for d in list_devices()]
    code, out, _ = _run(capsys, "devices")
    assert code == 0 and all(r["name"] in out for r in rows[:3])


def test_worker_run_completes_a_stopped_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run = tmp_path / "w"
    code, _, err = _run(capsys, "search", "--space", "mlp", "--trials", "4", "--epochs", "1",
                        "--timeout", "0.01", "--out", str(run), "--quiet")  # fmt: skip
    assert code == 0, err
    before = Run.open(run).result().done
    assert before < 4
    code, out, err = _run(capsys, "worker", "--run", str(run), "--json")
    assert code == 0, err
    got = json.loads(out)
    assert got["complete"] == 4 == Run.open(run).result().done
