"""The report page's parts, each called directly on small hand-made inputs (seconds in
all, no search): the All-trials table against the records (parsed back with
``html.parser``), the run's duration against the study's own datetimes (an in-memory
Optuna study), Optuna's fANOVA importances against Optuna called here, a winner's
drawing and layer table against the model (parameters counted by torch), the classical
ablation table against its file, each plot's PNG against the file and the figure closed,
and which choices an architecture uses."""

from __future__ import annotations

import base64
import html
import json
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import matplotlib

matplotlib.use("Agg", force=True)
import matplotlib.pyplot as plt
import optuna
import pytest
import torch
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution

from quarch._errors import ConfigError
from quarch.report import (
    _ablation,
    _all_trials,
    _draw_winner,
    _duration,
    _importances,
    _png,
    _used,
    _winner_model,
)
from quarch.study import TrialRecord

T0 = datetime(2024, 3, 9, 22, 50, 30)


class _Cells(HTMLParser):
    """A table's header and rows as text, with each cell's ``class``."""

    def __init__(self) -> None:
        super().__init__()
        self.head: list[str] = []
        self.rows: list[list[tuple[str, str | None]]] = []
        self._cell: list[str] | None = None
        self._cls: str | None = None
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self._cell, self._cls = [], dict(attrs).get("class")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            text = "".join(self._cell)
            if tag == "th":
                self.head.append(text)
            else:
                self.rows[-1].append((text, self._cls))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _parse(fragment: str) -> _Cells:
    p = _Cells()
    p.feed(fragment)
    p.close()
    return p


def _record(number: int, state: str, **kw: Any) -> TrialRecord:
    base: dict[str, Any] = {
        "params": {},
        "metrics": {},
        "values": None,
        "feasible": False,
        "seed": None,
    }
    base.update(kw)
    return TrialRecord(number=number, state=state, **base)


# --- the All-trials table ---------------------------------------------------------------


def test_all_trials_rows_against_the_records() -> None:
    """One row per trial in order: number, state (a complete trial over a budget says
    so; other states never do), each objective metric to 4 significant digits (blank
    where the trial has none), seconds to 0.1 (blank when unknown), and the reason it did
    not complete or, for a trial without one, the choices its architecture uses; only
    that last column wraps."""
    trials = [
        _record(
            0,
            "COMPLETE",
            params={"a": 1, "b": "x", "c": 0.5},
            metrics={"err": 0.123456, "size": 1234567.0, "other": 5.0},
            feasible=True,
            duration_s=12.34,
        ),
        _record(
            1,
            "COMPLETE",
            params={"a": 2, "b": "y", "c": 0.1},
            metrics={"err": 0.5, "size": 10.0},
            feasible=False,
            duration_s=None,
        ),
        _record(
            2,
            "FAIL",
            params={"a": 3, "b": "z", "c": 0.2},
            fail_reason="boom <x> & y",
            duration_s=0.04,
        ),
        _record(
            3,
            "PRUNED",
            params={"a": 4, "b": "w", "c": 0.3},
            metrics={"err": 0.25},
            prune_reason="pruned at epoch 2",
            duration_s=3.0,
        ),
        _record(4, "RUNNING", params={"a": 5, "b": "v", "c": 0.9}),
    ]
    result = SimpleNamespace(objective=SimpleNamespace(metrics=["err", "size"]), trials=trials)

    def used(params: dict[str, Any]) -> dict[str, Any]:  # the architecture ignores "c"
        return {k: v for k, v in params.items() if k != "c"}

    table = _parse(_all_trials(result, used))  # type: ignore[arg-type]
    assert table.head == [
        "trial",
        "state",
        "err",
        "size",
        "seconds",
        "reason it did not complete / architecture",
    ]
    texts = [[c for c, _ in r] for r in table.rows[1:]]
    assert texts == [
        ["0", "complete", "0.1235", "1.235e+06", "12.3", "a=1, b=x"],
        ["1", "complete, over budget", "0.5", "10", "", "a=2, b=y"],
        ["2", "fail", "", "", "0.0", "boom <x> & y"],
        ["3", "pruned", "0.25", "", "3.0", "pruned at epoch 2"],
        ["4", "running", "", "", "", "a=5, b=v"],
    ]
    for r in table.rows[1:]:
        assert [cls for _, cls in r] == [None] * 5 + ["wrap"]


def test_all_trials_of_a_study_without_trials() -> None:
    result = SimpleNamespace(objective=SimpleNamespace(metrics=["m"]), trials=[])
    table = _parse(_all_trials(result, dict))  # type: ignore[arg-type]
    assert table.head == [
        "trial",
        "state",
        "m",
        "seconds",
        "reason it did not complete / architecture",
    ]
    assert table.rows == [[]]  # the header row only


# --- the run's duration -----------------------------------------------------------------


def _hm(seconds: float) -> str:
    """The page's duration format, written out independently."""
    s = int(seconds + 0.5)
    if s >= 3600:
        return f"{s // 3600} h {(s - 3600 * (s // 3600)) // 60:02d} min"
    return f"{s // 60} min {s - 60 * (s // 60):02d} s"


def _study_with(*spans: tuple[optuna.trial.TrialState, datetime | None, datetime | None]) -> Any:
    """An in-memory Optuna study of trials with these states, starts and ends."""
    study = optuna.create_study()
    dist: dict[str, BaseDistribution] = {"a": CategoricalDistribution([1, 2])}
    for state, start, end in spans:
        done = state == optuna.trial.TrialState.COMPLETE
        t = optuna.trial.create_trial(
            state=state, params={"a": 1}, distributions=dist, value=0.5 if done else None
        )
        t.datetime_start, t.datetime_complete = start, end
        study.add_trial(t)
    got = [(t.state, t.datetime_start, t.datetime_complete) for t in study.trials]
    assert got == list(spans)  # what the study holds
    return study


def test_duration_is_first_start_to_last_end_and_the_sum_of_trials() -> None:
    """Wall time from the earliest start to the latest end over the study's trials (a
    waiting trial has no start, a running one no end), and the trials' own seconds
    summed, a trial without seconds counting none."""
    C, R, W = (
        optuna.trial.TrialState.COMPLETE,
        optuna.trial.TrialState.RUNNING,
        optuna.trial.TrialState.WAITING,
    )
    first = T0
    last = T0 + timedelta(hours=2, minutes=3, seconds=40)
    study = _study_with(
        (C, T0 + timedelta(minutes=5), T0 + timedelta(minutes=20)),
        (W, None, None),
        (C, first, last),
        (R, T0 + timedelta(hours=2), None),
    )
    durations = [20.0, None, 29.4, 10.0]
    result = SimpleNamespace(study=study, trials=[SimpleNamespace(duration_s=d) for d in durations])
    wall = (last - first).total_seconds()
    busy = sum(d for d in durations if d is not None)
    assert _hm(busy) == "0 min 59 s"  # one more second would read "1 min 00 s"
    assert _duration(result) == (  # type: ignore[arg-type]
        f"{_hm(wall)} from the first trial's start to the last one's end "
        f"({first.strftime('%Y-%m-%d %H:%M')} to {last.strftime('%Y-%m-%d %H:%M')}, "
        f"resumes included); trials ran {_hm(busy)} in all"
    )
    assert _hm(wall) == "2 h 03 min"


def test_duration_before_any_trial_ended_and_without_a_study() -> None:
    R = optuna.trial.TrialState.RUNNING
    running = _study_with((R, T0, None))
    result = SimpleNamespace(study=running, trials=[SimpleNamespace(duration_s=None)])
    assert _duration(result) == "no finished trial yet"  # type: ignore[arg-type]
    empty = SimpleNamespace(study=optuna.create_study(), trials=[])
    assert _duration(empty) == "no finished trial yet"  # type: ignore[arg-type]
    assert _duration(SimpleNamespace(study=None, trials=[])) == ""  # type: ignore[arg-type]


# --- parameter importances --------------------------------------------------------------


def _two_objective_study(n: int) -> Any:
    """``a`` decides the first objective, ``b`` the second."""
    study = optuna.create_study(directions=["minimize", "minimize"])
    dist: dict[str, BaseDistribution] = {
        "a": FloatDistribution(0, 1),
        "b": FloatDistribution(0, 1),
    }
    for i in range(n):
        a, b = (i * 0.37) % 1, (i * 0.61 + 0.2) % 1
        study.add_trial(
            optuna.trial.create_trial(
                params={"a": a, "b": b}, distributions=dist, values=[a * a + 0.01 * b, b + 0.01 * a]
            )
        )
    return study


@pytest.mark.parametrize("n", [4, 9])
def test_importances_are_optunas_fanova_of_the_first_objective(n: int) -> None:
    """Four complete trials are enough: the result is Optuna's fANOVA (seed 0) of the
    first objective's values, named after the first objective."""
    study = _two_objective_study(n)
    result = SimpleNamespace(
        study=study, complete=list(range(n)), objective=SimpleNamespace(names=["first", "second"])
    )
    got = _importances(result)  # type: ignore[arg-type]
    assert got is not None
    values, target = got
    want = optuna.importance.get_param_importances(
        study,
        evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0),
        target=lambda t: t.values[0],
    )
    assert target == "first"
    assert values == pytest.approx(dict(want), abs=0, rel=1e-12)
    assert list(values) == list(want) == ["a", "b"]  # a decides the first objective
    assert all(type(v) is float for v in values.values())
    other = optuna.importance.get_param_importances(
        study,
        evaluator=optuna.importance.FanovaImportanceEvaluator(seed=1),
        target=lambda t: t.values[0],
    )
    assert values != pytest.approx(dict(other), abs=0, rel=1e-12)  # the seed matters


def test_no_importances_from_three_trials_or_without_a_study() -> None:
    study = _two_objective_study(3)
    three = SimpleNamespace(
        study=study, complete=[0, 1, 2], objective=SimpleNamespace(names=["first"])
    )
    assert _importances(three) is None  # type: ignore[arg-type]
    none = SimpleNamespace(
        study=None, complete=list(range(9)), objective=SimpleNamespace(names=["first"])
    )
    assert _importances(none) is None  # type: ignore[arg-type]


# --- a winner's model and drawing -------------------------------------------------------


class _Spec:
    def __init__(self, trainable: bool) -> None:
        self.trainable = trainable

    def is_trainable(self) -> bool:
        return self.trainable

    def used_params(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"kept": params["kept"]}


class _Hybrid(torch.nn.Module):
    """A linear front-end, a two-qubit layer named ``qlayer``, a linear head."""

    def __init__(self) -> None:
        super().__init__()
        from quarch.quantum import AngleEmbedding, BasicEntanglerLayers, Circuit, QuantumLayer

        self.front = torch.nn.Linear(4, 2)
        self.qlayer = QuantumLayer(
            Circuit(2).add(AngleEmbedding(2)).add(BasicEntanglerLayers(1, 2))
        )
        self.head = torch.nn.Linear(2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.qlayer(self.front(x)))


class _Evaluator:
    def __init__(self, model: Any = None, data: Any = None, error: Exception | None = None):
        self.model, self.error = model, error
        if data is not None:
            self.data = data
        self.built: list[tuple[dict[str, Any], int]] = []

    def build(self, arch: dict[str, Any], *, seed: int) -> Any:
        self.built.append((dict(arch), seed))
        if self.error is not None:
            raise self.error
        return self.model


class _Run:
    def __init__(self, ev: _Evaluator, trainable: bool = True) -> None:
        self.spec = _Spec(trainable)
        self.ev = ev
        self.calls: list[dict[str, Any]] = []

    def evaluator(self, **kw: Any) -> Any:
        self.calls.append(kw)
        return self.ev


def test_winner_model_is_built_standalone_on_the_cpu() -> None:
    model = object()
    data = SimpleNamespace(input_shape=(4,))
    run = _Run(_Evaluator(model, data))
    got = _winner_model(run, {"k": 2}, 11)  # type: ignore[arg-type]
    assert got[0] is model and got[1] is data
    assert run.calls == [{"standalone": True, "device": "cpu"}]
    assert run.ev.built == [({"k": 2}, 11)]
    bare = _Run(_Evaluator(model))  # an evaluator without data
    assert _winner_model(bare, {"k": 2}, 0) == (model, None)  # type: ignore[arg-type]
    tabular = _Run(_Evaluator(model), trainable=False)
    assert _winner_model(tabular, {"k": 2}, 0) == (None, None)  # type: ignore[arg-type]
    assert tabular.calls == []  # no evaluator made


def test_a_hybrid_winner_is_its_circuit_and_its_layer_table(tmp_path: Path) -> None:
    """The quantum layer's circuit as an SVG file titled with the trial and the layer's
    module name, the same bytes embedded; then a table of the leaf layers in forward
    order with output shapes and parameter counts that torch counts the same."""
    from quarch.report._circuit_svg import circuit_svg

    model = _Hybrid()
    run = _Run(_Evaluator(model, SimpleNamespace(input_shape=[4])))
    trial = SimpleNamespace(number=12, params={"kept": 1}, seed=3)
    images: list[Path] = []
    part = _draw_winner(run, trial, tmp_path, images)  # type: ignore[arg-type]
    assert run.ev.built == [({"kept": 1}, 3)]
    path = tmp_path / "winner_12_circuit.svg"
    assert images == [path]
    svg = path.read_text(encoding="utf-8")
    assert svg == circuit_svg(model.qlayer.plan.circuit, "trial 12: qlayer")
    b64 = base64.b64encode(svg.encode()).decode()
    img = f"<img class='plot' alt='circuit of trial 12' src='data:image/svg+xml;base64,{b64}'>"
    assert part.startswith(img)
    assert part[len(img) :].startswith("<table><thead>")  # the table right after the drawing
    table = _parse(part[len(img) :])
    assert table.head == ["layer", "type", "output", "params"]
    rows = [[c for c, _ in r] for r in table.rows[1:]]
    counts = {n: sum(p.numel() for p in m.parameters()) for n, m in model.named_children()}
    assert rows == [
        ["front", "Linear", "2", str(counts["front"])],
        ["qlayer", "QuantumLayer", "2", str(counts["qlayer"])],
        ["head", "Linear", "3", str(counts["head"])],
    ]
    assert counts == {"front": 10, "qlayer": 2, "head": 9}


def test_a_winner_that_cannot_be_built_or_drawn(tmp_path: Path) -> None:
    images: list[Path] = []
    broken = _Run(_Evaluator(error=ValueError("no <such> layer")))
    trial = SimpleNamespace(number=1, params={"kept": 0}, seed=None)
    assert _draw_winner(broken, trial, tmp_path, images) == (  # type: ignore[arg-type]
        "<p class='note'>no drawing: ValueError: no &lt;such&gt; layer</p>"
    )
    assert broken.ev.built == [({"kept": 0}, 0)]  # no seed recorded: 0
    tabular = _Run(_Evaluator(), trainable=False)
    assert _draw_winner(tabular, trial, tmp_path, images) == (  # type: ignore[arg-type]
        "<p class='note'>this space has no model to draw (tabular benchmark)</p>"
    )
    classical = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU())
    plain = _Run(_Evaluator(classical, SimpleNamespace(input_shape=(3,))))
    table = _parse(_draw_winner(plain, trial, tmp_path, images))  # type: ignore[arg-type]
    assert [[c for c, _ in r] for r in table.rows[1:]] == [
        ["0", "Linear", "5", "20"],
        ["1", "ReLU", "5", "0"],
    ]
    assert images == [] and list(tmp_path.iterdir()) == []  # no circuit, no file


# --- the classical ablation -------------------------------------------------------------


def test_the_ablation_table_is_the_training_file(tmp_path: Path) -> None:
    run = SimpleNamespace(dir=tmp_path / "r&d", train_dir=tmp_path / "r&d" / "train")
    run.train_dir.mkdir(parents=True)
    data = {
        "params": 1234.0,
        "epochs": 7,
        "seeds": [0, 1, 2],
        "val_accuracy": {"mean": 91.234, "std": 1.005},
        "test_accuracy": {"mean": 89.5, "std": 0.25},
        "classical_ablation": {
            "params": 1250,
            "val_accuracy": {"mean": 88.0, "std": 2.0},
            "test_accuracy": {"mean": 87.125, "std": 0.0},
        },
    }
    (run.train_dir / "trial_5.json").write_text(json.dumps(data))
    out = _ablation(run, 5)  # type: ignore[arg-type]
    caption = "<p>trained 7 epochs with 3 seeds (mean ± std, %)</p>"
    assert out.startswith(caption)
    table = _parse(out[len(caption) :])
    assert table.head == ["model", "params", "val accuracy", "test accuracy"]
    assert [[c for c, _ in r] for r in table.rows[1:]] == [
        ["searched", "1234", "91.23 ± 1.00", "89.50 ± 0.25"],
        ["classical ablation (same parameter count)", "1250", "88.00 ± 2.00", "87.12 ± 0.00"],
    ]
    assert _ablation(run, 6) == (  # type: ignore[arg-type]
        "<p class='note'>final training and its classical ablation: <code>quarch train "
        f"{html.escape(str(run.dir))} --trial 6</code></p>"
    )


def test_an_ablation_entry_missing_a_number_is_named(tmp_path: Path) -> None:
    run = SimpleNamespace(dir=tmp_path, train_dir=tmp_path / "train")
    run.train_dir.mkdir()
    stats = {"mean": 1.0, "std": 0.0}
    data = {
        "params": 3,
        "val_accuracy": stats,
        "test_accuracy": stats,
        "classical_ablation": {"params": 3, "val_accuracy": stats},
    }
    (run.train_dir / "trial_1.json").write_text(json.dumps(data))
    assert _ablation(run, 1) == (  # type: ignore[arg-type]
        "<p class='note'>trial_1.json is unreadable: &#x27;test_accuracy&#x27;</p>"
    )


# --- plots and the choices used ---------------------------------------------------------


def test_png_is_the_file_and_the_figure_is_closed(tmp_path: Path) -> None:
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [1, 0])
    path = tmp_path / "p.png"
    b64 = _png(fig, path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and base64.b64decode(b64) == data
    assert not plt.fignum_exists(fig.number)


def test_png_ignores_the_users_savefig_format(tmp_path: Path) -> None:
    """A matplotlibrc that saves SVG by default still gets a PNG."""
    fig = plt.figure(figsize=(2, 1))
    with matplotlib.rc_context({"savefig.format": "svg"}):
        _png(fig, tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_hms_against_the_format_written_out() -> None:
    """Every whole second up to 30 hours (and half seconds around the hour), against
    the format written out independently: minutes and seconds below an hour, hours and
    minutes from one hour on (59 minutes past the hour included)."""
    from quarch.report import _hms

    for s in range(0, 30 * 3600, 1):
        assert _hms(s) == _hm(s)
    assert _hms(3599.4) == "59 min 59 s" and _hms(3599.6) == "1 h 00 min"
    assert _hms(2 * 3600 + 3599) == "2 h 59 min"


def test_used_is_the_specs_or_every_choice() -> None:
    spec = _Spec(True)
    run = SimpleNamespace(spec=spec)
    assert _used(run)({"kept": 1, "dropped": 2}) == {"kept": 1}  # type: ignore[arg-type]

    class _NoSpec:
        @property
        def spec(self) -> Any:
            raise ConfigError("not a registered space")

    assert _used(_NoSpec())({"kept": 1, "dropped": 2}) == {"kept": 1, "dropped": 2}  # type: ignore[arg-type]
