"""The hqnn evaluators against training written out here as a plain torch loop with the
same seed (Adam, shuffled minibatches, early stopping on validation as the module
docstring and :func:`quarch.evaluate.train_classifier` describe it), metrics recomputed
by hand (errors by ``argmax``, ``params`` as a sum of ``numel``), the options a config
hands over, and every refusal's whole line.
"""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from quarch import ConfigError
from quarch.config import SearchConfig
from quarch.cost.device_costs import TrainingLoad
from quarch.data import Dataset, load_dataset
from quarch.evaluate import torch_threads
from quarch.spaces.hqnn import evaluator as hqnn_evaluator
from quarch.spaces.hqnn.evaluator import (
    DEFAULT_FINETUNE_STEPS,
    DEFAULTS,
    PCA_MAX,
    HQNNEvaluator,
    SuperCircuitEvaluator,
    make_hqnn_evaluator,
    prepare_data,
    record_epochs,
    space_pca,
)
from quarch.spaces.hqnn.model import HybridNet, classical_ablation, fit_pca
from quarch.spaces.hqnn.space import hqnn_space
from quarch.spaces.hqnn.supercircuit import SuperCircuit, train_supercircuit

from ..._scope import per_module

SPACE = hqnn_space(max_qubits=3, max_layers=2, frontends=["linear", "pca"])
ARCH: dict[str, Any] = {
    **SPACE.sample(0), "embedding": "angle-y", "qubits": 2, "layers": 1,
    "entanglement_0": "linear", "reupload": False, "measurement": "z", "frontend": "linear",
    "head": "linear", "lr": 0.1,
}  # fmt: skip


@pytest.fixture(scope=per_module)
def iris() -> Dataset:
    return prepare_data(load_dataset("iris", seed=0))


def _errors(model: nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with torch.no_grad():
        pred = model(torch.as_tensor(X, dtype=torch.float32)).argmax(1).numpy()
    return float(np.mean(pred != y))


def _plain_training(
    model: nn.Module, data: Dataset, *, epochs: int, lr: float, batch: int, seed: int
) -> tuple[float, float]:
    """Adam on shuffled minibatches; the validation error after every step (the split
    has at most 256 samples); the first weights with the lowest one are kept; stop at 0.

    On one torch thread, as the evaluator trains circuits of up to 10 qubits: the linear
    front-end's bias before its batch-norm has a zero gradient up to rounding, which
    Adam scales to full steps, so its value (and the running mean that follows it)
    depends on the order of float sums, which the thread count changes.
    """
    with torch_threads(1):
        return _loop(model, data, epochs=epochs, lr=lr, batch=batch, seed=seed)


def _loop(
    model: nn.Module, data: Dataset, *, epochs: int, lr: float, batch: int, seed: int
) -> tuple[float, float]:
    Xtr = torch.as_tensor(data.X_train, dtype=torch.float32)
    ytr = torch.as_tensor(data.y_train, dtype=torch.long)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    best, state = math.inf, copy.deepcopy(model.state_dict())
    for _ in range(epochs):
        perm = torch.randperm(len(Xtr), generator=gen)
        for i in range(0, len(Xtr), batch):
            model.train()
            idx = perm[i : i + batch]
            opt.zero_grad()
            nn.functional.cross_entropy(model(Xtr[idx]), ytr[idx]).backward()
            opt.step()
            err = _errors(model, data.X_val, data.y_val)
            if err < best:
                best, state = err, copy.deepcopy(model.state_dict())
            if best == 0.0:
                break
        if best == 0.0:
            break
    model.load_state_dict(state)
    return best, _errors(model, data.X_test, data.y_test)


def _numel(model: nn.Module) -> float:
    return float(sum(p.numel() for p in model.parameters() if p.requires_grad))


# -- training ---------------------------------------------------------------------------------
class TestTraining:
    @pytest.mark.parametrize(("frontend", "seed", "epochs"), [("linear", 3, 2), ("pca", 1, 1)])
    def test_a_plain_torch_loop_gives_the_same_model_and_errors(
        self, iris: Dataset, tmp_path: Path, frontend: str, seed: int, epochs: int
    ) -> None:
        arch = {**ARCH, "frontend": frontend}
        ev = HQNNEvaluator(iris, SPACE, epochs=epochs, batch_size=16, weights_dir=tmp_path / "w")
        m = ev.evaluate(arch, seed=seed)
        torch.manual_seed(seed)
        pca = fit_pca(iris.X_train, 2**3) if frontend == "pca" else None
        model = HybridNet(arch, (4,), 3, pca=pca)
        val, test = _plain_training(model, iris, epochs=epochs, lr=0.1, batch=16, seed=seed)
        assert (m["val_error"], m["test_error"]) == (pytest.approx(val), pytest.approx(test))
        assert m["val_accuracy"] == 1.0 - m["val_error"]
        assert m["params"] == _numel(model)
        saved = torch.load(tmp_path / "w" / f"seed_{seed}.pt")
        mine = model.state_dict()
        assert set(saved) == set(mine)
        for k in mine:
            torch.testing.assert_close(saved[k], mine[k], rtol=0, atol=1e-6)
        # every cost of the trained model, as the costs object gives them
        costs = ev.costs(SPACE.validate(arch), model, seed=seed)
        costs.pop("sim_time_ms")
        assert {k: m[k] for k in costs} == costs
        assert set(m) == {"val_error", "test_error", "val_accuracy", "sim_time_ms", *costs}
        assert ev.last_seconds > 0

    def test_build_is_seeded(self, iris: Dataset) -> None:
        ev = HQNNEvaluator(iris, SPACE)
        torch.manual_seed(5)
        mine = HybridNet(ARCH, (4,), 3)
        a, b = ev.build(ARCH, seed=5).state_dict(), ev.build(ARCH, seed=5).state_dict()
        for k, v in mine.state_dict().items():
            assert torch.equal(a[k], v) and torch.equal(b[k], v)
        assert not torch.equal(ev.build(ARCH, seed=6).quantum.weights, mine.quantum.weights)

    def test_what_training_is_given(self, iris: Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
        """The device, seed, epochs, learning rate, batch size and snapshots reach the
        training loop (a stand-in here: a ``meta`` device trains nothing on this machine),
        on one torch thread, and its errors are what the metrics report."""
        seen: list[dict[str, Any]] = []

        def fake(model: nn.Module, data: Dataset, **kw: Any) -> dict[str, float]:
            seen.append({**kw, "threads": torch.get_num_threads(), "data": data})
            out = {"val_error": 0.25, "test_error": 0.5}
            for e in kw["snapshots"]:
                out |= {f"val_error_e{e}": e / 10, f"test_error_e{e}": e / 100}
            return out

        monkeypatch.setattr(hqnn_evaluator, "train_classifier", fake)
        ev = HQNNEvaluator(iris, SPACE, epochs=4, batch_size=8, device="meta",
                           record_epochs=[4, 2, 2])  # fmt: skip
        assert ev.record_epochs == (2, 4)
        before = torch.get_num_threads()
        torch.set_num_threads(2)  # not 1: an xdist worker runs on 1 (tests/conftest.py)
        try:
            model, m = ev.fit({**ARCH, "lr": 0.03}, seed=9)
            assert torch.get_num_threads() == 2
        finally:
            torch.set_num_threads(before)
        (kw,) = seen
        assert kw == {"epochs": 4, "lr": 0.03, "batch_size": 8, "seed": 9, "device": "meta",
                      "early_stopping": True, "snapshots": [2, 4], "threads": 1, "data": iris}  # fmt: skip
        assert (m["val_error"], m["test_error"], m["val_accuracy"]) == (0.25, 0.5, 0.75)
        assert m["params"] == _numel(model)
        assert all(p.device.type == "cpu" for p in model.parameters())
        assert {k: m[k] for k in m if re.search(r"_e\d", k)} == {
            "val_error_e2": 0.2, "test_error_e2": 0.02, "val_error_e4": 0.4, "test_error_e4": 0.04
        }  # fmt: skip
        assert m["train_seconds"] > 0
        seen.clear()
        _, short = ev.fit(ARCH, seed=9, epochs=3)  # a shorter fit records what it reaches
        assert seen[0]["epochs"] == 3 and seen[0]["snapshots"] == [2]
        assert "val_error_e2" in short and "val_error_e4" not in short
        seen.clear()
        plain = HQNNEvaluator(iris, SPACE, epochs=2)
        _, m = plain.fit(ARCH, seed=0)
        assert seen[0]["snapshots"] == [] and seen[0]["device"] == "cpu"
        assert "train_seconds" not in m and not any(re.search(r"_e\d", k) for k in m)

    def test_a_circuit_wider_than_the_device_fails_before_training(
        self, iris: Dataset, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from quarch.cost.routing import DeviceFitError

        trained: list[int] = []
        monkeypatch.setattr(hqnn_evaluator, "train_classifier", lambda *a, **k: trained.append(1))
        monkeypatch.setattr(hqnn_evaluator, "train_supercircuit", lambda *a, **k: trained.append(2))
        space = hqnn_space(max_qubits=6, max_layers=1, frontends=["linear"])
        arch = {**space.sample(0), "qubits": 6}
        opts: dict[str, Any] = {"device_profile": "ibm-manila", "noise": True}  # 5 qubits
        with pytest.raises(DeviceFitError):
            HQNNEvaluator(iris, space, **opts).fit(arch, seed=0)
        with pytest.raises(DeviceFitError):
            SuperCircuitEvaluator(iris, space, steps=1, **opts).evaluate(arch, seed=0)
        assert trained == []

    def test_noisy_scores_are_seeded_by_the_trial_seed(
        self, iris: Dataset, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Trajectories (``noise_max_qubits=1``): the seed changes the noisy scores, and
        the metrics are those of the trained model under the trial's seed; a noise-aware
        fit trains for the epochs it is given."""
        epochs: list[int] = []

        def fake(model: nn.Module, data: Dataset, **kw: Any) -> dict[str, float]:
            epochs.append(kw["epochs"])
            return {"val_error": 0.0, "test_error": 0.0}

        monkeypatch.setattr(hqnn_evaluator, "train_classifier", fake)
        opts: dict[str, Any] = {"noise": True, "noise_max_qubits": 1, "noise_samples": 3,
                                "noise_target_se": 0.2}  # fmt: skip
        ev = HQNNEvaluator(iris, SPACE, epochs=1, **opts)
        model, m = ev.fit(ARCH, seed=5)
        arch = SPACE.validate(ARCH)
        with torch_threads(1):  # as fit scores a circuit of up to 10 qubits
            want = ev.costs.noisy_scores(arch, model, seed=5)
            assert ev.costs.noisy_scores(arch, model, seed=0) != want  # the seed matters here
        assert {k: m[k] for k in want} == want
        sc = SuperCircuitEvaluator(iris, SPACE, steps=1, finetune_steps=0, **opts)
        m = sc.evaluate(arch, seed=5)
        net = sc.supercircuit.extract(arch).eval()
        assert {k: m[k] for k in want} == sc.costs.noisy_scores(arch, net, seed=5)
        noisy = HQNNEvaluator(iris, SPACE, epochs=1, noise_aware=True, **opts)
        noisy.fit(ARCH, seed=5, epochs=2)
        assert epochs == [1, 2]

    def test_the_seconds_are_durations(self, iris: Dataset) -> None:
        import time

        ev = HQNNEvaluator(iris, SPACE, epochs=1, record_epochs=[1])
        t0 = time.perf_counter()
        _, m = ev.fit(ARCH, seed=0)
        wall = time.perf_counter() - t0
        assert 0 < m["train_seconds"] <= ev.last_seconds <= wall
        sc = SuperCircuitEvaluator(iris, SPACE, steps=2)
        t0 = time.perf_counter()
        sc.supercircuit  # noqa: B018  (trains it)
        assert 0 < sc.train_seconds <= time.perf_counter() - t0

    @pytest.mark.parametrize(("qubits", "threads"), [(10, 1), (11, 3)])
    def test_one_thread_up_to_10_qubits(
        self, iris: Dataset, monkeypatch: pytest.MonkeyPatch, qubits: int, threads: int
    ) -> None:
        seen: list[int] = []

        def fake(model: nn.Module, data: Dataset, **kw: Any) -> dict[str, float]:
            seen.append(torch.get_num_threads())
            return {"val_error": 0.0, "test_error": 0.0}

        monkeypatch.setattr(hqnn_evaluator, "train_classifier", fake)
        space = hqnn_space(max_qubits=11, max_layers=1, frontends=["linear"])
        arch = {**space.sample(0), "qubits": qubits, "embedding": "angle-y", "layers": 1,
                "entanglement_0": "none", "measurement": "z"}  # fmt: skip
        with torch_threads(3):
            ev = HQNNEvaluator(iris, space, epochs=1)
            ev.fit(arch, seed=0)
            assert torch.get_num_threads() == 3

            # the costs before training (a FLOP count runs a sample) on the same threads
            def static(*args: Any) -> dict[str, float]:
                seen.append(torch.get_num_threads())
                return {}

            monkeypatch.setattr(ev.costs, "static", static)
            ev.cheap_metrics(arch)
            assert torch.get_num_threads() == 3
        assert seen == [threads, threads]

    @pytest.mark.parametrize(("widest", "threads"), [(10, 1), (11, 3)])
    def test_the_supercircuit_trains_and_fine_tunes_as_fit_does(
        self, iris: Dataset, monkeypatch: pytest.MonkeyPatch, widest: int, threads: int
    ) -> None:
        """One torch thread while the SuperCircuit trains when its space is at most 10
        qubits wide, and while an architecture of up to 10 qubits is fine-tuned (session
        38: both ran on every thread, which on a loaded machine spin against each other)."""
        seen: list[tuple[str, int]] = []
        monkeypatch.setattr(hqnn_evaluator, "train_supercircuit",
                            lambda *a, **k: seen.append(("train", torch.get_num_threads())))  # fmt: skip
        monkeypatch.setattr(hqnn_evaluator, "_finetune",
                            lambda *a, **k: seen.append(("tune", torch.get_num_threads())))  # fmt: skip
        space = hqnn_space(max_qubits=widest, max_layers=1, frontends=["linear"])
        sc = SuperCircuitEvaluator(iris, space, steps=1, finetune_steps=1)
        arch = {**space.sample(0), "qubits": 2, "embedding": "angle-y", "layers": 1,
                "entanglement_0": "none", "measurement": "z"}  # fmt: skip
        with torch_threads(3):
            sc.evaluate(arch, seed=0)
            assert torch.get_num_threads() == 3
        assert seen == [("train", threads), ("tune", 1)]

    def test_the_ablation_trains_the_same_way(self, iris: Dataset) -> None:
        ev = HQNNEvaluator(iris, SPACE, epochs=2, batch_size=16)
        model, m = ev.fit_ablation(ARCH, seed=4)
        torch.manual_seed(4)
        mine = classical_ablation(ARCH, (4,), 3)
        val, test = _plain_training(mine, iris, epochs=2, lr=0.1, batch=16, seed=4)
        assert m == {"val_error": pytest.approx(val), "test_error": pytest.approx(test),
                     "params": _numel(mine)}  # fmt: skip
        assert (
            m["params"]
            == _numel(model)
            == HQNNEvaluator(iris, SPACE).fit(ARCH, seed=4)[1]["params"]
        )
        for k, v in mine.state_dict().items():
            torch.testing.assert_close(model.state_dict()[k], v, rtol=0, atol=1e-6)
        _, short = ev.fit_ablation({**ARCH, "frontend": "pca"}, seed=4, epochs=1)
        torch.manual_seed(4)
        mine = classical_ablation({**ARCH, "frontend": "pca"}, (4,), 3, pca=ev.pca)
        val, test = _plain_training(mine, iris, epochs=1, lr=0.1, batch=16, seed=4)
        assert (short["val_error"], short["test_error"]) == (
            pytest.approx(val),
            pytest.approx(test),
        )

    def test_noise_aware_training_is_scored_without_noise(self, iris: Dataset) -> None:
        small = Dataset(
            **{**iris.__dict__, "X_train": iris.X_train[:16], "y_train": iris.y_train[:16]}
        )
        ev = HQNNEvaluator(small, SPACE, epochs=1, batch_size=16, noise=True, noise_samples=4,
                           noise_aware=True)  # fmt: skip
        model, m = ev.fit(ARCH, seed=2)
        assert type(model.quantum).__name__ != "NoisyLayer"  # the plain layer is back
        assert m["val_error"] == pytest.approx(_errors(model, small.X_val, small.y_val))
        assert m["test_error"] == pytest.approx(_errors(model, small.X_test, small.y_test))
        assert "noisy_val_error" in m and m["val_accuracy"] == 1.0 - m["val_error"]

    def test_noise_aware_scores_on_the_training_device(
        self, iris: Dataset, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Training leaves the model on its device (``train_classifier`` moves it there);
        the noiseless scores after noise-aware training are computed there too. They
        were computed from CPU tensors, so ``--device cuda`` with ``noise_aware`` failed
        once training ended ("Tensor on device ... is not on the expected device").
        Stood in for on a ``meta`` device: training and scoring record what they get."""
        seen: list[tuple[Any, ...]] = []

        def train(model: nn.Module, data: Dataset, **kw: Any) -> dict[str, float]:
            layer = model.quantum
            seen.append(("train", type(layer).__name__, kw["device"], kw["epochs"], kw["seed"],
                         getattr(layer, "step", None), kw["early_stopping"]))  # fmt: skip
            model.to(kw["device"])
            return {"val_error": 0.5, "test_error": 0.5}

        def error(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
            at = next(model.parameters()).device
            seen.append(("score", type(model.quantum).__name__, at, X.device, y.device, X.dtype))
            return [0.25, 0.125][len(seen) - 2]  # the validation split first

        monkeypatch.setattr(hqnn_evaluator, "train_classifier", train)
        monkeypatch.setattr(hqnn_evaluator, "classification_error", error)
        ev = HQNNEvaluator(iris, SPACE, epochs=1, noise=True, noise_aware=True, device="meta")
        model = ev.build(ARCH, seed=0)
        out = ev._train_noisy(model, SPACE.validate(ARCH), seed=7, epochs=3)
        meta = torch.device("meta")
        plain = type(model.quantum).__name__
        assert plain != "NoisyLayer"
        assert seen == [
            ("train", "NoisyLayer", "meta", 3, 7, 7, True),  # trajectories seeded by the seed
            *[("score", plain, meta, meta, meta, torch.float32)] * 2,
        ]
        assert out == {"val_error": 0.25, "test_error": 0.125}


# -- options ------------------------------------------------------------------------------------
class TestOptions:
    def test_refusals(self, iris: Dataset) -> None:
        for given, epochs in (([0, 2], 3), ([1, 4], 3), ([-1], 5)):
            with pytest.raises(ConfigError) as e:
                HQNNEvaluator(iris, SPACE, epochs=epochs, record_epochs=given)
            assert str(e.value) == (
                f"record_epochs must be epoch counts in [1, {epochs}] (the training's "
                f"epochs); got {sorted(set(given))}"
            )
        assert HQNNEvaluator(iris, SPACE, epochs=3, record_epochs=[1, 3]).record_epochs == (1, 3)
        with pytest.raises(ConfigError) as e:
            HQNNEvaluator(iris, SPACE, epochs=3, record_epochs=[1], noise=True, noise_aware=True)
        assert str(e.value) == "record_epochs needs noiseless training, not noise_aware"
        with pytest.raises(ConfigError) as e:
            HQNNEvaluator(iris, SPACE, noise_aware=True)
        assert str(e.value) == "noise_aware needs a noise model: set noise (--noise DEVICE)"

    def test_constructor_defaults(self, iris: Dataset, tmp_path: Path) -> None:
        ev = HQNNEvaluator(iris, SPACE)
        assert (ev.epochs, ev.batch_size, ev.device, ev.weights_dir) == (20, 32, "cpu", None)
        assert ev.noise_aware is False and ev.record_epochs == () and ev.last_seconds == 0.0
        assert ev.fingerprint == iris.fingerprint and ev.data is iris and ev.space is SPACE
        assert ev.costs.training == TrainingLoad(90, 20, 32) and ev.costs.batch_size == 32
        ev = HQNNEvaluator(iris, SPACE, epochs=3, batch_size=8, weights_dir=str(tmp_path))
        assert ev.costs.training == TrainingLoad(90, 3, 8) and ev.weights_dir == tmp_path
        own = TrainingLoad(1, 2, 3)
        assert HQNNEvaluator(iris, SPACE, training=own).costs.training is own
        assert HQNNEvaluator(iris, SPACE, noise=True, noise_aware=1).noise_aware is True  # type: ignore[arg-type]

    def test_cheap_metrics_and_routing(self, iris: Dataset) -> None:
        ev = HQNNEvaluator(iris, SPACE)
        arch = SPACE.validate(ARCH)
        torch.manual_seed(0)
        assert ev.cheap_metrics(ARCH) == ev.costs.static(arch, HybridNet(arch, (4,), 3))
        assert ev.cheap_metrics(ARCH)["params"] == _numel(HybridNet(arch, (4,), 3))
        with pytest.raises(Exception, match=r"unknown choice\(s\) \['x'\]"):
            ev.cheap_metrics({**ARCH, "x": 1})
        assert ev.routed_circuit(ARCH) is None
        routed = HQNNEvaluator(iris, SPACE, device_profile="ibm-manila", noise=True)
        assert routed.routed_circuit(ARCH) is not None

    def test_the_pca_basis(self, iris: Dataset) -> None:
        ev = HQNNEvaluator(iris, SPACE)
        assert ev.pca is ev.pca  # fitted once
        want = fit_pca(iris.X_train, 8)  # amplitude embeddings on 3 qubits: 2**3, iris has 4
        for name in ("mean", "components", "scale"):
            np.testing.assert_array_equal(getattr(ev.pca, name), getattr(want, name))
        digits = load_dataset("digits", seed=0)
        cases = [
            (hqnn_space(max_qubits=5, max_layers=1), 32),
            (hqnn_space(max_qubits=5, max_layers=1, embeddings=["angle-y", "iqp"]), 5),
            (hqnn_space(max_qubits=9, max_layers=1), 64),  # 2**9 capped by the 64 features
        ]
        for space, k in cases:
            assert space_pca(space, digits).components.shape == (k, 64)
        wide = np.random.default_rng(0).normal(size=(300, 600))
        data = Dataset(**{**digits.__dict__, "X_train": wide})
        assert space_pca(hqnn_space(max_qubits=9, max_layers=1), data).components.shape == (
            PCA_MAX,
            600,
        )
        assert PCA_MAX == 256

    def test_prepare_data(self, iris: Dataset) -> None:
        raw = load_dataset("iris", seed=0)
        out = prepare_data(raw)
        mean, std = raw.X_train.mean(0), raw.X_train.std(0)
        for split in ("train", "val", "test"):
            want = (getattr(raw, f"X_{split}") - mean) / std
            np.testing.assert_allclose(getattr(out, f"X_{split}"), want, rtol=1e-5, atol=1e-6)
            assert np.array_equal(getattr(out, f"y_{split}"), getattr(raw, f"y_{split}"))
        images = load_dataset("digits", seed=0)
        assert prepare_data(images) is images

    def test_record_epochs_option(self) -> None:
        assert record_epochs({}) == [] and record_epochs({"record_epochs": ""}) == []
        assert record_epochs({"record_epochs": "1,3, 5"}) == [1, 3, 5]
        assert record_epochs({"record_epochs": [2, "4"]}) == [2, 4]
        assert record_epochs({"record_epochs": 7}) == [7]
        for raw in ("0,2", "x", "1.5", [1, None], -3):
            with pytest.raises(ConfigError) as e:
                record_epochs({"record_epochs": raw})
            assert str(e.value) == (
                f"record_epochs must be a comma list of epoch counts >= 1; got {raw!r}"
            )


class TestFactory:
    def _capture(self, monkeypatch: pytest.MonkeyPatch, iris: Dataset) -> list[dict[str, Any]]:
        import quarch.data

        calls: list[dict[str, Any]] = []

        def fake(name: str, **kw: Any) -> Dataset:
            calls.append({"name": name, **kw})
            return iris

        monkeypatch.setattr(quarch.data, "load_dataset", fake)
        return calls

    @pytest.mark.parametrize("dataset", [*DEFAULTS, "moons"])
    def test_per_data_set_defaults(
        self, dataset: str, iris: Dataset, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        calls = self._capture(monkeypatch, iris)
        want = {"iris": (30, 16, None), "wine": (40, 16, None), "breast-cancer": (20, 32, None),
                "digits": (15, 32, None), "mnist": (3, 64, 10_000),
                "fashion-mnist": (3, 64, 10_000)}.get(dataset, (10, 32, None))  # fmt: skip
        cfg = SearchConfig(space="hqnn", dataset=dataset, seed=4, data_dir="/d")
        ev = make_hqnn_evaluator(SPACE, cfg)
        assert isinstance(ev, HQNNEvaluator)
        assert calls == [{"name": dataset, "data_dir": "/d", "seed": 4, "max_train": want[2]}]
        assert (ev.epochs, ev.batch_size) == want[:2]
        assert ev.costs.training == TrainingLoad(90, want[0], want[1])
        assert ev.costs.batch_size == want[1]

    def test_the_config_wins(
        self, iris: Dataset, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        calls = self._capture(monkeypatch, iris)
        cfg = SearchConfig(
            space="hqnn", dataset="mnist", epochs=2, batch_size=5, max_train=77, device="meta",
            evaluator_options={
                "noise": "device", "noise_max_qubits": "4", "noise_samples": "3",
                "transpile_seed": "2", "optimization_level": "1", "job_overhead_s": "0.5",
                "noise_target_se": "0.05", "record_epochs": "1,2", "qubit_budget": 2,
                "noise_aware": False, "shots": 100,
            },
        )  # fmt: skip
        ev = make_hqnn_evaluator(SPACE, cfg, weights_dir=tmp_path)
        assert isinstance(ev, HQNNEvaluator)
        assert calls[0]["max_train"] == 77
        assert (ev.epochs, ev.batch_size, ev.device, ev.weights_dir) == (2, 5, "meta", tmp_path)
        assert ev.record_epochs == (1, 2) and ev.noise_aware is False
        c = ev.costs
        assert (c.transpile_seed, c.optimization_level, c.job_overhead_s) == (2, 1, 0.5)
        assert type(c.transpile_seed) is int and type(c.job_overhead_s) is float
        assert (c.noise_samples, c.qubit_budget, c.shots, c.batch_size) == (3, 2, 100, 5)
        assert c.noise_setup is not None and c.training == TrainingLoad(90, 2, 5)
        assert c.noise_setup.target_se == 0.05 and c.noise_setup.max_density_qubits == 4
        off = SearchConfig(space="hqnn", dataset="iris", evaluator_options={"save_weights": False})
        assert make_hqnn_evaluator(SPACE, off, weights_dir=tmp_path).weights_dir is None  # type: ignore[union-attr]
        on = SearchConfig(space="hqnn", dataset="iris", evaluator_options={"save_weights": True})
        assert make_hqnn_evaluator(SPACE, on, weights_dir=tmp_path).weights_dir == tmp_path  # type: ignore[union-attr]

    def test_without_a_data_set_name(self, iris: Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
        calls = self._capture(monkeypatch, iris)
        ev = make_hqnn_evaluator(SPACE, SearchConfig(space="hqnn", dataset=None))
        assert isinstance(ev, HQNNEvaluator) and calls[0]["name"] == ""
        assert (ev.epochs, ev.batch_size, calls[0]["max_train"]) == (10, 32, None)

    def test_noise_aware_from_options(self, iris: Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
        self._capture(monkeypatch, iris)
        cfg = SearchConfig(space="hqnn", dataset="iris",
                           evaluator_options={"noise": True, "noise_aware": True})  # fmt: skip
        ev = make_hqnn_evaluator(SPACE, cfg)
        assert isinstance(ev, HQNNEvaluator) and ev.noise_aware is True

    def test_the_supercircuit_evaluator(
        self, iris: Dataset, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        self._capture(monkeypatch, iris)
        cfg = SearchConfig(space="hqnn", dataset="iris", seed=6, batch_size=8, device="meta",
                           evaluator_options={"supercircuit": True, "supercircuit_steps": "7",
                                              "finetune_steps": "2", "transpile_seed": "1",
                                              "qubit_budget": 2})  # fmt: skip
        ev = make_hqnn_evaluator(SPACE, cfg)
        assert isinstance(ev, SuperCircuitEvaluator)
        assert (ev.seed, ev.batch_size, ev.steps, ev.finetune_steps, ev.device) == (
            6, 8, 7, 2, "meta"
        )  # fmt: skip
        assert ev.costs.transpile_seed == 1 and ev.costs.qubit_budget == 2
        assert ev.costs.training == TrainingLoad(90, 30, 8)
        for extra in ({"supercircuit_steps": 0}, {}):
            cfg = SearchConfig(space="hqnn", dataset="iris",
                               evaluator_options={"supercircuit": True, **extra})  # fmt: skip
            ev = make_hqnn_evaluator(SPACE, cfg)
            assert isinstance(ev, SuperCircuitEvaluator)
            assert ev.steps == 500 and ev.finetune_steps == DEFAULT_FINETUNE_STEPS == 20
            assert ev.batch_size == 16  # iris' default


# -- the SuperCircuit evaluator -----------------------------------------------------------------
class TestSuperCircuit:
    def test_refusals_and_defaults(self, iris: Dataset) -> None:
        with pytest.raises(ValueError) as e:
            SuperCircuitEvaluator(iris, SPACE, finetune_steps=-1)
        assert str(e.value) == "finetune_steps must be an integer >= 0; got -1"
        with pytest.raises(ValueError) as e:
            SuperCircuitEvaluator(iris, SPACE, steps=0)
        assert str(e.value) == "supercircuit_steps must be an integer >= 1; got 0"
        ev = SuperCircuitEvaluator(iris, SPACE, steps=1, finetune_steps=0, batch_size=8)
        assert (ev.steps, ev.finetune_steps, ev.costs.batch_size) == (1, 0, 8)
        ev = SuperCircuitEvaluator(iris, SPACE)
        assert (ev.seed, ev.batch_size, ev.lr, ev.device) == (0, 32, 0.01, "cpu")
        assert ev.steps == 500 and ev.finetune_steps == 20 and ev.train_seconds == 0.0
        assert ev.fingerprint == iris.fingerprint and ev.costs.batch_size == 32
        big = Dataset(
            **{**iris.__dict__, "X_train": np.zeros((1000, 4)), "y_train": np.zeros(1000)}
        )
        assert SuperCircuitEvaluator(big, SPACE, batch_size=30).steps == 20 * 1000 // 30
        assert SuperCircuitEvaluator(big, SPACE, batch_size=50).steps == 500
        assert ev.routed_circuit(ARCH) is None
        routed = SuperCircuitEvaluator(iris, SPACE, device_profile="ibm-manila", noise=True)
        got = routed.routed_circuit(ARCH)
        want = HQNNEvaluator(iris, SPACE, device_profile="ibm-manila", noise=True).routed_circuit(
            ARCH
        )
        assert got is not None and want is not None
        assert (got.device, got.region, got.ops) == (want.device, want.region, want.ops)
        with pytest.raises(Exception, match=r"unknown choice\(s\) \['x'\]"):
            routed.routed_circuit({**ARCH, "x": 1})

    def test_scores_of_the_trained_and_fine_tuned_weights(self, iris: Dataset) -> None:
        ev = SuperCircuitEvaluator(iris, SPACE, seed=3, steps=4, batch_size=8, lr=0.05,
                                   finetune_steps=3)  # fmt: skip
        sc = ev.supercircuit
        assert ev.supercircuit is sc and ev.train_seconds > 0
        torch.manual_seed(3)
        mine = SuperCircuit(SPACE, (4,), 3, pca=space_pca(SPACE, iris))
        with torch_threads(1):  # as the evaluator trains a space of up to 10 qubits
            train_supercircuit(mine, iris, steps=4, batch_size=8, lr=0.05, seed=3)
        for k, v in mine.state_dict().items():
            torch.testing.assert_close(sc.state_dict()[k], v, rtol=0, atol=1e-6)
        arch = SPACE.validate({**ARCH, "frontend": "pca"})
        m = ev.evaluate(arch, seed=11)
        net = copy.deepcopy(mine.extract(arch))
        X = torch.as_tensor(iris.X_train, dtype=torch.float32)
        y = torch.as_tensor(iris.y_train, dtype=torch.long)
        gen = torch.Generator().manual_seed(11)
        opt = torch.optim.Adam(net.parameters(), lr=0.05)
        net.train()
        with torch_threads(1):  # and fine-tunes an architecture of up to 10 qubits
            for _ in range(3):
                idx = torch.randint(len(X), (8,), generator=gen)
                opt.zero_grad()
                nn.functional.cross_entropy(net(X[idx]), y[idx]).backward()
                opt.step()
        assert m["val_error"] == pytest.approx(_errors(net, iris.X_val, iris.y_val))
        assert m["test_error"] == pytest.approx(_errors(net, iris.X_test, iris.y_test))
        assert m["val_accuracy"] == 1.0 - m["val_error"] and m["params"] == _numel(net)
        costs = ev.costs(arch, net, seed=11)
        costs.pop("sim_time_ms")
        assert {k: m[k] for k in costs} == costs
        assert set(m) == {"val_error", "test_error", "val_accuracy", "sim_time_ms", *costs}
        # without fine-tuning: the inherited weights as they are
        plain = SuperCircuitEvaluator(iris, SPACE, seed=3, steps=4, batch_size=8, lr=0.05,
                                      finetune_steps=0)  # fmt: skip
        m0 = plain.evaluate(arch, seed=11)
        net0 = mine.extract(arch)
        assert m0["val_error"] == pytest.approx(_errors(net0, iris.X_val, iris.y_val))
        assert m0["test_error"] == pytest.approx(_errors(net0, iris.X_test, iris.y_test))

    def test_without_a_pca_front_end(self, iris: Dataset) -> None:
        space = hqnn_space(max_qubits=2, max_layers=1, frontends=["linear"])
        ev = SuperCircuitEvaluator(iris, space, seed=1, steps=2, batch_size=8)
        torch.manual_seed(1)
        mine = SuperCircuit(space, (4,), 3, pca=None)
        with torch_threads(1):
            train_supercircuit(mine, iris, steps=2, batch_size=8, lr=0.01, seed=1)
        for k, v in mine.state_dict().items():
            torch.testing.assert_close(ev.supercircuit.state_dict()[k], v, rtol=0, atol=1e-6)

    def test_the_device_reaches_training(
        self, iris: Dataset, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        seen: list[dict[str, Any]] = []

        def fake(sc: SuperCircuit, data: Dataset, **kw: Any) -> None:
            seen.append({**kw, "data": data})

        monkeypatch.setattr(hqnn_evaluator, "train_supercircuit", fake)
        ev = SuperCircuitEvaluator(iris, SPACE, seed=4, steps=3, batch_size=5, lr=0.5,
                                   device="meta")  # fmt: skip
        sc = ev.supercircuit
        assert seen == [{"steps": 3, "batch_size": 5, "lr": 0.5, "seed": 4, "device": "meta",
                         "data": iris}]  # fmt: skip
        assert all(p.device.type == "cpu" for p in sc.parameters())

    def test_a_bad_architecture_fails_before_training(self, iris: Dataset) -> None:
        ev = SuperCircuitEvaluator(iris, SPACE, steps=2)
        with pytest.raises(Exception, match=r"unknown choice\(s\) \['x'\]"):
            ev.evaluate({**ARCH, "x": 1}, seed=0)
        assert ev._sc is None
