"""Every tensor the simulator makes follows its inputs to their device, checked without a GPU.

Why: quarch must run on CUDA as written, but CI and this machine have no GPU, and the
CUDA tests (``test_cuda.py``) skip here; a table built on the host and left there (a
missing ``device=``) is the typical way device-generic torch breaks on a GPU, and it
would go unnoticed until a user with one runs it. Under torch's ``FakeTensorMode``
tensors carry a device and a shape but no data, and every operator checks its
arguments' devices as it would on CUDA (a 0-dim host scalar allowed, anything else
raises ``FakeTensorDeviceMismatchError``). The ``meta`` device plays the GPU here (a
fake CUDA tensor aborts autograd in a CPU-only build of torch). So these tests run
forward and backward of every path on fake ``meta`` tensors: the plan, its tables (the
dense variant's and its trigonometric forms, built on the host from host copies), the
node, its hand-written backward, the replays, the block engine, the noisy simulations
(density matrices, a circuit folded for ZNE, trajectories), QAOA's diagonal phase,
arguments given as host arrays beside a device tensor, and the hybrid networks of the
``hqnn`` space and their classical controls with an optimiser step. ``FakeTensorMode``
is torch's own (``torch._subclasses``, what ``torch.compile`` traces with); a torch
release that moves it breaks this file, not quarch.

What they cannot check: values (the fake tensors have none: ``test_cuda.py`` on a GPU
compares them with the CPU's), the CUDA-only branches (graphs, the cost model's CUDA
column), and code that reads data on purpose: the replays' agreement check (patched
here to agree, so the replays' own calls still run) and the amplitude embedding's
zero-norm check (its networks are left out of the hybrid test; its circuits run here
without normalisation). Each circuit is run once on the host first: the plan's program
is built there with torch on the host, once per circuit, whatever the device.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorDeviceMismatchError, FakeTensorMode

from quarch.quantum import (
    AmplitudeEmbedding,
    AngleEmbedding,
    Circuit,
    EntanglingLayer,
    Input,
    QuantumLayer,
    RotationLayer,
    _dense_fourier,
    _replay,
    compile_circuit,
)
from quarch.quantum._small_dense import DenseTables

from ._random import all_gates_circuit, dense_form_circuit, random_circuit, reuploading_circuit

DEV = "meta"
#: one mode for the module: the engine caches device constants across plans, and a
#: fake tensor of one mode cannot meet another's (host tensors enter it as fake host
#: tensors, so a host tensor meeting a device one still raises)
MODE = FakeTensorMode(allow_non_fake_inputs=True)


@pytest.fixture(autouse=True)
def _replays_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """The replays' agreement check compares values; a fake tensor has none."""
    monkeypatch.setattr(_replay, "agree", lambda a, b: True)


def _words(n: int) -> list[str]:
    words = [f"Z{i}" for i in range(n)] + [f"X{i}" for i in range(n)]
    return words + ([f"Z0 Y{n - 1}"] if n > 1 else [])


def _run(c: Circuit, batch: int, path: str, dtype: torch.dtype, words: list[str]) -> object:
    """Forward+backward calls of ``c`` on the fake device after one on the host (on
    the small path three, the third a replay); returns the plan."""
    real = torch.float64 if dtype == torch.complex128 else torch.float32
    n_in = max(c.n_inputs, 1)
    plan = compile_circuit(c, dtype=dtype, path=path)
    host_w = torch.zeros(c.n_weights, dtype=real, requires_grad=True)
    host_x = torch.zeros(batch, n_in, dtype=real, requires_grad=True)
    out = plan.expval(words, host_x if c.n_inputs else None, host_w)
    if out.requires_grad:
        out.sum().backward()
    with MODE:
        for _ in range(3 if path == "small" else 1):
            w = torch.zeros(c.n_weights, dtype=real, device=DEV, requires_grad=True)
            x = torch.zeros(batch, n_in, dtype=real, device=DEV, requires_grad=True)
            out = plan.expval(words, x if c.n_inputs else None, w)
            assert out.device.type == DEV
            if out.requires_grad:
                (out * torch.arange(out.shape[-1], device=DEV, dtype=real)).sum().backward()
                for t in (w, x):
                    assert t.grad is None or t.grad.device.type == DEV
    return plan


def test_a_host_tensor_is_caught() -> None:
    """The check itself: a host tensor meeting a device tensor raises."""
    with MODE, pytest.raises(FakeTensorDeviceMismatchError):
        torch.zeros(2, 2, device=DEV) @ torch.zeros(2, 2)


@pytest.mark.parametrize(
    ("path", "batch", "dtype"),
    [
        ("small", 1, torch.complex64),  # the one-row program
        ("small", 3, torch.complex64),  # a few rows
        ("small", 128, torch.complex64),  # folded
        ("small", 128, torch.complex128),
        ("engine", 1, torch.complex64),
        ("engine", 128, torch.complex128),
    ],
    ids=str,
)
def test_random_circuits(path: str, batch: int, dtype: torch.dtype) -> None:
    """One random circuit over every gate per width, 1-6 qubits."""
    rng = np.random.default_rng(batch)
    for n in range(1, 7):
        c = random_circuit(n, rng, n_ops=int(rng.integers(6, 24)))
        _run(c, batch, path, dtype, _words(n))


@pytest.mark.parametrize("path", ["small", "engine"])
def test_every_gate(path: str) -> None:
    for n in (3, 5):
        _run(all_gates_circuit(n), 70, path, torch.complex64, _words(n))


def _tables(plan: object) -> DenseTables | None:
    """The dense variant's tables of the plan's device run time, None if it did not
    take the variant."""
    rts = [rt for rt in plan._small.values() if rt.device.type == DEV]  # type: ignore[attr-defined]
    tabs = [rt.dense for rt in rts if isinstance(rt.dense, DenseTables)]
    assert len(tabs) <= 1
    return tabs[0] if tabs else None


_FORMS = {"fourier", "chains", "product", "gather", "real", "complex"}
_FORMS |= {"kron_phase", "row_phase", "row_index"}


def test_the_dense_variant_in_all_its_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    """Random circuits of the dense variant's form (1-4 qubits, every one-angle gate in
    the embedding, every gate after it) until every form has run on the device: the
    trigonometric ``U^T`` and the chains, the product-state polynomial and the gather,
    real and complex states, folded phases in the layers and in ``U^T``'s rows, rows of
    several slots; then the chains with the trigonometric form switched off."""
    seen: set[str] = set()
    rng = np.random.default_rng(3)
    for k in range(60):
        c = dense_form_circuit(1 + k % 4, rng)
        tab = _tables(_run(c, 64, "small", torch.complex64, [f"Z{i}" for i in range(c.n_qubits)]))
        if tab is None:
            continue
        seen |= {"fourier" if tab.fourier is not None else "chains"}
        seen |= {"product" if tab.product is not None else "gather"}
        seen |= {"real" if tab.real_state else "complex"}
        seen |= {"kron_phase"} if tab.kron_phase is not None else set()
        seen |= {"row_phase"} if tab.row_phase is not None else set()
        seen |= {"row_index"} if tab.row_index is not None else set()
        if seen == _FORMS:
            break
    assert seen == _FORMS
    monkeypatch.setattr(_dense_fourier, "FOURIER_WORK", 0)
    layer = Circuit(2).add(AngleEmbedding(2, rotation="Y"))
    layer.add(RotationLayer(2, ("Y", "Z"))).add(EntanglingLayer(2, "ring", "cz"))
    tab = _tables(_run(layer, 32, "small", torch.complex128, ["Z0", "Z1"]))
    assert tab is not None and tab.fourier is None


def test_the_dense_variant_from_a_start_state() -> None:
    """An amplitude embedding's real start state through the variant, random circuits
    until both the trigonometric form and the chains have run."""
    rng = np.random.default_rng(4)
    forms = set()
    for k in range(20):
        n = 1 + k % 3
        c = dense_form_circuit(n, rng, amplitude=True, normalize=False)
        tab = _tables(_run(c, 32, "small", torch.complex64, [f"Z{i}" for i in range(n)]))
        if tab is not None:
            assert tab.start
            forms.add("fourier" if tab.fourier is not None else "chains")
        if len(forms) == 2:
            break
    assert forms == {"fourier", "chains"}


def test_the_dense_variant_with_diagonals() -> None:
    """Trainable diagonals (random circuits until one has them) and a constant one (a
    CZ between two constant dense gates) in the segment."""
    rng = np.random.default_rng(5)
    for k in range(20):
        c = dense_form_circuit(2 + k % 3, rng, diagonals=True)
        tab = _tables(_run(c, 32, "small", torch.complex64, [f"Z{i}" for i in range(c.n_qubits)]))
        if tab is not None and tab.n_diag:
            break
    assert tab is not None and tab.n_diag
    c = Circuit(2).add(AngleEmbedding(2)).add(RotationLayer(2, ("Y",)))
    c.append("ch", [0, 1]).cz(0, 1).append("ch", [1, 0]).add(RotationLayer(2, ("Z", "Y")))
    tab = _tables(_run(c, 32, "small", torch.complex64, ["Z0", "Z1"]))
    assert tab is not None and "p" in [k for k, _ in tab.segment]


def test_the_dense_variant_with_per_sample_phases() -> None:
    """Per-sample phases after the product state (random circuits until both a phase
    state, e.g. IQP, and a product state times phases have run)."""
    rng = np.random.default_rng(6)
    forms = set()
    for k in range(30):
        c = dense_form_circuit(2 + k % 3, rng, phases=True)
        tab = _tables(_run(c, 32, "small", torch.complex64, [f"Z{i}" for i in range(c.n_qubits)]))
        if tab is not None and tab.phase is not None:
            forms.add("state" if tab.phase.pure else "product")
        if len(forms) == 2:
            break
    assert forms == {"state", "product"}


def test_the_dense_variant_re_uploading() -> None:
    """Re-uploading circuits (random ones until per-sample Kronecker layers, per-sample
    phases between segments and a second shared segment have all run)."""
    rng = np.random.default_rng(7)
    forms: set[str] = set()
    for k in range(30):
        c = reuploading_circuit(2 + k % 3, rng, 2 + k % 2)
        tab = _tables(_run(c, 32, "small", torch.complex64, [f"Z{i}" for i in range(c.n_qubits)]))
        if tab is not None and tab.reupload is not None:
            forms |= {what for what, _ in tab.reupload.items}
        if len(forms) == 3:
            break
    assert forms == {"k", "p", "s"}


def test_amplitude_embedding_without_normalisation() -> None:
    c = Circuit(3).add(AmplitudeEmbedding(8, pad_with=0.0, normalize=False))
    c.add(RotationLayer(3, ("Y", "Z"))).add(EntanglingLayer(3, "ring", "crz"))
    for path in ("small", "engine"):
        _run(c, 4, path, torch.complex64, ["Z0", "Z1", "Z2"])


@pytest.mark.parametrize("seed", range(8))
def test_hybrid_networks_train_on_the_device(seed: int) -> None:
    """A training step (front-end, circuit, head, cross-entropy, backward, Adam) of
    ``hqnn`` networks moved to the device, and of their classical controls of equal
    parameter count (odd seeds); the parameters and their gradients stay there."""
    from quarch.spaces.hqnn.model import HybridNet, classical_ablation
    from quarch.spaces.hqnn.space import FRONTENDS, hqnn_space

    space = hqnn_space(max_qubits=4, max_layers=3)
    arch = space.sample(seed)
    arch["frontend"] = FRONTENDS[seed % len(FRONTENDS)]  # each front-end twice
    if arch["embedding"] == "amplitude":  # its zero-norm check reads the data
        arch["embedding"] = "iqp"
    net = (classical_ablation if seed % 2 else HybridNet)(arch, (1, 8, 8), 3)
    net(torch.zeros(16, 1, 8, 8)).sum().backward()
    with MODE:
        model = net.to(DEV)
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        for _ in range(3):
            opt.zero_grad()
            x = torch.zeros(16, 1, 8, 8, device=DEV)
            y = torch.zeros(16, dtype=torch.long, device=DEV)
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
        assert loss.device.type == DEV
        for p in model.parameters():
            assert p.device.type == DEV and (p.grad is None or p.grad.device.type == DEV)


def test_a_quantum_layer_moved_to_the_device() -> None:
    c = Circuit(4).add(AngleEmbedding(4, rotation="X"))
    c.add(RotationLayer(4, ("Y", "Z"))).add(EntanglingLayer(4, "ring", "cnot"))
    layer = QuantumLayer(c, generator=torch.Generator().manual_seed(0))
    layer(torch.zeros(8, 4)).sum().backward()
    with MODE:
        moved = layer.to(DEV)
        out = moved(torch.zeros(8, 4, device=DEV))
        out.sum().backward()
        assert out.device.type == DEV
        assert all(p.grad is not None and p.grad.device.type == DEV for p in moved.parameters())


def test_host_arguments_follow_a_device_argument() -> None:
    """Arguments given as lists or arrays go to the device of the one given as a
    tensor: inputs beside device weights, weights and a start state beside device
    inputs, and a circuit without weights."""
    c = Circuit(2).add(AngleEmbedding(2, rotation="Y")).add(RotationLayer(2, ("Y",)))
    bare = Circuit(2).add(AngleEmbedding(2, rotation="X")).add(EntanglingLayer(2, "ring", "cz"))
    start = np.eye(4)[:1].tolist()
    for path in ("small", "engine"):
        for circuit in (c, bare):
            _run(circuit, 5, path, torch.complex64, ["Z0", "Z1"])  # plans built
        plan, plan_bare = (compile_circuit(k, path=path) for k in (c, bare))
        with MODE:
            w = torch.zeros(2, device=DEV)
            x = torch.zeros(5, 2, device=DEV)
            # host arrays and lists on purpose (what this test checks): expval takes
            # them, though its signature in src says Tensor
            outs = [
                plan.expval(["Z0"], np.zeros((5, 2)), w),  # type: ignore[arg-type]
                plan.expval(["Z0"], x, [0.1, 0.2]),
                plan.expval(["Z0"], x, np.zeros(2), initial_state=start),  # type: ignore[arg-type]
                plan_bare.expval(["Z0"], x),
            ]
            assert all(o.device.type == DEV for o in outs)


def test_noisy_simulations() -> None:
    """Noise-aware training runs these on the training device: the density matrices
    (of a :class:`NoisyCircuit` with every channel kind, a two-wire Pauli channel, an
    ECR gate and readout errors, and of a circuit with a noise model: expectations of
    every Pauli letter and probabilities), a circuit folded for zero-noise
    extrapolation, the trajectories with their gradients, and inputs or weights given
    as host arrays beside a device tensor."""
    from quarch.quantum import NoiseModel, noisy_expval, noisy_probs
    from quarch.quantum.circuit import Op
    from quarch.quantum.noisy_circuit import NoisyCircuit, PauliNoise, noisy_circuit_expval
    from quarch.quantum.trajectories import trajectory_expval

    c = Circuit(3).add(AngleEmbedding(3, rotation="Y")).add(RotationLayer(3, ("Y", "Z")))
    c.add(EntanglingLayer(3, "ring", "crz"))
    model = NoiseModel(
        {"cnot": ("depolarizing", 0.05), "ry": ("amplitude_damping", 0.02)},
        readout_error=0.03,
    )
    model_rz = NoiseModel(
        {"rz": ("phase_damping", 0.02), "cz": ("bit_flip", 0.01)}, readout_error=0.02
    )
    native = Circuit(3)  # gates that fold (their native inverses are known)
    for q in range(3):
        native.h(q).rz(q, Input(q)).sx(q).rz(q, native.new_weight())
    native.add(EntanglingLayer(3, "ring", "cz"))
    base = NoisyCircuit.from_circuit(c, model)
    extra = (Op("ecr", (0, 1)), PauliNoise.depolarizing((0, 1), 0.02))
    nc = NoisyCircuit(3, base.steps + extra, base.readout, base.n_weights, base.n_inputs)
    ncz = NoisyCircuit.from_circuit(native, model_rz)
    words = ["Z0", "Z1 Z2"]
    x_host, w_host = np.zeros((4, 3)), [0.0] * c.n_weights
    runs = [
        lambda x, w: noisy_circuit_expval(nc, words, inputs=x, weights=w),
        # a host array on purpose: the function takes it, though its signature says Tensor
        lambda x, w: noisy_circuit_expval(nc, words, inputs=x_host, weights=w),  # type: ignore[arg-type]
        lambda x, w: noisy_circuit_expval(nc, words, inputs=x, weights=w_host) + w.sum(),
        lambda x, w: noisy_circuit_expval(ncz.folded(3), words, inputs=x, weights=w[:3]),
        lambda x, w: noisy_expval(
            native, ["Z0", "X1", "Y2"], inputs=x, weights=w[:3], noise_model=model_rz
        ),
        lambda x, w: noisy_probs(native, inputs=x, weights=w[:3], noise_model=model_rz),
        lambda x, w: (
            trajectory_expval(
                nc, words, inputs=x, weights=w, trajectories=16, max_trajectories=16, grad=True
            ).mean
        ),
    ]
    for run in runs:
        w = torch.zeros(c.n_weights, requires_grad=True)
        run(torch.zeros(4, 3), w).sum().backward()  # on the host first
        with MODE:
            w = torch.zeros(c.n_weights, device=DEV, requires_grad=True)
            out = run(torch.zeros(4, 3, device=DEV), w)
            out.sum().backward()
            assert out.device.type == DEV and w.grad is not None and w.grad.device.type == DEV


def test_gate_matrices_and_diagonal_phases() -> None:
    """A gate's matrix goes to the device asked for; QAOA's diagonal phase takes its
    cost vector and angles from the host to the state's device."""
    from quarch.quantum.gates import gate_matrix
    from quarch.quantum.measurements import apply_diagonal

    with MODE:
        assert gate_matrix("rx", torch.tensor([0.3]), device=DEV).device.type == DEV
        # angles already on the device, no device named: the matrix stays with them
        assert gate_matrix("crz", torch.tensor([0.3], device=DEV)).device.type == DEV
        assert gate_matrix("cnot", device=DEV).device.type == DEV
        state = torch.zeros(3, 8, dtype=torch.complex64, device=DEV)
        # host values on purpose (what this test checks); the signature in src says Tensor
        out = apply_diagonal(state, np.arange(8.0), [0.1, 0.2, 0.3])  # type: ignore[arg-type]
        assert out.device.type == DEV
