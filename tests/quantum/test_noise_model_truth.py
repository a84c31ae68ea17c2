"""``quantum/noise.py`` (a NoiseModel of median rates on density matrices) against Qiskit.

The truth is ``qiskit.quantum_info.DensityMatrix`` evolved gate by gate with Qiskit's
gates and ``qiskit-aer``'s channels (``pauli_error`` for depolarizing and bit flip,
``amplitude_damping_error``, ``phase_damping_error``), the channels placed by hand where
the model says (after each gate, a gate's own name before ``1q``/``2q``), and the
readout error applied by brute force over all outcomes. The states are random enough
that X, Y and Z expectations are all non-zero. The mutation benchmark
(``benchmarks/mutation.py --module noise``) found where the model's rules, the options
passed through ``noisy_probs``/``noisy_expval`` and the refusals were unchecked.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from quarch.quantum import Circuit, Input, NoiseModel, noisy_expval, noisy_probs, to_qiskit
from quarch.quantum.circuit import Op
from quarch.quantum.noise import NoiseError, density_matrix, kraus

pytest.importorskip("qiskit")
aer_noise = pytest.importorskip("qiskit_aer.noise")
from qiskit.quantum_info import DensityMatrix, SuperOp  # noqa: E402


def _aer_channel(name: str, p: float) -> Any:
    if name == "depolarizing":  # PennyLane's: each Pauli with probability p/3
        return aer_noise.pauli_error([("I", 1 - p), ("X", p / 3), ("Y", p / 3), ("Z", p / 3)])
    if name == "bit_flip":
        return aer_noise.pauli_error([("I", 1 - p), ("X", p)])
    if name == "amplitude_damping":
        return aer_noise.amplitude_damping_error(p)
    assert name == "phase_damping"
    return aer_noise.phase_damping_error(p)


def _qiskit_rho(ops: list[Op], n: int, x: np.ndarray | None, w: np.ndarray | None) -> np.ndarray:
    """Qiskit's density matrix of ``ops`` (gates and channels), in quarch's order."""
    rho = DensityMatrix.from_label("0" * n)
    for op in ops:
        if op.name in ("depolarizing", "bit_flip", "amplitude_damping", "phase_damping"):
            (p,) = op.params
            assert isinstance(p, float)
            rho = rho.evolve(SuperOp(_aer_channel(op.name, p)), [op.wires[0]])
            continue
        one = Circuit(n, [op], 0 if w is None else len(w))
        if w is not None:
            one = one.bind(w)
        if one.n_inputs:
            assert x is not None
            one = one.bind(inputs=x[: one.n_inputs])
        rho = rho.evolve(to_qiskit(one))
    return rho.reverse_qargs().data


def _circuit() -> Circuit:
    c = Circuit(3)
    c.ry(0, Input(0)).rx(1, c.new_weight()).h(2).cnot(0, 1).crz(1, 2, c.new_weight())
    c.phase_damping(1, 0.2).u3(0, 0.3, Input(1), -0.4).cz(2, 0).sx(1).ry(2, 0.9)
    return c


_MODEL = NoiseModel(
    {"cnot": ("bit_flip", 0.12), "1q": ("depolarizing", 0.06), "2q": ("amplitude_damping", 0.1)},
    readout_error=0.04,
)


def _by_hand(c: Circuit) -> list[Op]:
    """``_MODEL``'s channels placed by hand: cnot's own, 1q after single-qubit gates, 2q
    after the other two-qubit gates, none after a channel."""
    out: list[Op] = []
    for op in c.ops:
        out.append(op)
        if op.is_channel:
            continue
        ch, p = ("bit_flip", 0.12) if op.name == "cnot" else (
            ("depolarizing", 0.06) if len(op.wires) == 1 else ("amplitude_damping", 0.1))  # fmt: skip
        out += [Op(ch, (q,), (p,)) for q in op.wires]
    return out


def test_the_model_places_its_channels_by_gate_name_then_arity() -> None:
    c = _circuit()
    assert _MODEL.apply(c).ops == _by_hand(c)
    assert _MODEL.apply(c).n_weights == c.n_weights


def test_density_matrix_of_a_noise_model_equals_qiskit() -> None:
    c = _circuit()
    x = np.array([[0.7, -1.1], [2.0, 0.4]])
    w = np.array([0.35, -1.25])
    got = density_matrix(c, inputs=torch.tensor(x), weights=torch.tensor(w), noise_model=_MODEL)
    for b in range(2):
        np.testing.assert_allclose(
            got[b].numpy(), _qiskit_rho(_by_hand(c), 3, x[b], w), rtol=0, atol=1e-12
        )


def test_a_weight_no_gate_reads_is_still_counted() -> None:
    """A circuit may hold weights its gates no longer read (a pruned layer): the model's
    copy keeps the count, so the same weights are accepted."""
    c = Circuit(1)
    c.rx(0, c.new_weight())
    c.new_weight()  # the last weight: read by no gate
    got = density_matrix(c, weights=[0.8, 5.0], noise_model=_MODEL)[0].numpy()
    want = _qiskit_rho([Op("rx", (0,), (0.8,)), Op("depolarizing", (0,), (0.06,))], 1, None, None)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_no_noise_after_an_amplitude_embedding_or_a_channel() -> None:
    c = Circuit(2).amplitude_embedding(4).bit_flip(0, 0.3).h(1).cnot(1, 0)
    ops = _MODEL.apply(c).ops
    assert [(o.name, o.wires) for o in ops] == [
        ("amplitude_embedding", (0, 1)), ("bit_flip", (0,)), ("h", (1,)), ("depolarizing", (1,)),
        ("cnot", (1, 0)), ("bit_flip", (1,)), ("bit_flip", (0,)),
    ]  # fmt: skip


def _readout(probs: np.ndarray, n: int, p: float) -> np.ndarray:
    """Each measured bit flipped with probability ``p``, by brute force over outcomes."""
    out = np.zeros_like(probs)
    for b in range(2**n):
        for m in range(2**n):
            flips = bin(b ^ m).count("1")
            out[m] += probs[b] * p**flips * (1 - p) ** (n - flips)
    return out


@pytest.mark.parametrize("dtype", [torch.complex128, torch.complex64])
def test_noisy_probs_pass_everything_through(dtype: torch.dtype) -> None:
    c = _circuit()
    x = np.array([[0.7, -1.1], [2.0, 0.4]])
    w = np.array([0.35, -1.25])
    got = noisy_probs(c, inputs=torch.tensor(x), weights=torch.tensor(w), noise_model=_MODEL,
                      dtype=dtype)  # fmt: skip
    assert got.dtype == (torch.float64 if dtype == torch.complex128 else torch.float32)
    tol = 1e-12 if dtype == torch.complex128 else 1e-5
    for b in range(2):
        rho = _qiskit_rho(_by_hand(c), 3, x[b], w)
        np.testing.assert_allclose(got[b].numpy(), _readout(np.diag(rho).real, 3, 0.04), atol=tol)
    clean = noisy_probs(c, inputs=torch.tensor(x[:1]), weights=torch.tensor(w))[0].numpy()
    np.testing.assert_allclose(
        clean, np.diag(_qiskit_rho(c.ops, 3, x[0], w)).real, rtol=0, atol=1e-12
    )


def _pauli(word: str, n: int) -> np.ndarray:
    mats = {"I": np.eye(2), "X": np.array([[0, 1], [1, 0]]), "Y": np.array([[0, -1j], [1j, 0]]),
            "Z": np.diag([1.0, -1.0])}  # fmt: skip
    letters = ["I"] * n
    for tok in word.split():
        letters[int(tok[1:])] = tok[0]
    out = np.eye(1)
    for letter in letters:
        out = np.kron(out, mats[letter])
    return out


@pytest.mark.parametrize("dtype", [torch.complex128, torch.complex64])
def test_noisy_expval_of_x_y_and_z_words(dtype: torch.dtype) -> None:
    """``Tr(rho P) (1 - 2p)**m``: each of the word's m measured bits flips in its basis."""
    c = _circuit()
    x = np.array([[0.7, -1.1], [-0.3, 1.4]])
    w = np.array([0.35, -1.25])
    words = ["X0", "Y1", "Z2", "X0 Y2", "Y0 X1 Z2", "X2"]
    got = noisy_expval(c, words, inputs=torch.tensor(x), weights=torch.tensor(w),
                       noise_model=_MODEL, dtype=dtype)  # fmt: skip
    assert got.shape == (2, len(words))
    assert got.dtype == (torch.float64 if dtype == torch.complex128 else torch.float32)
    tol = 1e-12 if dtype == torch.complex128 else 1e-5
    for b in range(2):
        rho = _qiskit_rho(_by_hand(c), 3, x[b], w)
        want = [np.trace(rho @ _pauli(wd, 3)).real * 0.92 ** len(wd.split()) for wd in words]
        assert min(abs(v) for v in want) > 1e-3  # every word has something to get wrong
        np.testing.assert_allclose(got[b].numpy(), want, atol=tol)


def test_memory_refusals_name_the_way_out() -> None:
    c = Circuit(2).h(0).cnot(0, 1)
    need = 3 * 1 * 4**2 * 16 / 2**30
    msg = (
        rf"^a density matrix of 2 qubits for a batch of 1 needs about {need:.1f} GiB; the limit "
        r"is 1e-09 GiB \(max_memory_gb\)\. Use fewer qubits, a smaller batch, or the "
        r"state-vector simulator without noise$"
    )
    for f in (density_matrix, noisy_probs, noisy_expval):
        with pytest.raises(NoiseError, match=msg):
            f(c, max_memory_gb=1e-9)


def test_model_and_channel_checks_in_full() -> None:
    assert NoiseModel(readout_error=0.5).readout_error == 0.5
    assert NoiseModel({"1q": ("bit_flip", 0.0), "2q": ("depolarizing", 1.0)}).gate_errors
    with pytest.raises(ValueError, match=r"^readout_error must be in \[0, 0\.5\]; got 0\.51$"):
        NoiseModel(readout_error=0.51)
    with pytest.raises(ValueError, match=r"^readout_error must be in \[0, 0\.5\]; got -0\.1$"):
        NoiseModel(readout_error=-0.1)
    with pytest.raises(
        NoiseError, match=r"^gate_errors\['1q'\] must be \(channel, p\); got \['bit_flip', 0\.1\]$"
    ):
        NoiseModel({"1q": ["bit_flip", 0.1]})  # type: ignore[dict-item]
    with pytest.raises(NoiseError, match=r"^gate_errors\['cz'\] must be \(channel, p\); got"):
        NoiseModel({"cz": ("bit_flip", 0.1, 0.2)})  # type: ignore[dict-item]
    allowed = "depolarizing, amplitude_damping, phase_damping, bit_flip"
    with pytest.raises(
        NoiseError, match=rf"^gate_errors\['1q'\]: unknown channel 'flip'; allowed: {allowed}$"
    ):
        NoiseModel({"1q": ("flip", 0.1)})
    for p in (1.5, -0.01):
        with pytest.raises(
            NoiseError, match=rf"^gate_errors\['2q'\]: p must be in \[0, 1\]; got {p}$"
        ):
            NoiseModel({"2q": ("depolarizing", p)})
    with pytest.raises(NoiseError, match=rf"^unknown channel 'flip'; allowed: {allowed}$"):
        kraus("flip", 0.1)


@pytest.mark.parametrize("name", ["depolarizing", "amplitude_damping", "phase_damping", "bit_flip"])
def test_kraus_operators_equal_aers_channels(name: str) -> None:
    """Qiskit's superoperator (column stacking) of each channel at p = 0.3."""
    ks = kraus(name, 0.3).numpy()
    assert np.allclose(sum(k.conj().T @ k for k in ks), np.eye(2), atol=1e-15)
    got = sum(np.kron(k.conj(), k) for k in ks)
    np.testing.assert_allclose(got, SuperOp(_aer_channel(name, 0.3)).data, rtol=0, atol=1e-12)


def test_results_stay_on_the_inputs_device() -> None:
    """Every tensor the noisy paths make must live on the inputs' device (GPU runs).
    torch's meta device stands in for a GPU here: it carries shapes and devices only,
    and a matrix made on the CPU by mistake shows up as a CPU result or an error."""
    c = _circuit()
    x = torch.zeros(2, 2, device="meta", dtype=torch.float64)
    w = torch.zeros(2, device="meta", dtype=torch.float64)
    rho = density_matrix(c, inputs=x, weights=w, noise_model=_MODEL)
    assert (rho.device.type, tuple(rho.shape)) == ("meta", (2, 8, 8))
    probs = noisy_probs(c, inputs=x, weights=w, noise_model=_MODEL)
    assert (probs.device.type, tuple(probs.shape)) == ("meta", (2, 8))
    ev = noisy_expval(c, ["X0", "Y1 Z2", "Z0"], inputs=x, weights=w, noise_model=_MODEL)
    assert (ev.device.type, tuple(ev.shape)) == ("meta", (2, 3))
