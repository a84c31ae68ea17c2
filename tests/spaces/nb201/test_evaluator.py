"""The nb201 tabular evaluator against the CSV files read independently."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from quarch import ConfigError, DataError
from quarch.config import SearchConfig
from quarch.spaces import get_space, make_evaluator
from quarch.spaces.nb201.evaluator import NB201_LATENCY_COLUMNS, NB201Evaluator, load_nb201
from quarch.spaces.nb201.space import nb201_from_str, nb201_space

DATA = Path(__file__).parents[3] / ".." / "shared" / "data"
needs_data = pytest.mark.skipif(
    not (DATA / "nb201" / "nb201_cifar.csv").is_file(), reason="shared nb201 table absent"
)


def _rows(name: str) -> list[dict[str, str]]:
    with open(DATA / "nb201" / name) as f:
        return list(csv.DictReader(f))


@needs_data
class TestCorrectness:
    @pytest.mark.parametrize("dataset", ["cifar10", "cifar100"])
    def test_values_match_the_csv(self, dataset: str) -> None:
        ev = NB201Evaluator(load_nb201(dataset, DATA))
        lat = {r["arch"]: r for r in _rows("nb201_latency.csv")}
        for row in _rows("nb201_cifar.csv")[::997]:
            m = ev.evaluate(nb201_from_str(row["arch"]), seed=0)
            acc = float(row[f"{dataset}_valid_12ep"])
            assert m["val_accuracy"] == pytest.approx(acc)
            assert m["val_error"] == pytest.approx(1 - acc / 100)
            for c in NB201_LATENCY_COLUMNS:
                assert m[c] == pytest.approx(float(lat[row["arch"]][c]))

    def test_the_judging_column_is_never_exposed(self) -> None:
        ev = NB201Evaluator(load_nb201("cifar10", DATA))
        m = ev.evaluate(nb201_space().sample(1), seed=0)
        counted = {"params", "flops", "macs"}  # from the cell, not the table
        assert set(m) == {"val_error", "val_accuracy", *counted, *NB201_LATENCY_COLUMNS}
        assert not any("test" in k for k in m)

    def test_table_holds_200_epoch_test(self) -> None:
        t = load_nb201("cifar10", DATA)
        best = max(_rows("nb201_cifar.csv"), key=lambda r: float(r["cifar10_test_200ep"]))
        assert t.test_200ep[t.row(nb201_from_str(best["arch"]))] == pytest.approx(
            float(best["cifar10_test_200ep"])
        )
        assert t.test_200ep.max() == pytest.approx(94.3733, abs=1e-3)  # README's optimum

    def test_nb201_folder_itself_and_latency_off(self) -> None:
        ev = NB201Evaluator(load_nb201("nb201-cifar100", DATA / "nb201"), latency=False)
        m = ev.evaluate(nb201_space().sample(2))
        assert set(m) == {"val_error", "val_accuracy", "params", "flops", "macs"}

    def test_pure_and_fingerprinted(self) -> None:
        a, b = load_nb201("cifar10", DATA), load_nb201("cifar100", DATA)
        assert len(a.fingerprint) == 64 and a.fingerprint != b.fingerprint
        arch = nb201_space().sample(3)
        ev = NB201Evaluator(a)
        assert ev.evaluate(arch, seed=1) == ev.evaluate(arch, seed=2)

    def test_registry_factory(self) -> None:
        cfg = SearchConfig(space="nb201", dataset="cifar10", data_dir=str(DATA))
        ev = make_evaluator(get_space("nb201"), cfg)
        assert isinstance(ev, NB201Evaluator)


class TestInputs:
    def test_missing_files(self, tmp_path: Path) -> None:
        with pytest.raises(DataError, match="NAS-Bench-201 table not found"):
            load_nb201("cifar10", tmp_path)

    def test_unknown_dataset(self) -> None:
        with pytest.raises(ConfigError, match="unknown nb201 data set 'imagenet'"):
            load_nb201("imagenet", DATA)

    @needs_data
    def test_missing_column(self, tmp_path: Path) -> None:
        (tmp_path / "nb201").mkdir()
        with open(DATA / "nb201" / "nb201_cifar.csv") as f:
            head = [next(f) for _ in range(3)]
        header = head[0].replace("cifar100_test_200ep", "other")
        (tmp_path / "nb201" / "nb201_cifar.csv").write_text("".join([header, *head[1:]]))
        with pytest.raises(DataError, match=r"lacks column\(s\) \['cifar100_test_200ep'\]"):
            load_nb201("cifar100", tmp_path)

    @needs_data
    def test_wrong_space(self) -> None:
        cfg = SearchConfig(space="nb201", dataset="cifar10", data_dir=str(DATA))
        with pytest.raises(ConfigError, match="needs the nb201 space; got space 'mlp'"):
            make_evaluator(get_space("mlp"), cfg)

    @needs_data
    def test_latency_file_optional(self, tmp_path: Path) -> None:
        (tmp_path / "nb201").mkdir()
        shutil.copy(DATA / "nb201" / "nb201_cifar.csv", tmp_path / "nb201")
        t = load_nb201("cifar10", tmp_path)
        assert t.latency == {}


@needs_data
def test_search_loop_end_to_end(tmp_path: Path) -> None:
    """The registered space, evaluator and a quarch strategy through ``run_search``."""
    from quarch.study import run_search

    cfg = SearchConfig(
        space="nb201",
        dataset="cifar100",
        data_dir=str(DATA),
        strategy="qiea",
        trials=8,
        objectives=["val_error", "raspi4"],
        out=str(tmp_path / "run"),
    )
    res = run_search(cfg, progress=False)
    assert len(res.complete) == 8
    table = load_nb201("cifar100", DATA)
    for t in res.complete:
        i = table.row(t.params)
        assert t.metrics["val_accuracy"] == pytest.approx(table.val_12ep[i])
        assert t.metrics["raspi4"] == pytest.approx(table.latency["raspi4"][i])


@needs_data
def test_default_objectives_work_on_nb201(tmp_path: Path) -> None:
    """``quarch search --space nb201`` with the default objectives (val_error, params)
    used to fail every trial: the table has no parameter column, so the evaluator
    counts them (quarch.spaces.nb201.costs)."""
    from quarch.spaces.nb201.costs import nb201_params
    from quarch.spaces.nb201.space import nb201_space
    from quarch.study import run_search

    cfg = SearchConfig(space="nb201", dataset="cifar10", data_dir=str(DATA), strategy="random",
                       trials=6, seed=0, out=str(tmp_path / "run"))  # fmt: skip
    res = run_search(cfg, progress=False)
    assert len(res.complete) == 6
    for t in res.complete:
        assert t.metrics["params"] == nb201_params(nb201_space().from_params(t.params))
