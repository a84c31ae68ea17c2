"""Evaluating a trial neither depends on nor changes the caller's random streams.

An evaluator seeds torch's generators for its own build and training; afterwards the
caller's CPU generator, numpy's global generator and every CUDA generator are as they
were. CUDA's are observable without a GPU: before CUDA starts, ``torch.manual_seed``
queues a seed for every CUDA device in ``torch.cuda._lazy_seed_tracker`` (the queue
CUDA's start replays), and a trial used to leave one there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import torch

from quarch.config import SearchConfig
from quarch.data import load_dataset
from quarch.evaluate import SeededRNG, TrainingEvaluator
from quarch.spaces import make_evaluator
from quarch.spaces.cnn.evaluator import EdgeEvaluator, SuperNetEvaluator
from quarch.spaces.cnn.space import cnn_space
from quarch.spaces.hqnn.evaluator import HQNNEvaluator, SuperCircuitEvaluator
from quarch.spaces.hqnn.space import hqnn_space


def _cuda_queue() -> list[Any]:
    """The seeds queued for CUDA's start, by identity (each seed call queues a new one)."""
    return [None if c is None else id(c[0]) for c in torch.cuda._lazy_seed_tracker.get_calls()]


def _numpy_state() -> tuple[bytes, int]:
    state = np.random.get_state(legacy=False)["state"]
    return state["key"].tobytes(), int(state["pos"])


class _Streams:
    """The caller's generators: compared before and after a block."""

    def __init__(self) -> None:
        self.cpu = torch.get_rng_state()
        self.numpy = _numpy_state()
        self.cuda = _cuda_queue()

    def assert_unchanged(self) -> None:
        assert torch.equal(torch.get_rng_state(), self.cpu), "torch's CPU generator moved"
        assert _numpy_state() == self.numpy, "numpy's generator moved"
        assert _cuda_queue() == self.cuda, "a seed was queued for every CUDA device"


@pytest.fixture
def streams() -> Iterator[_Streams]:
    torch.manual_seed(1234)  # a caller's own seed, queued before the block
    np.random.seed(1234)
    yield _Streams()


class TestSeededRNG:
    def test_draws_inside_are_the_seeds_and_the_callers_come_back(self, streams: _Streams) -> None:
        with SeededRNG(7, numpy=True):
            a, b = torch.rand(5), np.random.rand(3)
        streams.assert_unchanged()
        torch.manual_seed(7)
        np.random.seed(7)
        assert torch.equal(a, torch.rand(5))
        assert np.array_equal(b, np.random.rand(3))

    def test_numpy_is_left_alone_unless_asked(self, streams: _Streams) -> None:
        with SeededRNG(7):
            x = np.random.rand(3)
        np.random.seed(1234)  # the fixture's seed: x was the caller's next draw
        assert np.array_equal(x, np.random.rand(3)), "numpy was reseeded without numpy=True"

    def test_an_error_in_the_block_still_restores(self, streams: _Streams) -> None:
        with pytest.raises(KeyError), SeededRNG(3, numpy=True):
            torch.rand(4), np.random.rand(2)
            raise KeyError("boom")
        streams.assert_unchanged()

    def test_cpu_device_spelled_any_way(self, streams: _Streams) -> None:
        draws = []
        for device in (None, "cpu", torch.device("cpu")):
            with SeededRNG(11, device):
                draws.append(torch.rand(3))
        streams.assert_unchanged()
        assert all(torch.equal(draws[0], d) for d in draws)

    def test_other_accelerators_are_seeded_as_torch_seeds_them(self, streams: _Streams) -> None:
        """Beyond the CPU and CUDA (MPS, XPU; the meta device stands in here), the block
        seeds with ``torch.manual_seed``, which also queues the seed for every CUDA
        device, and gives back only the CPU generator, as its docstring says."""
        with SeededRNG(5, "meta"):
            a = torch.rand(3)
        assert torch.equal(torch.get_rng_state(), streams.cpu)
        assert _cuda_queue() != streams.cuda  # torch.manual_seed's own queued seed
        torch.manual_seed(5)
        assert torch.equal(a, torch.rand(3))

    @pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
    def test_cuda_generator_seeded_and_restored(self) -> None:
        torch.cuda.manual_seed(99)
        before = torch.cuda.get_rng_state()
        with SeededRNG(5, "cuda"):
            a = torch.rand(4, device="cuda")
        assert torch.equal(torch.cuda.get_rng_state(), before)
        torch.cuda.manual_seed(5)
        assert torch.equal(a, torch.rand(4, device="cuda"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_trial_on_cuda_gives_the_cuda_stream_back() -> None:
    torch.cuda.manual_seed(99)
    before = torch.cuda.get_rng_state()
    space = hqnn_space(max_qubits=2, max_layers=1)
    cfg = SearchConfig(space="hqnn", dataset="iris", epochs=1, device="cuda",
                       evaluator_options={"save_weights": False})  # fmt: skip
    make_evaluator(space, cfg).fit(space.sample(0), seed=3)  # type: ignore[attr-defined]
    assert torch.equal(torch.cuda.get_rng_state(), before)


def _hqnn(supercircuit: bool) -> Any:
    space = hqnn_space(max_qubits=2, max_layers=1)
    opts = {"supercircuit": True, "supercircuit_steps": 4, "finetune_steps": 2}
    cfg = SearchConfig(space="hqnn", dataset="iris", epochs=1,
                       evaluator_options=opts if supercircuit else {"save_weights": False})  # fmt: skip
    return space, make_evaluator(space, cfg)


def _hqnn_fit() -> None:
    space, ev = _hqnn(False)
    assert isinstance(ev, HQNNEvaluator)
    arch = space.sample(0)
    ev.fit(arch, seed=3)
    ev.fit_ablation(arch, seed=3)


def _hqnn_supercircuit() -> None:
    space, ev = _hqnn(True)
    assert isinstance(ev, SuperCircuitEvaluator)
    ev.evaluate(space.sample(0), seed=3)


def _cnn_supernet() -> None:
    space = cnn_space(n_stages=2, max_blocks=1, width_mults=[0.5])
    ev = SuperNetEvaluator(space, load_dataset("digits", seed=3), supernet_epochs=1,
                           latency="model", recalibration_batches=1)  # fmt: skip
    ev.evaluate(space.sample(0), seed=3)


def _cnn_train() -> None:
    space = cnn_space(n_stages=2, max_blocks=1, width_mults=[0.5])
    ev = EdgeEvaluator(load_dataset("digits", seed=3), epochs=1, latency="model")
    ev.evaluate(space.sample(0), seed=3)


def _training_evaluator() -> None:
    def model(arch: Any, shape: tuple[int, ...], n_classes: int) -> torch.nn.Module:
        np.random.rand()  # a builder may draw from numpy: build seeds it, then gives it back
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(shape[0], n_classes))

    ev = TrainingEvaluator(model, load_dataset("iris", seed=0), epochs=1)
    ev.fit({}, seed=3)


@pytest.mark.parametrize(
    "evaluate",
    [_hqnn_fit, _hqnn_supercircuit, _cnn_train, _cnn_supernet, _training_evaluator],
    ids=[
        "hqnn-fit-and-ablation",
        "hqnn-supercircuit",
        "cnn-train",
        "cnn-supernet",
        "training-evaluator",
    ],
)
def test_a_trial_leaves_the_callers_streams(evaluate: Callable[[], None],
                                            streams: _Streams) -> None:  # fmt: skip
    evaluate()
    streams.assert_unchanged()
