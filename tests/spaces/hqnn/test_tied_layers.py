"""``tied_layers``: one rotation and one entanglement choice for every layer."""

from __future__ import annotations

import pytest
import torch

from quarch.spaces import get_spec
from quarch.spaces.hqnn.model import build_circuit
from quarch.spaces.hqnn.space import hqnn_space, layer_choice
from quarch.spaces.hqnn.supercircuit import SuperCircuit

TIED = hqnn_space(max_qubits=4, max_layers=3, tied_layers=True)


def _untied(arch: dict) -> dict:
    """The same network written with one choice per layer."""
    out = {k: v for k, v in arch.items() if k not in ("rotation", "entanglement")}
    for i in range(3):
        out[f"rotation_{i}"] = arch["rotation"]
        out[f"entanglement_{i}"] = arch["entanglement"]
    return out


def test_the_space_has_one_choice_for_all_layers() -> None:
    assert "rotation" in TIED.names and "entanglement" in TIED.names
    assert not any(n.startswith(("rotation_", "entanglement_")) for n in TIED.names)
    untied = hqnn_space(max_qubits=4, max_layers=3)
    per_layer = len(untied["rotation_0"]) * len(untied["entanglement_0"])
    assert untied.size == TIED.size * per_layer**2  # two more layers' worth of choices


@pytest.mark.parametrize("seed", range(8))
def test_a_tied_architecture_is_the_untied_one_with_equal_layers(seed: int) -> None:
    arch = TIED.sample(seed)
    tied, untied = build_circuit(arch), build_circuit(_untied(arch))
    assert tied.n_weights == untied.n_weights and tied.ops == untied.ops


def test_layer_choice_prefers_the_layers_own() -> None:
    arch = {"rotation": "ry", "rotation_1": "rot"}
    assert layer_choice(arch, "rotation", 0) == "ry"
    assert layer_choice(arch, "rotation", 1) == "rot"


def test_supercircuit_over_a_tied_space() -> None:
    sc = SuperCircuit(TIED, (4,), 3)
    x = torch.rand(5, 4)
    for seed in range(4):
        arch = TIED.sample(seed)
        torch.testing.assert_close(sc(x, arch), sc.extract(arch)(x), atol=1e-5, rtol=1e-5)


def test_space_option_from_a_config() -> None:
    from quarch.config import SearchConfig

    cfg = SearchConfig(space="hqnn", dataset="iris", space_options={"tied_layers": True})
    assert "rotation" in get_spec("hqnn").build_space(cfg).names
    bad = SearchConfig(space="hqnn", dataset="iris", space_options={"tied_layers": "yes"})
    with pytest.raises(Exception, match="tied_layers must be true or false"):
        get_spec("hqnn").build_space(bad)
