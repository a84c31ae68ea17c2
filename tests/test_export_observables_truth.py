"""The circuit formats of a trial whose layer measures ``ZZ`` and embeds by amplitude.

Found by session 34's user-path audit: the PennyLane file's ``expvals`` returned ``<Z>``
on each wire whatever the network measured (a ``measurement=zz`` layer returns
``<Z_i Z_i+1>``: other values, one fewer), and OpenQASM and unrouted Qiskit exports of
an amplitude embedding failed with lines written for Python callers (``bind: ...``,
``to_qiskit: ...``). The truth is the trained network's own quantum layer, read by a
forward hook, against PennyLane running the exported file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from quarch._errors import QuarchError
from quarch.config import SearchConfig
from quarch.finalize import export_trial
from quarch.study import Run, run_search

from ._scope import per_module


@pytest.fixture(scope=per_module)
def amp_zz_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """One trained ``hqnn`` trial with an amplitude embedding and ``ZZ`` measurement."""
    out = tmp_path_factory.mktemp("open") / "run"
    cfg = SearchConfig(
        space="hqnn", dataset="iris", strategy="random", trials=1, epochs=1, seed=0,
        out=str(out),
        space_options={"max_qubits": 2, "max_layers": 1, "embeddings": ["amplitude"],
                       "measurements": ["zz"]},
    )  # fmt: skip
    res = run_search(cfg, progress=False)
    (t,) = res.complete
    return out, t


def _layer_io(out: Path, t: Any) -> tuple[np.ndarray, np.ndarray]:
    """What the trained network's quantum layer reads and returns on test sample 0."""
    from quarch.quantum import QuantumLayer

    run = Run.open(out)
    ev: Any = run.evaluator(standalone=True)
    model = ev.build(t.params, seed=t.seed)
    state = run.saved_weights(t.seed)
    assert state is not None
    model.load_state_dict(state)
    model.eval()
    (layer,) = [m for m in model.modules() if isinstance(m, QuantumLayer)]
    seen: dict[str, torch.Tensor] = {}
    layer.register_forward_hook(lambda m, a, o: seen.update(x=a[0], y=o))
    with torch.no_grad():
        model(torch.as_tensor(ev.data.X_test[:1], dtype=torch.float32))
    return seen["x"][0].double().numpy(), seen["y"][0].double().numpy()


def test_pennylane_file_returns_what_the_quantum_layer_returns(
    amp_zz_run: tuple[Path, Any], tmp_path: Path
) -> None:
    pytest.importorskip("pennylane")
    out, t = amp_zz_run
    x, want = _layer_io(out, t)
    pl = export_trial(out, t.number, "pennylane", tmp_path / "c.py")
    ns: dict[str, Any] = {}
    exec(compile(pl.path.read_text(), str(pl.path), "exec"), ns)
    got = np.asarray(ns["expvals"](x), dtype=float)
    assert got.shape == want.shape
    assert np.allclose(got, want, atol=1e-5)


@pytest.mark.parametrize(
    ("fmt", "suffix"), [("qasm", ".qasm"), ("qasm3", ".qasm3"), ("qiskit", ".qpy")]
)
def test_amplitude_trial_circuit_export_works_or_says_why(
    amp_zz_run: tuple[Path, Any], tmp_path: Path, fmt: str, suffix: str
) -> None:
    pytest.importorskip("qiskit")
    out, t = amp_zz_run
    assert t.params["embedding"] == "amplitude"
    try:
        res = export_trial(out, t.number, fmt, tmp_path / f"c{suffix}")
    except QuarchError as e:
        msg = str(e)
        assert "amplitude" in msg and "pennylane" in msg, msg
        assert not msg.startswith(("bind:", "to_qiskit:")), msg
    else:
        assert res.path.stat().st_size > 0
