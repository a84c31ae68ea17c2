"""The noisy simulations take what the plan takes: ``[*, k]`` inputs and per-sample
weights broadcast as torch broadcasts (``tests/quantum/test_plan_broadcast_truth.py``
for the plan), each row of the flattened batch equal to PennyLane's ``default.mixed``
(depolarising and amplitude damping channels; readout error as a flip of each measured
bit in its measurement basis, written with PennyLane's own channels, since its
``readout_prob`` fails in 0.45); values and gradients. The shape refusals are the plan's
lines word for word, the same at every rank, and the memory check counts every row.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from quarch._errors import SimulationError
from quarch.quantum import Circuit, Input, QuantumLayer, Weight, to_pennylane
from quarch.quantum.circuit import Op
from quarch.quantum.noise import (
    NoiseError,
    NoiseModel,
    density_matrix,
    noisy_expval,
    noisy_probs,
)
from quarch.quantum.noisy_circuit import (
    NoisyCircuit,
    PauliNoise,
    Relaxation,
    noisy_circuit_expval,
    noisy_density_matrix,
)
from quarch.quantum.simulator import compile_circuit
from quarch.quantum.trajectories import trajectory_expval

qml = pytest.importorskip("pennylane")

LEAD, ROWS = (2, 3), 6
DEPOL = NoiseModel({"1q": ("depolarizing", 0.07), "2q": ("depolarizing", 0.03)}, readout_error=0.04)
DAMP = NoiseModel(
    {"1q": ("amplitude_damping", 0.1), "cnot": ("amplitude_damping", 0.05)}, readout_error=0.02
)
TOL = {torch.complex128: 1e-10, torch.complex64: 2e-5, torch.float64: 1e-10, torch.float32: 2e-5}


def _circuit(n: int) -> Circuit:
    """Real gates only (so the real dtypes run it too), two inputs, two weights."""
    c = Circuit(n).h(0)
    for q in range(max(n, 2)):  # one wire reads both inputs
        c.ry(q % n, Input(q % 2))
    for q in range(n - 1):
        c.cnot(q, q + 1)
    return c.ry(0, Weight(0)).ry(n - 1, Weight(1))


def _args(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``[2, 3, 2]`` and per-sample weights ``[3, 2]`` (broadcast to ``[2, 3]``)."""
    rng = np.random.default_rng(seed)
    x = torch.tensor(rng.uniform(-2, 2, (*LEAD, 2)))
    w = torch.tensor(rng.uniform(-2, 2, (LEAD[1], 2)))
    return x, w


def _rows(x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The flattened batch: row ``r`` of the inputs with its own weights."""
    return x.reshape(ROWS, 2), w.expand(*LEAD, 2).reshape(ROWS, 2)


def _qnode(n: int, measure: Callable[[], object], flips: Callable[[], None] | None = None) -> Any:
    """A ``default.mixed`` QNode (torch, backprop) of ``_circuit(n)`` with ``model``'s
    channels (set on the returned function's ``model``), then ``flips``, then ``measure``."""
    dev = qml.device("default.mixed", wires=n)

    def run(model: NoiseModel, w: torch.Tensor, x: torch.Tensor) -> object:
        to_pennylane(model.apply(_circuit(n)))(w, x)
        if flips is not None:
            flips()
        return measure()

    return qml.qnode(dev, interface="torch", diff_method="backprop")(run)


def _truth_rho(n: int, model: NoiseModel, x: torch.Tensor, w: torch.Tensor) -> np.ndarray:
    node = _qnode(n, lambda: qml.density_matrix(wires=range(n)))
    xr, wr = _rows(x, w)
    return np.stack([np.asarray(node(model, wr[r], xr[r])) for r in range(ROWS)])


def _readout_flips(n: int, p: float, word: dict[int, str]) -> Callable[[], None]:
    """A readout error in each measured wire's basis: a bit flip before a Z measurement,
    a phase flip (which anticommutes with X and Y) before an X or Y measurement."""

    def flips() -> None:
        for q, letter in word.items():
            (qml.BitFlip if letter == "Z" else qml.PhaseFlip)(p, wires=q)

    return flips


_LETTER = {"X": qml.PauliX, "Y": qml.PauliY, "Z": qml.PauliZ}


def _words(n: int) -> list[dict[int, str]]:
    words = [{0: "Z"}, {n - 1: "X"}]
    return [*words, {0: "Z", n - 1: "Y"}] if n > 1 else words


def _text(word: dict[int, str]) -> str:
    return " ".join(f"{letter}{q}" for q, letter in sorted(word.items()))


def _truth_expval(
    n: int, model: NoiseModel, x: torch.Tensor, w: torch.Tensor, words: list[dict[int, str]]
) -> torch.Tensor:
    """``[rows, n_words]`` on autograd's graph (x and w may require grad)."""
    xr, wr = _rows(x, w)
    cols = []
    for word in words:

        def measure(word: dict[int, str] = word) -> object:
            return qml.expval(qml.prod(*(_LETTER[a](q) for q, a in word.items())))

        node = _qnode(n, measure, _readout_flips(n, model.readout_error, word))
        cols.append(torch.stack([torch.as_tensor(node(model, wr[r], xr[r])) for r in range(ROWS)]))
    return torch.stack(cols, -1)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("model", [DEPOL, DAMP], ids=["depolarizing", "amplitude_damping"])
def test_density_matrices_of_leading_dims_are_default_mixed_per_row(
    n: int, model: NoiseModel
) -> None:
    x, w = _args(n)
    want = _truth_rho(n, model, x, w)
    for dtype in (torch.complex128, torch.complex64):
        rho = density_matrix(_circuit(n), inputs=x, weights=w, noise_model=model, dtype=dtype)
        assert rho.shape == (*LEAD, 2**n, 2**n) and rho.dtype == dtype
        np.testing.assert_allclose(rho.reshape(ROWS, 2**n, 2**n).numpy(), want, atol=TOL[dtype])
    real = [torch.float64, torch.float32] if model is DAMP else []  # no Y in it: real
    for dtype in [torch.complex128, torch.complex64, *real]:
        nc = NoisyCircuit.from_circuit(_circuit(n), model)
        rho = noisy_density_matrix(nc, inputs=x, weights=w, dtype=dtype)
        assert rho.shape == (*LEAD, 2**n, 2**n) and rho.dtype == dtype
        np.testing.assert_allclose(rho.reshape(ROWS, 2**n, 2**n).numpy(), want, atol=TOL[dtype])


@pytest.mark.parametrize("n", [1, 3])
def test_probabilities_with_readout_are_default_mixed_per_row(n: int) -> None:
    x, w = _args(10 + n)
    node = _qnode(
        n, lambda: qml.probs(wires=range(n)), _readout_flips(n, 0.04, dict.fromkeys(range(n), "Z"))
    )
    xr, wr = _rows(x, w)
    want = np.stack([np.asarray(node(DEPOL, wr[r], xr[r])) for r in range(ROWS)])
    got = noisy_probs(_circuit(n), inputs=x, weights=w, noise_model=DEPOL)
    assert got.shape == (*LEAD, 2**n)
    np.testing.assert_allclose(got.reshape(ROWS, -1).numpy(), want, atol=1e-10)


@pytest.mark.parametrize("n", [1, 2, 4])
@pytest.mark.parametrize("model", [DEPOL, DAMP], ids=["depolarizing", "amplitude_damping"])
def test_expectations_and_gradients_of_leading_dims_are_default_mixed(
    n: int, model: NoiseModel
) -> None:
    """Values ``[2, 3, n_obs]`` and the gradients of a weighted sum with respect to the
    inputs ``[2, 3, 2]`` and the per-sample weights ``[3, 2]`` (each weight row serving
    two input rows: its gradient is theirs summed)."""
    x0, w0 = _args(20 + n)
    words = _words(n)
    x, w = x0.clone().requires_grad_(), w0.clone().requires_grad_()
    want = _truth_expval(n, model, x, w, words)
    scale = torch.arange(1, len(words) + 1, dtype=torch.float64)
    (want * scale).sum().backward()
    gx, gw = x.grad, w.grad
    for run in ("noisy_expval", "noisy_circuit_expval"):
        x, w = x0.clone().requires_grad_(), w0.clone().requires_grad_()
        if run == "noisy_expval":
            got = noisy_expval(
                _circuit(n), [_text(t) for t in words], inputs=x, weights=w, noise_model=model
            )
            cols = list(range(len(words)))
        else:  # Z words only (device readout is in the Z basis)
            cols = [i for i, t in enumerate(words) if set(t.values()) == {"Z"}]
            nc = NoisyCircuit.from_circuit(_circuit(n), model)
            got = noisy_circuit_expval(nc, [_text(words[i]) for i in cols], inputs=x, weights=w)
        assert got.shape == (*LEAD, len(cols))
        ref = want[:, cols].detach().numpy()
        np.testing.assert_allclose(got.detach().reshape(ROWS, -1).numpy(), ref, atol=1e-10)
        (got * scale[cols]).sum().backward()
        if run == "noisy_expval":
            assert x.grad is not None and w.grad is not None and gx is not None and gw is not None
            np.testing.assert_allclose(x.grad.numpy(), gx.numpy(), atol=1e-9)
            np.testing.assert_allclose(w.grad.numpy(), gw.numpy(), atol=1e-9)


@pytest.mark.parametrize("dtype", [torch.complex128, torch.float64])
def test_trajectories_of_leading_dims_are_the_rows_and_default_mixed(dtype: torch.dtype) -> None:
    """``[2, 3, n_obs]`` means and standard errors, equal to the flattened rows' (the
    same seed draws the same patterns for the batch), each row within 5 standard errors
    of ``default.mixed``."""
    n, model = 2, DAMP if dtype == torch.float64 else DEPOL
    x, w = _args(30)
    nc = NoisyCircuit.from_circuit(_circuit(n), model)
    kw: dict[str, Any] = {"target_se": 0.0, "trajectories": 256, "max_trajectories": 256, "seed": 3}
    got = trajectory_expval(nc, ["Z0", "Z1", "Z0 Z1"], inputs=x, weights=w, dtype=dtype, **kw)
    assert got.mean.shape == got.stderr.shape == (*LEAD, 3)
    xr, wr = _rows(x, w)
    rows = trajectory_expval(nc, ["Z0", "Z1", "Z0 Z1"], inputs=xr, weights=wr, dtype=dtype, **kw)
    torch.testing.assert_close(got.mean.reshape(ROWS, 3), rows.mean)
    torch.testing.assert_close(got.stderr.reshape(ROWS, 3), rows.stderr)
    want = _truth_expval(n, model, x, w, [{0: "Z"}, {1: "Z"}, {0: "Z", 1: "Z"}]).numpy()
    err = np.abs(got.mean.reshape(ROWS, 3).numpy() - want)
    assert (err <= 5 * got.stderr.reshape(ROWS, 3).numpy() + 1e-12).all(), err


def test_the_memory_check_counts_every_row_of_leading_dims() -> None:
    """``[2, 50, 2]`` is 100 rows: a limit that 60 rows fit refuses it (sized from
    ``shape[0]``, it was two rows)."""
    n = 3
    c = _circuit(n)
    x, w = torch.zeros(2, 50, 2), torch.zeros(2)
    limit = 3 * 60 * 4**n * 16 / 2**30
    line = f"a density matrix of {n} qubits for a batch of 100 needs about"
    with pytest.raises(NoiseError, match=line):
        density_matrix(c, inputs=x, weights=w, max_memory_gb=limit)
    with pytest.raises(NoiseError, match=line):
        noisy_density_matrix(NoisyCircuit.from_circuit(c), inputs=x, weights=w, max_memory_gb=limit)
    assert density_matrix(c, inputs=x[:, :30], weights=w, max_memory_gb=limit).shape[:2] == (2, 30)


def _refusal(kind: type[Exception], fn: Callable[[], object], line: str) -> None:
    with pytest.raises(kind) as info:
        fn()
    assert type(info.value) is kind and str(info.value) == line


@pytest.mark.parametrize("shape", [(3,), (4, 3), (2, 2, 3)])
def test_inputs_of_the_wrong_width_are_one_line_at_every_rank(shape: tuple[int, ...]) -> None:
    """The plan, the layer, ``density_matrix`` and the noisy circuits say the same true
    line at ranks 1 to 3: the plan's said ``[batch, 2]`` of a rank-3 input it takes as
    ``[..., 2]``; the noisy circuits took any width (or failed deep inside)."""
    c = _circuit(2)
    x, w = torch.zeros(shape, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    line = f"inputs must have shape [batch, 2] or [..., 2]; got {shape}"
    plan = compile_circuit(c, dtype=torch.complex128)
    layer = QuantumLayer(c, ["Z0"], dtype=torch.complex128)
    nc = NoisyCircuit.from_circuit(c, DEPOL)
    _refusal(SimulationError, lambda: plan.state(x, w), line)
    _refusal(SimulationError, lambda: plan.expval(["Z0"], x, w), line)
    _refusal(SimulationError, lambda: layer(x), line)
    for entry in (density_matrix, noisy_probs):
        _refusal(SimulationError, lambda f=entry: f(c, inputs=x, weights=w), line)  # type: ignore[misc]
    _refusal(SimulationError, lambda: noisy_expval(c, ["Z0"], inputs=x, weights=w), line)
    _refusal(NoiseError, lambda: noisy_density_matrix(nc, inputs=x, weights=w), line)
    _refusal(NoiseError, lambda: noisy_circuit_expval(nc, ["Z0"], inputs=x, weights=w), line)
    _refusal(NoiseError, lambda: trajectory_expval(nc, ["Z0"], inputs=x, weights=w), line)


def test_weights_and_missing_inputs_of_noisy_circuits_are_the_plans_lines() -> None:
    """Per-sample weights that do not broadcast, weights of the wrong width and no
    inputs for a circuit that reads them: the plan's lines (the weights were flattened,
    "expected 2 weights; got 4"; no inputs failed on an ``assert``)."""
    c = _circuit(2)
    nc = NoisyCircuit.from_circuit(c, DAMP)
    x = torch.zeros(3, 2, dtype=torch.float64)
    cases = [
        ({"inputs": x, "weights": torch.zeros(2, 2)}, "per-sample weights have batch size 2 "
         "but inputs have batch size 3; they must agree"),
        ({"inputs": x, "weights": torch.zeros(3, 3)}, "weights must have shape [2], "
         "[batch, 2] or [..., 2]; got (3, 3)"),
        ({"weights": torch.zeros(2)}, "this circuit reads 2 input feature(s); pass inputs of "
         "shape [batch, 2]"),
    ]  # fmt: skip
    for kw, line in cases:
        _refusal(SimulationError, lambda kw=kw: density_matrix(c, **kw), line)  # type: ignore[misc]
        _refusal(NoiseError, lambda kw=kw: noisy_density_matrix(nc, **kw), line)  # type: ignore[misc]
        _refusal(NoiseError, lambda kw=kw: trajectory_expval(nc, **kw), line)  # type: ignore[misc]


def test_a_noisy_circuit_refuses_wires_it_lacks_and_readout_of_no_probabilities() -> None:
    """One :class:`NoiseError` line when the circuit is made: a step on wire 3 of two
    failed at run time (``ValueError: 3 is not in list``), a readout tuple of the wrong
    length in an ``IndexError``, a NaN or 1.5 readout probability ran as a number."""
    cases = [
        ((Op("x", (3,)),), (), "x: wire 3 is out of range; this circuit has wires 0..1"),
        ((PauliNoise((5,), (0.9, 0.1, 0.0, 0.0)),), (),
         "PauliNoise: wire 5 is out of range; this circuit has wires 0..1"),
        ((Relaxation(-1, 0.1, 0.5),), (),
         "Relaxation: wire -1 is out of range; this circuit has wires 0..1"),
        ((), ((0.1, 0.1),), "readout must be one (P(1|0), P(0|1)) per wire (2) or empty; got 1"),
        ((), ((math.nan, 0.1), (0.0, 0.0)),
         "readout[0] must be (P(1|0), P(0|1)), numbers in [0, 1]; got (nan, 0.1)"),
        ((), ((0.0, 0.0), (0.2, 1.5)),
         "readout[1] must be (P(1|0), P(0|1)), numbers in [0, 1]; got (0.2, 1.5)"),
    ]  # fmt: skip
    for steps, readout, line in cases:
        _refusal(NoiseError, lambda s=steps, r=readout: NoisyCircuit(2, s, r), line)  # type: ignore[misc]
    ok = NoisyCircuit(2, (Op("x", (1,)),), ((0.0, 1.0), (0.3, 0.2)))  # the bounds are probabilities
    assert noisy_circuit_expval(ok, ["Z1"]).shape == (1, 1)


def test_relaxation_times_that_are_no_times_are_one_line() -> None:
    """A NaN T1 gave no decay (``isfinite`` is false for it); negative times reached the
    check of ``gamma`` with a number the user never gave."""
    cases = [
        ((0.1, math.nan, 1.0), "relaxation t1 must be a number > 0 (inf for none); got nan"),
        ((0.1, 1.0, -2.0), "relaxation t2 must be a number > 0 (inf for none); got -2.0"),
        ((-0.1, 1.0, 1.0), "relaxation duration must be a number >= 0; got -0.1"),
        ((0.1, "1", 1.0), "relaxation t1 must be a number > 0 (inf for none); got '1'"),
        # a time of 0 is at the bound: refused for T1 and T2, taken for the duration
        ((0.1, 0.0, 1.0), "relaxation t1 must be a number > 0 (inf for none); got 0.0"),
        ((0.1, 1.0, 0), "relaxation t2 must be a number > 0 (inf for none); got 0"),
    ]
    for (d, t1, t2), line in cases:
        _refusal(NoiseError, lambda d=d, t1=t1, t2=t2: Relaxation.from_times(0, d, t1, t2), line)  # type: ignore[misc]
    free = Relaxation.from_times(0, 0.1, math.inf, math.inf)  # no relaxation at all
    assert (free.gamma, free.coherence) == (0.0, 1.0)
    assert Relaxation.from_times(0, 0.0, 1.0, 1.0).gamma == 0.0


def test_a_batch_of_no_rows_is_empty_and_backpropagates() -> None:
    """``[0, k]`` and ``[2, 0, k]`` inputs, which the plan takes, give empty answers on
    autograd's graph (the engines failed in a reshape of 0 elements)."""
    c = _circuit(2)
    nc = NoisyCircuit.from_circuit(c, DEPOL)
    w = torch.tensor([0.3, -0.2], dtype=torch.float64, requires_grad=True)
    for shape in [(0, 2), (2, 0, 2)]:
        x = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
        lead = shape[:-1]
        outs = [
            (density_matrix(c, inputs=x, weights=w, noise_model=DEPOL), (*lead, 4, 4)),
            (noisy_probs(c, inputs=x, weights=w, noise_model=DEPOL), (*lead, 4)),
            (noisy_expval(c, ["X0", "Z1"], inputs=x, weights=w, noise_model=DEPOL), (*lead, 2)),
            (noisy_density_matrix(nc, inputs=x, weights=w), (*lead, 4, 4)),
            (noisy_circuit_expval(nc, ["Z0", "Z1"], inputs=x, weights=w), (*lead, 2)),
        ]
        traj = trajectory_expval(nc, ["Z0", "Z1"], inputs=x, weights=w, grad=True)
        assert traj.stderr.shape == (*lead, 2) and traj.trajectories == 0
        # the channels' no-jump probability, whatever the batch: each Pauli channel's
        # probability of no error, multiplied
        no_jump = math.prod(s.probs[0] for s in nc.steps if isinstance(s, PauliNoise))
        assert traj.no_jump_probability == pytest.approx(no_jump, rel=1e-12) and no_jump < 1
        outs.append((traj.mean, (*lead, 2)))
        for out, want in outs:
            assert out.shape == want
            w.grad = x.grad = None
            out.abs().sum().backward()
            assert w.grad is not None and not w.grad.any()
            assert x.grad is not None and x.grad.shape == shape


def test_x_and_y_words_of_a_noisy_circuit_say_why_without_readout_error_too() -> None:
    """A noisy circuit without readout error refused an X word "with a device readout
    error", a reason it did not have; the line says why and what to do."""
    nc = NoisyCircuit(2, (Op("x", (0,)),))
    line = (
        "only Z words can be read out with a device readout error (a NoisyCircuit's "
        "expectations, with or without one, come from its basis-state probabilities); got "
        "Y0 Z1: rotate its basis with gates first (h for X, sdg then h for Y)"
    )
    _refusal(NoiseError, lambda: noisy_circuit_expval(nc, ["Y0 Z1"]), line)
    _refusal(NoiseError, lambda: trajectory_expval(nc, ["Y0 Z1"]), line)
    # what the line says to do reads <Y0 Z1> of RX(0.7)|0> x |0>: -sin(0.7)
    rotated = NoisyCircuit(2, (Op("rx", (0,), (0.7,)), Op("sdg", (0,)), Op("h", (0,))))
    got = float(noisy_circuit_expval(rotated, ["Z0 Z1"])[0, 0])
    assert got == pytest.approx(-math.sin(0.7), abs=1e-12)


@pytest.mark.parametrize("width", ["2", 0, 2.0, True])
def test_a_noisy_circuit_of_no_width_is_one_line(width: object) -> None:
    _refusal(
        NoiseError,
        lambda: NoisyCircuit(width, ()),  # type: ignore[arg-type]
        f"n_qubits must be an integer >= 1; got {width!r}",
    )


@pytest.mark.parametrize(
    ("name", "channel"),
    [("depolarizing", "DepolarizingChannel"), ("amplitude_damping", "AmplitudeDamping"),
     ("phase_damping", "PhaseDamping"), ("bit_flip", "BitFlip")],
)  # fmt: skip
def test_kraus_takes_the_dtypes_that_hold_it_and_refuses_the_rest(name: str, channel: str) -> None:
    """``kraus(name, p, dtype)`` against PennyLane's Kraus matrices in every dtype that
    can hold them; a real dtype for ``depolarizing`` (its Y term is imaginary) and a
    dtype that is none are one ``NoiseError`` line (torch's ``TypeError: must be real
    number, not complex`` before)."""
    import pennylane as qml

    from quarch.quantum.noise import NoiseError, kraus

    want = np.array(getattr(qml, channel)(0.3, wires=0).kraus_matrices())
    for dtype in (torch.complex64, torch.complex128, torch.float32, torch.float64):
        if name == "depolarizing" and not dtype.is_complex:
            with pytest.raises(NoiseError, match=r"^depolarizing has a complex Kraus operator"):
                kraus(name, 0.3, dtype=dtype)
            continue
        got = kraus(name, 0.3, dtype=dtype)
        assert got.dtype == dtype
        np.testing.assert_allclose(got.numpy(), want, atol=1e-6)
    for bad in (torch.int64, "complex64"):
        with pytest.raises(NoiseError, match=r"^dtype must be a torch complex or real dtype"):
            kraus(name, 0.3, dtype=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("dtype", [torch.complex128, torch.complex64])
def test_no_rows_of_three_qubits_keep_the_dtype_and_device_asked_for(dtype: torch.dtype) -> None:
    """``[0, k]`` inputs on three wires (where ``2 * n`` is not ``2**n``): density
    matrices ``[0, 8, 8]`` in the dtype asked for (a noise model's and a noisy circuit's), probabilities ``[0, 8]`` in its real
    dtype, both on the inputs' device (``meta``, torch's data-free device, plays a GPU)."""
    c = Circuit(3).h(0).ry(1, Input(0)).cnot(0, 2)
    for device in ("cpu", "meta"):
        x = torch.empty(0, 1, dtype=torch.float64, device=device)
        rho = density_matrix(c, inputs=x, noise_model=DEPOL, dtype=dtype)
        assert (rho.shape, rho.dtype, rho.device.type) == ((0, 8, 8), dtype, device)
        probs = noisy_probs(c, inputs=x, noise_model=DEPOL, dtype=dtype)
        assert (probs.shape, probs.dtype, probs.device.type) == ((0, 8), dtype.to_real(), device)
        nc = NoisyCircuit.from_circuit(c, DEPOL)
        got = noisy_density_matrix(nc, inputs=x, dtype=dtype)
        assert (got.shape, got.dtype, got.device.type) == ((0, 8, 8), dtype, device)
