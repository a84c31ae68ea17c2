"""The hqnn evaluator: metrics, determinism, options, early stopping, SuperCircuit mode."""

from __future__ import annotations

import pytest
import torch

from quarch import ConfigError
from quarch.config import SearchConfig
from quarch.cost.cutting import estimate_cuts
from quarch.cost.quantum import quantum_flops, runtime_proxy
from quarch.evaluate import train_classifier
from quarch.spaces import make_evaluator
from quarch.spaces.hqnn.evaluator import (
    HQNNEvaluator,
    SuperCircuitEvaluator,
    make_hqnn_evaluator,
    prepare_data,
)
from quarch.spaces.hqnn.model import HybridNet, build_circuit
from quarch.spaces.hqnn.space import hqnn_space

SPACE = hqnn_space(max_qubits=3, max_layers=2, frontends=["linear", "pca"])


def _config(**opts: object) -> SearchConfig:
    return SearchConfig(space="hqnn", dataset="iris", epochs=2, evaluator_options=dict(opts))


class TestCorrectness:
    def test_metrics_and_costs(self) -> None:
        ev = make_hqnn_evaluator(SPACE, _config(qubit_budget=2, noise=True))
        assert isinstance(ev, HQNNEvaluator)
        arch = SPACE.sample(0)
        arch.update(qubits=3, entanglement_0="linear", layers=1)
        m = ev.evaluate(arch, seed=0)
        need = {"val_error", "test_error", "val_accuracy", "params", "flops", "qubits", "depth",
                "two_qubit_gates", "runtime_proxy", "sim_time_ms", "subcircuits",
                "cut_overhead", "noisy_val_error"}  # fmt: skip
        assert need <= set(m)
        c = build_circuit(arch)
        assert m["qubits"] == 3
        assert m["runtime_proxy"] == pytest.approx(runtime_proxy(c, "ibm-heron"))
        assert m["subcircuits"] == estimate_cuts(c, 2).subcircuits
        assert m["flops"] > quantum_flops(c, 3)
        assert 0.0 <= m["noisy_val_error"] <= 1.0
        assert m["val_accuracy"] == pytest.approx(1 - m["val_error"])

    def test_repeatable(self) -> None:
        ev = make_hqnn_evaluator(SPACE, _config())
        arch = SPACE.sample(2)
        a, b = ev.evaluate(arch, seed=5), ev.evaluate(arch, seed=5)
        a.pop("sim_time_ms"), b.pop("sim_time_ms")
        assert a == b

    def test_early_stopping_reports_the_kept_weights(self) -> None:
        from quarch.data import load_dataset

        data = prepare_data(load_dataset("iris", seed=0))
        arch = SPACE.sample(3)
        net = HybridNet(arch, (4,), 3)
        res = train_classifier(
            net, data, epochs=4, lr=0.05, batch_size=16, seed=0, early_stopping=True
        )
        X = torch.as_tensor(data.X_val)
        with torch.no_grad():  # re-score the kept weights by hand
            wrong = (net.eval()(X).argmax(1).numpy() != data.y_val).mean()
        assert res["val_error"] == pytest.approx(wrong)
        assert 0 <= res["best_epoch"] < 4

    def test_supercircuit_option(self) -> None:
        """Scores of inherited weights are those of the extracted network run by hand on
        the validation and test splits; fine-tuning works on a copy, so the SuperCircuit
        every later trial inherits from is left as it was."""
        ev = make_hqnn_evaluator(
            SPACE, _config(supercircuit=True, supercircuit_steps=5, finetune_steps=0)
        )
        assert isinstance(ev, SuperCircuitEvaluator)
        arch = SPACE.sample(1)
        m = ev.evaluate(arch, seed=0)
        net = ev.supercircuit.extract(SPACE.validate(arch)).eval()
        with torch.no_grad():
            for split in ("val", "test"):
                X = torch.as_tensor(getattr(ev.data, f"X_{split}"), dtype=torch.float32)
                wrong = net(X).argmax(1).numpy() != getattr(ev.data, f"y_{split}")
                assert m[f"{split}_error"] == pytest.approx(wrong.mean(), abs=1e-12)
        assert m["params"] == sum(p.numel() for p in net.parameters())
        assert m["subcircuits"] == 1.0
        tuned = make_hqnn_evaluator(
            SPACE, _config(supercircuit=True, supercircuit_steps=5, finetune_steps=3)
        )
        assert isinstance(tuned, SuperCircuitEvaluator)
        before = {k: v.clone() for k, v in tuned.supercircuit.state_dict().items()}
        tuned.evaluate(arch, seed=0)
        after = tuned.supercircuit.state_dict()
        assert all(torch.equal(before[k], after[k]) for k in before)


class TestInputs:
    """Options are checked by the space's spec, before any data is loaded."""

    def test_unknown_option(self) -> None:
        with pytest.raises(
            ConfigError, match=r"space 'hqnn' takes no evaluator option 'budget'; it takes: cutter"
        ):
            make_evaluator(SPACE, _config(budget=3))

    def test_bad_budget(self) -> None:
        with pytest.raises(ConfigError, match=r"qubit_budget must be an integer >= 1; got 0"):
            make_evaluator(SPACE, _config(qubit_budget=0))

    def test_bad_profile(self) -> None:
        with pytest.raises(
            ConfigError,
            match=r"unknown device profile 'nope' for this space \(quantum profiles\); known: ibm",
        ):
            make_evaluator(SPACE, _config(device_profile="nope"))

    def test_needs_dataset(self) -> None:
        with pytest.raises(ConfigError, match=r"space 'hqnn' needs --dataset"):
            make_evaluator(SPACE, SearchConfig(space="hqnn", dataset=None))
