"""Tests of the cnn evaluators, the search loop on the cnn space, and export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from quarch._errors import ConfigError, RunError
from quarch.config import SearchConfig
from quarch.cost.onnx import float_graph
from quarch.data import Dataset, load_dataset
from quarch.evaluate import torch_threads
from quarch.finalize import export_trial
from quarch.spaces import make_evaluator
from quarch.spaces.cnn.evaluator import EdgeEvaluator, SuperNetEvaluator, make_cnn_evaluator
from quarch.spaces.cnn.model import EdgeCNN
from quarch.spaces.cnn.space import cnn_space
from quarch.study import run_search

from ..._scope import per_module

SMALL: dict[str, Any] = {"n_stages": 2, "max_blocks": 1, "width_mults": [0.5]}
SPACE = cnn_space(**SMALL)


@pytest.fixture(scope=per_module)
def digits() -> Dataset:
    return load_dataset("digits", seed=3)  # the seed of the `run` fixture: same split


@pytest.fixture(scope=per_module)
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "cnn"
    cfg = SearchConfig(
        space="cnn",
        dataset="digits",
        strategy="random",
        trials=2,
        seed=3,
        out=str(out),
        epochs=4,
        batch_size=32,
        objectives=["val_error", "latency_ms", "memory_kb"],
        budgets=["memory_kb<=40"],
        space_options=SMALL,
        evaluator_options={"device_profile": "local-cpu", "latency_repeats": 5},
    )
    run_search(cfg, progress=False)
    return out


class TestInputs:
    def test_unknown_option(self) -> None:
        cfg = SearchConfig(space="cnn", dataset="digits", evaluator_options={"foo": 1})
        with pytest.raises(ConfigError, match=r"space 'cnn' takes no evaluator option 'foo'"):
            make_evaluator(SPACE, cfg)

    def test_unknown_device(self) -> None:
        cfg = SearchConfig(
            space="cnn", dataset="digits", evaluator_options={"device_profile": "gpu9"}
        )
        with pytest.raises(ConfigError, match="unknown device profile 'gpu9' for this space"):
            make_evaluator(SPACE, cfg)

    def test_tabular_data_rejected(self) -> None:
        cfg = SearchConfig(space="cnn", dataset="iris")
        with pytest.raises(ConfigError, match=r"needs an image data set \(C, H, W\); 'iris'"):
            make_cnn_evaluator(SPACE, cfg)

    def test_bad_latency_mode(self, digits: Dataset) -> None:
        with pytest.raises(ConfigError, match=r"latency must be one of \['auto', 'measured'"):
            EdgeEvaluator(digits, latency="fast")
        with pytest.raises(ValueError, match="torch_threads must be >= 1; got 0"):
            EdgeEvaluator(digits, torch_threads=0)


class TestEvaluators:
    def test_modelled_metrics_are_reproducible(self, digits: Dataset) -> None:
        ev = EdgeEvaluator(digits, epochs=2, batch_size=32, latency="model",
                           device_profile="cortex-m7")  # fmt: skip
        arch = SPACE.sample(1)
        a, b = ev.evaluate(arch, seed=7), ev.evaluate(arch, seed=7)
        assert a == b
        assert a["latency_ms"] == a["latency_model_ms"]
        assert a["macs"] == a["flops"] / 2
        assert torch.get_num_threads() >= 1

    def test_thread_count_is_restored(self) -> None:
        before = torch.get_num_threads()
        torch.set_num_threads(2)  # not 1: an xdist worker runs on 1 (tests/conftest.py)
        try:
            with torch_threads(1):
                assert torch.get_num_threads() == 1
            assert torch.get_num_threads() == 2
        finally:
            torch.set_num_threads(before)

    def test_supernet_evaluator(self, digits: Dataset) -> None:
        """The scores are the extracted network's, its batch-norm recalibrated on the
        training images the seed picks, recomputed here on the validation and test
        splits; evaluating leaves the supernet every later trial inherits from as it was."""
        import numpy as np

        from quarch.spaces.cnn.supernet import recalibrate_bn

        ev = SuperNetEvaluator(SPACE, digits, supernet_epochs=1, latency="model",
                               recalibration_batches=2)  # fmt: skip
        arch = SPACE.sample(2)
        before = {k: v.clone() for k, v in ev.supernet.state_dict().items()}
        a = ev.evaluate(arch, seed=1)
        after = ev.supernet.state_dict()
        assert all(torch.equal(before[k], after[k]) for k in before)
        assert a == ev.evaluate(arch, seed=1)
        model = ev.supernet.extract(SPACE.validate(arch))
        idx = np.random.default_rng(1).permutation(len(digits.X_train))[: 256 * 2]
        recalibrate_bn(model, digits.X_train[np.sort(idx)], max_batches=2)
        model.eval()
        with torch.no_grad():
            for split in ("val", "test"):
                X = torch.as_tensor(getattr(digits, f"X_{split}"), dtype=torch.float32)
                wrong = model(X).argmax(1).numpy() != getattr(digits, f"y_{split}")
                assert a[f"{split}_error"] == pytest.approx(wrong.mean(), abs=1e-12)
        assert a["val_accuracy"] == pytest.approx(1 - a["val_error"])
        assert a["params"] == sum(p.numel() for p in model.parameters())
        assert a["memory_kb"] > 0


class TestProfileBudgets:
    def test_profile_fills_in_what_the_user_left_out(self) -> None:
        from quarch.spaces.cnn.costs import get_device
        from quarch.spaces.cnn.evaluator import with_profile_budgets

        m7 = get_device("cortex-m7").budgets
        assert with_profile_budgets([], "cortex-m7") == [f"{m}<={v:g}" for m, v in m7.items()]
        mine = with_profile_budgets(["memory_kb<=2048"], "cortex-m7")
        assert mine[0] == "memory_kb<=2048"
        assert [b for b in mine if b.startswith("memory_kb")] == ["memory_kb<=2048"]
        assert len(mine) == len(m7)

    def test_run_folder_shows_the_budgets_in_force(self, run: Path) -> None:
        import json

        from quarch.spaces.cnn.costs import get_device

        saved = json.loads((run / "config.json").read_text())["budgets"]
        rest = [
            f"{m}<={v:g}" for m, v in get_device("local-cpu").budgets.items() if m != "memory_kb"
        ]
        assert saved == ["memory_kb<=40", *rest]


class TestSearchAndExport:
    def test_run_records_metrics_and_budget(self, run: Path) -> None:
        from quarch.study import load_result

        res = load_result(run)
        assert len(res.complete) == 2
        for t in res.complete:
            assert t.metrics["latency_ms"] > 0
            assert t.feasible == (t.metrics["memory_kb"] <= 40)
        assert all(t.metrics["memory_kb"] <= 40 for t in res.pareto)
        assert len(list((run / "weights").glob("seed_*.pt"))) == 2

    def test_export_accuracy_matches_torch_and_retraining(
        self, run: Path, tmp_path: Path, digits: Dataset
    ) -> None:
        from quarch.study import load_result

        rec = load_result(run).complete[0]
        r = export_trial(run, rec.number, "onnx-int8", tmp_path / "m.onnx", repeats=5).checks
        assert r["weights"] == "loaded"
        assert (tmp_path / "m.onnx").is_file()
        # ONNX Runtime on the exported float graph agrees with the float torch model.
        model = EdgeCNN(rec.params, tuple(digits.input_shape), digits.n_classes)
        model.load_state_dict(torch.load(run / "weights" / f"seed_{rec.seed}.pt"))
        with float_graph(model.eval()), torch.no_grad():
            pred = model(torch.as_tensor(digits.X_test)).argmax(1).numpy()
        fp32 = r["fp32_test_accuracy"] / 100
        assert fp32 == pytest.approx((pred == digits.y_test).mean(), abs=2e-3)
        if rec.params["bits"] == 32:
            assert fp32 == pytest.approx(1 - rec.metrics["test_error"], abs=2e-3)
        # int8 models of this size lose a few points at most.
        assert r["int8_test_accuracy"] >= r["fp32_test_accuracy"] - 10
        # Without saved weights, deterministic retraining from the trial seed gives the
        # same network.
        for p in (run / "weights").glob("seed_*.pt"):
            p.rename(p.with_suffix(".bak"))
        try:
            r2 = export_trial(run, rec.number, "onnx-int8", tmp_path / "m2.onnx", repeats=5)
        finally:
            for p in (run / "weights").glob("seed_*.bak"):
                p.rename(p.with_suffix(".pt"))
        assert r2.checks["weights"] == "retrained"
        assert r2.checks["fp32_test_accuracy"] == r["fp32_test_accuracy"]

    def test_export_rejects_unknown_trial(self, run: Path, tmp_path: Path) -> None:
        with pytest.raises(RunError, match=r"has no trial 99; it has 0\.\.1"):
            export_trial(run, 99, "onnx", tmp_path / "x.onnx")

    def test_model_builder_matches_evaluator(self, digits: Dataset) -> None:
        arch = SPACE.sample(0)
        m = EdgeCNN(arch, tuple(digits.input_shape), digits.n_classes)
        assert m(torch.zeros(1, *digits.input_shape)).shape == (1, digits.n_classes)


def test_budget_is_checked_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An architecture over a memory budget is never trained, and the summary says how
    many were skipped (the memory model needs no training)."""
    from quarch.cli import main
    from quarch.cost.devices import get_device
    from quarch.spaces.cnn.costs import edge_costs

    trained: list[dict[str, object]] = []
    fit = EdgeEvaluator.fit

    def counting_fit(self: EdgeEvaluator, arch: dict[str, object], **kw: object) -> object:
        trained.append(dict(arch))
        return fit(self, arch, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(EdgeEvaluator, "fit", counting_fit)
    out = tmp_path / "run"
    code = main(
        ["search", "--space", "cnn", "--dataset", "digits", "--strategy", "random",
         "--trials", "4", "--epochs", "1", "--max-train", "200", "--budget", "memory_kb<=12",
         "--space-option", "n_stages=2", "--space-option", "max_blocks=1",
         "--device-profile", "cortex-m7", "--out", str(out), "--quiet"]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    from quarch.study import load_result

    res = load_result(out)
    assert len(res.complete) == 4 and len(trained) == 4
    profile = get_device("cortex-m7")
    for arch in trained:  # independent truth: the memory model of each trained network
        assert edge_costs(arch, (1, 8, 8), 10, profile)["memory_kb"] <= 12
    assert res.skipped, "the random strategy drew no architecture over 12 KB in this run"
    for t in res.skipped:
        assert t.skip_reason is not None
        assert t.metrics["memory_kb"] > 12 and "over budget before training" in t.skip_reason
    assert f"skipped (over budget before training): {len(res.skipped)}" in printed
