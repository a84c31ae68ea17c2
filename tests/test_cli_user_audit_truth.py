"""The command line's rough edges a user audit found (session 37), each against a truth
of its own: a docstring written here, Optuna's and NumPy's counts, the options click
declares, the refusal the Python API gives.

Before: ``quarch tasks`` printed names alone and took no NAME; ``quarch datasets``
called NAS-Bench-201's 15625 cells "samples"; ``quarch strategies qubo-sa`` showed nine
defaults as a bare ``None``; ``--trials 2 --trials 3`` ran 3 trials without a word;
and ``--pruner-option`` was refused by the command line in other words than the
API's.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from pathlib import Path
from typing import Any

import optuna
import pytest
import typer.main

from quarch._cli_app import app
from quarch._errors import ConfigError
from quarch._pruner_options import check_pruner_options
from quarch.benchmark import task_factories
from quarch.benchmark._tasks import task_description
from quarch.cli import main
from quarch.study._storage import make_pruner

from ._fresh_cli import fresh


@pytest.fixture(autouse=True)
def _wide_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every table on one line per row, whatever width an earlier test or ``COLUMNS``
    left (the raw attribute: setting ``width`` is restored as the width it read)."""
    import quarch._cli_app

    monkeypatch.setattr(quarch._cli_app._out, "_width", 1000)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _cells(table: str, first: str) -> list[str]:
    """The cells of the row of a printed table whose first cell is ``first``."""
    for line in table.splitlines():
        cells = [c.strip() for c in re.split("[│┃]", line.strip().strip("│┃"))]
        if cells and cells[0] == first:
            return cells
    raise AssertionError(f"no row {first!r} in:\n{table}")


# --- 1. quarch tasks: a description per task, and quarch tasks NAME --------------------

_MY_TASK = '''
from quarch.benchmark import synthetic_qubo_task


def coins(*, seed=0, budgets=()):
    """``coins``: ten coins, each tossed once (a task of mine)

    And a second paragraph nobody lists."""
    return synthetic_qubo_task(seed=seed, budgets=budgets)


def bare(*, data_dir=None):
    return synthetic_qubo_task()
'''


def test_tasks_lists_a_description_for_each_task(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "tasks", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["name"] for r in rows] == list(task_factories())
    by_name = {r["name"]: r["description"] for r in rows}
    # its docstring's words, without the name it starts with nor reST's marks
    assert by_name["synthetic-qubo"] == (
        "a new random QUBO per seed; the search sees its energy as val_error and is judged "
        "by that energy (the optimum found by brute force)"
    )
    code, out, _ = _run(capsys, "tasks")
    assert _cells(out, "synthetic-qubo")[1] == by_name["synthetic-qubo"]


def test_one_task_of_your_own_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "my_tasks.py").write_text(_MY_TASK)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out, err = _run(capsys, "tasks", "my_tasks:coins")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "my_tasks:coins: ten coins, each tossed once (a task of mine)",
        "its factory takes: seed, budgets (`quarch benchmark --task my_tasks:coins` passes them)",
    ]
    code, out, _ = _run(capsys, "tasks", "my_tasks:bare", "--json")
    assert json.loads(out) == {"name": "my_tasks:bare", "description": "", "takes": ["data_dir"]}
    code, out, _ = _run(capsys, "tasks", "my_tasks:bare")
    assert out.splitlines()[0] == "my_tasks:bare: (no description: its factory has no docstring)"
    code, _, err = _run(capsys, "tasks", "synthetic-qubbo")
    assert code == 2 and err.startswith("error: unknown benchmark task 'synthetic-qubbo'")
    assert err.count("\n") == 1 and "did you mean 'synthetic-qubo'" in err


def test_a_partial_is_described_by_the_function_it_wraps() -> None:
    def made(n: int, *, seed: int = 0) -> None:
        """Twelve of :data:`~mod.THEM` each. Not this."""

    assert task_description(functools.partial(made, 3)) == "Twelve of mod.THEM each"
    assert task_description(functools.partial(functools.partial(made, 3), seed=1)) == (
        "Twelve of mod.THEM each"
    )
    documented = functools.partial(made, 4)
    documented.__doc__ = "Four of them."  # a partial described on its own
    assert task_description(documented) == "Four of them"


# --- 2. quarch datasets: what a table's size counts ------------------------------------


def test_a_tables_size_counts_architectures_not_samples(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sklearn.datasets import load_iris

    code, out, _ = _run(capsys, "datasets", "--data-dir", str(tmp_path), "--json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)}
    cells = 5**6  # NAS-Bench-201: 5 operations on each of a cell's 6 edges
    for name in ("cifar10", "cifar100"):
        assert (rows[name]["samples"], rows[name]["counts"]) == (cells, "architectures")
    assert (rows["iris"]["samples"], rows["iris"]["counts"]) == (
        len(load_iris().data), "samples",
    )  # fmt: skip
    _code, out, _ = _run(capsys, "datasets", "--data-dir", str(tmp_path))
    header = _cells(out, "name")
    assert header[2] == "size" and "samples" not in header
    assert _cells(out, "cifar10")[2] == f"{cells} architectures"
    assert _cells(out, "iris")[2] == "150 samples"


# --- 3. quarch strategies NAME: what None stands for ------------------------------------


def test_a_none_default_says_what_is_used(capsys: pytest.CaptureFixture[str]) -> None:
    from quarch.search import QUBOSampler, SASolver, strategy_options
    from quarch.search._evolution import RegEvoSampler

    code, out, _ = _run(capsys, "strategies", "qubo-sa")
    assert code == 0
    solver = inspect.signature(SASolver).parameters  # what qubo-sa's None hands over to
    assert _cells(out, "num_reads")[1] == f"None: {solver['num_reads'].default}"
    assert _cells(out, "num_sweeps")[1] == f"None: {solver['num_sweeps'].default}"
    for key in ("trust_after", "polish_after", "escape_after"):
        assert _cells(out, key)[1] == "None: never"
    assert _cells(out, "trust_exploration")[1] == "None: exploration"
    made: Any = QUBOSampler(solver="sa", seed=0)._solver  # the values None runs with
    assert (made.num_reads, made.num_sweeps) == (solver["num_reads"].default, 1000)
    assert _cells(out, "num_reads")[2] == "anneals per proposal, >= 1 (default 10)"
    assert _cells(out, "batch_size")[1] == repr((strategy_options("qubo-sa") or {})["batch_size"])
    code, out, _ = _run(capsys, "strategies", "tpe")  # Optuna's: None not explained
    assert _cells(out, "constraints_func")[1] == "None"
    code, out, _ = _run(capsys, "strategies", "evolution")
    assert RegEvoSampler(population_size=20)._tournament_size == 5
    assert RegEvoSampler(population_size=3)._tournament_size == 3
    assert _cells(out, "tournament_size")[1] == (
        "None: 5, or the whole population when it is smaller"
    )
    code, out, _ = _run(capsys, "strategies", "grover")  # read through "see :class:`X`"
    assert _cells(out, "max_oracle_calls")[1] == "None: 4 * sqrt(2**n)"
    assert _cells(out, "lam")[2] == "growth of the rotation bound, in ``(1, 4]``"


# --- 5. an option of one value given twice ------------------------------------------------


def _one_value_options() -> list[tuple[str, str]]:
    """(command, option) for every option click parses as one value, of every command."""
    group: Any = typer.main.get_command(app)
    out = []
    for name, command in group.commands.items():
        for p in command.params:
            if p.param_type_name == "option" and not p.multiple and not p.is_flag:
                out.append((name, p.opts[0]))
    return out


def test_every_option_of_one_value_given_twice_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    pairs = _one_value_options()
    assert ("search", "--trials") in pairs and ("benchmark", "--seeds") in pairs
    for command, option in pairs:
        code, out, err = _run(capsys, command, option, "1", option, "2")
        assert (code, out, err) == (
            2, "", f"error: {option} is given twice; give it once (the last value would "
            "silently replace the first)\n",
        ), (command, option)  # fmt: skip
    # after a flag and a repeatable option, which may come twice, still refused
    code, _, err = _run(capsys, "search", "--quiet", "--budget", "params<=9", "--trials", "1",
                        "--seed", "1", "--trials", "2")  # fmt: skip
    assert (code, err.split(";")[0]) == (2, "error: --trials is given twice")
    assert list(tmp_path.iterdir()) == []


def test_repeatable_options_and_flags_given_twice_are_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(
        capsys, "search", "--space", "mlp", "--budget", "params<=500", "--budget",
        "val_error<=0.9", "--space-option", "max_layers=2", "--space-option", "widths=[8,16]",
        "--quiet", "--quiet", "--dry-run", "--json",
    )  # fmt: skip
    assert (code, err) == (0, "")
    config = json.loads(out)
    assert config["budgets"] == ["params<=500", "val_error<=0.9"]
    assert config["space_options"] == {"max_layers": 2, "widths": [8, 16]}


# --- 7. --pruner-option: one check, the API's words ----------------------------------------

_PRUNER_CASES = [
    ("none", "n_startup_trials", 1),
    ("median", "foo", 1),
    ("median", "n_startup_trial", 1),
    ("hyperband", "min_resource", "abc"),
]


@pytest.mark.parametrize(("pruner", "key", "value"), _PRUNER_CASES)
def test_the_command_line_refuses_a_pruner_option_in_the_apis_words_before_torch(
    pruner: str, key: str, value: object, tmp_path: Path
) -> None:
    with pytest.raises(TypeError):  # Optuna's class refuses the names: the truth of "lacks"
        getattr(optuna.pruners, {"none": "NopPruner", "median": "MedianPruner"}.get(
            pruner, "HyperbandPruner"))(**{"foo" if key == "min_resource" else key: value})  # fmt: skip
    with pytest.raises(ConfigError) as e:
        make_pruner(pruner, {key: value})
    text = value if isinstance(value, str) else json.dumps(value)
    args = ["search", "--space", "mlp", "--objectives", "val_error", "--pruner", pruner,
            "--pruner-option", f"{key}={text}", "--out", "r"]  # fmt: skip
    assert fresh(args, tmp_path) == (2, [], f"error: {e.value}\n")
    with pytest.raises(ConfigError) as early:  # the command line's check, in this process
        check_pruner_options(pruner, {key: value})
    assert str(early.value) == str(e.value)
    check_pruner_options(pruner, {})  # nothing given: nothing to refuse
    check_pruner_options("nosuch", {key: value})  # an unknown pruner: the config's line
    assert list(tmp_path.iterdir()) == []
    assert re.match(rf"--pruner {pruner}: bad pruner_options ", str(e.value))


def test_every_option_a_pruner_takes_passes_the_early_check() -> None:
    """Each option Optuna's class takes, at its own default, passes the command line's
    check and builds the pruner (the check refuses nothing Optuna takes)."""
    for pruner, name in (("none", "NopPruner"), ("median", "MedianPruner"),
                         ("hyperband", "HyperbandPruner")):  # fmt: skip
        cls = getattr(optuna.pruners, name)
        options = {n: p.default for n, p in inspect.signature(cls).parameters.items()}
        check_pruner_options(pruner, options)
        assert type(make_pruner(pruner, options)) is cls


class _Wrapped:
    """A class whose options the next one documents.

    Args:
        alpha (float): the step size, in ``(0, 1]`` (default 0.5).

        beta (int | None): how many; ``None`` is 7.
    """


class _Thin(_Wrapped):
    """A thin subclass.

    Args:
        alpha, beta: see :class:`_Wrapped`.
        gamma: see :class:`_Thin`.
        delta: see :class:`_Nowhere`.
        eps: see :class:`~tests.nowhere._Wrapped`.
        zeta: see :class:`_Wrapped`.
        batch_size: see :class:`~quarch.search.QUBOSampler`.
    """


class _Bare(_Wrapped):
    """Documents no option of its own."""


def test_an_option_documented_elsewhere_is_read_there() -> None:
    from quarch._cli_lists import _arg_docs

    docs = _arg_docs(_Thin)
    assert docs["alpha"] == "the step size, in ``(0, 1]`` (default 0.5)."
    assert docs["beta"] == "how many; ``None`` is 7."
    assert docs["gamma"] == "see :class:`_Thin`."  # a loop: left as written
    assert docs["delta"] == "see :class:`_Nowhere`."  # no such class: as written
    assert docs["eps"] == "see :class:`~tests.nowhere._Wrapped`."  # no such module
    assert docs["zeta"] == ""  # the class it names does not document it
    assert docs["batch_size"] == "proposals per model fit, >= 1."
    assert _arg_docs(_Wrapped) == {k: docs[k] for k in ("alpha", "beta")}
    assert _arg_docs(_Bare) == _arg_docs(_Wrapped)  # its base's


def _mine(*, seed: int, space: Any, objective: Any, rate: float | None = None) -> Any:
    """A strategy of mine.

    Args:
        rate (float | None): how fast it goes. ``None`` means 0.25.
        unused (int): documented, not taken.
    """
    raise AssertionError("never built here")


def test_a_users_strategy_lists_its_own_docstring(capsys: pytest.CaptureFixture[str]) -> None:
    from quarch.search import STRATEGIES

    STRATEGIES.add("hb-mine", _mine, "a user's own")
    try:
        code, out, _ = _run(capsys, "strategies", "hb-mine")
    finally:
        STRATEGIES.remove("hb-mine")
    assert code == 0
    assert _cells(out, "rate")[1:] == ["None: 0.25", "how fast it goes"]


class _NoSignature:
    __signature__ = "not a signature"  # inspect.signature raises TypeError

    def __call__(self, **kwargs: Any) -> None:
        """A factory whose signature cannot be read."""


def test_what_a_task_factory_takes() -> None:
    from quarch._cli_lists import _task_takes

    def every(**kwargs: Any) -> None: ...
    def some(*, budgets: Any = (), other: int = 1) -> None: ...

    assert _task_takes(every) == ["seed", "data_dir", "budgets"]
    assert _task_takes(_NoSignature()) == ["seed", "data_dir", "budgets"]
    assert _task_takes(some) == ["budgets"]


def test_a_run_is_kept_with_numpy_numbers_as_json_numbers() -> None:
    import numpy as np

    from quarch.benchmark._journal import _plain

    assert json.dumps({"a": np.float32(1.5), "b": np.arange(3), "c": np.int64(4)},
                      default=_plain) == '{"a": 1.5, "b": [0, 1, 2], "c": 4}'  # fmt: skip
    assert json.dumps({"d": Path("x")}, default=_plain) == '{"d": "x"}'
