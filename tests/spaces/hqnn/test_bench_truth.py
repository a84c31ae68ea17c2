"""``hqnn-bench``'s table, evaluator and tasks against the raw file and hand statistics.

The truth is the CSV read with ``gzip`` and ``csv``, the sub-space enumerated in its
documented order, and every statistic a task reports worked by hand from the raw rows:
the mean over the two seeds as ``(a + b) / 2``, quantiles by linear interpolation
between order statistics (numpy's default, written out), feasibility of a budget by
comparing each architecture's value with the limit, the oracle as the feasible
architecture with the smallest validation error. Refusals are checked by their whole
one-line message, on files written here (a missing, corrupt, empty, changed or
incomplete table).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import itertools
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from quarch import ConfigError, DataError
from quarch.spaces.hqnn import bench
from quarch.spaces.hqnn.bench import (
    ARCH_COLUMNS,
    BENCH_EPOCHS,
    BENCH_FILE,
    BENCH_META,
    BENCH_SPACE,
    CHEAP_COLUMNS,
    HQNNBenchEvaluator,
    bench_space,
    load_hqnn_bench,
    read_meta,
    read_rows,
    task_factories,
)

DATASETS = ("digits", "wine")


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    """Tables and tasks are cached per process: start every test without them."""
    bench._CACHE.clear()
    bench._load.cache_clear()
    yield
    bench._CACHE.clear()
    bench._load.cache_clear()


def _raw() -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(gzip.decompress(BENCH_FILE.read_bytes()).decode())))
    return rows[0], rows[1:]


HEADER, ROWS = _raw()
COL = {c: i for i, c in enumerate(HEADER)}
METRICS = [c for c in HEADER if c not in ("dataset", "seed", "trial", *ARCH_COLUMNS)]


def _by_arch(dataset: str) -> dict[tuple[str, ...], dict[int, list[str]]]:
    out: dict[tuple[str, ...], dict[int, list[str]]] = {}
    for r in ROWS:
        if r[COL["dataset"]] == dataset:
            key = tuple(r[COL[c]] for c in ARCH_COLUMNS)
            out.setdefault(key, {})[int(r[COL["seed"]])] = r
    return out


def _mean(cells: dict[int, list[str]], metric: str) -> float:
    a, b = (float(cells[s][COL[metric]]) for s in (0, 1))
    return (a + b) / 2


def _quantile(values: list[float], q: float) -> float:
    s = sorted(values)
    h = (len(s) - 1) * q
    lo = math.floor(h)
    return s[lo] + (h - lo) * (s[min(lo + 1, len(s) - 1)] - s[lo])


def _key(arch: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(arch[c]) for c in ARCH_COLUMNS)


def _enumerated() -> list[tuple[str, ...]]:
    """The sub-space in the space's enumeration order (choices in order, the last
    varying fastest), from BENCH_SPACE by hand."""
    s = BENCH_SPACE
    options = {
        "embedding": s["embeddings"], "qubits": range(s["min_qubits"], s["max_qubits"] + 1),
        "layers": range(s["min_layers"], s["max_layers"] + 1), "rotation": s["rotations"],
        "entanglement": s["entanglements"], "entangler": s["entangling_gates"],
        "measurement": s["measurements"],
    }  # fmt: skip
    return [tuple(map(str, c)) for c in itertools.product(*(options[c] for c in ARCH_COLUMNS))]


# ---------------------------------------------------------------------- the table
@pytest.mark.parametrize("dataset", DATASETS)
def test_the_table_holds_the_raw_rows(dataset: str) -> None:
    table = load_hqnn_bench(dataset)
    raw = _by_arch(dataset)
    assert [_key(a) for a in table.archs] == _enumerated()
    assert len(table) == 3 * 5 * 3 * 2 * 3 * 2 * 2 == 1080 == bench_space().size
    assert table.seeds == (0, 1) and table.dataset == dataset
    assert set(table.values) == {*METRICS, "qubits"}  # the trial number is no metric
    for i, arch in enumerate(table.archs):
        cells = raw[_key(arch)]
        for m in METRICS:
            for j, s in enumerate((0, 1)):
                assert table.values[m][i, j] == float(cells[s][COL[m]]), (arch, m, s)
        assert list(table.values["qubits"][i]) == [float(arch["qubits"])] * 2
    sha = hashlib.sha256(BENCH_FILE.read_bytes()).hexdigest()
    assert table.fingerprint == hashlib.sha256(f"{sha}|{dataset}".encode()).hexdigest()
    assert load_hqnn_bench(dataset) is table  # cached


def test_rows_means_and_accuracies() -> None:
    table = load_hqnn_bench("wine")
    raw = _by_arch("wine")
    for n in (0, 517, 1079):
        arch = dict(bench_space().sample(n))
        i = table.row({**arch, "frontend": "anything", "lr": 9})  # fixed choices ignored
        assert table.archs[i] == arch
        cells = raw[_key(arch)]
        assert table.mean("params")[i] == _mean(cells, "params")
        for e in BENCH_EPOCHS:
            for split in ("val", "test"):
                want = 100.0 * (1.0 - _mean(cells, f"{split}_error_e{e}"))
                assert table.accuracy(split, e)[i] == pytest.approx(want, rel=1e-12)
    arch = {**bench_space().sample(0), "qubits": 7}
    with pytest.raises(ConfigError) as err:
        table.row(arch)
    assert str(err.value) == f"architecture not in hqnn-bench: {arch}"
    with pytest.raises(ConfigError) as err:
        table.mean("energy")
    assert str(err.value) == f"hqnn-bench has no metric 'energy'; it has {sorted(table.values)}"
    with pytest.raises(ConfigError) as err:
        table.accuracy("val", 3)
    assert str(err.value) == "hqnn-bench records epochs [1, 2, 5, 10, 30]; got 3"


@pytest.mark.parametrize("epochs", [30, 2])
def test_the_evaluator_looks_up_the_mean_validation_error(epochs: int) -> None:
    table = load_hqnn_bench("digits")
    ev = HQNNBenchEvaluator(table, epochs=epochs)
    assert ev.fingerprint == f"{table.fingerprint}|e{epochs}"
    raw = _by_arch("digits")
    for n in (3, 400, 1000):
        arch = bench_space().sample(n)
        cells = raw[_key(arch)]
        got = ev.evaluate(arch, seed=5)
        assert set(got) == {"val_error", "val_accuracy", "train_seconds", *CHEAP_COLUMNS}
        val = _mean(cells, f"val_error_e{epochs}")
        assert got["val_error"] == val and got["val_accuracy"] == 1.0 - val
        assert got["train_seconds"] == _mean(cells, "train_seconds")
        cheap = ev.cheap_metrics(arch)
        assert set(cheap) == set(CHEAP_COLUMNS)
        for c in CHEAP_COLUMNS:  # known without training: the same for both seeds
            assert cells[0][COL[c]] == cells[1][COL[c]]
            assert got[c] == cheap[c] == float(cells[0][COL[c]])
    assert HQNNBenchEvaluator(table).epochs == 30


def test_describe() -> None:
    arch = {"embedding": "amplitude", "qubits": 4, "layers": 2, "rotation": "rot",
            "entanglement": "ring", "entangler": "cz", "measurement": "zz"}  # fmt: skip
    assert bench.describe(arch) == "amplitude q4 L2 rot/ring cz zz"


# ---------------------------------------------------------------------- the tasks
#: Budgets that bind: on the k-epoch validation error (not the 30-epoch one, which
#: keeps other architectures), at exactly the best value (an architecture on the
#: limit is feasible), with a second budget on a cost.
CASES = [
    ("digits", 30, []),
    ("wine", 30, ["params<=120"]),
    ("digits", 2, ["val_error<=0.08"]),
    ("digits", 2, ["val_accuracy>=0.9", "flops<=30000"]),
    ("digits", 5, ["val_error<=BEST"]),
]


@pytest.mark.parametrize(("dataset", "epochs", "budgets"), CASES)
def test_a_task_s_oracle_optimum_and_target_by_hand(
    dataset: str, epochs: int, budgets: list[str]
) -> None:
    raw = _by_arch(dataset)
    keys = _enumerated()
    best_val = min(_mean(raw[k], f"val_error_e{epochs}") for k in keys)
    budgets = [b.replace("BEST", repr(best_val)) for b in budgets]
    task = bench.hqnn_bench_task(dataset, epochs=epochs, budgets=budgets)

    def value(key: tuple[str, ...], metric: str) -> float:
        if metric == "val_accuracy":
            return 1.0 - _mean(raw[key], f"val_error_e{epochs}")
        if metric == "val_error":
            return _mean(raw[key], f"val_error_e{epochs}")
        return _mean(raw[key], metric)

    parsed = [(b.split(op)[0], op, float(b.split(op)[1])) for b in budgets
              for op in ("<=", ">=") if op in b]  # fmt: skip

    def ok(key: tuple[str, ...]) -> bool:
        return all(
            value(key, m) <= limit if op == "<=" else value(key, m) >= limit
            for m, op, limit in parsed
        )

    feasible = [k for k in keys if ok(k)]
    assert 0 < len(feasible) < (len(keys) if budgets else len(keys) + 1)
    test = {k: 100 * (1 - _mean(raw[k], "test_error_e30")) for k in keys}
    val = {k: _mean(raw[k], f"val_error_e{epochs}") for k in keys}
    best = min(val[k] for k in feasible)
    picks = [k for k in feasible if val[k] == best]
    assert task.oracle == test[picks[0]]  # the first in enumeration order on a tie
    assert task.oracle_label == " ".join(
        [picks[0][0], f"q{picks[0][1]}", f"L{picks[0][2]}", f"{picks[0][3]}/{picks[0][4]}",
         picks[0][5], picks[0][6]]
    )  # fmt: skip
    assert task.optimum == max(test[k] for k in feasible)
    assert task.target == pytest.approx(_quantile([test[k] for k in feasible], 0.99), rel=1e-12)
    assert task.name == f"hqnn-bench-{dataset}" + ("" if epochs == 30 else f"-e{epochs}")
    assert task.maximize is True and task.space.size == 1080
    assert task.score_name == f"{dataset} 30-epoch test accuracy (%), mean of 2 seeds"
    assert task.objective.metrics == ("val_error",)
    assert [(b.metric, b.op, b.limit) for b in task.objective.budgets] == parsed
    some = bench_space().sample(11)
    assert task.judge(some) == test[_key(some)]
    assert task.evaluator.evaluate(some)["val_error"] == val[_key(some)]
    assert task.describe is bench.describe
    assert bench.hqnn_bench_task(dataset, epochs=epochs, budgets=budgets) is task


def test_the_small_task_by_hand() -> None:
    raw = _by_arch("wine")
    keys = _enumerated()
    val = {k: _mean(raw[k], "val_error_e30") for k in keys}
    params = {k: _mean(raw[k], "params") for k in keys}
    floor = _quantile(list(val.values()), 0.2)
    # the second budget leaves the fewest architectures under the floor that are two or
    # more (one exactly on the limit), read from the table (a cost model's refresh moves
    # it): neither the first feasible one in enumeration order nor the smallest without
    sp = sorted(_mean(raw[k], "success_probability") for k in keys if val[k] <= floor)
    limit = sp[1]
    for budgets in ([], [f"success_probability<={limit!r}"]):
        task = bench.hqnn_bench_small_task("wine", budgets=budgets)
        assert task.objective.metrics == ("params",)
        first = task.objective.budgets[0]
        assert (first.metric, first.op) == ("val_error", "<=")
        assert first.limit == pytest.approx(floor, rel=1e-12)
        feasible = [k for k in keys if val[k] <= first.limit]
        if budgets:
            feasible = [k for k in feasible if _mean(raw[k], "success_probability") <= limit]
            assert len(task.objective.budgets) == 2
            assert params[feasible[0]] > min(params[k] for k in feasible)
        assert 0 < len(feasible) < len(keys)
        smallest = min(params[k] for k in feasible)
        pick = next(k for k in feasible if params[k] == smallest)
        assert task.optimum == task.oracle == smallest
        assert task.oracle_label == bench.describe(dict(zip(ARCH_COLUMNS, pick, strict=True)))
        want = _quantile([params[k] for k in feasible], 0.1)
        assert task.target == pytest.approx(want, rel=1e-12)
        assert task.maximize is False and task.name == "hqnn-bench-wine-small"
        assert task.score_name == (
            f"parameters of the pick (30-epoch wine validation error <= {floor:.4f})"
        )
        some = bench_space().sample(8)
        assert task.judge(some) == params[_key(some)]
        assert task.evaluator.evaluate(some)["val_error"] == val[_key(some)]
        assert task.describe is bench.describe and task.space.size == 1080
        assert bench.hqnn_bench_small_task("wine", budgets=budgets) is task


def test_budgets_nothing_meets_are_refused() -> None:
    with pytest.raises(ConfigError) as err:
        bench.hqnn_bench_task("wine", budgets=["params<=1"])
    assert str(err.value) == "no hqnn-bench architecture meets the budgets ['params<=1']"
    with pytest.raises(ConfigError) as err:
        bench.hqnn_bench_small_task("wine", budgets=["params<=1"])
    assert str(err.value) == "no hqnn-bench architecture meets the budgets ['params<=1']"


def test_the_task_factories() -> None:
    facts = task_factories()
    want = {
        f"hqnn-bench-{d}{suffix}"
        for d in DATASETS
        for suffix in ("", "-e1", "-e2", "-e5", "-e10", "-small")
    }
    assert set(facts) == want
    for name, make in facts.items():
        task = make(budgets=["params<=5000"])
        assert task.name == name
        assert [b.limit for b in task.objective.budgets][-1] == 5000
        if name.endswith("-small"):
            assert task.objective.metrics == ("params",)
        else:
            e = int(name.rsplit("-e", 1)[1]) if "-e" in name else 30
            assert task.evaluator.epochs == e


# ---------------------------------------------------------------------- refusals
def _write(path: Path, header: list[str], rows: list[list[str]]) -> tuple[Path, Path]:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *rows])
    path.write_bytes(gzip.compress(buf.getvalue().encode()))
    meta = path.with_suffix(".json")
    meta.write_text(json.dumps({"sha256": hashlib.sha256(path.read_bytes()).hexdigest()}))
    return path, meta


def test_a_file_that_is_not_the_table_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "none.csv.gz"
    with pytest.raises(DataError) as err:
        read_rows(missing)
    assert str(err.value) == (
        f"the hqnn-bench table {str(missing)!r} is missing; generate it as "
        "benchmarks/hqnn_bench.toml says"
    )
    plain = tmp_path / "plain.csv.gz"
    plain.write_text("dataset,seed\n")
    with pytest.raises(DataError) as err:
        read_rows(plain)
    assert str(err.value).startswith(f"{str(plain)!r} is not a gzip-compressed CSV: ")
    empty = tmp_path / "empty.csv.gz"
    empty.write_bytes(gzip.compress(b""))
    with pytest.raises(DataError) as err:
        read_rows(empty)
    assert str(err.value) == f"{str(empty)!r} is empty"
    header, rows, sha = read_rows(BENCH_FILE)
    assert (header, rows) == (HEADER, ROWS)
    assert sha == hashlib.sha256(BENCH_FILE.read_bytes()).hexdigest()
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(DataError) as err:
        read_meta(bad)
    assert str(err.value).startswith(f"cannot read the hqnn-bench record {str(bad)!r}: ")
    with pytest.raises(DataError) as err:
        read_meta(tmp_path / "nothing.json")
    assert str(err.value).startswith("cannot read the hqnn-bench record ")
    bad.write_text("[1, 2]")
    with pytest.raises(DataError) as err:
        read_meta(bad)
    assert str(err.value) == f"{str(bad)!r} is not a JSON object"
    assert read_meta(BENCH_META) == json.loads(BENCH_META.read_text())


def test_a_changed_or_incomplete_table_is_refused(tmp_path: Path) -> None:
    path, meta = _write(tmp_path / "t.csv.gz", HEADER, ROWS)
    good = json.loads(meta.read_text())["sha256"]
    meta.write_text(json.dumps({"sha256": "0" * 64}))
    p = str(path.resolve())
    with pytest.raises(DataError) as err:
        load_hqnn_bench("wine", path, meta)
    assert str(err.value) == (
        f"{p!r} does not match its record's checksum ('{'0' * 64}'); "
        "the table was changed without re-exporting it"
    )
    meta.write_text(json.dumps({"sha256": good}))
    with pytest.raises(ConfigError) as no_rows:
        load_hqnn_bench("iris", path, meta)
    assert str(no_rows.value) == "hqnn-bench has no rows for 'iris'; it has ['digits', 'wine']"

    wine = [r for r in ROWS if r[COL["dataset"]] == "wine"]
    for name, rows, message in [
        ("dropped", wine[1:], "1 (architecture, seed) cells of wine lack one row"),
        ("twice", [*wine, wine[5], wine[9]], "2 (architecture, seed) cells of wine lack one row"),
    ]:
        path, meta = _write(tmp_path / f"{name}.csv.gz", HEADER, rows)
        with pytest.raises(DataError) as err:
            load_hqnn_bench("wine", path, meta)
        assert str(err.value) == f"{str(path.resolve())!r}: {message}"

    outside = [*wine[1:], [*wine[0]]]
    outside[-1][COL["qubits"]] = "9"
    path, meta = _write(tmp_path / "outside.csv.gz", HEADER, outside)
    with pytest.raises(DataError) as err:
        load_hqnn_bench("wine", path, meta)
    assert str(err.value) == (
        f"{str(path.resolve())!r} has a row outside the sub-space: {outside[-1]}"
    )

    short = [c for c in HEADER if c not in ("entangler", "seed")]
    idx = [COL[c] for c in short]
    path, meta = _write(tmp_path / "short.csv.gz", short, [[r[i] for i in idx] for r in wine])
    with pytest.raises(DataError) as err:
        load_hqnn_bench("wine", path, meta)
    assert str(err.value) == f"{str(path.resolve())!r} lacks column(s) ['seed', 'entangler']"


def test_other_seeds_an_extra_column_and_empty_cells(tmp_path: Path) -> None:
    """Seeds are the file's own (sorted), any other column is a metric, an empty cell
    is NaN."""
    wine = [list(r) for r in ROWS if r[COL["dataset"]] == "wine"]
    header = [*HEADER, "energy"]
    for r in wine:
        r[COL["seed"]] = {"0": "7", "1": "3"}[r[COL["seed"]]]
        r.append(str(len(r)))
    wine[0][COL["params"]] = ""
    path, meta = _write(tmp_path / "seeds.csv.gz", header, wine)
    table = load_hqnn_bench("wine", path, meta)
    assert table.seeds == (3, 7)
    assert "energy" in table.values and "trial" not in table.values
    i = table.row(dict(zip(ARCH_COLUMNS, wine[0][3:10], strict=True)))
    j = table.seeds.index(int(wine[0][COL["seed"]]))
    assert math.isnan(table.values["params"][i, j])
    assert np.isnan(table.mean("params")).sum() == 1
    assert set(HQNNBenchEvaluator(table).cheap_metrics(table.archs[i])) == set(CHEAP_COLUMNS)
