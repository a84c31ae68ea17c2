"""The nb201 evaluator, its table reader and its benchmark tasks against the shared CSV
files read here with :mod:`csv` (``../shared/data/nb201``, see its README), tasks'
optima, oracles and fronts by brute force, and every refusal's whole line.

Also the evaluator contract's helpers (:mod:`quarch.evaluate._base`) and the task
record (:mod:`quarch.evaluate.task`), which the nb201 tasks are built from.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from quarch import ConfigError, DataError
from quarch._errors import SpaceError
from quarch.config import SearchConfig
from quarch.evaluate._base import Evaluator, cheap_metrics, check_metrics
from quarch.evaluate.task import Task, task_objective
from quarch.objectives import Objective
from quarch.spaces import get_space
from quarch.spaces.nb201 import tasks as nb201_tasks
from quarch.spaces.nb201.costs import nb201_macs, nb201_params
from quarch.spaces.nb201.evaluator import (
    NB201_DATASETS,
    NB201_LATENCY_COLUMNS,
    NB201Evaluator,
    load_nb201,
    make_nb201_evaluator,
    nb201_table_dir,
)
from quarch.spaces.nb201.space import nb201_arch_str, nb201_from_str, nb201_space
from quarch.spaces.nb201.tasks import (
    LATENCY_QUANTILE,
    front_hypervolume,
    nb201_mo_task,
    nb201_task,
    task_factories,
)

from ..._pareto_truth import strip_area

DATA = Path(__file__).parents[3] / ".." / "shared" / "data"
CIFAR = DATA / "nb201" / "nb201_cifar.csv"
LATENCY = DATA / "nb201" / "nb201_latency.csv"
needs_data = pytest.mark.skipif(not CIFAR.is_file(), reason="shared nb201 table absent")
DEVICES = ["raspi4", "pixel3", "eyeriss", "fpga", "gold_6226", "1080ti_1"]
ALL_CONV3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


_ROWS: dict[str, list[dict[str, str]]] = {}


def _rows(path: Path) -> list[dict[str, str]]:
    if path.name not in _ROWS:
        _ROWS[path.name] = _read(path)
    return _ROWS[path.name]


@pytest.fixture(autouse=True)
def _fresh_task_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tasks are cached per process; each test builds its own."""
    monkeypatch.setattr(nb201_tasks, "_CACHE", {})
    yield


def _write(folder: Path, name: str, header: list[str], rows: list[list[str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def _small_tables(folder: Path, order: list[int], lat_order: list[int] | None = None) -> None:
    """The first five cells of the shared tables, written in the order given."""
    cifar = _rows(CIFAR)[:5]
    header = list(cifar[0])
    _write(folder, "nb201_cifar.csv", header, [[cifar[i][h] for h in header] for i in order])
    if lat_order is not None:
        lat = _rows(LATENCY)[:5]
        lh = list(lat[0])
        _write(folder, "nb201_latency.csv", lh, [[lat[i][h] for h in lh] for i in lat_order])


# -- the table reader ----------------------------------------------------------------------
@needs_data
class TestTableReader:
    def test_rows_are_put_in_the_benchmark_index_order(self, tmp_path: Path) -> None:
        _small_tables(tmp_path / "nb201", [3, 0, 4, 1, 2], lat_order=[2, 4, 0, 3, 1])
        t = load_nb201("cifar100", tmp_path)
        cifar, lat = _rows(CIFAR)[:5], _rows(LATENCY)[:5]
        assert t.dataset == "cifar100" and len(t) == 5
        assert t.arch_strs == tuple(r["arch"] for r in cifar)
        assert t.val_12ep.tolist() == [float(r["cifar100_valid_12ep"]) for r in cifar]
        assert t.test_200ep.tolist() == [float(r["cifar100_test_200ep"]) for r in cifar]
        assert list(t.latency) == DEVICES
        for c in DEVICES:
            assert t.latency[c].tolist() == [float(r[c]) for r in lat]
        for i, r in enumerate(cifar):
            assert t.row(nb201_from_str(r["arch"])) == i

    def test_the_fingerprint_is_the_sha256_of_the_files_read(self, tmp_path: Path) -> None:
        _small_tables(tmp_path / "nb201", [0, 1, 2, 3, 4], lat_order=[0, 1, 2, 3, 4])
        d = tmp_path / "nb201"

        def sha(name: str) -> str:
            return hashlib.sha256((d / name).read_bytes()).hexdigest()

        c, lat = sha("nb201_cifar.csv"), sha("nb201_latency.csv")
        for ds in NB201_DATASETS:
            want = hashlib.sha256(f"{ds}|{c}|{lat}".encode()).hexdigest()
            assert load_nb201(ds, tmp_path).fingerprint == want
        (d / "nb201_latency.csv").unlink()
        assert (
            load_nb201("cifar10", tmp_path).fingerprint
            == hashlib.sha256(f"cifar10|{c}".encode()).hexdigest()
        )

    def test_a_rewritten_file_is_read_again(self, tmp_path: Path) -> None:
        _small_tables(tmp_path / "nb201", [0, 1, 2, 3, 4])
        path = tmp_path / "nb201" / "nb201_cifar.csv"
        first = load_nb201("cifar10", tmp_path)
        assert load_nb201("nb201-cifar10", tmp_path) is first  # cached
        text = path.read_text().replace(_rows(CIFAR)[0]["cifar10_valid_12ep"], "12.5", 1)
        path.write_text(text)
        st = path.stat()
        os.utime(path, (st.st_atime, st.st_mtime + 10))
        again = load_nb201("cifar10", tmp_path)
        assert again.val_12ep[0] == 12.5 and first.val_12ep[0] != 12.5

    def test_the_folder_is_found_under_root_or_as_root(self, tmp_path: Path) -> None:
        _small_tables(tmp_path / "a" / "nb201", [0, 1, 2, 3, 4])
        _small_tables(tmp_path / "b", [0, 1, 2, 3, 4])
        (tmp_path / "b" / "nb201").mkdir()  # without the table: the root's own is used
        assert nb201_table_dir(tmp_path / "a") == tmp_path / "a" / "nb201"
        assert nb201_table_dir(tmp_path / "a" / "nb201") == tmp_path / "a" / "nb201"
        assert nb201_table_dir(tmp_path / "b") == tmp_path / "b"
        assert nb201_table_dir(tmp_path) is None
        assert len(load_nb201("cifar10", tmp_path / "b")) == 5

    def test_the_default_data_dir(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        _small_tables(tmp_path / "nb201", [0, 1, 2, 3, 4])
        monkeypatch.setenv("QUARCH_DATA_DIR", str(tmp_path))
        t = load_nb201()  # cifar10 in the default folder
        assert len(t) == 5 and t.dataset == "cifar10"
        assert t.val_12ep.tolist() == [float(r["cifar10_valid_12ep"]) for r in _rows(CIFAR)[:5]]

    def test_refusals(self, tmp_path: Path) -> None:
        root = tmp_path / "none"
        with pytest.raises(DataError) as e:
            load_nb201("cifar10", root)
        assert str(e.value) == (
            f"NAS-Bench-201 table not found: looked for nb201_cifar.csv in "
            f"{str(root / 'nb201')!r} and {str(root)!r}; pass --data-dir pointing at the "
            "folder that holds nb201/"
        )
        for bad in ("imagenet", "nb201-imagenet", "CIFAR10"):
            with pytest.raises(ConfigError) as ce:
                load_nb201(bad, DATA)
            assert str(ce.value) == (
                f"unknown nb201 data set {bad!r}; choose from ['cifar10', 'cifar100']"
            )
        d = tmp_path / "empty" / "nb201"
        d.mkdir(parents=True)
        (d / "nb201_cifar.csv").write_text("")
        with pytest.raises(DataError) as e:
            load_nb201("cifar10", d)
        assert str(e.value) == f"{str(d / 'nb201_cifar.csv')!r} is empty"

    def test_missing_columns(self, tmp_path: Path) -> None:
        cifar = _rows(CIFAR)[:2]
        header = list(cifar[0])
        for gone in ("index", "arch", "cifar10_valid_12ep", "cifar10_test_200ep"):
            d = tmp_path / gone
            kept = [h for h in header if h != gone]
            _write(d, "nb201_cifar.csv", kept, [[r[h] for h in kept] for r in cifar])
            with pytest.raises(DataError) as e:
                load_nb201("cifar10", d)
            assert str(e.value) == (
                f"{str(d / 'nb201_cifar.csv')!r} lacks column(s) [{gone!r}]; it has {kept}"
            )
        # cifar100's columns are not needed for cifar10
        d = tmp_path / "c10"
        kept = [h for h in header if not h.startswith("cifar100")]
        _write(d, "nb201_cifar.csv", kept, [[r[h] for h in kept] for r in cifar])
        assert load_nb201("cifar10", d).val_12ep.tolist() == [
            float(r["cifar10_valid_12ep"]) for r in cifar
        ]

    def test_latency_file_refusals(self, tmp_path: Path) -> None:
        lat = _rows(LATENCY)[:5]
        lh = list(lat[0])
        for gone in ("index", "arch", "fpga", "1080ti_1"):
            d = tmp_path / gone
            _small_tables(d, [0, 1, 2, 3, 4])
            kept = [h for h in lh if h != gone]
            _write(d, "nb201_latency.csv", kept, [[r[h] for h in kept] for r in lat])
            with pytest.raises(DataError) as e:
                load_nb201("cifar10", d)
            assert str(e.value) == f"{str(d / 'nb201_latency.csv')!r} lacks column(s) [{gone!r}]"
        d = tmp_path / "other"
        _small_tables(d, [0, 1, 2, 3, 4])
        rows = [[r[h] for h in lh] for r in lat]
        rows[4][1] = _rows(CIFAR)[5]["arch"]  # one cell that the accuracy file lacks
        _write(d, "nb201_latency.csv", lh, rows)
        with pytest.raises(DataError) as e:
            load_nb201("cifar10", d)
        assert str(e.value) == "nb201_latency.csv and nb201_cifar.csv list different cells"

    @pytest.mark.parametrize(
        ("column", "value", "name"),
        [("cifar10_valid_12ep", "nan", "val"), ("cifar10_test_200ep", "inf", "test"),
         ("pixel3", "-inf", "pixel3")],
    )  # fmt: skip
    def test_non_finite_values(self, tmp_path: Path, column: str, value: str, name: str) -> None:
        cifar, lat = _rows(CIFAR)[:5], _rows(LATENCY)[:5]
        header, lh = list(cifar[0]), list(lat[0])
        crow = [[r[h] for h in header] for r in cifar]
        lrow = [[r[h] for h in lh] for r in lat]
        target, head = (crow, header) if column in header else (lrow, lh)
        target[3][head.index(column)] = value
        _write(tmp_path, "nb201_cifar.csv", header, crow)
        _write(tmp_path, "nb201_latency.csv", lh, lrow)
        with pytest.raises(DataError) as e:
            load_nb201("cifar10", tmp_path)
        assert str(e.value) == f"the nb201 table has non-finite {name} values"


# -- the evaluator -------------------------------------------------------------------------
@needs_data
class TestEvaluator:
    @pytest.mark.parametrize("dataset", ["cifar10", "cifar100"])
    def test_every_metric_against_the_csv(self, dataset: str) -> None:
        ev = NB201Evaluator(load_nb201(dataset, DATA))
        assert ev.fingerprint == ev.table.fingerprint
        lat = {r["arch"]: r for r in _rows(LATENCY)}
        n_classes = 100 if dataset == "cifar100" else 10
        for row in _rows(CIFAR)[7::1301]:
            arch = nb201_from_str(row["arch"])
            acc = float(row[f"{dataset}_valid_12ep"])
            m = ev.evaluate(arch, seed=3)
            want = {
                "val_accuracy": acc,
                "val_error": 1.0 - acc / 100.0,
                "params": float(nb201_params(arch, n_classes)),
                "macs": float(nb201_macs(arch, n_classes)),
                "flops": 2.0 * nb201_macs(arch, n_classes),
                **{c: float(lat[row["arch"]][c]) for c in DEVICES},
            }
            assert m == want
            assert all(type(v) is float for v in m.values())
            cheap = ev.cheap_metrics(arch)
            assert cheap == {k: v for k, v in want.items() if not k.startswith("val_")}
            assert cheap_metrics(ev, arch) == cheap

    def test_counts_against_the_published_ranges(self) -> None:
        """The benchmark's paper: 0.073 to 1.531 million parameters and 7.78 to 220.11
        million MACs on CIFAR-10; CIFAR-100's classifier has 90 more outputs of 64 inputs."""
        c10 = NB201Evaluator(load_nb201("cifar10", DATA))
        c100 = NB201Evaluator(load_nb201("cifar100", DATA))
        small, big = nb201_from_str(ALL_NONE), nb201_from_str(ALL_CONV3)
        assert c10.evaluate(small)["params"] / 1e6 == pytest.approx(0.073, abs=1e-3)
        assert c10.evaluate(big)["params"] / 1e6 == pytest.approx(1.531, abs=1e-3)
        assert c10.evaluate(small)["macs"] / 1e6 == pytest.approx(7.78, abs=1e-2)
        assert c10.evaluate(big)["macs"] / 1e6 == pytest.approx(220.11, abs=1e-2)
        for arch in (small, big, nb201_space().sample(5)):
            a, b = c10.cheap_metrics(arch), c100.cheap_metrics(arch)
            assert b["params"] - a["params"] == 90 * 65
            assert b["macs"] - a["macs"] == 90 * 64

    def test_the_result_does_not_depend_on_the_seed(self) -> None:
        ev = NB201Evaluator(load_nb201("cifar10", DATA))
        arch = nb201_space().sample(9)
        assert ev.evaluate(arch) == ev.evaluate(arch, seed=0) == ev.evaluate(arch, seed=123)

    def test_latency_off(self) -> None:
        ev = NB201Evaluator(load_nb201("cifar10", DATA), latency=False)
        arch = nb201_space().sample(4)
        assert set(ev.evaluate(arch)) == {"val_error", "val_accuracy", "params", "flops", "macs"}
        assert set(ev.cheap_metrics(arch)) == {"params", "flops", "macs"}

    def test_a_table_without_latencies(self, tmp_path: Path) -> None:
        (tmp_path / "nb201").mkdir()
        (tmp_path / "nb201" / "nb201_cifar.csv").write_bytes(CIFAR.read_bytes())
        ev = NB201Evaluator(load_nb201("cifar10", tmp_path))
        assert set(ev.evaluate(nb201_space().sample(0))) == {
            "val_error", "val_accuracy", "params", "flops", "macs"
        }  # fmt: skip

    def test_the_space_validates_first(self) -> None:
        table = load_nb201("cifar10", DATA)
        arch = dict(nb201_space().sample(2), extra=1)
        # without a space the cell's own edges are read and the rest ignored
        assert NB201Evaluator(table).evaluate(arch)["val_accuracy"] > 0
        ev = NB201Evaluator(table, space=nb201_space())
        for call in (ev.evaluate, ev.cheap_metrics):
            with pytest.raises(SpaceError) as e:
                call(arch)
            assert str(e.value) == f"unknown choice(s) ['extra']; choices: {nb201_space().names}"

    def test_an_unknown_operation(self) -> None:
        ev = NB201Evaluator(load_nb201("cifar10", DATA))
        arch = dict(nb201_space().sample(2), edge_1_0="conv_5x5")
        with pytest.raises(SpaceError, match=r"^edge_1_0='conv_5x5' is not an nb201 operation"):
            ev.evaluate(arch)

    def test_the_evaluator_protocol(self) -> None:
        ev = NB201Evaluator(load_nb201("cifar10", DATA))
        assert isinstance(ev, Evaluator)


@needs_data
class TestFactory:
    def test_from_a_config(self) -> None:
        space = nb201_space()
        ev = make_nb201_evaluator(space, SearchConfig(space="nb201", data_dir=str(DATA)))
        assert ev.table.dataset == "cifar10" and ev.space is space and ev.latency is True
        cfg = SearchConfig(space="nb201", dataset="nb201-cifar100", data_dir=str(DATA),
                           evaluator_options={"latency": False})  # fmt: skip
        ev = make_nb201_evaluator(space, cfg)
        assert ev.table.dataset == "cifar100" and ev.latency is False
        assert ev.fingerprint == load_nb201("cifar100", DATA).fingerprint

    def test_wrong_space(self) -> None:
        with pytest.raises(ConfigError) as e:
            make_nb201_evaluator(get_space("mlp"), SearchConfig(space="nb201", data_dir=str(DATA)))
        assert str(e.value) == "the nb201 evaluator needs the nb201 space; got space 'mlp'"


# -- the tasks ------------------------------------------------------------------------------
def _table(dataset: str) -> dict[str, Any]:
    """The shared CSVs as arrays in index order, read here."""
    cifar = sorted(_rows(CIFAR), key=lambda r: int(r["index"]))
    lat = {r["arch"]: r for r in _rows(LATENCY)}
    return {
        "arch": [r["arch"] for r in cifar],
        "val": np.array([float(r[f"{dataset}_valid_12ep"]) for r in cifar]),
        "test": np.array([float(r[f"{dataset}_test_200ep"]) for r in cifar]),
        **{c: np.array([float(lat[r["arch"]][c]) for r in cifar]) for c in DEVICES},
    }


def _front(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Indices of the points not dominated in (a, b), both minimised (ties all kept)."""
    keep = []
    order = np.lexsort((b, a))
    best_b = math.inf
    i = 0
    while i < len(order):  # points with equal a: the lowest b among them and its ties
        j = i
        while j < len(order) and a[order[j]] == a[order[i]]:
            j += 1
        group = order[i:j]
        low = b[group].min()
        if low < best_b:
            keep += [k for k in group if b[k] == low]
            best_b = low
        i = j
    return np.array(sorted(keep))


@needs_data
class TestSingleObjectiveTasks:
    def test_the_whole_space(self) -> None:
        t = nb201_task("cifar100", data_dir=str(DATA))
        tab = _table("cifar100")
        best = int(np.argmax(tab["val"]))
        assert t.name == "nb201-cifar100" and t.maximize is True
        assert t.score_name == "cifar100 200-epoch test accuracy (%)"
        assert t.objective.metrics == ("val_error",) and t.objective.budgets == ()
        assert t.optimum == tab["test"].max() == pytest.approx(73.5133, abs=1e-4)
        assert t.target == float(np.quantile(tab["test"], 0.99))
        assert t.oracle == tab["test"][best] and t.oracle_label == tab["arch"][best]
        assert isinstance(t.evaluator, NB201Evaluator) and t.evaluator.table.dataset == "cifar100"
        assert t.space.names == nb201_space().names
        for i in (0, 1234, 15624):
            arch = nb201_from_str(tab["arch"][i])
            assert t.judge(arch) == tab["test"][i]
            assert t.label(arch) == tab["arch"][i]

    @pytest.mark.parametrize("device", ["pixel3", "1080ti_1"])
    def test_a_device_task(self, device: str) -> None:
        t = nb201_task("cifar10", data_dir=str(DATA), device=device)
        tab = _table("cifar10")
        q = float(np.quantile(tab[device], LATENCY_QUANTILE))
        assert LATENCY_QUANTILE == 0.25
        assert t.name == f"nb201-cifar10-{device}"
        assert [str(b) for b in t.objective.budgets] == [f"{device}<={q!r}"]
        (b,) = t.objective.budgets
        assert (b.metric, b.op, b.limit) == (device, "<=", q)
        ok = tab[device] <= q
        best = int(np.flatnonzero(ok)[np.argmax(tab["val"][ok])])
        assert t.optimum == tab["test"][ok].max()
        assert t.target == float(np.quantile(tab["test"][ok], 0.99))
        assert (t.oracle, t.oracle_label) == (tab["test"][best], tab["arch"][best])

    @pytest.mark.parametrize(
        ("budgets", "device"),
        [(["params<=400000"], "eyeriss"), (["flops<=5e7", "fpga<=3"], "eyeriss"),
         (["val_error<=0.55"], None), (["val_accuracy>=50"], "fpga"),
         (["macs>20000000", "val_accuracy<51.5"], None)],
    )  # fmt: skip
    def test_budgets_against_brute_force(self, budgets: list[str], device: str | None) -> None:
        t = nb201_task("cifar100", data_dir=str(DATA), budgets=budgets, device=device)
        tab = _table("cifar100")
        counted = [nb201_from_str(s) for s in tab["arch"]]
        cols = {
            "params": np.array([nb201_params(a, 100) for a in counted], dtype=float),
            "macs": np.array([nb201_macs(a, 100) for a in counted], dtype=float),
            "val_accuracy": tab["val"],
            "val_error": 1.0 - tab["val"] / 100.0,
            **{c: tab[c] for c in DEVICES},
        }
        cols["flops"] = 2.0 * cols["macs"]
        ok = np.ones(len(tab["val"]), dtype=bool)
        parsed = []
        if device is not None:
            q = float(np.quantile(tab[device], LATENCY_QUANTILE))
            ok &= tab[device] <= q
        for text in budgets:
            name, op, limit = re.fullmatch(r"(\w+)(<=|>=|<|>)(.+)", text).groups()  # type: ignore[union-attr]
            col, lim = cols[name], float(limit)
            parsed.append((name, op, lim))
            ok &= {"<=": col <= lim, ">=": col >= lim, "<": col < lim, ">": col > lim}[op]
        assert 0 < ok.sum() < len(ok)
        if device is not None:
            parsed.append((device, "<=", q))
        assert [(b.metric, b.op, b.limit) for b in t.objective.budgets] == parsed
        best = int(np.flatnonzero(ok)[np.argmax(tab["val"][ok])])
        assert t.optimum == tab["test"][ok].max()
        assert t.target == float(np.quantile(tab["test"][ok], 0.99))
        assert (t.oracle, t.oracle_label) == (tab["test"][best], tab["arch"][best])

    def test_refusals(self) -> None:
        with pytest.raises(ConfigError) as e:
            nb201_task("cifar10", data_dir=str(DATA), budgets=["params<=1000"])
        assert str(e.value) == "no nb201 cell meets the budgets ['params<=1000']; loosen them"
        with pytest.raises(ConfigError) as e:
            nb201_task("cifar10", data_dir=str(DATA), device="tpu")
        assert str(e.value) == "the nb201 latency table has no column 'tpu'"
        with pytest.raises(ConfigError) as e:
            nb201_task("cifar10", data_dir=str(DATA), budgets=["memory_kb<=10"])
        assert str(e.value) == (
            "budget memory_kb<=10 names metric 'memory_kb', which this task does not provide; "
            "it provides: val_error, val_accuracy, params, flops, macs, raspi4, pixel3, "
            "eyeriss, fpga, gold_6226, 1080ti_1"
        )

    def test_tasks_are_cached_by_every_argument(self, tmp_path: Path) -> None:
        (tmp_path / "nb201").mkdir()  # the accuracy table alone: another data folder
        (tmp_path / "nb201" / "nb201_cifar.csv").write_bytes(CIFAR.read_bytes())
        d = str(DATA)
        a = nb201_task("cifar10", data_dir=d)
        assert nb201_task("cifar10", data_dir=d) is a
        assert nb201_task("cifar100", data_dir=d).name == "nb201-cifar100"
        other = nb201_task("cifar10", data_dir=str(tmp_path))
        assert other.evaluator.table.latency == {} and a.evaluator.table.latency != {}
        assert nb201_task("cifar10", data_dir=d, budgets=["params<=5e5"]).objective.budgets
        assert nb201_task("cifar10", data_dir=d, device="fpga").name == "nb201-cifar10-fpga"
        assert nb201_task("cifar10", data_dir=d, device="raspi4").name == "nb201-cifar10-raspi4"
        mo = nb201_mo_task("cifar10", "raspi4", data_dir=d)
        assert mo.name == "nb201-cifar10-mo-raspi4"
        assert nb201_mo_task("cifar10", "raspi4", data_dir=d) is mo
        assert nb201_mo_task("cifar10", "fpga", data_dir=d).name == "nb201-cifar10-mo-fpga"
        assert nb201_mo_task("cifar100", "fpga", data_dir=d).name == "nb201-cifar100-mo-fpga"
        assert nb201_mo_task("cifar10", "raspi4", data_dir=d, budgets=["params<=5e5"]) is not mo
        assert nb201_task("cifar10", data_dir=d, device="raspi4").objective.metrics == (
            "val_error",
        )


@needs_data
class TestMultiObjectiveTasks:
    @pytest.mark.parametrize(
        ("dataset", "device", "budgets"),
        [("cifar10", "pixel3", []), ("cifar100", "gold_6226", ["params<=600000"])],
    )
    def test_against_brute_force(self, dataset: str, device: str, budgets: list[str]) -> None:
        t = nb201_mo_task(dataset, device, data_dir=str(DATA), budgets=budgets)
        tab = _table(dataset)
        err, lat = 100.0 - tab["test"], tab[device]
        e0, e1, l0, l1 = err.min(), float(np.median(err)), lat.min(), lat.max()
        ok = np.ones(len(err), dtype=bool)
        if budgets:
            ok = np.array([nb201_params(nb201_from_str(s), 100) <= 6e5 for s in tab["arch"]])
        idx = np.flatnonzero(ok)

        def hv(rows: np.ndarray) -> float:
            return strip_area(
                [((err[i] - e0) / (e1 - e0), (lat[i] - l0) / (l1 - l0)) for i in rows]
            )

        true_front = idx[_front(err[idx], lat[idx])]
        val_front = idx[_front(100.0 - tab["val"][idx], lat[idx])]
        assert t.name == f"nb201-{dataset}-mo-{device}" and t.maximize is True
        assert t.objective.metrics == ("val_error", device)
        assert [str(b) for b in t.objective.budgets] == budgets
        assert isinstance(t.evaluator, NB201Evaluator) and t.evaluator.table.dataset == dataset
        assert t.evaluator.latency is True and t.space.names == nb201_space().names
        assert t.optimum == pytest.approx(hv(true_front), rel=1e-12)
        assert t.oracle == pytest.approx(hv(val_front), rel=1e-12)
        assert t.target == t.oracle
        assert t.oracle_label == f"the validation Pareto set ({len(val_front)} cells)"
        assert t.score_name == (
            f"hypervolume of the Pareto set in {dataset} 200-epoch test error and "
            f"{device} latency (fraction of the box)"
        )
        some = [int(i) for i in idx[::2000]]
        assert t.judge([nb201_from_str(tab["arch"][i]) for i in some]) == pytest.approx(
            hv(np.array(some)), rel=1e-12
        )
        assert t.judge([]) == 0.0
        assert t.label(nb201_from_str(tab["arch"][5])) == tab["arch"][5]

    def test_refusals(self) -> None:
        with pytest.raises(ConfigError) as e:
            nb201_mo_task("cifar10", "tpu", data_dir=str(DATA))
        assert str(e.value) == "the nb201 latency table has no column 'tpu'"
        with pytest.raises(ConfigError) as e:
            nb201_mo_task("cifar100", "fpga", data_dir=str(DATA), budgets=["flops<=1"])
        assert str(e.value) == "no nb201 cell meets the budgets ['flops<=1']; loosen them"


class TestFrontHypervolume:
    def test_by_hand(self) -> None:
        ideal, ref = (2.0, 10.0), (12.0, 110.0)
        one = front_hypervolume(np.array([7.0]), np.array([60.0]), ideal, ref)
        assert one == pytest.approx(0.25)
        two = front_hypervolume(np.array([7.0, 4.0]), np.array([60.0, 90.0]), ideal, ref)
        assert two == pytest.approx(0.25 + 0.3 * 0.2)  # the second adds a strip
        beyond = front_hypervolume(np.array([13.0, 7.0]), np.array([20.0, 111.0]), ideal, ref)
        assert beyond == 0.0
        assert front_hypervolume(np.array([]), np.array([]), ideal, ref) == 0.0
        corner = front_hypervolume(np.array([2.0]), np.array([10.0]), ideal, ref)
        assert corner == pytest.approx(1.0)

    def test_computed_in_double_precision(self) -> None:
        """Single-precision inputs are scaled as doubles: the same volume as their
        float64 copies, to the last bit."""
        rng = np.random.default_rng(1)
        e = rng.uniform(0.1, 0.7, 30).astype(np.float32)
        t = rng.uniform(0.13, 0.9, 30).astype(np.float32)
        ideal, ref = (0.1, 0.13), (0.7, 0.9)
        want = front_hypervolume(e.astype(float), t.astype(float), ideal, ref)
        assert front_hypervolume(e, t, ideal, ref) == want
        assert front_hypervolume(e.astype(float), t, ideal, ref) == want
        assert front_hypervolume(e, t.astype(float), ideal, ref) == want

    def test_against_the_strip_area(self) -> None:
        rng = np.random.default_rng(0)
        e, t = rng.uniform(1, 12, 40), rng.uniform(5, 120, 40)  # beyond ref: 1 in 4
        want = strip_area([((a - 1.0) / 9.0, (b - 5.0) / 100.0) for a, b in zip(e, t, strict=True)])
        assert front_hypervolume(e, t, (1.0, 5.0), (10.0, 105.0)) == pytest.approx(want)


@needs_data
def test_task_factories_build_the_tasks_they_name() -> None:
    made = task_factories()
    want = [f"nb201-{d}" for d in NB201_DATASETS]
    want += [f"nb201-{d}-{dev}" for d in NB201_DATASETS for dev in DEVICES]
    want += [f"nb201-{d}-mo-{dev}" for d in NB201_DATASETS for dev in DEVICES]
    assert list(made) == want and tuple(DEVICES) == NB201_LATENCY_COLUMNS
    for name in ("nb201-cifar100", "nb201-cifar10-fpga", "nb201-cifar100-mo-1080ti_1"):
        t = made[name](data_dir=str(DATA))
        assert t.name == name
    t = made["nb201-cifar10-raspi4"](data_dir=str(DATA), budgets=["params<=1e6"])
    assert [b.metric for b in t.objective.budgets] == ["params", "raspi4"]
    t = made["nb201-cifar10-mo-eyeriss"](data_dir=str(DATA), budgets=["params<=1e6"])
    assert [b.metric for b in t.objective.budgets] == ["params"]
    assert t.objective.metrics == ("val_error", "eyeriss")


# -- the contract's helpers ------------------------------------------------------------------
class TestContractHelpers:
    def test_check_metrics(self) -> None:
        import numpy as np

        out = check_metrics({"a": 1, "b": np.float32(0.5), "c": "2.5", "d": True})
        assert out == {"a": 1.0, "b": 0.5, "c": 2.5, "d": 1.0}
        assert all(type(v) is float for v in out.values())
        for value, line in (
            (None, "metric 'x' is not a number: None"),
            ("fast", "metric 'x' is not a number: 'fast'"),
            ([1.0], "metric 'x' is not a number: [1.0]"),
            (float("nan"), "metric 'x' is not finite: nan"),
            ("-inf", "metric 'x' is not finite: -inf"),
            (np.float64("inf"), "metric 'x' is not finite: inf"),
        ):
            with pytest.raises(ValueError) as e:
                check_metrics({"ok": 1.0, "x": value})
            assert str(e.value) == line
            assert e.value.__suppress_context__ == ("number" in line)  # float's error hidden

    def test_cheap_metrics(self) -> None:
        class Plain:
            fingerprint = ""

            def evaluate(self, arch: Any, *, seed: int) -> dict[str, float]:
                return {}

        class Declared(Plain):
            def cheap_metrics(self, arch: Any) -> dict[str, Any]:
                return {"params": int(arch["w"]) * 3}

        class NotCallable(Plain):
            cheap_metrics = 1.0

        class Bad(Plain):
            def cheap_metrics(self, arch: Any) -> dict[str, Any]:
                return {"params": float("nan")}

        assert cheap_metrics(Plain(), {"w": 2}) == {}
        assert cheap_metrics(NotCallable(), {"w": 2}) == {}
        got = cheap_metrics(Declared(), {"w": 2})
        assert got == {"params": 6.0} and type(got["params"]) is float
        with pytest.raises(ValueError, match=r"^metric 'params' is not finite: nan$"):
            cheap_metrics(Bad(), {"w": 2})
        assert isinstance(Plain(), Evaluator) and not isinstance(object(), Evaluator)

    def test_task_label(self) -> None:
        space = nb201_space()
        base: dict[str, Any] = dict(
            name="t", space=space, evaluator=None, objective=Objective(["val_error"]),
            judge=lambda a: 0.0, maximize=True, optimum=1.0, target=0.5, score_name="s",
        )  # fmt: skip
        arch = space.sample(1)
        assert Task(**base).label({"a": 1, "b": "x"}) == "a=1,b=x"
        assert Task(**base, describe=nb201_arch_str).label(arch) == nb201_arch_str(arch)
        t = Task(**base)
        assert (t.oracle, t.oracle_label, t.describe) == (None, "", None)

    def test_task_objective(self) -> None:
        sample = {"val_error": 0.1, "params": 5.0, "raspi4": 2.0}
        o = task_objective(["params<=10", "raspi4<3"], sample)
        assert o.metrics == ("val_error",)
        assert [str(b) for b in o.budgets] == ["params<=10", "raspi4<3"]
        o = task_objective([], sample, metrics=("val_error", "raspi4"))
        assert o.metrics == ("val_error", "raspi4") and o.budgets == ()
        with pytest.raises(ConfigError) as e:
            task_objective([], sample, metrics=("val_error", "latency_ms"))
        assert str(e.value) == (
            "objective metric 'latency_ms' is not provided by this task; it provides: "
            "val_error, params, raspi4"
        )
        with pytest.raises(ConfigError) as e:
            task_objective(["params<=10", "memory_kb<=4"], sample)
        assert str(e.value) == (
            "budget memory_kb<=4 names metric 'memory_kb', which this task does not "
            "provide; it provides: val_error, params, raspi4"
        )
        with pytest.raises(ConfigError) as e:
            task_objective([], {"params": 1.0})
        assert str(e.value) == (
            "objective metric 'val_error' is not provided by this task; it provides: params"
        )
