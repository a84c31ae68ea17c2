"""quarch on a CUDA device against quarch on the CPU in complex128.

The CPU results are held to PennyLane and Qiskit by the other tests in this folder; these
tests close the loop for the device: the same kernels must give the same numbers where
torch runs them on a GPU. They cover both simulator paths on random circuits over every
gate (1-6 qubits, and the block engine to 10), the batch sizes where the small path
changes strategy (one row, a few rows, folded), complex64 and complex128, the layer as
an ``nn.Module`` in a training step, and whole searches (``--device cuda``) of the
hybrid and the CNN space.

CI has no GPU, so here they skip; on a CUDA machine run
``pytest tests/quantum/test_cuda.py`` (``benchmarks/cuda.sh`` does, with the simulator
benchmark on the device). ``QUARCH_TEST_DEVICE`` names another device (``cuda:1``; or
``cpu``, which runs the tests' own code where no GPU is).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from quarch.quantum import (
    AmplitudeEmbedding,
    AngleEmbedding,
    Circuit,
    EntanglingLayer,
    QuantumLayer,
    RotationLayer,
    compile_circuit,
)
from quarch.quantum._small_cost import FOLD_ROWS

from ._random import all_gates_circuit, random_circuit

DEV = os.environ.get("QUARCH_TEST_DEVICE", "cuda")
pytestmark = pytest.mark.skipif(
    DEV.startswith("cuda") and not torch.cuda.is_available(), reason="needs a CUDA device"
)

#: complex64 on the device against complex128 on the CPU: float32 rounding over a few
#: dozen gates, atol per unit of the largest reference value (the float64 comparisons
#: use torch's defaults, ~1e-7)
F32 = {"rtol": 1e-4, "atol": 2e-5}


def _words(n: int) -> list[str]:
    words = [f"Z{i}" for i in range(n)] + [f"X{i}" for i in range(n)]
    return words + ([f"Z0 Y{n - 1}"] if n > 1 else [])


def _compare(c: Circuit, batch: int, path: str, dtype: torch.dtype, seed: int) -> None:
    """Values and gradients of a weighted sum of expectations, device against CPU."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(-3, 3, c.n_weights)
    x = rng.uniform(-3, 3, (batch, max(c.n_inputs, 1)))
    words = _words(c.n_qubits)
    scale = torch.arange(1, len(words) + 1, dtype=torch.float64)

    def run(device: str, dt: torch.dtype) -> tuple[torch.Tensor, ...]:
        real = torch.float64 if dt == torch.complex128 else torch.float32
        wt = torch.tensor(w, dtype=real, device=device, requires_grad=True)
        xt = torch.tensor(x, dtype=real, device=device, requires_grad=True)
        plan = compile_circuit(c, dtype=dt, path=path)
        assert plan.path == path
        out = plan.expval(words, xt if c.n_inputs else None, wt).expand(batch, -1)
        assert out.device.type == torch.device(device).type
        if out.requires_grad:  # a random circuit may have neither weights nor inputs
            (out * scale.to(device, real)).sum().backward()
        grads = [t.grad if t.grad is not None else torch.zeros_like(t) for t in (wt, xt)]
        return tuple(t.detach().cpu().double() for t in (out, *grads))

    ref = run("cpu", torch.complex128)
    got = run(DEV, dtype)
    for name, a, b in zip(("values", "d/dw", "d/dx"), got, ref, strict=True):
        # float32 rounding grows with the size of what was summed: a gradient summed
        # over 128 rows and 13 words is ~1e3, so its atol scales with it
        tol: dict[str, Any] = {} if dtype == torch.complex128 else dict(F32)
        if tol and b.numel():
            tol["atol"] *= max(1.0, b.abs().max().item())

        def msg(m: str, name: str = name) -> str:
            return f"{name}: {m}"

        torch.testing.assert_close(a, b, **tol, msg=msg)


@pytest.mark.parametrize("dtype", [torch.complex128, torch.complex64], ids=["c128", "c64"])
@pytest.mark.parametrize("batch", [1, 3, max(FOLD_ROWS, 2**7)])
@pytest.mark.parametrize("path", ["small", "engine"])
@pytest.mark.parametrize("n", range(1, 7))
def test_random_circuits(n: int, path: str, batch: int, dtype: torch.dtype) -> None:
    rng = np.random.default_rng(10 * n + batch)
    for k in range(3):
        c = random_circuit(n, rng, n_ops=int(rng.integers(6, 24)))
        _compare(c, batch, path, dtype, seed=k)


@pytest.mark.parametrize("path", ["small", "engine"])
@pytest.mark.parametrize("batch", [1, 70])
def test_every_gate(path: str, batch: int) -> None:
    for n in (3, 5):
        _compare(all_gates_circuit(n), batch, path, torch.complex128, seed=n)


@pytest.mark.parametrize("n", [8, 10])
def test_block_engine_wide(n: int) -> None:
    rng = np.random.default_rng(n)
    _compare(random_circuit(n, rng, n_ops=40), 5, "engine", torch.complex128, seed=n)
    _compare(random_circuit(n, rng, n_ops=40), 5, "engine", torch.complex64, seed=n + 1)


@pytest.mark.parametrize("batch", [1, 4])
def test_amplitude_embedding(batch: int) -> None:
    c = Circuit(3).add(AmplitudeEmbedding(8, pad_with=0.0, normalize=True))
    c.add(RotationLayer(3, ("Y", "Z"))).add(EntanglingLayer(3, "ring", "crz"))
    rng = np.random.default_rng(batch)
    w = torch.tensor(rng.uniform(-3, 3, c.n_weights))
    x = torch.tensor(rng.uniform(-1, 1, (batch, 8)))
    for path in ("small", "engine"):
        plan = compile_circuit(c, dtype=torch.complex128, path=path)
        ref = plan.expval(["Z0", "Z1", "Z2"], x, w)
        got = plan.expval(["Z0", "Z1", "Z2"], x.to(DEV), w.to(DEV))
        torch.testing.assert_close(got.cpu(), ref)


def test_layer_trains_like_on_the_cpu() -> None:
    """Ten Adam steps of a layer and a linear head: the same losses on both devices
    (float64), and the parameters stay on the device."""
    c = Circuit(4).add(AngleEmbedding(4, rotation="Y"))
    for _ in range(2):
        c.add(RotationLayer(4, ("Y", "Z"))).add(EntanglingLayer(4, "ring", "cnot"))
    x = torch.rand(32, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    y = torch.randint(0, 3, (32,), generator=torch.Generator().manual_seed(1))

    def losses(device: str) -> list[float]:
        torch.manual_seed(0)
        layer = QuantumLayer(c, dtype=torch.complex128, generator=torch.Generator().manual_seed(2))
        model = torch.nn.Sequential(layer, torch.nn.Linear(4, 3, dtype=torch.float64)).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=0.05)
        out = []
        for _ in range(10):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x.to(device)), y.to(device))
            loss.backward()
            opt.step()
            out.append(loss.item())
        assert all(p.device.type == torch.device(device).type for p in model.parameters())
        return out

    np.testing.assert_allclose(losses(DEV), losses("cpu"), rtol=1e-9)


@pytest.mark.parametrize(
    ("space", "dataset", "options"),
    [
        ("hqnn", "iris", {"max_qubits": 4, "max_layers": 2}),
        ("cnn", "digits", {}),
    ],
)
def test_search_on_cuda(tmp_path: Path, space: str, dataset: str, options: dict) -> None:
    """A whole search with ``device="cuda"`` runs, and every trial's architecture and
    accuracy match the CPU run's (random strategy, same seed): float32 on another
    device may move a prediction across a class boundary, so accuracies may differ by
    a few validation samples, not more."""
    from quarch.config import SearchConfig
    from quarch.study import run_search

    def search(device: str, name: str) -> list:
        cfg = SearchConfig(
            space=space, dataset=dataset, strategy="random", trials=3, epochs=2, seed=4,
            out=str(tmp_path / name), device=device, space_options=options,
        )  # fmt: skip
        return run_search(cfg, progress=False).trials

    cpu, cuda = search("cpu", "ref"), search(DEV, "dev")
    assert [t.params for t in cuda] == [t.params for t in cpu]
    for a, b in zip(cuda, cpu, strict=True):
        assert a.state == b.state == "COMPLETE"
        assert a.metrics["params"] == b.metrics["params"]
        assert a.metrics["val_accuracy"] == pytest.approx(b.metrics["val_accuracy"], abs=0.1)


@pytest.mark.parametrize("batch", [1, 32])
def test_replays_on_the_device(batch: int) -> None:
    """From the third call of a shape the small path runs a replay of its recorded torch
    calls (``quantum/_replay.py``): on the device too it must give the node's numbers."""
    from quarch.quantum import _replay

    c = Circuit(4).add(AngleEmbedding(4, rotation="Y"))
    for _ in range(2):
        c.add(RotationLayer(4, ("Y", "Z"))).add(EntanglingLayer(4, "ring", "cnot"))
    plan = compile_circuit(c, path="small")
    rng = np.random.default_rng(batch)
    before = _replay.REPLAY
    try:
        for _ in range(5):
            w = torch.tensor(rng.uniform(-3, 3, c.n_weights), dtype=torch.float32, device=DEV)
            x = torch.tensor(rng.uniform(-3, 3, (batch, 4)), dtype=torch.float32, device=DEV)
            got = []
            for on in (True, False):
                _replay.REPLAY = on
                wt, xt = w.clone().requires_grad_(True), x.clone().requires_grad_(True)
                out = plan.expval([f"Z{i}" for i in range(4)], xt, wt)
                out.sum().backward()
                got.append((out.detach(), wt.grad, xt.grad))
            for a, b in zip(*got, strict=True):
                torch.testing.assert_close(a, b)
    finally:
        _replay.REPLAY = before
    entries = [e for rt in plan._small.values() for e in rt.replays.entries.values()]
    assert any(isinstance(e, _replay.Replay) and e.verified for e in entries)
