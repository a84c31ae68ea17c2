"""The benchmark result against values worked out here: its aggregates, its table, its
CSV files and its plot.

Every expected value is recomputed from the rows and curves the tests build: means and
sample standard deviations with :mod:`statistics`, the CSV files read back with the
stdlib :mod:`csv` module, the band of ``curves.csv`` as mean +- 1.96 standard errors of
the runs that have a pick, the plot read off the matplotlib figure and the PNG header.
The statistics of a comparison come from ``quarch.benchmark.compare`` (checked against
SciPy in ``test_benchmark_stats_truth.py``), called here on scores picked by hand, so
what is checked is which scores the result compares, in which order and sense; one
p-value is exact: five scores all below five others have a two-sided rank-sum
``p = 2 / C(10, 5)``.
"""

from __future__ import annotations

import csv
import importlib.metadata
import json
import math
import statistics
import struct
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from scipy.stats import mannwhitneyu

import quarch
from quarch._software import RESULT_PACKAGES, source_hash
from quarch._warnings import QuarchWarning
from quarch.benchmark import BenchmarkResult, Comparison, compare
from quarch.benchmark._harness import RUNS_FILE
from quarch.benchmark._result import BENCHMARK_FILES

NAN = math.nan
ENERGY = "CPU time x 30 W (no CodeCarbon meter in parallel runs)"
COLUMNS = ["strategy", "kind", "mean", "std", "oracle gap", "diff [95% CI]", "p"]
TAIL = ["seconds", "queries (+skipped)", "energy J"]

# (score, regret, queries_to_target, queries, skipped, seconds, sampler, eval) per run
RUNS: dict[str, list[tuple[float, float, int | None, int, int, float, float, float]]] = {
    "dead": [(NAN, NAN, None, 4, 3, 1.0, 0.5, 0.3)] * 5,  # never feasible
    "qa": [
        (1.0, 0.5, 2, 4, 0, 1.5, 0.1, 1.0),
        (2.0, 1.5, None, 4, 1, 2.5, 0.2, 2.0),
        (3.0, 2.5, 3, 4, 0, 3.5, 0.3, 3.0),
        (4.0, 3.5, 4, 4, 2, 4.5, 0.4, 4.0),
        (5.0, 4.5, None, 4, 0, 5.5, 0.5, 5.0),
    ],
    "tpe": [(10.0 + i, 9.0 + i, None, 4, 0, 2.0, 0.7, 1.1) for i in range(5)],
    "rand": [
        (9.0, 8.0, 4, 4, 1, 1.0, 0.02, 0.04),
        (13.0, 12.0, 4, 4, 1, 1.0, 0.02, 0.04),
        (15.0, 14.0, 4, 3, 1, 1.0, 0.02, 0.04),
        (14.0, 13.0, 2, 4, 1, 1.0, 0.02, 0.04),
        (NAN, NAN, None, 4, 2, 1.0, 0.02, 0.04),
    ],
    "solo": [(2.0, 1.0, 1, 4, 0, 1.0, 0.2, 0.3)] + [(NAN, NAN, None, 4, 0, 1.0, 0.2, 0.3)] * 4,
    "empty": [],  # named, but without a run
}
KINDS = {"dead": "classical", "qa": "quantum", "tpe": "classical", "rand": "classical"}
KINDS["solo"] = "quantum"  # "empty" has no kind: "other"
ENERGY_J = {"qa": 1234.4, "tpe": 99.6, "rand": 7.2, "solo": 0.4}  # "dead", "empty": 0

# best-so-far curves: query columns with 1, 2, 4 and 5 runs that have a pick
QA_CURVE = [
    [NAN, NAN, 3.0, 2.0],
    [NAN, 5.0, 4.0, 1.0],
    [NAN, NAN, 6.0, 4.0],
    [7.0, 6.0, 2.0, 2.5],
    [NAN, NAN, NAN, 3.0],
]
TPE_CURVE = [[20.0 - q - i for q in range(4)] for i in range(5)]


def _rows() -> list[dict[str, Any]]:
    rows = []
    for s, runs in RUNS.items():
        for seed, (score, regret, reach, queries, skipped, sec, samp, ev) in enumerate(runs, 7):
            rows.append(
                {
                    "strategy": s,
                    "seed": seed,
                    "score": score,
                    "regret": regret,
                    "queries_to_target": reach,
                    "queries": queries,
                    "skipped": skipped,
                    "seconds": sec,
                    "sampler_seconds": samp,
                    "eval_seconds": ev,
                    "picked": "" if math.isnan(score) else f"arch-{s}-{seed}",
                }
            )
    return rows


def _result(*, maximize: bool = False, **kw: Any) -> BenchmarkResult:
    args: dict[str, Any] = {
        "task": "toy",
        "strategies": list(RUNS),
        "seeds": 5,
        "trials": 4,
        "budgets": ["params<=20000", "latency<=5"],
        "maximize": maximize,
        "score_name": "true error",
        "target": 0.123456,
        "energy_method": ENERGY,
        "rows": _rows(),
        "curves": {
            "qa": np.array(QA_CURVE),
            "tpe": np.array(TPE_CURVE),
            "dead": np.full((5, 4), NAN),
        },
        "energy_j": dict(ENERGY_J),
        "wall_seconds": 12.5,
        "optima": [1.0, 2.0],
        "oracle": 0.5,
        "oracle_label": "depth=3",
        "kinds": dict(KINDS),
        "first_seed": 7,
    }
    args.update(kw)
    return BenchmarkResult(**args)


def _feasible(s: str) -> list[float]:
    return [r[0] for r in RUNS[s] if not math.isnan(r[0])]


def _scores(s: str) -> np.ndarray:
    return np.array([r[0] for r in RUNS[s]], dtype=float)


def _same(got: Any, want: Any) -> None:
    """``got == want`` with floats to 1e-12 (NaN equal to NaN), into dicts and lists."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and list(got) == list(want), (got, want)
        for k in want:
            _same(got[k], want[k])
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), (got, want)
        for g, w in zip(got, want, strict=True):
            _same(g, w)
    elif isinstance(want, float) and not isinstance(want, bool):
        assert isinstance(got, float), (got, want)
        assert got == pytest.approx(want, rel=1e-12, abs=1e-12, nan_ok=True)
    else:
        assert got == want and type(got) is type(want), (got, want)


# -- aggregates ------------------------------------------------------------------------
class TestSummary:
    def test_scores_are_one_strategy_s_runs_in_row_order(self) -> None:
        r = _result()
        for s in RUNS:
            got = r.scores(s)
            assert got.dtype == np.float64
            np.testing.assert_array_equal(got, _scores(s))
        assert r.scores("nobody").shape == (0,)

    def test_every_aggregate_of_a_strategy(self) -> None:
        r = _result()
        qa = compare(_scores("qa"), _scores("tpe"), maximize=False)
        assert qa is not None
        _same(
            r.summary("qa"),
            {
                "kind": "quantum",
                "mean": 3.0,
                "std": statistics.stdev(_feasible("qa")),
                "regret": 2.5,
                "oracle_gap": 0.5 - 3.0,  # minimised: the oracle's score minus the mean
                "seconds": 1.5 + 2.5 + 3.5 + 4.5 + 5.5,
                "sampler_seconds": 1.5,
                "eval_seconds": 15.0,
                "queries": 4.0,
                "skipped": 3 / 5,
                "queries_to_target": 3.0,  # the mean over the runs that reached it
                "reached": 3,
                "feasible": 5,
                "runs": 5,
                "energy_j": 1234.4,
                "vs": {
                    "reference": "tpe",
                    "difference": qa.difference,
                    "ci95": [qa.low, qa.high],
                    "p_value": qa.p_value,
                    "significant": qa.significant,
                },
            },
        )

    def test_infeasible_runs_are_left_out_of_score_regret_and_std(self) -> None:
        r = _result()
        rand = compare(_scores("rand"), _scores("tpe"), maximize=False)
        assert rand is not None
        m = r.summary("rand")
        assert m["mean"] == pytest.approx(statistics.fmean(_feasible("rand")))
        assert m["std"] == pytest.approx(statistics.stdev(_feasible("rand")))
        assert m["regret"] == pytest.approx(statistics.fmean([8.0, 12.0, 14.0, 13.0]))
        assert m["oracle_gap"] == pytest.approx(0.5 - 12.75)
        assert (m["feasible"], m["runs"], m["reached"]) == (4, 5, 4)
        assert m["queries_to_target"] == pytest.approx(14 / 4)
        assert m["queries"] == pytest.approx(19 / 5)  # every run counts here
        assert m["skipped"] == pytest.approx(6 / 5)
        assert m["vs"]["difference"] == rand.difference == pytest.approx(-0.75)
        # one feasible run: no spread to measure, and nothing to compare
        solo = r.summary("solo")
        assert (solo["mean"], solo["std"], solo["regret"]) == (2.0, None, 1.0)
        assert (solo["feasible"], solo["runs"], solo["reached"]) == (1, 5, 1)
        assert "vs" not in solo

    def test_a_strategy_without_feasible_runs_or_without_runs(self) -> None:
        r = _result()
        dead = r.summary("dead")
        assert (dead["mean"], dead["std"], dead["regret"], dead["oracle_gap"]) == (
            None,
            None,
            None,
            None,
        )
        assert (dead["queries_to_target"], dead["reached"], dead["feasible"]) == (None, 0, 0)
        assert (dead["queries"], dead["skipped"], dead["runs"]) == (4.0, 3.0, 5)
        assert dead["energy_j"] == 0.0 and dead["kind"] == "classical"
        assert "vs" not in dead
        empty = r.summary("empty")
        assert empty["kind"] == "other"  # no kind given
        assert (empty["mean"], empty["std"], empty["regret"], empty["oracle_gap"]) == (
            None,
            None,
            None,
            None,
        )
        assert (empty["queries"], empty["skipped"], empty["runs"], empty["feasible"]) == (
            0.0,
            0.0,
            0,
            0,
        )
        assert (empty["seconds"], empty["sampler_seconds"], empty["eval_seconds"]) == (0, 0, 0)
        assert empty["queries_to_target"] is None and empty["energy_j"] == 0.0

    def test_the_reference_is_not_compared_with_itself(self) -> None:
        assert "vs" not in _result().summary("tpe")
        assert "vs" not in _result(maximize=True).summary("rand")

    def test_maximised_scores_flip_the_gap_to_the_oracle(self) -> None:
        m = _result(maximize=True).summary("qa")
        assert m["oracle_gap"] == pytest.approx(3.0 - 0.5)
        assert m["vs"]["reference"] == "rand"
        c = compare(_scores("qa"), _scores("rand"), maximize=True)
        assert c is not None and m["vs"]["difference"] == c.difference == pytest.approx(-9.75)

    def test_a_zero_oracle_is_an_oracle(self) -> None:
        m = _result(oracle=0.0).summary("qa")
        assert m["oracle_gap"] == pytest.approx(-3.0)
        assert _result(oracle=None).summary("qa")["oracle_gap"] is None

    def test_a_nan_regret_of_a_feasible_run_is_no_regret(self) -> None:
        """A task without a finite optimum: the score is known, the regret is not."""
        rows = [
            {"strategy": "a", "seed": 0, "score": 1.0, "regret": NAN, "queries_to_target": None},
            {"strategy": "a", "seed": 1, "score": 3.0, "regret": NAN, "queries_to_target": 2},
        ]
        r = _result(strategies=["a"], rows=rows, curves={}, energy_j={}, kinds={})
        m = r.summary("a")
        assert m["regret"] is None and m["mean"] == 2.0
        # rows without the timing and query columns count them as 0
        assert (m["seconds"], m["sampler_seconds"], m["eval_seconds"]) == (0.0, 0.0, 0.0)
        assert (m["queries"], m["skipped"], m["queries_to_target"]) == (0.0, 0.0, 2.0)

    def test_one_run_is_its_own_mean_of_queries(self) -> None:
        rows = [r for r in _rows() if r["strategy"] == "qa"][1:2]
        m = _result(strategies=["qa"], rows=rows).summary("qa")
        assert (m["queries"], m["skipped"], m["runs"]) == (4.0, 1.0, 1)
        assert (m["seconds"], m["sampler_seconds"], m["eval_seconds"]) == (2.5, 0.2, 2.0)

    def test_none_is_a_missing_score_or_regret(self) -> None:
        """Rows read back from JSON (which has no NaN) may say None; integers are scores."""
        rows = [
            {"strategy": "a", "seed": 0, "score": None, "regret": None, "queries_to_target": None},
            {"strategy": "a", "seed": 1, "score": 2.0, "regret": None, "queries_to_target": None},
            {"strategy": "a", "seed": 2, "score": 4, "regret": 1, "queries_to_target": None},
        ]
        r = _result(strategies=["a"], rows=rows, curves={})
        got = r.scores("a")
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, [NAN, 2.0, 4.0])
        m = r.summary("a")
        assert (m["mean"], m["feasible"], m["runs"]) == (3.0, 2, 3)
        assert m["regret"] is None  # one feasible run's regret is unknown

    def test_nothing_feasible_and_no_optima_warn_of_nothing(self) -> None:
        """No mean of an empty set is taken (numpy would warn "Mean of empty slice")."""
        r = _result(optima=[])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert r.summary("dead")["mean"] is None and r.summary("dead")["regret"] is None
            assert r.summary("empty")["mean"] is None and r.summary("empty")["regret"] is None
            t = r.table()
        assert isinstance(t.caption, str) and "; optimum nan; oracle pick" in t.caption


class TestReference:
    def test_the_best_classical_mean_among_those_with_a_feasible_run(self) -> None:
        """``dead`` is classical and first, but has no score; of ``tpe`` (mean 12) and
        ``rand`` (12.75 over its feasible runs) the lower wins when minimising, the
        higher when maximising; quantum strategies are never the reference."""
        assert _result().reference == "tpe"
        assert _result(maximize=True).reference == "rand"
        no_classical = {s: "quantum" for s in RUNS}
        assert _result(kinds=no_classical).reference is None
        assert _result(kinds=no_classical).comparisons == {}

    def test_every_other_comparable_strategy_is_compared(self) -> None:
        r = _result()
        assert list(r.comparisons) == ["qa", "rand"]  # dead, solo, empty: < 2 scores
        for s in ("qa", "rand"):
            assert r.comparisons[s] == compare(_scores(s), _scores("tpe"), maximize=False)
        up = _result(maximize=True)
        assert list(up.comparisons) == ["qa", "tpe"]
        for s in ("qa", "tpe"):
            assert up.comparisons[s] == compare(_scores(s), _scores("rand"), maximize=True)

    def test_the_exact_rank_sum_of_separated_scores(self) -> None:
        """qa's five scores all lie below tpe's five (minimised: all better)."""
        c = _result().comparisons["qa"]
        assert c.difference == 9.0
        assert c.p_value == pytest.approx(2 / math.comb(10, 5), rel=1e-12)
        # every resampled mean of qa is <= 5 and every one of tpe >= 10
        assert 5.0 <= c.low <= 9.0 <= c.high <= 13.0
        assert c.significant

    def test_compare_any_two_strategies(self) -> None:
        r = _result(maximize=True)
        assert r.compare("qa", "solo") is None
        assert r.compare("rand", "qa") == compare(_scores("rand"), _scores("qa"), maximize=True)
        assert r.compare("qa", "rand") == compare(_scores("qa"), _scores("rand"), maximize=True)
        low = _result()
        got = low.compare("rand", "qa")
        assert got == compare(_scores("rand"), _scores("qa"), maximize=False)
        assert got is not None and got.difference == pytest.approx(3.0 - 12.75)


class TestJson:
    def test_every_field(self) -> None:
        r = _result(out=Path("/tmp/bench"))
        js = r.to_json()
        _same(
            js,
            {
                "task": "toy",
                "strategies": {s: r.summary(s) for s in RUNS},
                "score": "true error",
                "maximize": False,
                "seeds": 5,
                "first_seed": 7,
                "trials": 4,
                "budgets": ["params<=20000", "latency<=5"],
                "optimum": 1.5,
                "oracle": 0.5,
                "oracle_label": "depth=3",
                "reference": "tpe",
                "target": 0.123456,
                "energy_method": ENERGY,
                "wall_seconds": 12.5,
                "out": "/tmp/bench",
                "software": {
                    "python": "{}.{}.{}".format(*sys.version_info[:3]),
                    "quarch": quarch.__version__,
                    "quarch_source": source_hash(),
                    **{name: importlib.metadata.version(name) for name in RESULT_PACKAGES},
                },
            },
        )
        assert js["software"]["torch"] == torch.__version__
        json.dumps(js)

    def test_without_optima_oracle_reference_or_folder(self) -> None:
        js = _result(optima=[], oracle=None, kinds={}, maximize=True).to_json()
        assert (js["optimum"], js["oracle"], js["reference"], js["out"]) == (None, None, None, None)
        assert js["maximize"] is True
        assert all("vs" not in m for m in js["strategies"].values())


# -- the table -------------------------------------------------------------------------
def _cells(r: BenchmarkResult) -> dict[str, list[str]]:
    t = r.table()
    rows = list(zip(*(list(c.cells) for c in t.columns), strict=True))
    return {str(row[0]).split(" ")[0]: [str(x) for x in row] for row in rows}


def _diff(c: Comparison | None, mark: str) -> str:
    assert c is not None
    return f"{c.difference:+.3f}{mark} [{c.low:+.3f}, {c.high:+.3f}]"


class TestTable:
    def test_title_caption_and_columns(self) -> None:
        t = _result().table()
        assert t.title == "toy: 5 seeds x 4 queries, budgets params<=20000, latency<=5"
        assert t.caption == (
            "score = true error of the pick (the search never sees it); optimum 1.500; "
            "oracle pick 0.500 (depth=3). oracle gap = the oracle pick minus mean; "
            "diff = the mean of tpe minus mean (tpe: the best classical; positive: better), "
            "95% bootstrap CI; p = rank-sum; * p < 0.05 and the CI excludes 0. "
            "seconds = sampler + evaluations (all seeds); queries (+ skipped before "
            f"training) per run; energy: {ENERGY}"
        )
        assert [c.header for c in t.columns] == [*COLUMNS, "queries to 0.123", *TAIL]
        assert [c.justify for c in t.columns] == ["left"] * 2 + ["right"] * 9
        assert t.row_count == len(RUNS)

    def test_every_cell(self) -> None:
        r = _result()
        qa, rand = r.comparisons["qa"], r.comparisons["rand"]
        p_rand = float(mannwhitneyu(_feasible("rand"), _feasible("tpe")).pvalue)
        assert p_rand > 0.05 and not rand.significant
        std_qa, std_rand = statistics.stdev(_feasible("qa")), statistics.stdev(_feasible("rand"))
        std_tpe = statistics.stdev(range(10, 15))
        want = [  # the cells of each row, split at "|"
            "dead [0 feasible]|classical|-|-|-|-|-|-|2.5 + 1.5|4 (+3.0)|0",
            f"qa|quantum|3.000|{std_qa:.3f}|-2.500|{_diff(qa, '*')}|0.00794|3.0 (3/5)"
            "|1.5 + 15.0|4 (+0.6)|1234",
            f"tpe|classical|12.000|{std_tpe:.3f}|-11.500|(reference)||-|3.5 + 5.5|4 (+0.0)|100",
            f"rand [4 feasible]|classical|12.750|{std_rand:.3f}|-12.250|{_diff(rand, '')}"
            f"|{p_rand:.3g}|3.5 (4/5)|0.1 + 0.2|4 (+1.2)|7",
            "solo [1 feasible]|quantum|2.000|-|-1.500|-|-|1.0 (1/5)|1.0 + 1.5|4 (+0.0)|0",
            "empty|other|-|-|-|-|-|-|0.0 + 0.0|0 (+0.0)|0",
        ]
        assert _cells(r) == {w.split(" ")[0].split("|")[0]: w.split("|") for w in want}
        assert std_qa == pytest.approx(math.sqrt(2.5))

    def test_a_significant_gap_behind_is_marked_too(self) -> None:
        up = _result(maximize=True)
        cells = _cells(up)
        qa = up.comparisons["qa"]
        assert qa.high < 0 and qa.significant
        assert cells["qa"][5] == _diff(qa, "*") and cells["qa"][5].startswith("-9.750* [")
        assert cells["rand"][5:7] == ["(reference)", ""]
        assert cells["qa"][4] == "2.500"  # 3.0 - 0.5, maximised

    def test_synthetic_qubo_without_budgets_optima_oracle_or_classical(self) -> None:
        r = _result(
            task="synthetic-qubo",
            budgets=[],
            optima=[],
            oracle=None,
            oracle_label="never shown without an oracle",
            kinds={},
            score_name="energy",
            energy_method="codecarbon",
        )
        t = r.table()
        assert t.title == "synthetic-qubo: 5 seeds x 4 queries"
        assert t.caption == (
            "score = energy of the pick (the search never sees it); optimum nan. "
            "seconds = sampler + evaluations (all seeds); queries (+ skipped before "
            "training) per run; energy: codecarbon"
        )
        assert [c.header for c in t.columns] == [*COLUMNS, "queries to optimum", *TAIL]
        for s, row in _cells(r).items():
            assert row[1] == "other" and row[4:7] == ["-", "-", "-"], s

    def test_an_oracle_without_a_label_and_a_zero_oracle(self) -> None:
        t = _result(oracle=0.0, oracle_label="", optima=[0.25]).table()
        assert isinstance(t.caption, str)
        assert "; optimum 0.250; oracle pick 0.000. oracle gap = the oracle pick minus mean; " in (
            t.caption
        )
        assert "diff = the mean of tpe minus mean (tpe" in t.caption
        up = _result(oracle=0.0, oracle_label="", optima=[0.25], maximize=True).table()
        assert isinstance(up.caption, str)
        assert (
            "; oracle pick 0.000. oracle gap = mean minus the oracle pick; "
            "diff = mean minus the mean of rand (rand: the best classical; positive: better)"
        ) in up.caption
        none = _result(oracle=None).table()
        assert isinstance(none.caption, str) and "oracle gap" not in none.caption
        t = _result(oracle=0.0).table()
        assert isinstance(t.caption, str)
        assert "; oracle pick 0.000 (depth=3). oracle gap" in t.caption

    def test_small_scores_keep_three_significant_digits(self) -> None:
        """Every score scaled by 1e-4 (an error of 0.0003 against 0.0012): the smallest
        score shown, the oracle pick's 0.00005, needs 7 decimals for three significant
        digits, and every score cell (mean, std, gap, diff, optimum, oracle) uses them;
        at the old three decimals qa's mean and tpe's printed as 0.000 and 0.001."""
        k = 1e-4
        rows = [
            {**r, "score": r["score"] * k, "regret": r["regret"] * k} for r in _rows()
        ]  # fmt: skip
        r = _result(rows=rows, optima=[1.5 * k], oracle=0.5 * k)
        cells = _cells(r)
        for s in ("qa", "tpe", "rand", "solo"):
            mean = statistics.fmean(_feasible(s)) * k
            assert cells[s][2] == f"{mean:.7f}", s
            assert float(cells[s][2]) == pytest.approx(mean, rel=5e-3), s  # >= 3 digits
            assert cells[s][4] == f"{r.summary(s)['oracle_gap']:.7f}", s
        assert cells["qa"][3] == f"{statistics.stdev(_feasible('qa')) * k:.7f}"
        qa = r.comparisons["qa"]
        assert cells["qa"][5] == f"{qa.difference:+.7f}* [{qa.low:+.7f}, {qa.high:+.7f}]"
        caption = r.table().caption
        assert isinstance(caption, str)
        assert "optimum 0.0001500; oracle pick 0.0000500 (depth=3)" in caption
        means_only = _cells(_result(rows=rows, optima=[], oracle=None))
        assert means_only["solo"][2] == "0.000200"  # solo's mean, the smallest: 6
        zeros = [{**r, "score": 0.0} for r in _rows()]
        assert _cells(_result(rows=zeros, optima=[0.0], oracle=0.0))["qa"][2] == "0.000"
        assert _cells(_result())["qa"][2] == "3.000"  # scores >= 0.1 keep three decimals

    def test_the_target_column_is_named_by_three_significant_digits(self) -> None:
        for target, name in [(0.123456, "0.123"), (94.37333, "94.4"), (1234.5, "1.23e+03")]:
            t = _result(target=target).table()
            assert t.columns[7].header == f"queries to {name}"


# -- the files -------------------------------------------------------------------------
def _band(col: list[float]) -> tuple[float, float, float, int]:
    """Mean and mean -+ 1.96 standard errors of the runs with a pick (none: NaN; one:
    a band of zero width, as there is no spread to estimate)."""
    xs = [x for x in col if not math.isnan(x)]
    if not xs:
        return NAN, NAN, NAN, 0
    mean = statistics.fmean(xs)
    half = 1.96 * math.sqrt(statistics.variance(xs) / len(xs)) if len(xs) > 1 else 0.0
    return mean, mean - half, mean + half, len(xs)


def _read(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """The figures the result closes, kept open to be read."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    close = plt.close
    kept: list[Any] = []
    monkeypatch.setattr(plt, "close", kept.append)
    yield kept
    for fig in kept:
        close(fig)


class TestFiles:
    def test_results_csv_is_one_row_per_run_in_the_rows_order(self, tmp_path: Path) -> None:
        r = _result()
        out = tmp_path / "a" / "b"  # folders made as needed
        r.write(out)
        r.write(out)  # and written again over the old files
        assert sorted(p.name for p in out.iterdir()) == [
            "benchmark.json",
            "best_so_far.png",
            "curves.csv",
            "results.csv",
        ]
        got = _read(out / "results.csv")
        keys = ["strategy", "seed", "score", "regret", "queries_to_target", "queries"]
        keys += ["skipped", "seconds", "sampler_seconds", "eval_seconds", "picked"]
        assert got[0] == keys
        rows = [row for s in RUNS for row in _rows() if row["strategy"] == s]
        assert len(got) == 1 + sum(len(v) for v in RUNS.values()) == 1 + len(rows)
        for line, row in zip(got[1:], rows, strict=True):
            assert line == ["" if v is None else str(v) for v in row.values()]
        assert got[1][:4] == ["dead", "7", "nan", "nan"]
        assert got[6][:6] == ["qa", "7", "1.0", "0.5", "2", "4"]

    def test_benchmark_json_is_what_json_prints_naming_its_folder(self, tmp_path: Path) -> None:
        """The folder says what made its numbers without the terminal that printed them:
        the result's JSON (software included), ``out`` naming the folder it is in."""
        r = _result()
        r.write(tmp_path / "b")
        got = json.loads((tmp_path / "b" / "benchmark.json").read_text())
        assert r.out is None and got == {**r.to_json(), "out": str(tmp_path / "b")}
        assert got["software"] == r.software and got["software"]["torch"] == torch.__version__
        r.software_changes = [{"resumed": "2026-12-07T00:00:00+00:00", "changed": {"t": [1, 2]}}]
        r.write(tmp_path / "b")  # a rewrite replaces it
        got = json.loads((tmp_path / "b" / "benchmark.json").read_text())
        assert got["software_changes"] == r.software_changes

    def test_curves_csv_is_the_mean_and_95_band_per_query(self, tmp_path: Path) -> None:
        _result().write(tmp_path)
        got = _read(tmp_path / "curves.csv")
        assert got[0] == ["strategy", "query", "mean", "ci95_low", "ci95_high", "runs"]
        want = []
        for s, c in [("qa", QA_CURVE), ("tpe", TPE_CURVE), ("dead", [[NAN] * 4] * 5)]:
            for q in range(4):
                want.append((s, q + 1, *_band([run[q] for run in c])))
        assert len(got) == 1 + len(want) == 1 + 3 * 4
        for line, (s, q, mean, low, high, n) in zip(got[1:], want, strict=True):
            assert line[:2] == [s, str(q)] and line[5] == str(n)
            got_v = [float(x) for x in line[2:5]]
            assert got_v == pytest.approx([mean, low, high], rel=1e-12, nan_ok=True), line
        assert [int(line[5]) for line in got[1:5]] == [1, 2, 4, 5]
        assert got[1][2:5] == ["7.0", "7.0", "7.0"]  # one run: no band
        assert got[9][2:] == ["nan", "nan", "nan", "0"]  # no run with a pick yet

    def test_the_band_against_the_t_free_normal_interval(self, tmp_path: Path) -> None:
        """Two and three runs, worked out by hand: (1, 3) has mean 2, sample variance 2,
        standard error 1; (0, 3, 6) has mean 3, variance 9, standard error sqrt(3)."""
        curves = {"x": np.array([[1.0, 0.0], [3.0, 3.0], [NAN, 6.0]])}
        _result(strategies=["x"], curves=curves).write(tmp_path)
        got = [[float(v) for v in line[2:]] for line in _read(tmp_path / "curves.csv")[1:]]
        assert got[0] == pytest.approx([2.0, 2.0 - 1.96, 2.0 + 1.96, 2])
        h = 1.96 * math.sqrt(3.0)
        assert got[1] == pytest.approx([3.0, 3.0 - h, 3.0 + h, 3])

    def test_the_header_is_the_first_row_s_keys(self, tmp_path: Path) -> None:
        row = {"strategy": "qa", "seed": 3, "score": 0.25, "regret": None}
        row["queries_to_target"] = None
        _result(rows=[row], curves={}).write(tmp_path)
        assert _read(tmp_path / "results.csv") == [list(row), ["qa", "3", "0.25", "", ""]]

    def test_line_ends_are_csv_s_on_every_platform(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The files are opened with ``newline=""``, as the csv module asks, so that its
        CR LF line ends are not translated again where the line separator is CR LF
        (Windows, played here by the pure-Python io module and a patched ``os.linesep``)."""
        import _pyio
        import os

        import quarch.benchmark._result as module

        monkeypatch.setattr(module, "open", _pyio.open, raising=False)
        monkeypatch.setattr(os, "linesep", "\r\n")
        _result().write(tmp_path)
        for name, lines in [("results.csv", 1 + 25), ("curves.csv", 1 + 12)]:
            data = (tmp_path / name).read_bytes()
            assert b"\r\r" not in data and data.count(b"\r\n") == data.count(b"\n") == lines

    def test_infinite_scores_in_a_curve_do_not_warn(self, tmp_path: Path) -> None:
        curves = {"x": np.array([[math.inf, 1.0], [2.0, 3.0]])}
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            _result(strategies=["x"], curves=curves).write(tmp_path)
        got = _read(tmp_path / "curves.csv")[1:]
        assert got[0][0:3] == ["x", "1", "inf"] and got[0][5] == "2"
        assert [float(v) for v in got[1][2:]] == pytest.approx([2.0, 2.0 - 1.96, 2.0 + 1.96, 2])

    def test_no_runs_write_headers_only(self, tmp_path: Path) -> None:
        _result(rows=[], curves={}).write(tmp_path)
        with open(tmp_path / "results.csv", newline="") as f:
            assert list(csv.DictReader(f)) == []
        assert _read(tmp_path / "curves.csv") == [
            ["strategy", "query", "mean", "ci95_low", "ci95_high", "runs"]
        ]

    def test_the_plot(self, tmp_path: Path, figures: list[Any]) -> None:
        from matplotlib.colors import to_rgba

        r = _result()
        r.write(tmp_path)
        (fig,) = figures
        (ax,) = fig.axes
        assert ax.get_title() == (
            "toy (params<=20000, latency<=5): mean best-so-far, 95% band, 5 seeds"
        )
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("queries", "score of the pick")
        lines = ax.get_lines()
        assert [ln.get_label() for ln in lines] == ["qa", "tpe", "dead", "oracle pick"]
        for ln, c in zip(lines, [QA_CURVE, TPE_CURVE, [[NAN] * 4] * 5], strict=False):
            np.testing.assert_array_equal(ln.get_xdata(), [1, 2, 3, 4])
            mean = [_band([run[q] for run in c])[0] for q in range(4)]
            np.testing.assert_allclose(ln.get_ydata(), mean, rtol=1e-12)
        oracle = lines[3]
        assert list(oracle.get_ydata()) == [0.5, 0.5]
        assert to_rgba(oracle.get_color()) == (0.0, 0.0, 0.0, 1.0)
        assert (oracle.get_linestyle(), oracle.get_linewidth()) == (":", 1.0)
        bands = ax.collections
        assert len(bands) == 3 and all(b.get_alpha() == 0.2 for b in bands)
        ys = bands[1].get_paths()[0].vertices  # tpe's band: every low and high edge
        for q in range(4):
            _, low, high, _ = _band([run[q] for run in TPE_CURVE])
            assert np.isclose(ys[:, 1], low).any() and np.isclose(ys[:, 1], high).any()
            assert np.isclose(ys[:, 0], q + 1).any()
        assert set(ys[:, 0]) <= {1.0, 2.0, 3.0, 4.0}
        legend = ax.get_legend()
        assert [t.get_text() for t in legend.get_texts()] == ["qa", "tpe", "dead", "oracle pick"]
        assert all(t.get_fontsize() == 8 for t in legend.get_texts())
        for g in [*ax.xaxis.get_gridlines(), *ax.yaxis.get_gridlines()]:
            assert g.get_visible() and g.get_alpha() == 0.3
        import matplotlib

        assert fig.subplotpars.left != matplotlib.rcParams["figure.subplot.left"]  # tight
        png = (tmp_path / "best_so_far.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
        assert struct.unpack(">II", png[16:24]) == (7 * 120, round(4.5 * 120))

    def test_the_plot_without_budgets_or_oracle_and_with_a_zero_oracle(
        self, tmp_path: Path, figures: list[Any]
    ) -> None:
        _result(budgets=[], oracle=None, seeds=2).write(tmp_path / "a")
        _result(oracle=0.0).write(tmp_path / "b")
        (a,), (b,) = figures[0].axes, figures[1].axes
        assert a.get_title() == "toy: mean best-so-far, 95% band, 2 seeds"
        assert [ln.get_label() for ln in a.get_lines()] == ["qa", "tpe", "dead"]
        assert [ln.get_label() for ln in b.get_lines()][-1] == "oracle pick"
        assert list(b.get_lines()[-1].get_ydata()) == [0.0, 0.0]

    def test_without_matplotlib_the_plot_is_skipped_with_a_warning(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails
        with pytest.warns(
            QuarchWarning, match=r"^matplotlib is not installed; the benchmark plot was skipped$"
        ):
            _result().write(tmp_path)
        got = sorted(p.name for p in tmp_path.iterdir())
        assert got == ["benchmark.json", "curves.csv", "results.csv"]


def test_an_interrupted_benchmark_write_leaves_no_mixed_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by session 34's user-path audit: a Ctrl-C while the plot was drawn left the
    new tables beside the previous benchmark's plot."""
    from quarch.benchmark import BenchmarkResult, run_benchmark

    out = tmp_path / "bench"
    kw: dict[str, Any] = {
        "task": "synthetic-qubo", "strategies": "random", "trials": 3, "out": str(out),
        "progress": False,
    }  # fmt: skip
    run_benchmark(seeds=1, **kw)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert set(before) == {"results.csv", "curves.csv", "best_so_far.png", "benchmark.json"}

    def _stop(self: Any, path: Path) -> None:
        raise KeyboardInterrupt  # Ctrl-C while the plot is drawn

    monkeypatch.setattr(BenchmarkResult, "_plot", _stop)
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(seeds=2, first_seed=5, **kw)
    after = {p.name: p.read_bytes() for p in out.iterdir()} if out.exists() else {}
    # the stopped benchmark's finished runs, kept to be taken by the same command again
    after.pop(RUNS_FILE, None)
    # either the previous benchmark untouched, or nothing: never a mix of the two
    assert after in (before, {})


def test_a_write_replaces_only_its_own_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user's file in the folder stays; a plot the new write does not make (no
    matplotlib) is removed rather than left from the previous benchmark; no hidden
    work folder is left; a write that fails in a new folder leaves no folder."""
    r = _result()
    out = tmp_path / "b"
    seen: list[Path] = []
    real = BenchmarkResult._write_files

    def spy(self: BenchmarkResult, where: Path) -> None:
        seen.append(where)
        real(self, where)

    monkeypatch.setattr(BenchmarkResult, "_write_files", spy)
    r.write(out)
    # written in a hidden folder inside the benchmark's (one file system: each move is a
    # rename), which is gone after
    assert seen[0].parent == out and seen[0].name.startswith(".writing-")
    assert sorted(p.name for p in out.iterdir()) == sorted(BENCHMARK_FILES)
    (out / "notes.txt").write_text("mine")
    monkeypatch.setattr(BenchmarkResult, "_plot", lambda self, path: None)
    r.write(out)
    got = sorted(p.name for p in out.iterdir())
    assert got == ["benchmark.json", "curves.csv", "notes.txt", "results.csv"]
    assert (out / "notes.txt").read_text() == "mine"
    with open(out / "results.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == len(r.rows)

    def fail(self: BenchmarkResult, path: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(BenchmarkResult, "_plot", fail)
    with pytest.raises(OSError):
        r.write(tmp_path / "new" / "b")
    assert list((tmp_path / "new").iterdir()) == []


def test_a_difference_that_rounds_to_zero_has_no_sign() -> None:
    """Found by session 37's user-path audit: ``-0.00000`` in the README's toy benchmark."""
    from quarch.benchmark._result import _signed

    assert [_signed(v, 3) for v in (-0.0001, 0.0001, -0.0, 0.0, -0.0006, 0.0006)] == [
        "+0.000", "+0.000", "+0.000", "+0.000", "-0.001", "+0.001",
    ]  # fmt: skip
