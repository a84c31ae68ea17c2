"""``write_report``'s promises about where it writes and what it leaves when stopped,
read against the file system: the page goes to ``RUN/report`` unless ``out_dir`` says
otherwise, five Pareto architectures are drawn by default, a folder it created is
removed when it is stopped (Ctrl-C or an error), an existing folder keeps its old page
and gets no ``index.html.part``, the error that stopped it is the one raised, and a
folder that cannot be written is named in one line as the report folder. Also the
sections no other report test reaches: a tabular benchmark's winners (NAS-Bench-201: a
note, no training hint), trials that took hours (the duration worked out by hand from
the datetimes written into the study), a winner whose model is a bare quantum layer,
and plots that stay PNG whatever the user's matplotlibrc says."""

from __future__ import annotations

import base64
import copy
import errno
import html
import re
import shutil
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import optuna
import pytest

import quarch.report as report
from quarch._errors import ConfigError, OutputError, RunError
from quarch.config import SearchConfig
from quarch.report import _draw_winner, write_report
from quarch.report import _importances as real_importances
from quarch.study import Run, run_search

from .._scope import per_module


class _Tradeoff:
    """The error falls strictly as the weight count grows: every distinct weight count
    is a Pareto architecture."""

    fingerprint = "write-report-truth"

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        n_in, p = 4, 0.0
        for i in range(int(arch["n_layers"])):
            w = int(arch[f"width_{i}"])
            p += n_in * w + w
            n_in = w
        p += n_in * 3 + 3
        return {"val_error": 1.0 / (1.0 + p / 100.0), "params": p}


@pytest.fixture(scope=per_module)
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("write") / "run"
    cfg = SearchConfig(space="mlp", dataset="iris", seed=1, out=str(out), trials=12,
                       objectives=["val_error", "params"])  # fmt: skip
    run_search(cfg, progress=False, evaluator=_Tradeoff())
    return out


def _blank(*args: Any, **kwargs: Any) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.figure(figsize=(1, 1), dpi=10)


@pytest.fixture(autouse=True)
def _small_plots(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each plot a blank 1-inch figure and no fANOVA: these tests are about files and
    folders (the plots' contents are checked in ``test_plots_truth.py``)."""
    monkeypatch.setattr(report, "pareto_fronts", lambda *a: [("pareto_front", _blank())])
    for name in ("best_so_far", "choices_grid", "importance_bars"):
        monkeypatch.setattr(report, name, _blank)
    monkeypatch.setattr(report, "_importances", lambda result: None)


def _pareto_numbers(run: Path) -> list[int]:
    """Brute-force Pareto set of the stored complete trials (both objectives minimised),
    ordered as the report orders them (by the first objective)."""
    study = optuna.load_study(study_name="quarch", storage=f"sqlite:///{run / 'study.db'}")
    done = [t for t in study.trials if t.state.name == "COMPLETE"]

    def key(t: Any) -> tuple[float, float]:
        m = t.user_attrs["metrics"]
        return m["val_error"], m["params"]

    front = [t for t in done if not any(
        all(a <= b for a, b in zip(key(o), key(t), strict=True)) and key(o) != key(t)
        for o in done
    )]  # fmt: skip
    return [t.number for t in sorted(front, key=key)]


def test_default_folder_and_five_winners(run_dir: Path) -> None:
    front = _pareto_numbers(run_dir)
    assert len(front) > 5  # the default has something to cut
    rep = write_report(run_dir)
    assert rep.html == run_dir / "report" / "index.html"
    assert rep.html.is_file()
    page = rep.html.read_text()
    assert [int(n) for n in re.findall(r"<h3>Trial (\d+)</h3>", page)] == front[:5]
    assert f"<h2>Pareto architectures ({len(front)})</h2>" in page
    assert sorted(p.name for p in (run_dir / "report").iterdir()) == sorted(
        p.name for p in [rep.html, *rep.images]
    )  # nothing else beside the page (no index.html.part)


@pytest.mark.parametrize("bad", ["3", -1, 2.0, True])
def test_a_winner_count_that_is_not_a_count_is_refused_first(tmp_path: Path, bad: Any) -> None:
    """From Python (audit H4): ``"3"`` failed deep in a slice, and ``-1`` silently drew
    every Pareto trial but the last; refused before the run is opened, nothing written."""
    with pytest.raises(ConfigError) as e:
        write_report(tmp_path / "no-run", winners=bad)
    assert str(e.value) == f"winners must be an integer >= 0 (Pareto trials drawn); got {bad!r}"
    assert list(tmp_path.iterdir()) == []


def test_a_run_folder_that_is_not_a_path_is_one_line() -> None:
    from quarch.study import open_study

    for call in (Run.open, write_report, open_study):
        with pytest.raises(RunError) as e:
            call(5)  # type: ignore[arg-type]
        assert str(e.value) == "a run folder is a path (str or pathlib.Path); got 5"


def test_out_dir_is_where_everything_goes(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "elsewhere"
    rep = write_report(run_dir, out_dir=out, winners=2)
    assert rep.html == out / "index.html"
    page = rep.html.read_text()
    assert [int(n) for n in re.findall(r"<h3>Trial (\d+)</h3>", page)] == (
        _pareto_numbers(run_dir)[:2]
    )
    assert rep.images and all(p.parent == out and p.is_file() for p in rep.images)


def _stop_in_the_device_section(
    monkeypatch: pytest.MonkeyPatch, error: BaseException, out: Path
) -> list[str]:
    """Raise ``error`` once the plots and drawings are written, before the page is;
    the list gets the names of the files in ``out`` at that moment."""
    seen: list[str] = []

    def stopped(*args: Any, **kwargs: Any) -> str:
        seen.extend(sorted(p.name for p in out.iterdir()))
        raise error

    monkeypatch.setattr(report, "quantum_section", stopped)
    return seen


@pytest.mark.parametrize("error", [KeyboardInterrupt(), RuntimeError("boom")])
def test_a_folder_it_made_is_removed_when_stopped(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    out = tmp_path / "rep"
    seen = _stop_in_the_device_section(monkeypatch, error, out)
    with pytest.raises(type(error)) as info:
        write_report(run_dir, out_dir=out)
    assert info.value is error  # the error that stopped it, not one of the clean-up
    assert "pareto_front.png" in seen  # stopped with plots written
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_folders_it_made_above_the_report_folder_are_removed_when_stopped(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--out reports/new/rep`` with neither folder there: a Ctrl-C leaves neither
    (the old code removed ``rep`` and left ``reports/new`` behind, empty); a folder
    that was there already stays."""
    (tmp_path / "reports").mkdir()
    out = tmp_path / "reports" / "new" / "rep"
    seen = _stop_in_the_device_section(monkeypatch, KeyboardInterrupt(), out)
    with pytest.raises(KeyboardInterrupt):
        write_report(run_dir, out_dir=out)
    assert "pareto_front.png" in seen
    assert list(tmp_path.iterdir()) == [tmp_path / "reports"]
    assert list((tmp_path / "reports").iterdir()) == []


def test_a_report_that_fails_before_its_folder_exists_raises_its_own_error(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run's study cannot be read: that error, not one about the folder that was
    never made."""
    error = RuntimeError("the study cannot be read")

    def broken(self: Run, *args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(Run, "result", broken)
    out = tmp_path / "rep"
    with pytest.raises(RuntimeError) as info:
        write_report(run_dir, out_dir=out)
    assert info.value is error
    assert not out.exists()


@pytest.mark.parametrize("error", [KeyboardInterrupt(), RuntimeError("boom")])
def test_an_existing_folder_keeps_its_old_page_when_stopped(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    out = tmp_path / "rep"
    out.mkdir()
    (out / "mine.txt").write_text("a file of the user's")
    old = write_report(run_dir, out_dir=out, winners=1).html.read_text()
    seen = _stop_in_the_device_section(monkeypatch, error, out)
    with pytest.raises(type(error)) as info:
        write_report(run_dir, out_dir=out, winners=1)
    assert "index.html" in seen and "index.html.part" not in seen
    assert info.value is error
    assert (out / "index.html").read_text() == old
    assert (out / "mine.txt").read_text() == "a file of the user's"
    assert not (out / "index.html.part").exists()


def test_a_page_stopped_half_written_leaves_no_part_file(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "rep"
    old = write_report(run_dir, out_dir=out, winners=1).html.read_text()
    write_text = Path.write_text

    def cut_short(self: Path, data: str, *args: Any, **kwargs: Any) -> int:
        if self.name == "index.html.part":
            write_text(self, data[:100], *args, **kwargs)
            raise KeyboardInterrupt
        return write_text(self, data, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", cut_short)
    with pytest.raises(KeyboardInterrupt):
        write_report(run_dir, out_dir=out, winners=1)
    assert (out / "index.html").read_text() == old
    assert not (out / "index.html.part").exists()


def test_a_file_where_the_folder_should_be_is_named(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "taken"
    out.write_text("x")
    with pytest.raises(OutputError) as info:
        write_report(run_dir, out_dir=out)
    assert str(info.value) == f"report folder {str(out)!r} is a file, not a folder"
    assert out.read_text() == "x"


def test_a_full_disk_is_one_line_naming_the_report_folder(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(self: Path, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    out = tmp_path / "rep"
    with pytest.raises(OutputError) as info:
        write_report(run_dir, out_dir=out)
    assert (
        str(info.value) == f"cannot write the report folder {str(out)!r}: No space left on device"
    )
    assert not out.exists()


def test_not_a_run_folder(tmp_path: Path) -> None:
    with pytest.raises(RunError):
        write_report(tmp_path)
    assert list(tmp_path.iterdir()) == []


def _cell(page: str, name: str) -> str:
    """The value beside ``name`` in the page's Run table (unescaped)."""
    table = page.split("<h2>Run</h2>", 1)[1].split("</table>", 1)[0]
    cells = dict(re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td></tr>", table))
    return html.unescape(cells[html.escape(name)])


def test_the_config_block_is_the_config_file(run_dir: Path, tmp_path: Path) -> None:
    """The config as ``config.json`` holds it, text for text (sorted keys, indented)."""
    page = write_report(run_dir, out_dir=tmp_path / "r", winners=0).html.read_text()
    pre = page.split("<h3>Config</h3><pre>", 1)[1].split("</pre>", 1)[0]
    assert html.unescape(pre) == (run_dir / "config.json").read_text().rstrip("\n")


def test_a_run_json_without_the_optional_keys(run_dir: Path, tmp_path: Path) -> None:
    """A ``run.json`` without fingerprint, version or seed (an older run): empty cells."""
    import json
    import shutil

    run = tmp_path / "old"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("report"))
    meta = json.loads((run / "run.json").read_text())
    assert {"fingerprint", "quarch_version", "seed"} <= set(meta)
    for key in ("fingerprint", "quarch_version", "seed"):
        del meta[key]
    (run / "run.json").write_text(json.dumps(meta))
    page = write_report(run, winners=0).html.read_text()
    for name in ("data fingerprint", "quarch version", "seed"):
        assert _cell(page, name) == ""
    assert _cell(page, "storage") == "sqlite"


def test_an_unregistered_space_with_one_complete_trial(tmp_path: Path) -> None:
    """The choices panel of a custom space is rebuilt from its one complete trial."""
    from quarch.space import Choice, Space

    space = Space([Choice("a", [1, 2]), Choice("b", ["x", "y"])], name="mine")

    class Ev:
        fingerprint = "mine"

        def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
            return {"val_error": 0.5, "params": float(arch["a"])}

    cfg = SearchConfig(space="mine", trials=1, seed=0, out=str(tmp_path / "run"),
                       objectives=["val_error", "params"])  # fmt: skip
    res = run_search(cfg, space=space, evaluator=Ev(), progress=False)
    (t,) = res.complete
    seen: dict[str, Any] = {}

    def grid(result: Any, choices: Any, used: Any) -> Any:
        seen["choices"] = [(c.name, list(c.options)) for c in choices]
        return _blank()

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(report, "choices_grid", grid)
        page = write_report(tmp_path / "run").html.read_text()
    assert seen["choices"] == [("a", [t.params["a"]]), ("b", [t.params["b"]])]
    assert f"<h3>Trial {t.number}</h3>" in page


def _rows_after(page: str, marker: str) -> list[list[str]]:
    table = page.split(marker, 1)[1].split("</table>", 1)[0].split("<tbody>", 1)[1]
    return [
        [html.unescape(c) for c in re.findall(r"<td(?: class='wrap')?>(.*?)</td>", r)]
        for r in re.findall(r"<tr>(.*?)</tr>", table)
    ]


def _fresh_run(root: Path, trials: int) -> Path:
    out = root / "run"
    cfg = SearchConfig(space="mlp", dataset="iris", seed=1, out=str(out), trials=trials,
                       objectives=["val_error", "params"])  # fmt: skip
    run_search(cfg, progress=False, evaluator=_Tradeoff())
    return out


def test_a_trial_still_running_and_four_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trial left running (a worker that died): its row has no metrics or seconds,
    the duration counts its start but adds nothing to the trials' time; four complete
    trials are enough for the importances."""
    from quarch.report import _hms

    run = _fresh_run(tmp_path, 4)
    study = optuna.load_study(study_name="quarch", storage=f"sqlite:///{run / 'study.db'}")
    running = study.ask()
    trials = study.trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 4 + ["RUNNING"]
    calls: list[int] = []

    def importances(result: Any) -> Any:
        out = real_importances(result)
        calls.append(0 if out is None else len(out[0]))
        return out

    monkeypatch.setattr(report, "_importances", importances)
    page = write_report(run, winners=0).html.read_text()
    assert calls and calls[0] > 0  # four complete trials: importances computed
    assert "<h2>Parameter importances</h2>" in page
    rows = _rows_after(page, "<h2>All trials (5)</h2>")
    assert rows[-1] == [str(running.number), "running", "", "", "", ""]
    assert all(r[1] == "complete" and r[4] != "" for r in rows[:4])
    done = trials[:4]
    start = min(t.datetime_start for t in trials if t.datetime_start is not None)
    end = max(t.datetime_complete for t in done if t.datetime_complete is not None)
    busy = sum(
        (t.datetime_complete - t.datetime_start).total_seconds()
        for t in done
        if t.datetime_complete is not None and t.datetime_start is not None
    )
    assert _cell(page, "duration") == (
        f"{_hms((end - start).total_seconds())} from the first trial's start to the last "
        f"one's end ({start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}, resumes included); "
        f"trials ran {_hms(busy)} in all"
    )


def _run_with_an_empty_study(tmp_path: Path, trials: int) -> tuple[Path, Any, Any]:
    """A finished run of ``trials`` trials, and a copy of it at ``tmp_path / "run"``
    whose study has the run's attributes and no trial yet: (copy, the run's study, the
    copy's study)."""
    src = _fresh_run(tmp_path / "src", trials)
    run = tmp_path / "run"
    run.mkdir()
    for name in ("config.json", "run.json"):
        shutil.copy(src / name, run / name)
    old = optuna.load_study(study_name="quarch", storage=f"sqlite:///{src / 'study.db'}")
    study = optuna.create_study(study_name="quarch", storage=f"sqlite:///{run / 'study.db'}",
                                directions=["minimize", "minimize"])  # fmt: skip
    for k, v in old.user_attrs.items():
        study.set_user_attr(k, v)
    return run, old, study


def test_a_run_whose_only_trial_is_running(tmp_path: Path) -> None:
    """No trial has finished: the duration says so and the page is still written."""
    run, _, study = _run_with_an_empty_study(tmp_path, 1)
    study.ask()
    page = write_report(run).html.read_text()
    assert _cell(page, "duration") == "no finished trial yet"
    assert "<p class='note'>no complete trials yet</p>" in page
    assert _rows_after(page, "<h2>All trials (1)</h2>") == [["0", "running", "", "", "", ""]]


def test_a_result_without_a_study_has_no_duration_or_importances(run_dir: Path) -> None:
    """A :class:`SearchResult` built from records alone (``study=None``)."""
    import dataclasses

    from quarch.report import _duration, _importances

    result = dataclasses.replace(Run.open(run_dir).result(), study=None)
    assert len(result.complete) >= 4
    assert _duration(result) == ""
    assert _importances(result) is None


class _Checksum:
    """Metrics from a checksum of the architecture (no training)."""

    fingerprint = "write-report-hybrid"

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        import zlib

        h = zlib.crc32(repr(sorted(arch.items())).encode())
        return {"val_error": (h % 997) / 997, "params": float(h % 89 + 10)}


def test_a_weight_sharing_run_draws_each_winners_own_model(tmp_path: Path) -> None:
    """A run scored with inherited SuperCircuit weights has no model of a trial's own;
    the drawing builds the standalone model of each winner (as ``quarch train`` would),
    one circuit per winner and no note."""
    from quarch.quantum import QuantumLayer
    from quarch.report._circuit_svg import circuit_svg

    out = tmp_path / "run"
    cfg = SearchConfig(
        space="hqnn", dataset="iris", trials=3, seed=3, out=str(out),
        objectives=["val_error", "params"], evaluator_options={"supercircuit": True},
        space_options={"max_qubits": 2, "max_layers": 1, "frontends": ["linear"],
                       "heads": ["linear"]},
    )  # fmt: skip
    run_search(cfg, progress=False, evaluator=_Checksum())
    run = Run.open(out)
    front = run.result().pareto[:1]
    page = write_report(out, winners=1).html.read_text()
    assert "no drawing" not in page
    (t,) = front
    svg = (out / "report" / f"winner_{t.number}_circuit.svg").read_text(encoding="utf-8")
    model = run.evaluator(standalone=True, device="cpu").build(t.params, seed=0)  # type: ignore[attr-defined]
    (name, layer), *_ = [(n, m) for n, m in model.named_modules() if isinstance(m, QuantumLayer)]
    assert svg == circuit_svg(layer.plan.circuit, f"trial {t.number}: {name}")


def test_three_objectives_get_one_front_per_pair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three objectives: the Pareto section holds one image per pair of objectives
    (every pair, in order), nothing between them, each the file beside the page."""
    import base64
    import itertools

    from quarch.report._plots import pareto_fronts

    monkeypatch.setattr(report, "pareto_fronts", pareto_fronts)
    out = tmp_path / "run"
    cfg = SearchConfig(space="mlp", dataset="iris", seed=2, out=str(out), trials=6,
                       objectives=["val_error", "params", "flops"])  # fmt: skip

    class Ev(_Tradeoff):
        def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
            m = super().evaluate(arch, seed=seed)
            return {**m, "flops": 2 * m["params"] + len(str(arch["activation"]))}

    run_search(cfg, progress=False, evaluator=Ev())
    rep = write_report(out, winners=0)
    page = rep.html.read_text()
    section = page.split("<h2>Pareto front</h2>", 1)[1].split("<h2>", 1)[0]
    pairs = list(itertools.combinations(["val_error", "params", "flops"], 2))
    names = [f"pareto_{a}_vs_{b}" for a, b in pairs]
    imgs = re.findall(r"<img class='plot' alt='([^']*)' src='data:image/png;base64,([^']*)'>",
                      section)  # fmt: skip
    assert [a for a, _ in imgs] == [n.replace("_", " ") for n in names]
    assert re.sub(r"<img [^>]*>", "", section) == ""  # nothing else, nothing between
    files = {p.name: p for p in rep.images}
    for name, (_, b64) in zip(names, imgs, strict=True):
        assert base64.b64decode(b64) == files[f"{name}.png"].read_bytes()


def test_a_tabular_benchmarks_winners_get_a_note(tmp_path: Path) -> None:
    """NAS-Bench-201 scores cells from its tables: a winner has no model to draw or
    train, so its block is the note alone (no drawing, no layer table, no
    ``quarch train`` hint)."""
    out = tmp_path / "run"
    cfg = SearchConfig(space="nb201", dataset="cifar10", trials=4, seed=0, out=str(out),
                       objectives=["val_error", "params"])  # fmt: skip
    res = run_search(cfg, progress=False, evaluator=_Checksum())
    rep = write_report(out, winners=2)
    page = rep.html.read_text()
    front = res.pareto[:2]
    assert front
    assert [int(n) for n in re.findall(r"<h3>Trial (\d+)</h3>", page)] == [t.number for t in front]
    note = "<p class='note'>this space has no model to draw (tabular benchmark)</p>"
    for t in front:
        block = page.split(f"<h3>Trial {t.number}</h3>", 1)[1]
        assert re.split(r"<h[23]>", block, maxsplit=1)[0] == note
    assert "quarch train" not in page and "svg+xml" not in page
    assert all(p.suffix == ".png" for p in rep.images)


def _at(hour: int, minute: int = 0, second: float = 0.0) -> datetime:
    return datetime(2026, 1, 1, hour, minute) + timedelta(seconds=second)


#: (start, end) of each trial of the rebuilt study: 90 min, 20 min 30 s and 0.4 s
TIMES = [(_at(10), _at(11, 30)), (_at(12), _at(12, 20, 30)), (_at(13), _at(13, 0, 0.4))]


def test_hours_long_trials(tmp_path: Path) -> None:
    """A run's trials rewritten to start and end at known times: the Run table's
    duration reads 3 h 00 min from 10:00 to 13:00, the trials ran 1 h 50 min in all
    (5400 + 1230 + 0.4 s), and each trial's seconds are its own."""
    run, old, study = _run_with_an_empty_study(tmp_path, len(TIMES))
    for t, (start, end) in zip(old.trials, TIMES, strict=True):
        new = copy.deepcopy(t)
        new.datetime_start, new.datetime_complete = start, end
        study.add_trial(new)
    page = write_report(run, winners=0).html.read_text()
    assert _cell(page, "duration") == (
        "3 h 00 min from the first trial's start to the last one's end "
        "(2026-01-01 10:00 to 2026-01-01 13:00, resumes included); trials ran 1 h 50 min in all"
    )
    rows = _rows_after(page, "<h2>All trials (3)</h2>")
    assert [r[-2] for r in rows] == ["5400.0", "1230.0", "0.4"]


class _Trainable:
    def is_trainable(self) -> bool:
        return True


class _LayerEvaluator:
    """Builds a bare quantum layer (the model is the layer: its module name is "")."""

    def build(self, arch: Mapping[str, Any], *, seed: int) -> Any:
        from quarch.quantum import Circuit, QuantumLayer

        self.built = (dict(arch), seed)
        return QuantumLayer(Circuit(2).h(0).cnot(0, 1).ry(1, 0.3))


class _LayerRun:
    def __init__(self) -> None:
        self.spec = _Trainable()
        self.ev = _LayerEvaluator()
        self.calls: list[dict[str, Any]] = []

    def evaluator(self, **kw: Any) -> Any:
        self.calls.append(kw)
        return self.ev


@pytest.mark.parametrize(("seed", "built_with"), [(None, 0), (5, 5)])
def test_a_bare_quantum_layer_is_drawn_as_circuit(
    tmp_path: Path, seed: int | None, built_with: int
) -> None:
    """The model is the quantum layer itself: one SVG titled ``trial N: circuit``, the
    same SVG embedded, no layer table (the evaluator has no data); the model is built
    standalone on the CPU with the trial's seed (0 when the trial recorded none)."""
    from quarch.quantum import Circuit
    from quarch.report._circuit_svg import circuit_svg

    run = _LayerRun()
    trial = SimpleNamespace(number=7, params={"k": 1}, seed=seed)
    images: list[Path] = []
    part = _draw_winner(run, trial, tmp_path, images)  # type: ignore[arg-type]
    assert run.calls == [{"standalone": True, "device": "cpu"}]
    assert run.ev.built == ({"k": 1}, built_with)
    assert images == [tmp_path / "winner_7_circuit.svg"]
    svg = images[0].read_text(encoding="utf-8")
    assert svg == circuit_svg(Circuit(2).h(0).cnot(0, 1).ry(1, 0.3), "trial 7: circuit")
    b64 = base64.b64encode(svg.encode()).decode()
    assert part == (
        f"<img class='plot' alt='circuit of trial 7' src='data:image/svg+xml;base64,{b64}'>"
    )


def test_plots_are_png_whatever_the_matplotlibrc_says(tmp_path: Path) -> None:
    """A user's matplotlibrc that saves SVG by default (``savefig.format: svg``) does
    not change the report's plots: each is a PNG file, embedded as the same bytes."""
    import matplotlib

    out = _fresh_run(tmp_path, 2)
    with matplotlib.rc_context({"savefig.format": "svg"}):
        rep = write_report(out, winners=0)
    page = rep.html.read_text()
    srcs = re.findall(r"src='data:image/png;base64,([^']*)'", page)
    assert rep.images and len(srcs) == len(rep.images)
    for p, b64 in zip(rep.images, srcs, strict=True):
        data = p.read_bytes()
        assert p.suffix == ".png" and data[:8] == b"\x89PNG\r\n\x1a\n"
        assert base64.b64decode(b64) == data
