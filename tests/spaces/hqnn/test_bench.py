"""The ``hqnn-bench`` table: its checksum, its coverage of the declared sub-space, its
generation record, and the tasks built on it.

The truth here is the raw file read with ``gzip`` and ``csv`` and the sub-space
enumerated with ``itertools.product`` from :data:`BENCH_SPACE`, not quarch's loader.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import hashlib
import io
import itertools
import json
import shutil
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from quarch import DataError
from quarch.config import SearchConfig
from quarch.spaces.hqnn import bench
from quarch.spaces.hqnn.bench import (
    ARCH_COLUMNS,
    BENCH_DATASETS,
    BENCH_EPOCHS,
    BENCH_FILE,
    BENCH_META,
    BENCH_SPACE,
    CHEAP_COLUMNS,
    bench_space,
    load_hqnn_bench,
)
from quarch.spaces.hqnn.evaluator import HQNNEvaluator, make_hqnn_evaluator

ROOT = Path(__file__).resolve().parents[3]


def _raw() -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(gzip.decompress(BENCH_FILE.read_bytes()).decode())))
    return rows[0], rows[1:]


def _declared() -> set[tuple[str, ...]]:
    s = BENCH_SPACE
    options = {
        "embedding": s["embeddings"],
        "qubits": range(s["min_qubits"], s["max_qubits"] + 1),
        "layers": range(s["min_layers"], s["max_layers"] + 1),
        "rotation": s["rotations"],
        "entanglement": s["entanglements"],
        "entangler": s["entangling_gates"],
        "measurement": s["measurements"],
    }
    return {
        tuple(str(v) for v in combo)
        for combo in itertools.product(*(options[c] for c in ARCH_COLUMNS))
    }


def test_the_file_matches_its_recorded_checksum() -> None:
    meta = json.loads(BENCH_META.read_text())
    assert hashlib.sha256(BENCH_FILE.read_bytes()).hexdigest() == meta["sha256"]
    assert BENCH_FILE.stat().st_size < 5_000_000  # a few MB at most, as the issue asks


def test_the_rows_cover_the_declared_sub_space_exactly_once_per_data_set_and_seed() -> None:
    header, rows = _raw()
    col = {c: i for i, c in enumerate(header)}
    declared = _declared()
    assert len(declared) == bench_space().size >= 1000
    for d in BENCH_DATASETS:
        for seed in ("0", "1"):
            mine = [
                tuple(r[col[c]] for c in ARCH_COLUMNS)
                for r in rows
                if r[col["dataset"]] == d and r[col["seed"]] == seed
            ]
            assert Counter(mine) == Counter(declared), (d, seed)
    assert len(rows) == len(declared) * len(BENCH_DATASETS) * 2
    for e in BENCH_EPOCHS:  # every fidelity recorded, as fractions
        for split in ("val", "test"):
            v = np.array([float(r[col[f"{split}_error_e{e}"]]) for r in rows])
            assert np.all((v >= 0) & (v <= 1))
    assert {"params", "flops", "depth", "two_qubit_gates", "success_probability",
            "train_seconds"} <= set(header)  # fmt: skip


def test_the_generation_record_names_the_config_that_made_it() -> None:
    meta = json.loads(BENCH_META.read_text())
    config = tomllib.loads((ROOT / "benchmarks" / "hqnn_bench.toml").read_text())
    assert config["space_options"] == BENCH_SPACE == meta["space_options"]
    assert config["strategy"] == "grid" and config["trials"] == bench_space().size
    assert config["epochs"] == BENCH_EPOCHS[-1]
    assert config["evaluator_options"]["record_epochs"] == list(BENCH_EPOCHS)
    assert sorted(meta["commands"]) == sorted(
        f"quarch search --config benchmarks/hqnn_bench.toml --dataset {d} --seed {s} "
        f"--out runs/hqnn-bench-{d}-s{s}"
        for d in BENCH_DATASETS
        for s in (0, 1)
    )
    assert meta["quarch_version"] and meta["rows"] == len(_raw()[1])


@pytest.mark.parametrize("dataset", BENCH_DATASETS)
def test_the_task_signal_oracle_and_judge_come_from_the_rows(dataset: str) -> None:
    header, rows = _raw()
    col = {c: i for i, c in enumerate(header)}
    val: dict[tuple[str, ...], list[float]] = {}
    test: dict[tuple[str, ...], list[float]] = {}
    for r in rows:
        if r[col["dataset"]] == dataset:
            key = tuple(r[col[c]] for c in ARCH_COLUMNS)
            val.setdefault(key, []).append(float(r[col["val_error_e30"]]))
            test.setdefault(key, []).append(100 * (1 - float(r[col["test_error_e30"]])))
    task = bench.hqnn_bench_task(dataset)
    some = bench_space().sample(3)
    key = tuple(str(some[c]) for c in ARCH_COLUMNS)
    assert task.evaluator.evaluate(some)["val_error"] == pytest.approx(np.mean(val[key]))
    assert task.judge(some) == pytest.approx(np.mean(test[key]))
    assert "test_error" not in task.evaluator.evaluate(some)
    best_val = min(np.mean(v) for v in val.values())
    oracle_scores = {np.mean(test[k]) for k, v in val.items() if np.mean(v) == best_val}
    assert any(task.oracle == pytest.approx(s) for s in oracle_scores)
    assert task.optimum == pytest.approx(max(np.mean(v) for v in test.values()))


def test_the_small_task_judges_parameters_under_the_accuracy_floor() -> None:
    task = bench.hqnn_bench_small_task("wine")
    table = load_hqnn_bench("wine")
    val, params = table.mean("val_error_e30"), table.mean("params")
    floor = np.quantile(val, bench.SMALL_QUANTILE)
    assert task.optimum == params[val <= floor].min()
    assert not task.maximize and task.objective.metrics == ("params",)


@pytest.mark.parametrize(("dataset", "stride"), [("digits", 11), ("wine", 17)])
def test_the_costs_known_without_training_are_this_code_s(dataset: str, stride: int) -> None:
    """Every column a search reads before it trains (parameters, FLOPs, quantum and
    routed costs) is what the installed cost models make of the row's architecture under
    the table's own config, to the file's six digits. A cost model changed without
    ``benchmarks/hqnn_bench.py refresh-costs`` fails here (RZZ's pulses did)."""
    header, rows = _raw()
    col = {c: i for i, c in enumerate(header)}
    config = SearchConfig.from_file(ROOT / "benchmarks" / "hqnn_bench.toml")
    ev = make_hqnn_evaluator(bench_space(), dataclasses.replace(config, dataset=dataset))
    assert isinstance(ev, HQNNEvaluator)
    archs = {tuple(str(a[c]) for c in ARCH_COLUMNS): a for a in load_hqnn_bench(dataset).archs}
    mine = [r for r in rows if r[col["dataset"]] == dataset and r[col["seed"]] == "0"]
    checked: Counter[tuple[str, str]] = Counter()
    for r in mine[::stride]:
        arch = archs[tuple(r[col[c]] for c in ARCH_COLUMNS)]
        made = ev.cheap_metrics(arch)
        for c in CHEAP_COLUMNS:
            assert float(r[col[c]]) == pytest.approx(made[c], rel=1e-5, abs=0), (arch, c)
        checked[(arch["embedding"], arch["entangler"])] += 1
    assert len(checked) == 6  # every embedding with every entangling gate


def test_a_changed_or_incomplete_table_is_refused(tmp_path: Path) -> None:
    header, rows = _raw()
    changed = tmp_path / "t.csv.gz"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *rows[:-1]])
    changed.write_bytes(gzip.compress(buf.getvalue().encode()))
    meta = tmp_path / "t.json"
    shutil.copy(BENCH_META, meta)
    with pytest.raises(DataError, match="checksum"):
        load_hqnn_bench("digits", changed, meta)
    record = json.loads(meta.read_text())
    record["sha256"] = hashlib.sha256(changed.read_bytes()).hexdigest()
    meta.write_text(json.dumps(record))
    dropped = rows[-1][0]
    with pytest.raises(DataError, match="lack one row"):
        load_hqnn_bench(dropped, changed, meta)


def test_quarch_benchmark_runs_on_the_table() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "quarch", "benchmark", "--task", "hqnn-bench-wine",
         "--strategies", "qiea,random", "--seeds", "2", "--trials", "20", "--quiet", "--json",
         "--out", "bench-out"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert set(res["strategies"]) == {"qiea", "random"} and res["trials"] == 20
    names = subprocess.run(
        [sys.executable, "-m", "quarch", "tasks"], capture_output=True, text=True, timeout=120
    ).stdout
    assert "hqnn-bench-digits" in names and "hqnn-bench-wine-small" in names
