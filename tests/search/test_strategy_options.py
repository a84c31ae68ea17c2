"""Options of QIEA, QPSO and Grover adaptive search: every refused value with its one
line, the defaults and pass-through that change what a search does, and Grover's
adaptive-threshold loop at its boundaries.

The references are independent of the code under test where one exists: Grover's
schedule is written out here from the module's description (Boyer, Brassard, Hoyer and
Tapp's bound, the threshold moving to every better measurement), and
:class:`~quarch.search.GroverSampler` and the registry's ``grover`` are compared, trial
by trial, with the composition they are documented to be: a
:class:`~quarch.search.QUBOSampler` with a :class:`~quarch.search.GroverSolver` and the
documented defaults. The mutation benchmark (``benchmarks/mutation.py --module
strategies``) found these constructors and the round cap untested.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import optuna
import pytest
from optuna.distributions import FloatDistribution

from quarch.objectives import Objective
from quarch.search import (
    GroverSampler,
    GroverSolver,
    QIEASampler,
    QPSOSampler,
    QUBOSampler,
    make_sampler,
)
from quarch.search._circuits import Register, sample_codes
from quarch.search._grover import amplified_probs, grover_adaptive_search
from quarch.search._surrogate import CircuitSizeError, single_thread
from quarch.space import Choice, Space

LIMIT = 1550.0
OBJ = Objective(["val_error"], budgets=[f"params<={LIMIT:g}"])


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with single_thread(True):
        yield


def _space(sizes: tuple[int, ...] = (4, 3, 5, 4, 3)) -> Space:
    return Space([Choice(f"c{j}", list(range(k))) for j, k in enumerate(sizes)])


def _cheap(arch: Mapping[str, Any]) -> dict[str, float]:
    """A metric known without training, linear in the one-hot bits."""
    return {"params": 100.0 * sum((j + 1) * int(arch[f"c{j}"]) for j in range(len(arch)))}


def _value(idx: tuple[int, ...]) -> float:
    return float(np.random.default_rng([97, *idx]).random())


def _trace(sampler: optuna.samplers.BaseSampler, space: Space, n: int) -> list[Any]:
    """Each trial's architecture and what it recorded (oracle calls), in order."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: _value(tuple(space.to_indices(space.suggest(t)))), n_trials=n)
    return [
        (
            tuple(space.to_indices(space.from_params(t.params))),
            [v for k, v in t.system_attrs.items() if k.endswith(":oracle_calls")],
        )
        for t in study.trials
    ]


# -- refused options ---------------------------------------------------------------
_FLOAT_SPACE = {"x": FloatDistribution(0.0, 1.0)}
_COMMON_REFUSALS = [
    ({"screen": 0}, "screen must be an integer >= 1; got 0"),
    ({"screen": 2.0}, "screen must be an integer >= 1; got 2.0"),
    ({"surrogate": "rf"}, "surrogate must be one of ['bocs', 'fm', 'gp', 'bocs+gp']; got 'rf'"),
    ({"cheap_metrics": 3}, "cheap_metrics must be callable(arch) -> metrics; got 3"),
    ({"seed": -1}, "seed must be an integer >= 0; got -1"),
    ({"search_space": _FLOAT_SPACE},
     "search_space must map names to CategoricalDistribution; ['x'] are not"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        *_COMMON_REFUSALS,
        ({"n_quantum": True}, "n_quantum must be an integer >= 1; got True"),
        ({"observations": 1.5}, "observations must be an integer >= 1; got 1.5"),
        ({"step": float("nan")}, "step must be in (0.0, 1.0]; got nan"),
        ({"crossover": 1.01}, "crossover must be in [0.0, 1.0]; got 1.01"),
    ],
)
def test_qiea_refuses(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        QIEASampler(**kw)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        *_COMMON_REFUSALS,
        ({"swarm_size": "10"}, "swarm_size must be an integer >= 1; got '10'"),
        ({"beta": 1.79}, "beta must be in (0.0, 1.78]; got 1.79"),
    ],
)
def test_qpso_refuses(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        QPSOSampler(**kw)
    assert str(info.value) == message


_WIDE = _space((8, 8, 8, 8, 2))  # 13 qubits in the binary encoding


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        *_COMMON_REFUSALS[2:],
        ({"max_oracle_calls": 0}, "max_oracle_calls must be an integer >= 1; got 0"),
        ({"max_oracle_calls": 2.5}, "max_oracle_calls must be an integer >= 1; got 2.5"),
        ({"lam": 1.0}, "lam must be in (1.0, 4.0]; got 1.0"),
        ({"lam": 4.5}, "lam must be in (1.0, 4.0]; got 4.5"),
        ({"encoding": "gray"}, "encoding must be one of ['binary', 'onehot']; got 'gray'"),
        ({"max_qubits": 25}, "max_qubits must be an integer [1, 24]; got 25"),
        ({"decompose": "yes"}, "decompose must be a bool; got 'yes'"),
        ({"rounds": 0}, "rounds must be an integer >= 1; got 0"),
        ({"thompson": "each"}, "thompson must be one of ['proposal', 'batch']; got 'each'"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1; got 0"),
        ({"n_startup": 0}, "n_startup must be an integer >= 1; got 0"),
        ({"exploration": -0.1}, "exploration must be in [0.0, 10.0]; got -0.1"),
        ({"strength": 0.0}, "strength must be in (0.0, 1000000.0]; got 0.0"),
        ({"decompose": False, "search_space": _WIDE.distributions()},
         "grover simulates 2**n amplitudes and allows max_qubits=12, but decompose=False and "
         "the register needs n=13 qubits in 'binary' encoding (13 qubits in all); use "
         "decompose=True (sub-QUBOs over a few choices at a time), raise max_qubits, or use "
         "'qubo-sa' / 'qubo-sqa', which scale to any number of bits"),
    ],
)  # fmt: skip
def test_grover_refuses(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        GroverSampler(**kw)
    assert str(info.value) == message and "\n" not in message


def test_grover_without_a_space_refuses_a_wide_register_at_its_first_batch() -> None:
    """With the space inferred from the trials, the width is known only when the first
    batch is made; the error still names the strategy."""
    sampler = GroverSampler(seed=0, decompose=False, max_qubits=4, n_startup=3)
    space = _space((4, 4, 4))  # 6 qubits
    with pytest.raises(CircuitSizeError, match=r"^grover simulates 2\*\*n amplitudes and allows "
                       r"max_qubits=4, but decompose=False and the register needs n=6 qubits"):  # fmt: skip
        _trace(sampler, space, 4)


def test_grover_defaults_take_a_wide_space_in_blocks() -> None:
    """By default (``max_qubits=12``, ``decompose=True``) a 13-qubit space is split into
    blocks of at most 12 qubits; each block's cost vector has ``2**width`` entries."""
    sampler = GroverSampler(n_startup=2, batch_size=2, max_oracle_calls=2, seed=0,
                            search_space=_WIDE.distributions())  # fmt: skip
    solver: Any = sampler.solver
    widths: list[int] = []
    real = solver._circuit

    def spy(C: np.ndarray, threshold: float, rng: np.random.Generator) -> Any:
        widths.append(int(C.shape[0]).bit_length() - 1)
        return real(C, threshold, rng)

    solver._circuit = spy
    _trace(sampler, _WIDE, 3)
    assert len(widths) > 1 and max(widths) <= 12 and sum(widths) == 13


# -- Grover: the sampler is the documented composition -------------------------------
def _qubo_grover(**kw: Any) -> QUBOSampler:
    """``QUBOSampler`` with a ``GroverSolver``: what ``GroverSampler`` is documented as."""
    solver = {k: kw.pop(k) for k in ("max_oracle_calls", "lam") if k in kw}
    reg = {k: kw.pop(k) for k in ("encoding", "max_qubits", "decompose", "rounds") if k in kw}
    return QUBOSampler(solver=GroverSolver(register=Register(**reg), **solver), **kw)


def test_grover_defaults() -> None:
    """``GroverSampler()``: one Thompson sample per batch of 10 after 10 random trials,
    exploration 0.5, budget strength 4, BOCS, 6/5 growth, ``4 sqrt(N)`` oracle calls, a
    12-qubit binary register decomposed (the space here needs 13 qubits)."""
    space = _WIDE
    common: dict[str, Any] = {"objective": OBJ, "cheap_metrics": _cheap, "seed": 1,
                              "search_space": space.distributions()}  # fmt: skip
    documented: dict[str, Any] = {
        "thompson": "batch", "batch_size": 10, "n_startup": 10, "exploration": 0.5,
        "surrogate": "bocs", "lam": 6 / 5, "encoding": "binary", "max_qubits": 12,
        "decompose": True, "rounds": 1,
    }  # fmt: skip
    got = _trace(GroverSampler(**common), space, 21)
    want = _trace(_qubo_grover(strength=4.0, **documented, **common), space, 21)
    assert got == want
    # in this run the budget's strength changes the search (so the 4 above is checked)
    assert _trace(_qubo_grover(strength=5.0, **documented, **common), space, 21) != want
    calls = [c for _, c in got]
    assert calls[:10] == [[]] * 10 and calls[10:20] == [calls[10]] * 10 and calls[20] != []
    # the budget is on a metric known without training: no proposal breaks it
    assert all(_cheap(space.from_indices(list(x)))["params"] <= LIMIT for x, _ in got[10:])


def test_grover_passes_every_option_on() -> None:
    space = _space((4, 4, 3))
    kw: dict[str, Any] = {
        "max_oracle_calls": 7, "lam": 1.6, "encoding": "onehot", "max_qubits": 8,
        "decompose": True, "rounds": 2, "thompson": "proposal", "batch_size": 3,
        "n_startup": 3, "exploration": 0.9, "objective": OBJ, "cheap_metrics": _cheap,
        "surrogate": "fm", "strength": 2.0, "seed": 6,
    }  # fmt: skip
    got = _trace(GroverSampler(search_space=space.distributions(), **kw), space, 9)
    want = _trace(_qubo_grover(search_space=space.distributions(), **kw), space, 9)
    assert got == want
    assert all(c == [] for _, c in got[:3]) and all(c != [] for _, c in got[3:])


def test_registry_grover_is_the_sampler_over_the_space() -> None:
    """``make_sampler("grover", ...)`` hands the sampler the run's space, objective and
    known metrics: with a budget on a known metric (19 of the 48 architectures meet
    it) no trial breaks it, the random start included."""
    space = _space((4, 4, 3))
    tight = Objective(["val_error"], budgets=["params<=650"])
    opts: dict[str, Any] = {"batch_size": 3, "n_startup": 3, "max_oracle_calls": 5}
    made = make_sampler("grover", seed=2, space=space, objective=tight, cheap_metrics=_cheap,
                        **opts)  # fmt: skip
    direct = GroverSampler(seed=2, search_space=space.distributions(), objective=tight,
                           cheap_metrics=_cheap, **opts)  # fmt: skip
    got = _trace(made, space, 9)
    assert got == _trace(direct, space, 9)
    assert all(_cheap(space.from_indices(list(x)))["params"] <= 650 for x, _ in got)


def test_grover_solver_without_a_register_uses_the_default_one() -> None:
    space = _space((4, 4, 3))
    kw: dict[str, Any] = {"thompson": "batch", "batch_size": 3, "n_startup": 3, "seed": 1,
                          "search_space": space.distributions()}  # fmt: skip
    bare = QUBOSampler(solver=GroverSolver(max_oracle_calls=6), **kw)
    explicit = QUBOSampler(solver=GroverSolver(max_oracle_calls=6, register=Register()), **kw)
    got = _trace(bare, space, 7)
    assert got == _trace(explicit, space, 7) and got[3][1] != []


# -- Grover's adaptive-threshold loop ------------------------------------------------
def _schedule(
    C: np.ndarray, y: float, budget: int, lam: float, rng: np.random.Generator
) -> tuple[list[int], int]:
    """The loop as the module describes it: ``k`` uniform in ``[0, m)`` iterations, one
    measurement; a better state becomes the threshold and ``m`` resets to 1, else ``m``
    grows by ``lam`` up to ``sqrt(N)``; at most ``2 * budget + 16`` rounds."""
    m, calls, measured = 1.0, 0, []
    for _ in range(2 * budget + 16):
        if calls >= budget:
            break
        k = min(int(rng.integers(math.ceil(m))), budget - calls)
        calls += k
        probs = amplified_probs(np.less(C, y), k)
        x = int(sample_codes(probs, 1, int(rng.integers(2**31 - 1)))[0])
        measured.append(x)
        if C[x] < y:
            y, m = float(C[x]), 1.0
        else:
            m = min(lam * m, math.sqrt(len(C)))
    return measured, calls


@pytest.mark.parametrize(("seed", "capped"), [(4, False), (5, True)])
def test_two_states_replay_up_to_the_round_cap(seed: int, capped: bool) -> None:
    """With two states ``m`` stays below 2 and nothing is below the threshold: about
    half the rounds spend no call, so the round cap (``2 * budget + 16`` rounds), not
    the budget, ends some searches (seed 5: 816 measurements, 380 of 400 calls)."""
    C = np.array([1.0, 0.0])
    got, calls = grover_adaptive_search(C, -1.0, max_oracle_calls=400, lam=1.5, seed=seed)
    want, want_calls = _schedule(C, -1.0, 400, 1.5, np.random.default_rng(seed))
    assert list(got) == want and calls == want_calls
    assert (len(got) == 2 * 400 + 16 and calls < 400) == capped


@pytest.mark.parametrize("lam", [1.1, 2.5, 4.0])
def test_solver_runs_the_schedule_with_its_growth(lam: float) -> None:
    """``GroverSolver(lam=...)`` runs the documented schedule with that growth on a
    block (and ``lam`` changes the search here: the reference with 6/5 differs)."""
    C = np.random.default_rng(7).integers(0, 9, 64).astype(float)
    codes, counters = GroverSolver(lam=lam, max_oracle_calls=40)._circuit(
        C, 5.0, np.random.default_rng(3)
    )
    want, calls = _schedule(C, 5.0, 40, lam, np.random.default_rng(3))
    assert list(codes) == want and counters == {"oracle_calls": calls}
    assert _schedule(C, 5.0, 40, 6 / 5, np.random.default_rng(3))[0] != want
