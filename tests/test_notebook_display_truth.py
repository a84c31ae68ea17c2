"""A run and its result as a notebook cell's last expression (``quarch.study._display``,
``Run.__repr__``).

Before, ``Run.open(path)`` showed ``<quarch.study._run.Run object at 0x...>``, and a
``SearchResult`` (a dataclass) printed its whole config and every trial with every
field: some 5,000 characters for 12 trials. The truth: hand-written trials whose Pareto
set and best trial are read off by hand (two objectives, both minimised).
"""

from __future__ import annotations

from pathlib import Path

from quarch.config import SearchConfig
from quarch.objectives import Objective
from quarch.study import Run, SearchResult, TrialRecord
from quarch.study._display import HTML_ROWS, result_html, result_repr


def _trial(n: int, err: float | None, params: float | None, state: str = "COMPLETE") -> TrialRecord:
    metrics = {} if err is None else {"val_error": err, "params": params}
    values = None if err is None else [err, params]
    return TrialRecord(n, state, {"depth": n + 1, "act": "relu"}, metrics, values, True, n)  # type: ignore[arg-type]


def _result(trials: list[TrialRecord], budget: int = 6) -> SearchResult:
    config = SearchConfig(space="mlp", dataset="iris", trials=budget, out="runs/demo")
    objective = Objective(["val_error", "params"])
    return SearchResult(Path("runs/demo"), config, objective, trials)


def test_a_result_reads_as_one_line_of_counts_pareto_and_best() -> None:
    # (0.1, 400) and (0.25, 64) trade off; (0.3, 500) is dominated by both; 3 failed
    trials = [_trial(0, 0.25, 64.0), _trial(1, 0.3, 500.0), _trial(2, 0.1, 400.0),
              _trial(3, None, None, "FAIL")]  # fmt: skip
    assert result_repr(_result(trials)) == (
        "<SearchResult 'runs/demo': 4/6 trials (3 complete, 1 failed), 2 Pareto; "
        "best #2 val_error=0.1 params=400 {'depth': 3, 'act': 'relu'}>"
    )
    assert result_repr(_result([])) == (
        "<SearchResult 'runs/demo': 0/6 trials (0 complete), 0 Pareto; no feasible trial>"
    )


def test_pruned_trials_are_counted_by_name() -> None:
    trials = [_trial(0, 0.25, 64.0), _trial(1, None, None, "PRUNED")]
    assert "(1 complete, 1 pruned)" in result_repr(_result(trials))


def test_the_html_is_the_line_and_the_pareto_table_in_order() -> None:
    trials = [_trial(0, 0.25, 64.0), _trial(1, 0.3, 500.0), _trial(2, 0.1, 400.0)]
    assert result_html(_result(trials)) == (
        "<p><code>&lt;SearchResult &#x27;runs/demo&#x27;: 3/6 trials (3 complete), 2 Pareto; "
        "best #2 val_error=0.1 params=400 {&#x27;depth&#x27;: 3, &#x27;act&#x27;: "
        "&#x27;relu&#x27;}&gt;</code></p>"
        "<table><thead><tr><th>trial</th><th>val_error</th><th>params</th>"
        "<th>architecture</th></tr></thead><tbody>"
        "<tr><td>2</td><td>0.1</td><td>400</td><td>depth=3, act=relu</td></tr>"
        "<tr><td>0</td><td>0.25</td><td>64</td><td>depth=1, act=relu</td></tr>"
        "</tbody></table>"
    )
    # no feasible trial: the line alone
    assert result_html(_result([])) == (
        "<p><code>&lt;SearchResult &#x27;runs/demo&#x27;: 0/6 trials (0 complete), 0 Pareto; "
        "no feasible trial&gt;</code></p>"
    )


def test_a_long_pareto_set_shows_its_first_rows_and_how_many_more() -> None:
    for extra, tail in [(0, "</table>"), (1, "<p>1 more Pareto trials: "
                                             "<code>result.pareto</code></p>")]:  # fmt: skip
        n = HTML_ROWS + extra
        trials = [_trial(i, 0.01 * (i + 1), float(1000 - i)) for i in range(n)]  # all Pareto
        page = result_html(_result(trials, budget=n))
        assert page.count("<tr><td>") == HTML_ROWS
        assert page.endswith(tail)


def test_a_count_reads_as_an_integer_up_to_ten_to_the_fifteen() -> None:
    big = 10.0**15 - 1
    rows = [_trial(0, 0.5, 16384.0), _trial(1, 0.25, big), _trial(2, 0.125, 10.0**15)]
    # all three are Pareto: each lower val_error costs more params
    page = result_html(_result(rows))
    assert "<td>0.5</td><td>16384</td>" in page
    assert "<td>0.25</td><td>999999999999999</td>" in page
    assert "<td>0.125</td><td>1e+15</td>" in page


def test_a_run_reads_as_what_it_is(tmp_path: Path) -> None:
    config = SearchConfig(space="mlp", dataset="iris", strategy="qiea", trials=6,
                          out=str(tmp_path / "r"))  # fmt: skip
    run = Run(tmp_path / "r", config, {})
    assert repr(run) == (
        f"<Run {str(tmp_path / 'r')!r}: space='mlp', strategy='qiea', trials=6, "
        "objectives=val_error,params>"
    )


def test_a_result_shows_itself_so_in_a_cell_and_a_notebook() -> None:
    """``repr(result)`` (a cell's last expression in a console) and its ``_repr_html_``
    (in a notebook) are these views, not the dataclass's field dump."""
    result = _result([_trial(0, 0.25, 64.0), _trial(1, 0.1, 400.0)])
    assert repr(result) == result_repr(result)
    assert result._repr_html_() == result_html(result)
    assert "config=" not in repr(result)
