"""The hqnn space on a calibrated device: the evaluator contract with routed costs,
layout choice and trajectory noise; the spec's checks before a run; infeasible trials;
noise-aware training; the report section and the routed Qiskit export."""

from __future__ import annotations

import pytest
import torch

from quarch import ConfigError
from quarch.config import SearchConfig
from quarch.cost.device_costs import DEVICE_METRICS
from quarch.cost.routing import DeviceFitError
from quarch.spaces import get_spec, make_evaluator
from quarch.spaces.hqnn.evaluator import HQNNEvaluator
from quarch.spaces.hqnn.space import hqnn_space
from quarch.testing import EvaluatorCase, EvaluatorTestCase

pytest.importorskip("qiskit_ibm_runtime")

SPEC = get_spec("hqnn")


def _config(space: dict | None = None, **opts: object) -> SearchConfig:
    return SearchConfig(
        space="hqnn", dataset="iris", epochs=1,
        space_options=space or {"max_qubits": 3, "max_layers": 1},
        evaluator_options=dict(opts),
    )  # fmt: skip


@pytest.fixture
def evaluator_case() -> EvaluatorCase:
    # 3-qubit circuits on trajectories (noise_max_qubits=2), two layouts to choose from
    return EvaluatorCase(
        _config(
            {"max_qubits": 3, "max_layers": 1, "layouts": 2},
            device_profile="ibm-manila",
            noise="device",
            noise_max_qubits=2,
            noise_target_se=0.05,
            noise_samples=10,
        )
    )


class TestDeviceContract(EvaluatorTestCase):
    """Declared metrics (routed costs included), determinism by seed (seeded
    trajectories), cheap metrics equal to the trained ones, saved weights."""


class TestSpec:
    def test_metrics_on_a_calibrated_device(self) -> None:
        m = SPEC.metrics(_config(device_profile="ibm-fez", noise="device", zne=True))
        assert m is not None
        assert set(DEVICE_METRICS) | {"noisy_val_error", "noisy_se", "zne_val_error"} <= m
        plain = SPEC.metrics(_config())
        assert plain is not None and not set(DEVICE_METRICS) & plain

    def test_objectives_are_checked_before_the_run(self) -> None:
        cfg = _config(device_profile="ibm-heron")
        cfg = SearchConfig.from_dict({**cfg.to_dict(), "objectives": ["success_probability"]})
        with pytest.raises(ConfigError, match=r"does not produce metric.*'success_probability'"):
            SPEC.check(cfg)

    def test_unknown_device_lists_the_known_ones(self) -> None:
        with pytest.raises(
            ConfigError, match=r"unknown device profile 'ibm-mars'.*known: .*ibm-fez"
        ):
            SPEC.check(_config(device_profile="ibm-mars"))

    def test_layout_needs_a_calibrated_device(self) -> None:
        cfg = _config({"max_qubits": 3, "max_layers": 1, "layouts": 3})
        with pytest.raises(ConfigError, match=r"layout choice .* needs a calibrated device"):
            SPEC.check(cfg)
        SPEC.check(
            _config({"max_qubits": 3, "max_layers": 1, "layouts": 3}, device_profile="ibm-fez")
        )

    def test_noise_memory_is_refused_before_the_first_trial(self) -> None:
        cfg = _config({"max_qubits": 16, "max_layers": 1}, noise="device", noise_max_qubits=16)
        with pytest.raises(
            ConfigError,
            match=r"density matrix of 16 qubits needs about .* GiB per sample; the limit is",
        ):
            SPEC.check(cfg)

    def test_options_that_need_noise(self) -> None:
        with pytest.raises(ConfigError, match="noise_aware needs a noise model"):
            SPEC.check(_config(noise_aware=True))
        with pytest.raises(ConfigError, match="zne folds the routed native circuit"):
            SPEC.check(_config(noise="ibm-heron", zne=True))
        with pytest.raises(ConfigError, match="with supercircuit the weights are inherited"):
            SPEC.check(_config(noise="device", noise_aware=True, supercircuit=True))

    def test_a_space_wider_than_the_device(self) -> None:
        cfg = _config(
            {"min_qubits": 6, "max_qubits": 7, "max_layers": 1}, device_profile="ibm-manila"
        )
        with pytest.raises(ConfigError, match="at least 6 qubits; ibm-manila has 5"):
            SPEC.check(cfg)


class TestEvaluator:
    def test_wider_than_the_device_fails_before_training(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        cfg = _config({"max_qubits": 6, "max_layers": 1}, device_profile="ibm-manila")
        space = SPEC.build_space(cfg)
        ev = make_evaluator(space, cfg)
        assert isinstance(ev, HQNNEvaluator)
        monkeypatch.setattr(type(ev), "_train", lambda *a, **k: pytest.fail("trained"))
        arch = dict(space.sample(0), qubits=6)
        with pytest.raises(DeviceFitError, match="needs 6 qubits; ibm-manila has 5"):
            ev.evaluate(arch, seed=0)
        with pytest.raises(DeviceFitError):
            ev.cheap_metrics(arch)

    def test_layout_changes_the_region_and_the_costs(self) -> None:
        cfg = _config({"max_qubits": 3, "max_layers": 1, "layouts": 4}, device_profile="ibm-torino")
        space = SPEC.build_space(cfg)
        ev = make_evaluator(space, cfg)
        assert isinstance(ev, HQNNEvaluator)
        arch = dict(space.sample(1), qubits=3)
        regions: set[tuple[int, ...]] = set()
        for k in range(4):
            routed = ev.routed_circuit(dict(arch, layout=k))
            assert routed is not None  # a device profile is set
            regions.add(routed.region)
        assert len(regions) == 4
        p = [ev.cheap_metrics(dict(arch, layout=k))["success_probability"] for k in range(4)]
        assert len(set(p)) > 1

    def test_noise_aware_training_trains_through_the_noisy_layer(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from quarch.spaces.hqnn import noise as hqnn_noise

        calls = []
        forward = hqnn_noise.NoisyLayer.forward

        def counted(self, inputs):  # type: ignore[no-untyped-def]
            calls.append(torch.is_grad_enabled())
            return forward(self, inputs)

        monkeypatch.setattr(hqnn_noise.NoisyLayer, "forward", counted)
        cfg = _config(
            device_profile="ibm-manila", noise="device", noise_aware=True, noise_samples=5
        )
        space = SPEC.build_space(cfg)
        ev = make_evaluator(space, cfg)
        assert isinstance(ev, HQNNEvaluator)
        arch = dict(space.sample(0), qubits=2)
        model, m = ev.fit(arch, seed=0)
        assert any(calls)  # trained (gradients) through the noisy layer
        assert "quantum.weights" in model.state_dict()  # the plain layer is back
        assert 0 <= m["noisy_val_error"] <= 1


def test_search_report_and_export_on_a_device(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An iris search with success probability and training runtime as objectives, its
    report section and the routed Qiskit export."""
    from qiskit import qpy

    from quarch.finalize import export_trial
    from quarch.report import write_report
    from quarch.study import run_search

    cfg = SearchConfig(
        space="hqnn", dataset="iris", strategy="random", trials=3, epochs=2, seed=1,
        objectives=["val_error", "success_probability", "train_runtime_s"],
        space_options={"max_qubits": 3, "max_layers": 2, "layouts": 2},
        evaluator_options={"device_profile": "ibm-manila", "noise": "device"},
        out=str(tmp_path / "run"),
    )  # fmt: skip
    result = run_search(cfg, progress=False)
    assert len(result.complete) == 3
    for t in result.complete:
        assert 0 < t.metrics["success_probability"] < 1
    page = write_report(result.run_dir).html.read_text()
    assert "On the device: ibm-manila" in page and "layout of trial" in page
    t = result.pareto[0]
    out = export_trial(result.run_dir, t.number, "qiskit", tmp_path / "c.qpy")
    with open(out.path, "rb") as f:
        qc = qpy.load(f)[0]
    assert qc.num_qubits == 5 and qc.metadata["device"] == "ibm-manila"
    assert {int(k): v for k, v in qc.metadata["final_layout"].items()} == out.checks["layout"]
    used = {qc.find_bit(q).index for inst in qc.data for q in inst.qubits}
    assert used <= set(qc.metadata["region"])
    assert all(p.name.startswith("x[") for p in qc.parameters)  # weights bound


def test_space_option() -> None:
    s = hqnn_space(max_qubits=3, max_layers=1, layouts=3)
    assert list(s["layout"].options) == [0, 1, 2] and s.names[-1] == "layout"
    assert "layout" not in hqnn_space(max_qubits=3, max_layers=1).names
    with pytest.raises(ValueError, match="layouts must be an integer"):
        hqnn_space(layouts=-1)
