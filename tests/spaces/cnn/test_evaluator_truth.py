"""The cnn evaluators against training written out here as a plain torch loop with the
same seed, metrics recomputed by hand (errors by ``argmax``, ``params`` as a sum of
``numel``, FLOPs with torch's own ``FlopCounterMode``, the edge costs of
:func:`quarch.spaces.cnn.costs.edge_costs`), the latency mode each profile and option
selects (timing stood in for, with its arguments recorded), the options a config hands
over and every refusal's whole line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from quarch._errors import ConfigError, SpaceError
from quarch.config import SearchConfig
from quarch.cost.devices import get_device
from quarch.data import Dataset, load_dataset
from quarch.evaluate import torch_threads
from quarch.spaces.cnn import evaluator as cnn_evaluator
from quarch.spaces.cnn.costs import edge_costs
from quarch.spaces.cnn.evaluator import (
    DEFAULT_EPOCHS,
    DEFAULT_MAX_TRAIN,
    MIN_STEPS,
    EdgeEvaluator,
    SuperNetEvaluator,
    default_epochs,
    make_cnn_evaluator,
)
from quarch.spaces.cnn.model import EdgeCNN
from quarch.spaces.cnn.space import cnn_space
from quarch.spaces.cnn.supernet import SuperNet, recalibrate_bn

from ..._scope import per_module

SPACE = cnn_space(n_stages=1, max_blocks=1, width_mults=[0.5])
ARCH: dict[str, Any] = {**SPACE.sample(0), "bits": 32, "kernel_0_0": 3, "expand_0_0": 3}


@pytest.fixture(scope=per_module)
def digits() -> Dataset:
    d = load_dataset("digits", seed=1)
    n = 200  # a few seconds per training at most
    return Dataset(**{**d.__dict__, "X_train": d.X_train[:n], "y_train": d.y_train[:n]})


def _errors(model: nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with torch.no_grad():
        pred = model(torch.as_tensor(X, dtype=torch.float32)).argmax(1).numpy()
    return float(np.mean(pred != y))


def _flops(model: nn.Module, shape: tuple[int, ...]) -> float:
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, *shape))
    return float(counter.get_total_flops())


def _numel(model: nn.Module) -> float:
    return float(sum(p.numel() for p in model.parameters() if p.requires_grad))


def _plain(arch: dict[str, Any], data: Dataset, *, epochs: int, lr: float, batch: int,
           seed: int) -> nn.Module:  # fmt: skip
    """Adam on shuffled minibatches from the seed's generator; the final weights."""
    with torch_threads(1):
        torch.manual_seed(seed)
        np.random.seed(seed)
        model = EdgeCNN(arch, tuple(data.input_shape), data.n_classes)
        torch.manual_seed(seed)
        X = torch.as_tensor(data.X_train, dtype=torch.float32)
        y = torch.as_tensor(data.y_train, dtype=torch.long)
        gen = torch.Generator().manual_seed(seed)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        model.train()
        for _ in range(epochs):
            perm = torch.randperm(len(X), generator=gen)
            for i in range(0, len(X), batch):
                idx = perm[i : i + batch]
                opt.zero_grad()
                nn.functional.cross_entropy(model(X[idx]), y[idx]).backward()
                opt.step()
        return model.eval()


class TestEdgeEvaluator:
    def test_a_plain_torch_loop_gives_the_same_model_and_metrics(
        self, digits: Dataset, tmp_path: Path
    ) -> None:
        ev = EdgeEvaluator(digits, epochs=2, batch_size=32, lr=0.01, latency="model",
                           device_profile="cortex-m7", weights_dir=tmp_path, space=SPACE)  # fmt: skip
        m = ev.evaluate(ARCH, seed=5)
        mine = _plain(ARCH, digits, epochs=2, lr=0.01, batch=32, seed=5)
        saved = torch.load(tmp_path / "seed_5.pt")
        for k, v in mine.state_dict().items():
            torch.testing.assert_close(saved[k], v, rtol=0, atol=1e-6)
        assert m["val_error"] == pytest.approx(_errors(mine, digits.X_val, digits.y_val))
        assert m["test_error"] == pytest.approx(_errors(mine, digits.X_test, digits.y_test))
        assert m["val_accuracy"] == 1.0 - m["val_error"]
        assert m["params"] == _numel(mine)
        assert m["flops"] == _flops(mine, (1, 8, 8)) and m["macs"] == m["flops"] / 2
        costs = edge_costs(ARCH, (1, 8, 8), 10, get_device("cortex-m7"))
        assert {k: m[k] for k in costs} == costs and m["latency_ms"] == costs["latency_model_ms"]
        assert set(m) == {"val_error", "test_error", "val_accuracy", "params", "flops", "macs",
                          "latency_ms", *costs}  # fmt: skip
        assert all(type(v) is float for v in m.values())
        # cheap metrics: every value that needs no training, equal to the trained ones
        cheap = ev.cheap_metrics(ARCH)
        assert cheap == {k: m[k] for k in cheap}
        assert set(m) - set(cheap) == {"val_error", "test_error", "val_accuracy"}
        # fit never writes weights
        other = tmp_path / "other"
        EdgeEvaluator(digits, epochs=1, latency="model", weights_dir=other).fit(ARCH, seed=1)
        assert not other.exists()

    def test_defaults_and_properties(self, digits: Dataset) -> None:
        ev = EdgeEvaluator(digits)
        assert (ev.epochs, ev.batch_size, ev.lr, ev.device) == (2, 128, 3e-3, "cpu")
        assert DEFAULT_EPOCHS == 2 and DEFAULT_MAX_TRAIN == 10_000
        assert ev.torch_threads == 1 and ev.weights_dir is None
        assert ev.fingerprint == digits.fingerprint and ev.data is digits
        c = ev.costs
        assert (c.profile.name, c.latency, c.latency_repeats, c.threads) == (
            "local-cpu", "auto", 50, 1
        )  # fmt: skip
        ev = EdgeEvaluator(digits, epochs=3, batch_size=7, lr=0.5, device="meta", threads=2,
                           latency_repeats=4, torch_threads=2, weights_dir="w")  # fmt: skip
        assert (ev.epochs, ev.batch_size, ev.lr, ev.device) == (3, 7, 0.5, "meta")
        assert (ev.costs.threads, ev.costs.latency_repeats, ev.torch_threads) == (2, 4, 2)
        assert ev.weights_dir == Path("w")

    def test_build_is_seeded(self, digits: Dataset) -> None:
        ev = EdgeEvaluator(digits, latency="model")
        torch.manual_seed(4)
        np.random.seed(4)
        mine = EdgeCNN(ARCH, (1, 8, 8), 10)
        got = ev.build(ARCH, seed=4).state_dict()
        assert all(torch.equal(got[k], v) for k, v in mine.state_dict().items())

    def test_the_device_and_threads_reach_training(
        self, digits: Dataset, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A ``meta`` device cannot train here: the loop is stood in for, recording what
        it was given (and the thread count it ran on)."""
        import quarch.evaluate.training as training

        seen: list[dict[str, Any]] = []

        def fake(model: nn.Module, data: Dataset, **kw: Any) -> dict[str, float]:
            seen.append({**kw, "threads": torch.get_num_threads()})
            return {"val_error": 0.125, "test_error": 0.5}

        monkeypatch.setattr(training, "train_classifier", fake)
        before = torch.get_num_threads()
        ev = EdgeEvaluator(digits, epochs=3, batch_size=16, lr=0.02, device="meta",
                           torch_threads=2, latency="model")  # fmt: skip
        model, m = ev.fit(ARCH, seed=8)
        assert torch.get_num_threads() == before
        assert seen == [{"epochs": 3, "lr": 0.02, "batch_size": 16, "seed": 8, "device": "meta",
                         "threads": 2}]  # fmt: skip
        assert (m["val_error"], m["test_error"], m["val_accuracy"]) == (0.125, 0.5, 0.875)
        assert m["macs"] == m["flops"] / 2 and m["params"] == _numel(model)
        ev.fit(ARCH, seed=8, epochs=1)
        assert seen[-1]["epochs"] == 1
        # the metrics before training too (a FLOP count runs a sample; on two threads of
        # a loaded machine it took 5.9 times as long)
        ran: list[int] = []

        def record(arch: Any) -> dict[str, float]:
            ran.append(torch.get_num_threads())
            return {}

        monkeypatch.setattr(ev.trainer, "cheap_metrics", record)
        monkeypatch.setattr(ev.costs, "static", record)
        with torch_threads(3):
            ev.cheap_metrics(ARCH)
            assert torch.get_num_threads() == 3
        assert ran == [2, 2]

    def test_refusals(self, digits: Dataset) -> None:
        with pytest.raises(ConfigError) as ce:
            EdgeEvaluator(digits, latency="fast")
        assert str(ce.value) == "latency must be one of ['auto', 'measured', 'model']; got 'fast'"
        with pytest.raises(ValueError) as e:
            EdgeEvaluator(digits, latency_repeats=0)
        assert str(e.value) == "latency_repeats must be >= 1; got 0"
        EdgeEvaluator(digits, latency_repeats=1)
        with pytest.raises(ValueError) as e:
            EdgeEvaluator(digits, torch_threads=0)
        assert str(e.value) == "torch_threads must be >= 1; got 0"
        with pytest.raises(SpaceError, match=r"^unknown choice\(s\) \['x'\]"):
            EdgeEvaluator(digits, space=SPACE).cheap_metrics({**ARCH, "x": 1})


class TestLatency:
    @pytest.mark.parametrize(
        ("profile", "mode", "measured"),
        [("local-cpu", "auto", True), ("cortex-m7", "auto", False), ("raspi4", "auto", False),
         ("cortex-m7", "measured", True), ("local-cpu", "model", False)],
    )  # fmt: skip
    @pytest.mark.parametrize("bits", [32, 8])
    def test_which_latency_is_reported(
        self, digits: Dataset, monkeypatch: pytest.MonkeyPatch, profile: str, mode: str,
        measured: bool, bits: int,
    ) -> None:  # fmt: skip
        calls: list[tuple[str, Any]] = []

        def measure(model: Any, shape: Any, *, repeats: int, threads: int) -> float:
            calls.append(("measure", (model, shape, repeats, threads)))
            return 123.0

        def quantize(model: Any, calibration: np.ndarray, *, reduce_range: bool) -> str:
            calls.append(("quantize", (model, calibration, reduce_range)))
            return "int8-graph"

        monkeypatch.setattr(cnn_evaluator, "to_onnx", lambda model, shape: ("graph", shape))
        monkeypatch.setattr(cnn_evaluator, "measure_latency_ms", measure)
        monkeypatch.setattr(cnn_evaluator, "quantize_int8", quantize)
        big = Dataset(**{**digits.__dict__, "X_train": np.concatenate([digits.X_train] * 2)})
        ev = EdgeEvaluator(big, device_profile=profile, latency=mode, latency_repeats=3,
                           threads=2)  # fmt: skip
        arch = {**ARCH, "bits": bits}
        model = ev.build(arch, seed=0)
        out = ev.costs(arch, model)
        model_ms = edge_costs(arch, (1, 8, 8), 10, get_device(profile))["latency_model_ms"]
        assert ev.costs.measures is measured
        if not measured:
            assert out["latency_ms"] == model_ms and calls == []
            assert ev.cheap_metrics(arch)["latency_ms"] == model_ms
            return
        assert out["latency_ms"] == 123.0 and out["latency_model_ms"] == model_ms
        assert "latency_ms" not in ev.cheap_metrics(arch)
        graph = ("graph", (1, 8, 8))
        if bits == 8:
            (q, (given, calib, reduce_range)), m = calls
            # timing only: the 8-bit weights, without the kernels' agreement check
            assert q == "quantize" and given == graph and reduce_range is False
            np.testing.assert_array_equal(calib, big.X_train[:256])
            assert m == ("measure", ("int8-graph", (1, 8, 8), 3, 2))
        else:
            assert calls == [("measure", (graph, (1, 8, 8), 3, 2))]

    def test_the_trained_network_is_timed(
        self, digits: Dataset, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        timed: list[Any] = []

        def to_onnx(model: nn.Module, shape: Any) -> str:
            timed.append((model.training, next(model.parameters()).device.type, shape))
            timed.append(model.state_dict())
            return "graph"

        monkeypatch.setattr(cnn_evaluator, "to_onnx", to_onnx)
        monkeypatch.setattr(cnn_evaluator, "measure_latency_ms", lambda *a, **k: 2.0)
        ev = EdgeEvaluator(digits, epochs=1, batch_size=64, latency="measured")
        model, m = ev.fit(ARCH, seed=2)
        assert m["latency_ms"] == 2.0 and timed[0] == (False, "cpu", (1, 8, 8))
        for k, v in model.state_dict().items():
            assert torch.equal(timed[1][k], v)


class TestSuperNetEvaluator:
    def test_the_supernet_and_a_score_by_hand(self, digits: Dataset) -> None:
        ev = SuperNetEvaluator(SPACE, digits, supernet_epochs=1, seed=2, batch_size=64, lr=0.01,
                               recalibration_batches=1, latency="model",
                               device_profile="raspi4")  # fmt: skip
        net = ev.supernet
        assert ev.supernet is net
        with torch_threads(1):
            torch.manual_seed(2)
            mine = SuperNet(SPACE, (1, 8, 8), 10)
            mine.fit(digits.X_train, digits.y_train, epochs=1, seed=2, batch_size=64, lr=0.01)
        for k, v in mine.state_dict().items():
            torch.testing.assert_close(net.state_dict()[k], v, rtol=0, atol=1e-6)
        m = ev.evaluate(ARCH, seed=7)
        model = mine.extract(SPACE.validate(ARCH))
        idx = np.random.default_rng(7).permutation(len(digits.X_train))[:256]
        recalibrate_bn(model, digits.X_train[np.sort(idx)], max_batches=1)
        assert m["val_error"] == pytest.approx(_errors(model, digits.X_val, digits.y_val))
        assert m["test_error"] == pytest.approx(_errors(model, digits.X_test, digits.y_test))
        assert m["val_accuracy"] == 1.0 - m["val_error"] and m["params"] == _numel(model)
        assert m["flops"] == _flops(model, (1, 8, 8)) and m["macs"] == m["flops"] / 2
        costs = edge_costs(ARCH, (1, 8, 8), 10, get_device("raspi4"))
        assert {k: m[k] for k in costs} == costs and m["latency_ms"] == costs["latency_model_ms"]
        assert set(m) == {"val_error", "test_error", "val_accuracy", "params", "flops", "macs",
                          "latency_ms", *costs}  # fmt: skip
        with pytest.raises(SpaceError, match=r"^unknown choice\(s\) \['x'\]"):
            ev.evaluate({**ARCH, "x": 1}, seed=0)

    def test_recalibration_on_the_seed_s_images(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """``recalibration_batches`` batches of 256 training images, drawn by the seed, in
        index order (more than the 8 batches ``recalibrate_bn`` takes by default)."""
        rng = np.random.default_rng(0)
        n = 9 * 256 + 100
        X = rng.uniform(0, 1, (n, 1, 8, 8)).astype(np.float32)
        y = rng.integers(0, 10, n)
        small = Dataset(**{**load_dataset("digits", seed=1).__dict__, "X_train": X,
                           "y_train": y})  # fmt: skip
        seen: list[tuple[np.ndarray, dict[str, Any]]] = []

        def record(model: nn.Module, images: np.ndarray, **kw: Any) -> nn.Module:
            seen.append((images, kw))
            return recalibrate_bn(model, images, **kw)

        monkeypatch.setattr(cnn_evaluator, "recalibrate_bn", record)
        ev = SuperNetEvaluator(SPACE, small, supernet_epochs=1, seed=1, batch_size=512,
                               recalibration_batches=9, latency="model")  # fmt: skip
        ev.evaluate(ARCH, seed=3)
        idx = np.random.default_rng(3).permutation(n)[: 9 * 256]
        ((images, kw),) = seen
        np.testing.assert_array_equal(images, X[np.sort(idx)])
        assert kw == {"max_batches": 9}

    def test_measured_latency_times_the_extracted_network(
        self, digits: Dataset, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        timed: list[Any] = []

        def to_onnx(model: nn.Module, shape: Any) -> str:
            timed.append((type(model).__name__, model.training, shape))
            return "graph"

        monkeypatch.setattr(cnn_evaluator, "to_onnx", to_onnx)
        monkeypatch.setattr(cnn_evaluator, "measure_latency_ms", lambda *a, **k: 4.5)
        ev = SuperNetEvaluator(SPACE, digits, supernet_epochs=1, latency="measured",
                               recalibration_batches=1)  # fmt: skip
        m = ev.evaluate(ARCH, seed=0)
        assert m["latency_ms"] == 4.5 and timed == [("EdgeCNN", False, (1, 8, 8))]

    def test_threads_while_scoring(self, digits: Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
        """The supernet trains (and each architecture is scored) on ``torch_threads``
        threads and on the device asked for (a ``meta`` device: training stood in for)."""
        ev = SuperNetEvaluator(SPACE, digits, supernet_epochs=4, torch_threads=2, seed=6,
                               batch_size=9, lr=0.25, latency="model", device="meta")  # fmt: skip
        seen: list[Any] = []

        def fit(net: SuperNet, X: np.ndarray, y: np.ndarray, **kw: Any) -> None:
            seen.append((X is digits.X_train, y is digits.y_train, kw, torch.get_num_threads()))

        monkeypatch.setattr(SuperNet, "fit", fit)
        monkeypatch.setattr(ev, "_score", lambda net, arch, seed: {"n": torch.get_num_threads()})
        before = torch.get_num_threads()
        assert ev.evaluate(ARCH, seed=0) == {"n": 2}
        assert seen == [(True, True, {"epochs": 4, "seed": 6, "batch_size": 9, "lr": 0.25,
                                      "device": "meta"}, 2)]  # fmt: skip
        assert torch.get_num_threads() == before
        assert all(p.device.type == "cpu" for p in ev.supernet.parameters())

    def test_defaults_and_refusals(self, digits: Dataset) -> None:
        ev = SuperNetEvaluator(SPACE, digits)
        assert (ev.supernet_epochs, ev.seed, ev.batch_size, ev.lr, ev.recalibration_batches,
                ev.device, ev.torch_threads) == (10, 0, 128, 3e-3, 8, "cpu", 1)  # fmt: skip
        assert (ev.costs.latency, ev.costs.latency_repeats, ev.costs.threads) == ("auto", 50, 1)
        assert ev.costs.profile.name == "local-cpu"
        c = SuperNetEvaluator(SPACE, digits, threads=3, latency_repeats=2, latency="model",
                              device_profile="raspi4").costs  # fmt: skip
        assert (c.threads, c.latency_repeats, c.latency, c.profile.name) == (
            3,
            2,
            "model",
            "raspi4",
        )
        assert ev.fingerprint == digits.fingerprint and ev._net is None
        for kw, line, kind in (
            ({"torch_threads": 0}, "torch_threads must be >= 1; got 0", ValueError),
            ({"supernet_epochs": 0}, "supernet_epochs must be >= 1; got 0", ValueError),
            ({"lr": 0.0}, "lr must be a number > 0; got 0.0", ValueError),
            ({"recalibration_batches": 0}, "recalibration_batches must be >= 1; got 0", ValueError),
            ({"recalibration_batches": True}, "recalibration_batches must be >= 1; got True",
             ValueError),
            ({"latency": "x"}, "latency must be one of ['auto', 'measured', 'model']; got 'x'",
             ConfigError),
            ({"latency_repeats": 0}, "latency_repeats must be >= 1; got 0", ValueError),
        ):  # fmt: skip
            with pytest.raises(kind) as e:
                SuperNetEvaluator(SPACE, digits, **kw)
            assert str(e.value) == line
        assert SuperNetEvaluator(SPACE, digits, supernet_epochs=1,
                                 recalibration_batches=1).supernet_epochs == 1  # fmt: skip


class TestFactory:
    def _capture(self, monkeypatch: pytest.MonkeyPatch, data: Dataset) -> list[dict[str, Any]]:
        import quarch.data

        calls: list[dict[str, Any]] = []

        def fake(name: str, **kw: Any) -> Dataset:
            calls.append({"name": name, **kw})
            return data

        monkeypatch.setattr(quarch.data, "load_dataset", fake)
        return calls

    def test_defaults(
        self, digits: Dataset, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        calls = self._capture(monkeypatch, digits)
        cfg = SearchConfig(space="cnn", dataset="fashion-mnist", seed=3, data_dir="/d")
        ev = make_cnn_evaluator(SPACE, cfg, weights_dir=tmp_path)
        assert isinstance(ev, EdgeEvaluator)
        assert calls == [{"name": "fashion-mnist", "data_dir": "/d", "seed": 3,
                          "max_train": 10_000}]  # fmt: skip
        # the data handed over has 200 training images: 2 steps of 128 an epoch, so 50
        # epochs make the 100 steps (a small set's 2 epochs left every network at chance)
        assert len(digits.y_train) == 200
        assert (ev.epochs, ev.batch_size, ev.lr, ev.device, ev.torch_threads) == (
            50, 128, 3e-3, "cpu", 1
        )  # fmt: skip
        c = ev.costs
        assert (c.profile.name, c.latency, c.latency_repeats, c.threads) == (
            "local-cpu", "auto", 50, 1
        )  # fmt: skip
        assert ev.weights_dir == tmp_path and ev.trainer.space is SPACE
        for batch, epochs in ((2, 2), (16, 8), (64, 25), (200, 100)):  # 100, 13, 4, 1 steps
            cfg = SearchConfig(space="cnn", dataset="digits", batch_size=batch)
            ev = make_cnn_evaluator(SPACE, cfg)
            assert isinstance(ev, EdgeEvaluator) and ev.epochs == epochs, batch
        cfg = SearchConfig(space="cnn", dataset="digits", epochs=3)  # given: as given
        assert cast(EdgeEvaluator, make_cnn_evaluator(SPACE, cfg)).epochs == 3

    def test_default_epochs_are_the_fewest_that_make_min_steps(self) -> None:
        """By brute force over the training loop's own batches (``range(0, n, b)``)."""
        assert (DEFAULT_EPOCHS, MIN_STEPS) == (2, 100)
        for n in (1, 9, 99, 100, 101, 127, 128, 129, 1079, 6400, 6401, 10_000, 60_000):
            for b in (1, 7, 64, 128, 1000, 20_000):
                steps = len(range(0, n, b))
                want = next(e for e in range(DEFAULT_EPOCHS, 10**6) if e * steps >= MIN_STEPS)
                assert default_epochs(n, b) == want, (n, b)

    def test_options(
        self, digits: Dataset, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        calls = self._capture(monkeypatch, digits)
        cfg = SearchConfig(
            space="cnn", dataset="mnist", epochs=4, batch_size=16, max_train=99, device="meta",
            evaluator_options={"device_profile": "cortex-m7", "latency": "model",
                               "latency_repeats": "5", "threads": "3", "torch_threads": "2",
                               "lr": 0.02, "save_weights": False},
        )  # fmt: skip
        ev = make_cnn_evaluator(SPACE, cfg, weights_dir=tmp_path)
        assert isinstance(ev, EdgeEvaluator) and calls[0]["max_train"] == 99
        assert (ev.epochs, ev.batch_size, ev.lr, ev.device, ev.torch_threads) == (
            4, 16, 0.02, "meta", 2
        )  # fmt: skip
        c = ev.costs
        assert (c.profile.name, c.latency, c.latency_repeats, c.threads) == (
            "cortex-m7", "model", 5, 3
        )  # fmt: skip
        assert ev.weights_dir is None

    @pytest.mark.parametrize("key", ["supernet", "supercircuit"])
    def test_the_supernet_evaluator(
        self, key: str, digits: Dataset, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        self._capture(monkeypatch, digits)
        cfg = SearchConfig(space="cnn", dataset="digits", seed=5, epochs=3, batch_size=8,
                           evaluator_options={key: True, "recalibration_batches": "2",
                                              "lr": 0.5, "torch_threads": 2,
                                              "latency": "measured"})  # fmt: skip
        ev = make_cnn_evaluator(SPACE, cfg)
        assert isinstance(ev, SuperNetEvaluator)
        assert (ev.supernet_epochs, ev.seed, ev.recalibration_batches, ev.batch_size, ev.lr,
                ev.torch_threads, ev.costs.latency) == (3, 5, 2, 8, 0.5, 2, "measured")  # fmt: skip
        assert ev.space is SPACE
        cfg = SearchConfig(space="cnn", dataset="digits",
                           evaluator_options={key: True, "supernet_epochs": "6"})  # fmt: skip
        ev = make_cnn_evaluator(SPACE, cfg)
        assert isinstance(ev, SuperNetEvaluator)
        assert (ev.supernet_epochs, ev.recalibration_batches, ev.batch_size) == (6, 8, 128)
        cfg = SearchConfig(space="cnn", dataset="digits", evaluator_options={key: True})
        ev = make_cnn_evaluator(SPACE, cfg)
        assert isinstance(ev, SuperNetEvaluator) and ev.supernet_epochs == 10
        cfg = SearchConfig(space="cnn", dataset="digits", evaluator_options={key: False})
        assert isinstance(make_cnn_evaluator(SPACE, cfg), EdgeEvaluator)

    def test_refusals(self, digits: Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
        with pytest.raises(ConfigError) as e:
            make_cnn_evaluator(SPACE, SearchConfig(space="cnn", dataset=None))
        assert str(e.value) == "space 'cnn' needs --dataset (digits, mnist or fashion-mnist)"
        with pytest.raises(ConfigError) as e:
            make_cnn_evaluator(SPACE, SearchConfig(space="cnn", dataset="iris"))
        assert str(e.value) == (
            "space 'cnn' needs an image data set (C, H, W); 'iris' has input shape (4,)"
        )
        self._capture(monkeypatch, digits)
        for opts, kind, line in (
            ({"device_profile": "tpu"}, ConfigError, r"unknown edge device profile 'tpu'"),
            ({"lr": "fast"}, ValueError, r"lr must be a number > 0; got 'fast'"),
        ):
            with pytest.raises(kind, match="^" + re.escape(line)):
                make_cnn_evaluator(SPACE, SearchConfig(space="cnn", dataset="digits",
                                                       evaluator_options=opts))  # fmt: skip
