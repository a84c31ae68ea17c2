"""The benchmark harness: tasks, judging, outputs and errors."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from quarch import ConfigError, DataError
from quarch.benchmark import build_task, run_benchmark, synthetic_qubo, task_names

DATA = Path(__file__).parents[1] / ".." / "shared" / "data"
needs_data = pytest.mark.skipif(
    not (DATA / "nb201" / "nb201_cifar.csv").is_file(), reason="shared nb201 table absent"
)


class TestQubo:
    def test_optimum_is_brute_force(self) -> None:
        space, ev, opt = synthetic_qubo(3, n_choices=3, n_options=3)
        Q = ev.Q
        energies = []
        for idx in itertools.product(range(3), repeat=3):
            bits = [0.0] * 9
            for c, o in enumerate(idx):
                bits[3 * c + o] = 1.0
            energies.append(sum(Q[i][j] * bits[i] * bits[j] for i in range(9) for j in range(9)))
        assert opt == pytest.approx(min(energies))
        assert ev.evaluate(space.from_indices([0, 1, 2]))["val_error"] == pytest.approx(
            energies[0 * 9 + 1 * 3 + 2]
        )

    def test_seeded(self) -> None:
        assert np.array_equal(synthetic_qubo(1)[1].Q, synthetic_qubo(1)[1].Q)
        assert not np.array_equal(synthetic_qubo(1)[1].Q, synthetic_qubo(2)[1].Q)
        assert synthetic_qubo(0)[0].size == 4096

    def test_too_big(self) -> None:
        with pytest.raises(
            ValueError,
            match=r"n_options\*\*n_choices must be <= 1000000 for brute force; got 16777216",
        ):
            synthetic_qubo(0, n_choices=12, n_options=4)


class TestRun:
    def test_qubo_run(self, tmp_path: Path) -> None:
        r = run_benchmark(
            task="synthetic-qubo",
            strategies=["random", "evolution"],
            seeds=2,
            trials=15,
            out=str(tmp_path),
            progress=False,
        )
        js = r.to_json()
        assert js["task"] == "synthetic-qubo"
        assert set(js["strategies"]) == {"random", "evolution"}
        for name, s in js["strategies"].items():
            rows = [x for x in r.rows if x["strategy"] == name]
            assert len(rows) == 2
            assert s["mean"] == pytest.approx(np.mean([x["score"] for x in rows]))
            assert s["std"] == pytest.approx(np.std([x["score"] for x in rows], ddof=1))
            for x in rows:  # regret against each seed's own brute-forced optimum
                assert x["regret"] == pytest.approx(x["score"] - synthetic_qubo(x["seed"])[2])
                assert x["regret"] >= -1e-9
            assert {"seconds", "regret", "energy_j"} <= set(s)
        json.dumps(js)
        for f in ("results.csv", "curves.csv", "best_so_far.png"):
            assert (tmp_path / f).stat().st_size > 0
        with open(tmp_path / "curves.csv") as f:
            assert len(list(csv.DictReader(f))) == 2 * 15
        assert r.table().row_count == 2

    def test_curve_is_monotone(self, tmp_path: Path) -> None:
        r = run_benchmark(
            task="synthetic-qubo",
            strategies=["qiea"],
            seeds=2,
            trials=30,
            out=str(tmp_path),
            progress=False,
        )
        c = r.curves["qiea"]
        assert c.shape == (2, 30)
        assert np.all(np.diff(c, axis=1) <= 1e-12)  # energy of the pick never rises

    def test_workers_give_the_same_rows(self, tmp_path: Path) -> None:
        kw = {"task": "synthetic-qubo", "strategies": ["qpso", "local"], "seeds": 2, "trials": 12}
        a = run_benchmark(**kw, out=str(tmp_path / "a"), progress=False, workers=1)
        b = run_benchmark(**kw, out=str(tmp_path / "b"), progress=False, workers=2)
        keep = ("strategy", "seed", "score", "picked", "queries_to_target")
        assert [{k: x[k] for k in keep} for x in a.rows] == [
            {k: x[k] for k in keep} for x in b.rows
        ]
        assert b.energy_method.startswith("CPU time x")


@needs_data
class TestNB201:
    def test_judged_by_200_epoch_test(self, tmp_path: Path) -> None:
        r = run_benchmark(
            task="nb201-cifar10",
            strategies=["random"],
            seeds=2,
            trials=20,
            data_dir=str(DATA),
            out=str(tmp_path),
            progress=False,
        )
        with open(DATA / "nb201" / "nb201_cifar.csv") as f:
            rows = {x["arch"]: x for x in csv.DictReader(f)}
        for x in r.rows:
            assert x["score"] == pytest.approx(float(rows[x["picked"]]["cifar10_test_200ep"]))
            assert x["regret"] == pytest.approx(94.37333333 - x["score"])
        assert r.to_json()["optimum"] == pytest.approx(94.3733, abs=1e-3)

    def test_budget_picks_are_feasible(self, tmp_path: Path) -> None:
        with open(DATA / "nb201" / "nb201_latency.csv") as f:
            lat = {x["arch"]: float(x["raspi4"]) for x in csv.DictReader(f)}
        with open(DATA / "nb201" / "nb201_cifar.csv") as f:
            acc = {x["arch"]: float(x["cifar10_test_200ep"]) for x in csv.DictReader(f)}
        limit = float(np.median(list(lat.values())))
        r = run_benchmark(
            task="nb201-cifar10",
            strategies=["evolution"],
            seeds=2,
            trials=30,
            data_dir=str(DATA),
            budgets=[f"raspi4<={limit}"],
            out=str(tmp_path),
            progress=False,
        )
        for x in r.rows:
            assert lat[x["picked"]] <= limit
        best_feasible = max(a for s, a in acc.items() if lat[s] <= limit)
        assert r.to_json()["optimum"] == pytest.approx(best_feasible)

    def test_missing_data(self, tmp_path: Path) -> None:
        with pytest.raises(DataError, match="NAS-Bench-201 table not found"):
            run_benchmark(
                task="nb201-cifar100",
                strategies=["random"],
                seeds=1,
                trials=1,
                data_dir=str(tmp_path),
                progress=False,
            )

    def test_unknown_budget_metric(self) -> None:
        with pytest.raises(ConfigError, match="budget memory_kb<=10 names metric 'memory_kb'"):
            build_task("nb201-cifar10", data_dir=str(DATA), budgets=["memory_kb<=10"])


class TestInputs:
    def test_unknown_task(self) -> None:
        with pytest.raises(ConfigError, match="unknown benchmark task 'mnist'; choose from: nb201"):
            run_benchmark(task="mnist", strategies=["random"], seeds=1, trials=1)
        assert "synthetic-qubo" in task_names()

    def test_unknown_strategy(self) -> None:
        with pytest.raises(ConfigError, match="unknown strategy 'sa'; choose from: qiea"):
            run_benchmark(task="synthetic-qubo", strategies=["sa"], seeds=1, trials=1)

    @pytest.mark.parametrize("field", ["seeds", "trials", "workers"])
    def test_counts(self, field: str) -> None:
        kw = {"task": "synthetic-qubo", "strategies": ["random"], "seeds": 1, "trials": 1}
        kw[field] = 0
        with pytest.raises(ConfigError, match=f"{field} must be a positive integer; got 0"):
            run_benchmark(**kw)  # type: ignore[arg-type]

    def test_qubo_takes_no_budgets(self) -> None:
        with pytest.raises(ConfigError, match="synthetic-qubo takes no budgets"):
            build_task("synthetic-qubo", budgets=["val_error<=0"])

    def test_malformed_budget(self) -> None:
        with pytest.raises(ConfigError, match="malformed budget 'raspi4 < x'"):
            build_task("synthetic-qubo", budgets=["raspi4 < x"])
