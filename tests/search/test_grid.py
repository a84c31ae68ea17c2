"""The grid strategy visits every valid architecture once, across workers and resumes."""

from __future__ import annotations

import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import optuna
import pytest

from quarch._errors import ConfigError
from quarch._warnings import QuarchWarning
from quarch.search import GridSampler
from quarch.search._grid import MAX_GRID
from quarch.space import Choice, Space

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _space() -> Space:
    # 4 * 3 * 2 = 24 cells, 2 of them (a == 0 and b == "y") forbidden: 22 valid
    return Space(
        [Choice("a", [0, 1, 2, 3]), Choice("b", ["x", "y", "z"]), Choice("c", [False, True])],
        constraint=lambda arch: not (arch["a"] == 0 and arch["b"] == "y"),
        name="toy",
    )


#: valid cells of :func:`_space`
N = 22


def _key(params: dict) -> tuple:
    return (params["a"], params["b"], params["c"])


def _truth(space: Space) -> set[tuple]:
    import itertools

    return {
        _key(dict(zip(space.names, combo, strict=True)))
        for combo in itertools.product(*(c.options for c in space.choices))
        if space.constraint is None or space.constraint(dict(zip(space.names, combo, strict=True)))
    }


def _run(study: optuna.Study, space: Space, n: int) -> None:
    study.optimize(lambda t: float(space.suggest(t)["a"]), n_trials=n)


def test_every_valid_cell_once() -> None:
    space = _space()
    sampler = GridSampler(space=space, seed=3)
    assert sampler.max_trials == len(_truth(space)) == N
    study = optuna.create_study(sampler=sampler)
    _run(study, space, N)
    seen = [_key(t.params) for t in study.trials]
    assert len(seen) == len(set(seen)) and set(seen) == _truth(space)


def test_seed_orders_the_visit() -> None:
    space = _space()
    orders = []
    for seed in (0, 1):
        study = optuna.create_study(sampler=GridSampler(space=space, seed=seed))
        _run(study, space, 6)
        orders.append([_key(t.params) for t in study.trials])
    assert orders[0] != orders[1]


def test_two_workers_with_one_seed_never_collide() -> None:
    """Two processes' samplers (same seed) asking alternately from one study."""
    space = _space()
    storage = optuna.storages.InMemoryStorage()
    studies = [
        optuna.create_study(
            storage=storage, study_name="s", sampler=GridSampler(space=space, seed=0),
            load_if_exists=True,
        )
        for _ in range(2)
    ]  # fmt: skip
    trials = [studies[i % 2].ask() for i in range(N)]  # all running at once
    keys = [_key(space.suggest(t)) for t in trials]
    assert len(set(keys)) == N


def test_resumes_and_refills_what_failed(tmp_path: Path) -> None:
    space = _space()
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(storage=url, study_name="s", sampler=GridSampler(space=space))
    _run(study, space, 5)
    lost = study.ask()
    lost_key = _key(space.suggest(lost))
    study.tell(lost, state=optuna.trial.TrialState.FAIL)
    # a new process: an unpickled sampler on the stored study
    sampler = pickle.loads(pickle.dumps(GridSampler(space=space)))
    again = optuna.load_study(storage=url, study_name="s", sampler=sampler)
    _run(again, space, N - 5)
    done = [_key(t.params) for t in again.trials if t.state.name == "COMPLETE"]
    assert len(done) == len(set(done)) == N and set(done) == _truth(space)
    assert lost_key in done  # the failed trial's cell was taken again after the grid's end


def test_after_the_grid_trials_repeat_with_one_warning() -> None:
    """Past the grid's end trials repeat its cells, with one QuarchWarning (the CLI shows
    it as one line) that says so, not one per trial."""
    space = _space()
    study = optuna.create_study(sampler=GridSampler(space=space, seed=0))
    _run(study, space, N)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _run(study, space, 3)
    mine = [w for w in caught if issubclass(w.category, QuarchWarning)]
    assert [str(w.message) for w in mine] == [
        f"the grid's {N} architectures are all done; further trials repeat them"
    ]
    repeated = [_key(t.params) for t in study.trials[N:]]
    assert set(repeated) <= _truth(space)


def test_a_space_too_large_to_enumerate() -> None:
    space = Space([Choice(f"c{i}", list(range(10))) for i in range(6)])  # 10**6 > MAX_GRID
    assert space.size > MAX_GRID
    with pytest.raises(ConfigError, match="narrow it with --space-option"):
        GridSampler(space=space)


def test_a_space_of_exactly_the_limit_is_a_grid(monkeypatch: pytest.MonkeyPatch) -> None:
    """``MAX_GRID`` is the largest grid, not the first refused (checked with a smaller
    limit: enumerating 200,000 cells here would cost the test seconds)."""
    import quarch.search._grid as grid

    space = _space()  # 24 cells before the constraint
    monkeypatch.setattr(grid, "MAX_GRID", space.size)
    assert GridSampler(space=space).max_trials == N
    monkeypatch.setattr(grid, "MAX_GRID", space.size - 1)
    with pytest.raises(ConfigError, match=r"has 24 \(more than 23\)"):
        GridSampler(space=space)


def test_a_space_whose_constraint_allows_nothing() -> None:
    space = Space([Choice("a", [0, 1])], constraint=lambda arch: False, name="none")
    with pytest.raises(ConfigError) as e:
        GridSampler(space=space)
    assert str(e.value) == "the grid strategy found no architecture the space allows"


def test_cli_refuses_more_trials_than_cells(tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "quarch", "search", "--space", "mlp", "--dataset", "iris",
        "--strategy", "grid", "--trials", "100000", "--out", str(out),
        "--space-option", "max_layers=1",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--trials must be at most" in lines[0]
    assert not out.exists()


def test_a_parameter_outside_the_space_is_refused() -> None:
    """An objective that asks the trial for a parameter the grid does not enumerate
    gets one error naming it (a grid has no cell to give it)."""
    space = _space()
    study = optuna.create_study(sampler=GridSampler(space=space, seed=0))

    def objective(trial: optuna.Trial) -> float:
        space.suggest(trial)
        return trial.suggest_float("lr", 1e-3, 1e-1)

    with pytest.raises(ConfigError) as e:
        study.optimize(objective, n_trials=1, catch=())
    assert str(e.value) == "the grid strategy enumerates the space's choices; 'lr' is not one"
