"""Weights saved before session 35's CZ fix still run the circuit they were trained on.

quarch used to build a CZ on each pair in every order a pattern names (``range-r`` on
``2r`` qubits, any range on 2), and the two cancelled. The fix builds one CZ per pair;
a network whose state has no ``cz_once`` entry (saved before) loads into the old
circuit. The truth: on 2 qubits the old layer is the identity, so the old network
computes what the same weights compute with ``entanglement="none"``; the new one does
not.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from quarch.spaces.hqnn.model import HybridNet, build_circuit, cz_pairs_changed

ARCH = {
    "embedding": "angle-y", "qubits": 2, "layers": 2, "rotation_0": "ry", "rotation_1": "rot",
    "entanglement_0": "range-1", "entanglement_1": "range-3", "entangler": "cz",
    "reupload": True, "measurement": "z", "frontend": "linear", "head": "linear", "lr": 0.03,
}  # fmt: skip


def _net(arch: dict, seed: int = 0) -> HybridNet:
    torch.manual_seed(seed)
    return HybridNet(arch, (4,), 3)


def _out(net: HybridNet) -> torch.Tensor:
    x = torch.linspace(-1, 1, 20).reshape(5, 4)
    with torch.no_grad():
        return net(x)


def _old_state(net: HybridNet) -> dict:
    """The state a network of this architecture had before the fix: no ``cz_once``."""
    return {k: v for k, v in net.state_dict().items() if k != "cz_once"}


def test_which_architectures_changed() -> None:
    assert cz_pairs_changed(ARCH)
    assert not cz_pairs_changed({**ARCH, "entangler": "cnot"})  # two different gates
    no_range = {**ARCH, "entanglement_0": "ring", "entanglement_1": "full"}
    assert not cz_pairs_changed(no_range)  # one pair, named once
    four = {**ARCH, "qubits": 4, "entanglement_0": "range-1", "entanglement_1": "range-3"}
    assert not cz_pairs_changed(four)  # (i, i+1) and (i, i+3) on 4 wires: no pair twice
    assert cz_pairs_changed({**four, "entanglement_1": "range-2"})


def test_an_old_state_loads_into_the_old_circuit() -> None:
    new = _net(ARCH)
    none = _net({**ARCH, "entanglement_0": "none", "entanglement_1": "none"})
    none.load_state_dict(new.state_dict(), strict=False)  # the same weights, no CZ at all
    assert not torch.allclose(_out(new), _out(none), atol=1e-5)  # the new CZs entangle

    old = _net(ARCH, seed=1)
    old.load_state_dict(_old_state(new))  # strict: nothing missing
    assert torch.allclose(_out(old), _out(none), atol=1e-6)  # the old CZs cancelled
    assert [op.name for op in old.circuit.ops].count("cz") == 4  # two pairs of two
    assert old.quantum.circuit.ops == old.circuit.ops
    assert not bool(old.state_dict()["cz_once"])


def test_a_new_state_round_trips_and_an_old_one_stays_old(tmp_path: Path) -> None:
    new = _net(ARCH)
    path = tmp_path / "w.pt"
    torch.save(new.state_dict(), path)
    again = _net(ARCH, seed=2)
    again.load_state_dict(torch.load(path))
    assert torch.equal(_out(again), _out(new))
    assert [op.name for op in again.circuit.ops].count("cz") == 2

    old = _net(ARCH, seed=3)
    old.load_state_dict(_old_state(new))
    torch.save(old.state_dict(), path)  # what `quarch export --format torch` writes
    reread = _net(ARCH, seed=4)
    reread.load_state_dict(torch.load(path))
    assert torch.equal(_out(reread), _out(old))


def test_unchanged_architectures_keep_their_state_keys() -> None:
    arch = {**ARCH, "entangler": "cnot"}
    keys = set(_net(arch).state_dict())
    assert "cz_once" not in keys
    circuit = build_circuit(arch)
    assert build_circuit(arch, cz_both_orders=True).ops == circuit.ops


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_the_swapped_layer_keeps_dtype_and_trains(dtype: torch.dtype) -> None:
    old = HybridNet(ARCH, (4,), 3, dtype=dtype)
    old.load_state_dict(_old_state(_net(ARCH)))
    assert old.quantum.weights.dtype == (
        torch.float32 if dtype == torch.complex64 else torch.float64
    )
    names = {n for n, _ in old.named_parameters()}
    assert "quantum.weights" in names
    loss = old(torch.ones(2, 4)).sum()
    loss.backward()
    assert old.quantum.weights.grad is not None


def test_the_swapped_layer_measures_what_the_architecture_says() -> None:
    arch = {**ARCH, "measurement": "zz"}  # <Z0 Z1>: one output, not one per wire
    none = HybridNet({**arch, "entanglement_0": "none", "entanglement_1": "none"}, (4,), 3)
    new = HybridNet(arch, (4,), 3)
    none.load_state_dict(new.state_dict(), strict=False)
    old = HybridNet(arch, (4,), 3)
    old.load_state_dict(_old_state(new))
    assert old.quantum.n_outputs == 1
    assert torch.allclose(_out(old), _out(none), atol=1e-6)


def test_the_swapped_layer_stays_on_the_model_device() -> None:
    """The meta device plays a GPU: a layer rebuilt on the CPU would mix devices."""
    net = _net(ARCH).to("meta")
    state = {k: torch.empty_like(v, device="meta") for k, v in _old_state(_net(ARCH)).items()}
    net.load_state_dict(state)
    assert net.quantum.weights.device.type == "meta"
    assert [op.name for op in net.circuit.ops].count("cz") == 4


def test_loading_keeps_torchs_own_checks() -> None:
    state = _old_state(_net(ARCH))
    with pytest.raises(RuntimeError, match="Unexpected key"):
        _net(ARCH).load_state_dict({**state, "bogus": torch.zeros(1)})
    with pytest.raises(RuntimeError, match="Missing key"):
        _net(ARCH).load_state_dict({k: v for k, v in state.items() if "head" not in k})
