"""A budget no architecture meets is said early, with how near the space came.

``quarch search --space mlp --budget params<=10`` (an iris mlp has at least 67
parameters) printed nothing for 80 s (cnn 165 s, hqnn 149 s on a 2-core machine) and
then gave up after 500 skipped architectures, naming the last one's value. Now one
warning after :data:`~quarch.study._skips.WARN_AFTER` skips in a row names the budget
and the value nearest it among the skipped architectures, and the give-up names the
nearest of all of them and what to do.

Truth: the parameters of an iris mlp by hand, ``sum((n_in + 1) * n_out)`` over its
linear layers (4 features, 3 classes), from each trial's architecture; the nearest is
the minimum (or, for a ``>=`` budget, the maximum) of those over the skipped trials,
cross-checked against the metrics the trials stored. The thresholds are lowered here
(4 and 9) so that a test skips 9 architectures, not 500.
"""

from __future__ import annotations

import itertools
import multiprocessing
import random
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import optuna
import pytest

from quarch import RunError
from quarch._warnings import QuarchWarning
from quarch.cli import main
from quarch.config import SearchConfig
from quarch.objectives import Budget
from quarch.space import Space
from quarch.study import _skips, _worker, run_search, space_for
from quarch.study._run import Run
from quarch.study._skips import SkipStreak, nearest_advice
from quarch.testing.evaluators import ArithmeticEvaluator

from .study.test_parallel_truth import _FakeRay, fake_ray  # noqa: F401  (the fixture)
from .test_cli_mistakes import _idle_workers  # spawned workers that never start

WARN, LIMIT = 4, 9
SKIPPED = "architectures in a row were over budget"


@pytest.fixture
def thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_skips, "WARN_AFTER", WARN)
    monkeypatch.setattr(_worker, "MAX_CONSECUTIVE_SKIPS", LIMIT)


def _mlp_params(params: Mapping[str, Any], n_in: int = 4, n_classes: int = 3) -> int:
    """Parameters of the mlp space's network (weights and biases), by hand."""
    hidden = [int(params[f"width_{i}"]) for i in range(int(params["n_layers"]))]
    sizes = [n_in, *hidden, n_classes]
    return sum((a + 1) * b for a, b in itertools.pairwise(sizes))


def _skip_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if w.category is QuarchWarning and SKIPPED in str(w.message)]  # fmt: skip


def _advice(budget: str, value: int) -> str:
    op = budget.split("params")[1][:2]
    return (
        f"the nearest had params={value} against {budget}: loosen the budget to "
        f"params{op}{value} or looser, or narrow the space"
    )


@pytest.mark.parametrize("mode", ["serial", "ray", "workers"])
@pytest.mark.parametrize(("budget", "nearest"), [("params<=10", min), ("params>=100000", max)])
def test_one_warning_and_the_give_up_name_the_nearest_value(
    mode: str, budget: str, nearest: Callable[[list[int]], int], tmp_path: Path,
    thresholds: None, monkeypatch: pytest.MonkeyPatch, fake_ray: Callable[..., _FakeRay],  # noqa: F811
) -> None:  # fmt: skip
    """Every architecture of the iris mlp space breaks the budget (67 to 8835
    parameters): one warning at the 4th skip in a row (none before it), naming the
    nearest of the first 4; the give-up at the 9th names the nearest of all 9. In one
    process, through Ray's driver, and in the process that runs the workers."""
    names: list[str] = []
    if mode == "ray":
        fake_ray(3.0)
    if mode == "workers":
        names = _idle_workers(monkeypatch)
    cfg = SearchConfig(
        space="mlp", dataset="iris", trials=2, epochs=1, seed=0, budgets=[budget],
        objectives=["val_error"], out=str(tmp_path / "run"), ray=mode == "ray",
        workers=2 if mode == "workers" else 1,
    )  # fmt: skip
    seen: list[int] = []  # skip warnings so far, after each trial
    with warnings.catch_warnings(record=True) as caught, pytest.raises(RunError) as e:
        warnings.simplefilter("always")
        run_search(cfg, progress=False,
                   on_trial=lambda *_: seen.append(len(_skip_warnings(caught))))  # fmt: skip
    trials = Run.open(tmp_path / "run").study().get_trials(deepcopy=False)
    assert len(trials) == LIMIT
    assert all(t.state == optuna.trial.TrialState.PRUNED for t in trials)
    assert all("skip_reason" in t.user_attrs for t in trials)
    values = [_mlp_params(t.params) for t in sorted(trials, key=lambda t: t.number)]
    assert values == [t.user_attrs["metrics"]["params"] for t in trials]  # the stored ones
    first = nearest(values[:WARN])
    assert first != nearest(values)  # seed 0 tells the first 4's nearest from all 9's
    assert _skip_warnings(caught) == [
        f"{WARN} architectures in a row were over budget before training (skipped "
        f"untrained); {_advice(budget, first)} (the search gives up at {LIMIT} in a row)"
    ]
    if mode != "workers":  # the workers' loop reports the trials
        # those it finds polling the study
        assert seen == [0] * (WARN - 1) + [1] * (LIMIT - WARN)
    assert str(e.value) == (
        f"gave up: {LIMIT} architectures in a row were over budget before training, with 0 "
        f"of 2 trials done; {_advice(budget, nearest(values))}"
    )
    assert names == (["quarch-worker-1"] if mode == "workers" else [])
    assert all(n.startswith(_skips.SPAWNED_PREFIX) for n in names)


class _Cheap(ArithmeticEvaluator):
    """Parameters known before training: ``width_0 * n_layers``, the evaluator's own."""

    def cheap_metrics(self, arch: Mapping[str, Any]) -> dict[str, float]:
        return {"params": float(arch["width_0"] * arch["n_layers"])}


def _patterned(cfg: SearchConfig, over: Callable[[int], bool]) -> Space:
    """The mlp space, proposing 3 x 128 parameters (over ``params<=60``) at the trial
    numbers ``over`` picks, and 1 x 8 (under it) at the others."""

    class _Space(Space):
        def suggest(self, trial: optuna.trial.BaseTrial) -> dict[str, Any]:
            if trial.number > 60:
                raise AssertionError("60 trials, and the search goes on")
            if over(trial.number):
                return {"n_layers": 3, "width_0": 128}
            return {"n_layers": 1, "width_0": 8}

    base = space_for(cfg)
    return _Space(base.choices, base.constraint, name=base.name)


def _longest_run_of_skips(trials: list[optuna.trial.FrozenTrial]) -> tuple[int, int]:
    """(the longest run of skipped trials in a row, skipped trials in all)."""
    longest = run = total = 0
    for t in sorted(trials, key=lambda t: t.number):
        skipped = "skip_reason" in t.user_attrs
        run = run + 1 if skipped else 0
        total += skipped
        longest = max(longest, run)
    return longest, total


@pytest.mark.parametrize(
    ("name", "over", "warned"),
    [
        ("pairs", lambda n: n % 3 != 0, 0),  # 2 in a row at most: never 4
        ("fours", lambda n: n % 5 != 0, 1),  # 4 in a row, again and again: once
    ],
)
def test_skips_warn_only_when_consecutive_and_once_per_run(
    name: str, over: Callable[[int], bool], warned: int, tmp_path: Path, thresholds: None
) -> None:
    """A budget that some architectures meet: the skips between trained ones warn
    only when 4 come in a row (truth: the longest run in the stored trials), and a
    streak that reaches 4 again after a trained trial does not warn again."""
    cfg = SearchConfig(space="mlp", dataset="iris", trials=6, budgets=["params<=60"],
                       objectives=["val_error"], out=str(tmp_path / name))  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = run_search(cfg, space=_patterned(cfg, over), evaluator=_Cheap(), progress=False)
    assert res.done == 6
    longest, total = _longest_run_of_skips(Run.open(tmp_path / name).study().get_trials())
    assert total >= 2 * WARN  # more skips than the threshold, twice over
    assert (longest >= WARN) == bool(warned)
    said = _skip_warnings(caught)
    assert len(said) == warned
    if warned:
        assert said[0].startswith(f"{WARN} architectures in a row were over budget")
        assert "the nearest had params=384 against params<=60" in said[0]


def test_the_real_thresholds() -> None:
    """The figures the messages and this file's docstring give (50, then 500)."""
    assert (_skips.WARN_AFTER, _worker.MAX_CONSECUTIVE_SKIPS) == (50, 500)


def test_a_spawned_worker_counts_and_gives_up_without_warning(
    monkeypatch: pytest.MonkeyPatch, thresholds: None
) -> None:
    """A process ``_parallel`` spawned (named ``quarch-worker-N``) warns nothing (its
    warning would print in Python's two-line format, once a worker: the parent, one of
    the workers, warns); it gives up all the same, naming the nearest."""
    monkeypatch.setattr(multiprocessing.current_process(), "name", "quarch-worker-1")
    budget = Budget.parse("params<=10")
    streak = SkipStreak()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for v in (90.0, 70.0, 80.0, 75.0, 99.0):
            streak.add([(budget, v)], LIMIT)
    assert caught == [] and streak.warned and streak.count == 5
    assert str(streak.give_up(1, 3)).endswith(
        "with 1 of 3 trials done; the nearest had params=70 against params<=10: loosen the "
        "budget to params<=70 or looser, or narrow the space"
    )


def test_a_reset_starts_the_nearest_again_but_not_the_warning(thresholds: None) -> None:
    budget = Budget.parse("params<=10")
    streak = SkipStreak()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for v in (20.0, 30.0, 40.0):
            streak.add([(budget, v)], LIMIT)
        streak.reset()  # a trained architecture between
        for v in (50.0, 60.0, 70.0, 80.0, 90.0):
            streak.add([(budget, v)], LIMIT)
        streak.reset()
        for v in (11.0,) * WARN:
            streak.add([(budget, v)], LIMIT)
    assert [str(w.message).split(";")[1] for w in caught] == [
        " the nearest had params=50 against params<=10: loosen the budget to params<=50 or "
        "looser, or narrow the space (the search gives up at 9 in a row)"
    ]
    assert streak.nearest == {budget: 11.0}
    assert streak.count == WARN  # counted from 0 again after the reset


def test_no_warning_when_the_give_up_comes_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """A limit at or below the warning's threshold: the give-up says it all."""
    monkeypatch.setattr(_skips, "WARN_AFTER", 3)
    streak = SkipStreak()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            streak.add([(Budget.parse("params<=1"), 5.0)], 3)
    assert caught == []


def test_the_nearest_is_found_by_value_under_a_huge_limit() -> None:
    """Under ``params>=1e30`` every value's violation rounds to 1e30 (``1e30 - 7`` is
    1e30): the nearest is still the largest value, not the first one seen."""
    huge = Budget.parse("params>=1e30")
    streak = SkipStreak()
    for v in (5.0, 7.0, 6.0):
        streak.add([(huge, v)], LIMIT)
    assert streak.nearest == {huge: 7.0}


def test_the_advice_for_several_budgets() -> None:
    """Each budget's nearest value is its own (the minimum of a ``<=`` budget's, the
    maximum of a ``>=`` one's); a budget some skipped architecture met is left out; a
    strict budget is loosened to its non-strict form (``<`` 67 would still refuse 67);
    budgets each met by some architecture, never together, say so."""
    p, f, a = Budget.parse("params<10"), Budget.parse("flops<=5"), Budget.parse("acc>=0.9")
    streak = SkipStreak()
    for checked in ([(p, 90.0), (f, 7.0), (a, 0.5)], [(p, 67.0), (f, 9.0), (a, 0.95)]):
        streak.add(checked, LIMIT)
    assert streak.nearest == {p: 67.0, f: 7.0, a: 0.95}
    assert nearest_advice(streak.nearest) == (
        "the nearest had params=67 against params<10 and flops=7 against flops<=5: loosen "
        "the budgets to params<=67 and flops<=7 or looser, or narrow the space"
    )
    assert nearest_advice({p: 5.0, a: 0.95}) == (
        "each of the budgets params<10, acc>=0.9 was met by some of them, never all at "
        "once: loosen one of them, or narrow the space"
    )
    exactly_met = Budget.parse("params<=10")  # 10 meets it: only flops is left
    assert nearest_advice({exactly_met: 10.0, f: 7.0}) == (
        "the nearest had flops=7 against flops<=5: loosen the budget to flops<=7 or "
        "looser, or narrow the space"
    )
    assert nearest_advice({a: 0.25}) == (
        "the nearest had acc=0.25 against acc>=0.9: loosen the budget to acc>=0.25 or "
        "looser, or narrow the space"
    )


def test_the_suggested_budget_admits_the_nearest_value() -> None:
    """The suggested budget, parsed as ``--budget`` parses it, admits the nearest value
    itself: a whole number exactly, any other rounded to 4 significant digits away
    from the value (``<=`` up, ``>=`` down), never past it; 2000 values of every size
    and sign (``0.012344`` rounded to ``0.01234`` would refuse it)."""
    rng = random.Random(7)
    cases = [0.012344, 9.99951, 0.99996, 0.30000000000000004, 1234567.0, -0.5, -2.25e-9,
             1.2345678e20, 999999999999999.0, 1e15, 2.0**53 + 2]  # fmt: skip
    for _ in range(2000):
        sign = rng.choice([1.0, -1.0])
        cases.append(sign * rng.choice([rng.uniform(0, 1), rng.uniform(1, 1e7),
                                        float(rng.randrange(10**9)),
                                        rng.uniform(0, 1) * 10 ** rng.randint(-12, 12)]))  # fmt: skip
    for v in cases:
        for op in ("<=", ">="):
            limit = -1e30 if op == "<=" else 1e30
            advice = nearest_advice({Budget("m", op, limit): v})  # type: ignore[arg-type]
            suggested = advice.split("loosen the budget to ")[1].split(" or looser")[0]
            parsed = Budget.parse(suggested)
            assert parsed.op == op and parsed.violation(v) <= 0, (v, suggested)
            if v.is_integer() and abs(v) < 1e15:  # a whole number, short enough to read
                assert parsed.limit == v and "e" not in suggested, (v, suggested)
            elif v.is_integer():  # 1e15 and up: 4 digits and an exponent, not 16 digits
                assert "e+" in suggested and abs(parsed.limit - v) <= 1e-3 * abs(v)
            else:
                assert abs(parsed.limit - v) <= 1e-3 * abs(v), (v, suggested)


def test_the_command_line_shows_one_warning_line_then_the_give_up(
    tmp_path: Path, thresholds: None, capfd: pytest.CaptureFixture[str]
) -> None:
    """Through ``quarch search``: the warning is one ``warning:`` line (the CLI's form
    of quarch's warnings), then the give-up's one ``error:`` line, exit status 2."""
    out = tmp_path / "run"
    code = main(["search", "--space", "mlp", "--trials", "2", "--epochs", "1", "--seed", "0",
                 "--budget", "params<=10", "--out", str(out), "--quiet"])  # fmt: skip
    _, err = capfd.readouterr()
    trials = Run.open(out).study().get_trials(deepcopy=False)
    values = [_mlp_params(t.params) for t in sorted(trials, key=lambda t: t.number)]
    assert code == 2
    assert err.splitlines() == [
        f"warning: {WARN} architectures in a row were over budget before training (skipped "
        f"untrained); {_advice('params<=10', min(values[:WARN]))} (the search gives up at "
        f"{LIMIT} in a row)",
        f"error: gave up: {LIMIT} architectures in a row were over budget before training, "
        f"with 0 of 2 trials done; {_advice('params<=10', min(values))}",
    ]
