"""What the report page states, against the run's stored study read independently
(Optuna's own ``load_study``): the Pareto table is the brute-force Pareto set of the
feasible complete trials, each number the stored metric, each architecture the choices
it uses; every trial's row, state, seconds and reason; the counts, the duration and the
config; each embedded image is the file beside the page; each winner's layer table
against the MLP's hand-counted layers; the classical ablation read from its file."""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Mapping
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import optuna
import pytest
import torch

from quarch.config import SearchConfig
from quarch.report import Report, _hms, _table, write_report
from quarch.study import run_search

from .._scope import per_module

WINNERS = 3
BUDGETS = {"flops": 6000.0, "val_error": 0.5}


class _Evaluator:
    """Metrics from the architecture alone (a trade-off: more weights, fewer errors);
    a one-layer tanh net fails, with a reason that needs escaping."""

    fingerprint = "report-truth"

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        n = int(arch["n_layers"])
        widths = [int(arch[f"width_{i}"]) for i in range(n)]
        if n == 1 and arch["activation"] == "tanh":
            raise RuntimeError("bad <arch> & 'co'")
        p = 0.0
        n_in = 4
        for w in widths:
            p += n_in * w + w
            n_in = w
        p += n_in * 3 + 3
        err = round(0.9 / (1 + p / 200) + 0.013 * (len(str(arch["activation"])) % 3), 4)
        return {"val_error": err, "params": p, **self.cheap_metrics(arch)}

    def cheap_metrics(self, arch: Mapping[str, Any]) -> dict[str, float]:
        """FLOPs without training (so a budget on them skips a trial before training)."""
        n = int(arch["n_layers"])
        widths = [int(arch[f"width_{i}"]) for i in range(n)]
        return {"flops": float(2 * sum(widths) * (4 + n) * 10)}


def _search(out: Path, **kw: Any) -> Path:
    cfg = SearchConfig(space="mlp", dataset="iris", seed=5, out=str(out), **kw)
    run_search(cfg, progress=False, evaluator=_Evaluator())
    return out


@pytest.fixture(scope=per_module)
def budget_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two objectives, a budget on a third metric known before training (a column of
    its own; trials over it are never trained) and one on an objective."""
    return _search(tmp_path_factory.mktemp("truth") / "budget", trials=12,
                   objectives=["val_error", "params"],
                   budgets=[f"{k}<={v}" for k, v in BUDGETS.items()])  # fmt: skip


@pytest.fixture(scope=per_module)
def weighted_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A weighted cost with a budget on one of its metrics, too few trials for
    importances."""
    return _search(tmp_path_factory.mktemp("truth") / "weighted", trials=3,
                   objectives=["val_error", "params"], weights=[1.0, 0.0005],
                   budgets=["params<=1200"])  # fmt: skip


def _study(run: Path) -> optuna.Study:
    return optuna.load_study(study_name="quarch", storage=f"sqlite:///{run / 'study.db'}")


def _when(d: datetime | None) -> datetime:
    assert d is not None
    return d


def _secs(t: Any) -> float:
    return (_when(t.datetime_complete) - _when(t.datetime_start)).total_seconds()


class _Loose(HTMLParser):
    """Text directly inside ``body``, a table or a row (not in a heading, a paragraph,
    a cell...): what a stray string between the page's elements would be."""

    VOID = frozenset({"img", "meta", "br", "hr", "link", "input"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.loose: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.append(tag)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, (self.stack[-3:], tag)
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if data.strip() and (not self.stack or self.stack[-1] in
                             {"html", "head", "body", "table", "thead", "tbody", "tr"}):  # fmt: skip
            self.loose.append(data)


def _check_structure(page: str, whole: bool = True) -> None:
    """Every element closed in order, no text outside the page's elements."""
    p = _Loose()
    p.feed(page)
    p.close()
    assert p.stack == [] and p.loose == []
    if whole:
        assert p.tags[:5] == ["html", "head", "meta", "title", "style"]


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _table_after(page: str, marker: str) -> tuple[list[str], list[list[str]]]:
    """Head and rows of the first table after ``marker``, cells unescaped."""
    table = page.split(marker, 1)[1].split("<table>", 1)[1].split("</table>", 1)[0]
    head = [html.unescape(h) for h in re.findall(r"<th>(.*?)</th>", table)]
    rows = [
        [html.unescape(c) for c in re.findall(r"<td(?: class='wrap')?>(.*?)</td>", r)]
        for r in re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>", 1)[1])
    ]
    return head, rows


def _used(params: Mapping[str, Any]) -> dict[str, Any]:
    n = params["n_layers"]
    return {k: v for k, v in params.items() if not (k.startswith("width_") and int(k[6:]) >= n)}


def _arch(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in _used(params).items())


def _feasible(m: Mapping[str, float], budgets: Mapping[str, float]) -> bool:
    return all(m[k] <= v for k, v in budgets.items())


def _front(trials: list[Any], names: list[str]) -> list[Any]:
    def dom(a: Any, b: Any) -> bool:
        va = [a.user_attrs["metrics"][n] for n in names]
        vb = [b.user_attrs["metrics"][n] for n in names]
        return all(x <= y for x, y in zip(va, vb, strict=True)) and va != vb

    return [t for t in trials if not any(dom(o, t) for o in trials)]


def _write_budget_report(budget_run: Path, out: Path) -> Report:
    # a trained winner's file, one that cannot be read, and none for the rest
    study = _study(budget_run)
    done = [t for t in study.trials if t.state.name == "COMPLETE"
            and _feasible(t.user_attrs["metrics"], BUDGETS)]  # fmt: skip
    front = sorted(_front(done, ["val_error", "params"]),
                   key=lambda t: (t.user_attrs["metrics"]["val_error"],
                                  t.user_attrs["metrics"]["params"]))  # fmt: skip
    assert len(front) >= WINNERS, [t.number for t in front]
    train = budget_run / "train"
    train.mkdir(exist_ok=True)
    (train / f"trial_{front[0].number}.json").write_text(json.dumps({
        "params": 1234.0, "epochs": 7, "seeds": [1, 2, 3],
        "val_accuracy": {"mean": 91.234, "std": 1.5},
        "test_accuracy": {"mean": 90.0, "std": 0.125},
        "classical_ablation": {"params": 1200.0, "val_accuracy": {"mean": 88.0, "std": 2.0},
                               "test_accuracy": {"mean": 87.555, "std": 0.5}},
    }))  # fmt: skip
    (train / f"trial_{front[1].number}.json").write_text(json.dumps({"params": 1}))
    return write_report(budget_run, out_dir=out, winners=WINNERS)


@pytest.fixture
def budget_report(budget_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Report:
    """The budget run's report, written in each test that reads it (a test tool that
    maps each test to the code it runs sees every one of them write the page), each
    plot a blank figure (the tables are what these tests read; the plots are
    checked in ``test_images_are_the_files_beside_the_page`` and ``test_plots_truth.py``)."""
    import matplotlib.pyplot as plt

    import quarch.report as report

    def blank(*args: Any, **kwargs: Any) -> Any:
        return plt.figure(figsize=(1, 1), dpi=10)

    monkeypatch.setattr(report, "pareto_fronts", lambda result: [("pareto", blank())])
    for name in ("best_so_far", "choices_grid", "importance_bars"):
        monkeypatch.setattr(report, name, blank)
    return _write_budget_report(budget_run, tmp_path / "report")


@pytest.fixture
def drawn_report(budget_run: Path, tmp_path: Path) -> Report:
    """The budget run's report with its real plots."""
    return _write_budget_report(budget_run, tmp_path / "report")


def test_pareto_table_is_the_brute_force_front(budget_run: Path, budget_report: Report) -> None:
    page = budget_report.html.read_text()
    study = _study(budget_run)
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    feasible = [t for t in done if _feasible(t.user_attrs["metrics"], BUDGETS)]
    assert 0 < len(feasible) < len(done)  # the budget excluded some
    front = sorted(_front(feasible, ["val_error", "params"]),
                   key=lambda t: (t.user_attrs["metrics"]["val_error"],
                                  t.user_attrs["metrics"]["params"]))  # fmt: skip
    head, rows = _table_after(page, f"<h2>Pareto architectures ({len(front)})</h2>")
    assert head == ["trial", "val_error", "params", "flops", "architecture (the choices it uses)"]
    want = []
    for t in front:
        m = t.user_attrs["metrics"]
        want.append([str(t.number), f"{m['val_error']:.4g}", f"{m['params']:.4g}",
                     f"{m['flops']:.4g}", _arch(t.params)])  # fmt: skip
    assert rows == want
    assert "weighted cost" not in head
    # the wrapped column is the architecture
    table = page.split("<h2>Pareto architectures")[1].split("</table>")[0]
    assert table.count("<td class='wrap'>") == len(front)
    assert all(r.split("<td")[-1].startswith(" class='wrap'>") for r in table.split("<tr>")[2:])
    # the first WINNERS Pareto trials are drawn, in order
    drawn = [int(n) for n in re.findall(r"<h3>Trial (\d+)</h3>", page)]
    assert drawn == [t.number for t in front[:WINNERS]]


def test_all_trials_table_against_the_study(budget_run: Path, budget_report: Report) -> None:
    page = budget_report.html.read_text()
    study = _study(budget_run)
    trials = study.trials
    states = [t.state.name for t in trials]
    assert "FAIL" in states and "COMPLETE" in states
    head, rows = _table_after(page, f"<h2>All trials ({len(trials)})</h2>")
    assert head == ["trial", "state", "val_error", "params", "seconds",
                    "reason it did not complete / architecture"]  # fmt: skip
    assert len(rows) == len(trials)
    for t, r in zip(trials, rows, strict=True):
        m = t.user_attrs.get("metrics", {})
        state = t.state.name.lower()
        if t.state.name == "COMPLETE" and not _feasible(m, BUDGETS):
            state += ", over budget"
        secs = _secs(t)
        reason = t.user_attrs.get("fail_reason") or t.user_attrs.get("skip_reason")
        if "skip_reason" in t.user_attrs:
            assert t.state.name == "PRUNED" and str(reason).startswith("over budget before")
        if t.state.name == "FAIL":
            assert reason and "bad <arch> & 'co'" in reason
        what = reason or _arch(t.params)
        vals = [f"{m[n]:.4g}" if n in m else "" for n in ("val_error", "params")]
        assert r == [str(t.number), state, *vals, f"{secs:.1f}", what]
    assert "over budget" in page
    assert "bad &lt;arch&gt; &amp; &#x27;co&#x27;" in page  # escaped, not markup
    # the wrapped column is the reason / architecture, the last one, alone
    body = page.split("<h2>All trials")[1].split("</table>")[0].split("<tbody>")[1]
    for row in body.split("<tr>")[1:]:
        cells = row.split("<td")[1:]
        assert [c.startswith(" class='wrap'>") for c in cells] == [False] * (len(head) - 1) + [True]


def test_run_table_counts_duration_and_config(budget_run: Path, budget_report: Report) -> None:
    page = budget_report.html.read_text()
    study = _study(budget_run)
    trials = study.trials
    n = {s: sum(t.state.name == s for t in trials) for s in ("COMPLETE", "PRUNED", "FAIL")}
    skipped = sum("skip_reason" in t.user_attrs for t in trials)
    assert skipped > 0 and n["FAIL"] > 0
    head, rows = _table_after(page, "<h2>Run</h2>")
    assert head == ["", ""]
    table = dict((r[0], r[1]) for r in rows)
    assert list(table) == ["run folder", "trials", "duration", "storage", "data fingerprint",
                           "quarch version", "software", "seed"]  # fmt: skip
    assert table["run folder"] == str(budget_run.resolve())
    assert table["trials"] == (
        f"{len(trials)} ({n['COMPLETE']} complete, {n['PRUNED'] - skipped} pruned, "
        f"{n['FAIL']} failed, {skipped} over a budget before training, never trained)"
    )
    meta = json.loads((budget_run / "run.json").read_text())
    assert table["storage"] == "sqlite"
    assert table["data fingerprint"] == meta["fingerprint"] == "report-truth"
    assert table["quarch version"] == meta["quarch_version"]
    software = table["software"].split(", ")  # what the run started with, torch's own word
    assert (
        f"torch {torch.__version__}" in software and f"quarch {meta['quarch_version']}" in software
    )
    assert len(software) == len(meta["software"])
    assert table["seed"] == str(meta["seed"]) == "5"
    start = min(_when(t.datetime_start) for t in trials)
    end = max(_when(t.datetime_complete) for t in trials)
    busy = sum(_secs(t) for t in trials)
    assert table["duration"] == (
        f"{_hms((end - start).total_seconds())} from the first trial's start to the last "
        f"one's end ({start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}, resumes included); "
        f"trials ran {_hms(busy)} in all"
    )
    config = page.split("<h3>Config</h3><pre>", 1)[1].split("</pre>", 1)[0]
    assert json.loads(html.unescape(config)) == json.loads((budget_run / "config.json").read_text())
    cfg = json.loads((budget_run / "config.json").read_text())
    title = f"quarch run {budget_run.name}: {cfg['space']} on {cfg['dataset']}"
    assert f"<title>{html.escape(title)}</title>" in page
    assert f"<h1>{html.escape(title)}</h1>" in page
    assert page.split("</h1>", 1)[1].startswith(
        f"<p>strategy <b>{cfg['strategy']}</b>, objectives <b>val_error, params</b></p>"
    )
    # the importances of the complete trials, named
    assert (
        f"<p>Optuna's fANOVA importance of each choice for val_error over the "
        f"{n['COMPLETE']} complete trials (seed 0; few trials give a rough estimate)</p>"
    ) in page
    assert "On the device" not in page  # no router: no device section


def test_images_are_the_files_beside_the_page(drawn_report: Report) -> None:
    budget_report = drawn_report
    page = budget_report.html.read_text()
    names = [p.name for p in budget_report.images]
    assert names == ["pareto_val_error_vs_params.png", "best_so_far.png", "choices.png",
                     "importances.png"]  # fmt: skip
    assert budget_report.pngs == budget_report.images
    assert all(p.parent == budget_report.html.parent for p in budget_report.images)
    srcs = re.findall(r"<img class='plot' alt='([^']*)' src='data:image/png;base64,([^']*)'>", page)
    assert [a for a, _ in srcs] == ["pareto val error vs params", "best so far", "choices",
                                    "importances"]  # fmt: skip
    for p, (_, b64) in zip(budget_report.images, srcs, strict=True):
        data = p.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and base64.b64decode(b64) == data
    assert f"data-plots-expected='{len(budget_report.images)}'" in page
    _check_structure(page)
    assert page.startswith("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>")
    assert page.endswith("</script></body></html>")
    # the sections in reading order
    heads = re.findall(r"<h2>(.*?)</h2>", page)
    assert [h.split(" (")[0] for h in heads] == [
        "Pareto front", "Best so far", "Choices", "Parameter importances",
        "Pareto architectures", "All trials", "Run",
    ]  # fmt: skip


def test_winners_layer_tables_and_ablations(budget_run: Path, budget_report: Report) -> None:
    page = budget_report.html.read_text()
    study = _study(budget_run)
    by_number = {t.number: t for t in study.trials}
    blocks = page.split("<h3>Trial ")[1:]
    assert len(blocks) == WINNERS
    for i, block in enumerate(blocks):
        number = int(block.split("</h3>", 1)[0])
        params = by_number[number].params
        head, rows = _table_after(block, "</h3>")
        assert head == ["layer", "type", "output", "params"]
        widths = [params[f"width_{k}"] for k in range(params["n_layers"])]
        act = {"relu": "ReLU", "tanh": "Tanh", "gelu": "GELU"}[params["activation"]]
        want = [["net.0", "Flatten", "4", "0"]]
        n_in, k = 4, 1
        for w in widths:
            want += [[f"net.{k}", "Linear", str(w), str(n_in * w + w)],
                     [f"net.{k + 1}", act, str(w), "0"]]  # fmt: skip
            n_in, k = w, k + 2
        want.append([f"net.{k}", "Linear", "3", str(n_in * 3 + 3)])
        assert rows == want
        body = block.split("</h3>", 1)[1].split("<h3>", 1)[0].split("<h2>", 1)[0]
        if i == 0:  # trained, with its ablation
            assert "<p>trained 7 epochs with 3 seeds (mean ± std, %)</p>" in body
            head2, rows2 = _table_after(body, "(mean ± std, %)</p>")
            assert head2 == ["model", "params", "val accuracy", "test accuracy"]
            assert rows2 == [
                ["searched", "1234", "91.23 ± 1.50", "90.00 ± 0.12"],
                ["classical ablation (same parameter count)", "1200", "88.00 ± 2.00",
                 "87.56 ± 0.50"],
            ]  # fmt: skip
        elif i == 1:  # a file without the numbers
            assert (
                f"<p class='note'>trial_{number}.json is unreadable: "
                f"{html.escape(str(KeyError('val_accuracy')))}</p>"
            ) in body
        else:
            assert f"<code>quarch train {html.escape(str(budget_run))} --trial {number}</code>" in (
                body
            )


def test_weighted_cost_column_and_no_importances(weighted_run: Path, tmp_path: Path) -> None:
    rep = write_report(weighted_run, out_dir=tmp_path / "out", winners=1)
    assert rep.html == tmp_path / "out" / "index.html"
    page = rep.html.read_text()
    study = _study(weighted_run)
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(done) < 4
    feasible = [t for t in done if t.user_attrs["metrics"]["params"] <= 1200]
    front = sorted(_front(feasible, ["val_error", "params"]),
                   key=lambda t: (t.user_attrs["metrics"]["val_error"],
                                  t.user_attrs["metrics"]["params"]))  # fmt: skip
    head, rows = _table_after(page, f"<h2>Pareto architectures ({len(front)})</h2>")
    # the budget's metric is an objective already: one column
    assert head == ["trial", "val_error", "params", "weighted cost",
                    "architecture (the choices it uses)"]  # fmt: skip
    want = []
    for t in front:
        m = t.user_attrs["metrics"]
        cost = 1.0 * m["val_error"] + 0.0005 * m["params"]
        assert t.values[0] == pytest.approx(cost)
        want.append([str(t.number), f"{m['val_error']:.4g}", f"{m['params']:.4g}",
                     f"{t.values[0]:.4g}", _arch(t.params)])  # fmt: skip
    assert rows == want
    _check_structure(page)
    assert "Parameter importances" not in page  # under 4 complete trials
    assert len(re.findall(r"<h3>Trial (\d+)</h3>", page)) == min(1, len(front))
    assert [p.name for p in rep.images] == ["pareto_val_error_vs_params.png",
                                            "best_so_far.png", "choices.png"]  # fmt: skip
    assert not (weighted_run / "report").exists()  # written only where asked


def test_table_escapes_and_wraps() -> None:
    out = _table(["a<", "b"], [["<x>", "&"], ["1", "2"]], wrap=1)
    assert out == (
        "<table><thead><tr><th>a&lt;</th><th>b</th></tr></thead><tbody>"
        "<tr><td>&lt;x&gt;</td><td class='wrap'>&amp;</td></tr>"
        "<tr><td>1</td><td class='wrap'>2</td></tr></tbody></table>"
    )
    assert "wrap" not in _table(["a"], [["b"]])
    assert _table(["a"], []) == "<table><thead><tr><th>a</th></tr></thead><tbody></tbody></table>"


def test_hms() -> None:
    assert _hms(0) == "0 min 00 s"
    assert _hms(59.4) == "0 min 59 s"
    assert _hms(59.6) == "1 min 00 s"
    assert _hms(61) == "1 min 01 s"
    assert _hms(3599) == "59 min 59 s"
    assert _hms(3600) == "1 h 00 min"
    assert _hms(3 * 3600 + 7 * 60 + 59) == "3 h 07 min"
    assert _hms(26 * 3600 + 61) == "26 h 01 min"


def test_plots_get_the_runs_trials_choices_and_importances(
    budget_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the page's plots are drawn from: the run's own choices (the space's), the
    choices each architecture uses, Optuna's fANOVA importances (seed 0) of the first
    objective; every figure closed once saved."""
    import matplotlib.pyplot as plt

    import quarch.report as report
    from quarch.spaces.mlp.space import mlp_space

    seen: dict[str, Any] = {}

    def grid(result: Any, choices: Any, used: Any) -> Any:
        seen["choices"], seen["used"] = choices, used
        return real_grid(result, choices, used)

    def bars(values: dict[str, float], target: str) -> Any:
        seen["importances"], seen["target"] = values, target
        return real_bars(values, target)

    real_grid, real_bars = report.choices_grid, report.importance_bars
    monkeypatch.setattr(report, "choices_grid", grid)
    monkeypatch.setattr(report, "importance_bars", bars)
    plt.close("all")
    write_report(budget_run, out_dir=tmp_path / "a" / "b", winners=0)
    assert plt.get_fignums() == []  # every figure closed after saving
    assert (tmp_path / "a" / "b" / "index.html").is_file()  # parents made
    space = mlp_space()
    assert [(c.name, list(c.options)) for c in seen["choices"]] == [
        (c.name, list(c.options)) for c in space.choices
    ]
    arch = {"n_layers": 2, "width_0": 8, "width_1": 16, "width_2": 32, "activation": "relu",
            "lr": 0.01}  # fmt: skip
    assert seen["used"](arch) == _used(arch)
    study = _study(budget_run)
    want = optuna.importance.get_param_importances(
        study,
        evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0),
        target=lambda t: t.values[0],
    )
    assert seen["target"] == "val_error"
    assert seen["importances"] == pytest.approx(dict(want))
    assert list(seen["importances"]) == list(want)


class _FakeRun:
    def __init__(self, root: Path) -> None:
        self.dir = root / "my run"
        self.train_dir = self.dir / "train"
        self.train_dir.mkdir(parents=True)


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("{not json", "Expecting property name enclosed in double quotes"),
        (json.dumps({"params": 3, "val_accuracy": 5, "test_accuracy": 5}), "not subscriptable"),
        (json.dumps({"params": 3, "val_accuracy": {"mean": 1}}), "'std'"),
        (json.dumps({"val_accuracy": {"mean": 1, "std": 0}}), "'params'"),
    ],
)
def test_an_unreadable_training_file_is_named(tmp_path: Path, content: str, error: str) -> None:
    from quarch.report import _ablation

    run = _FakeRun(tmp_path)
    (run.train_dir / "trial_4.json").write_text(content)
    out = _ablation(run, 4)  # type: ignore[arg-type]
    _check_structure(out, whole=False)
    assert out.startswith("<p class='note'>trial_4.json is unreadable: ")
    assert html.escape(error) in out and out.endswith("</p>")


def test_training_file_without_ablation_or_epochs(tmp_path: Path) -> None:
    from quarch.report import _ablation

    run = _FakeRun(tmp_path)
    stats = {"mean": 80.0, "std": 0.004}
    (run.train_dir / "trial_2.json").write_text(
        json.dumps({"params": 1.5e6, "val_accuracy": stats, "test_accuracy": stats})
    )
    out = _ablation(run, 2)  # type: ignore[arg-type]
    _check_structure(out, whole=False)
    assert out.startswith("<p>trained ? epochs with 0 seeds (mean ± std, %)</p>")
    head, rows = _table_after(out, "</p>")
    assert head == ["model", "params", "val accuracy", "test accuracy"]
    assert rows == [["searched", "1.5e+06", "80.00 ± 0.00", "80.00 ± 0.00"]]
    note = _ablation(run, 3)  # type: ignore[arg-type]
    assert note == (
        "<p class='note'>final training and its classical ablation: "
        f"<code>quarch train {html.escape(str(run.dir))} --trial 3</code></p>"
    )


def test_a_run_without_complete_trials(tmp_path: Path) -> None:
    """Every trial failed (the search gave up): the page says so, with every trial and
    its reason, an empty Pareto table and no plots."""
    from quarch._errors import QuarchError

    class Failing(_Evaluator):
        def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
            raise ValueError("always <fails>")

    cfg = SearchConfig(space="mlp", dataset="iris", seed=2, out=str(tmp_path / "run"), trials=3)
    with pytest.raises(QuarchError, match="gave up"):
        run_search(cfg, progress=False, evaluator=Failing())
    rep = write_report(tmp_path / "run")
    page = rep.html.read_text()
    assert rep.images == []
    _check_structure(page)
    assert "<p class='note'>no complete trials yet</p>" in page
    assert "data-plots-expected='0'" in page
    head, rows = _table_after(page, "<h2>Pareto architectures (0)</h2>")
    assert head[0] == "trial" and rows == []
    study = _study(tmp_path / "run")
    _, rows = _table_after(page, f"<h2>All trials ({len(study.trials)})</h2>")
    assert [r[1] for r in rows] == ["fail"] * len(study.trials)
    assert all(r[-1] == "ValueError: always <fails>" for r in rows)
    assert "<h3>Trial" not in page and "Parameter importances" not in page


class _HybridEvaluator:
    """Metrics from a checksum of the architecture (no training)."""

    fingerprint = "report-hybrid"

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        import zlib

        h = zlib.crc32(repr(sorted(arch.items())).encode())
        return {"val_error": (h % 997) / 997, "params": float(h % 89 + 10)}


def test_hybrid_winners_are_drawn_as_their_circuits(tmp_path: Path) -> None:
    """Each drawn winner of a hybrid run: its model's quantum circuit as an SVG file,
    the same SVG embedded, titled with the trial and the layer's name, beside a layer
    table whose parameters add up to the model's."""
    from quarch.quantum import QuantumLayer
    from quarch.report._circuit_svg import circuit_svg
    from quarch.study import Run

    out = tmp_path / "hybrid"
    cfg = SearchConfig(
        space="hqnn", dataset="iris", trials=5, seed=3, out=str(out),
        objectives=["val_error", "params"],
        space_options={"max_qubits": 3, "max_layers": 2, "frontends": ["linear"],
                       "heads": ["linear"]},
    )  # fmt: skip
    run_search(cfg, progress=False, evaluator=_HybridEvaluator())
    rep = write_report(out, winners=2)
    page = rep.html.read_text()
    _check_structure(page)
    run = Run.open(out)
    front = run.result().pareto[:2]
    assert [int(n) for n in re.findall(r"<h3>Trial (\d+)</h3>", page)] == [t.number for t in front]
    svgs = [p for p in rep.images if p.suffix == ".svg"]
    assert [p.name for p in svgs] == [f"winner_{t.number}_circuit.svg" for t in front]
    assert rep.pngs == [p for p in rep.images if p.suffix == ".png"]
    assert f"data-plots-expected='{len(rep.images)}'" in page
    embedded = re.findall(
        r"<img class='plot' alt='circuit of trial (\d+)' src='data:image/svg\+xml;base64,([^']*)'>",
        page,
    )
    assert [int(n) for n, _ in embedded] == [t.number for t in front]
    ev: Any = run.evaluator(standalone=True, device="cpu")
    for t, p, (_, b64) in zip(front, svgs, embedded, strict=True):
        svg = p.read_text(encoding="utf-8")
        assert base64.b64decode(b64).decode() == svg
        model = ev.build(t.params, seed=t.seed or 0)
        (name, layer), *_ = [
            (n, m) for n, m in model.named_modules() if isinstance(m, QuantumLayer)
        ]
        assert svg == circuit_svg(layer.plan.circuit, f"trial {t.number}: {name}")
        block = page.split(f"<h3>Trial {t.number}</h3>", 1)[1].split("<h3>", 1)[0]
        head, rows = _table_after(block, "'>")
        assert head == ["layer", "type", "output", "params"]
        assert sum(int(r[3]) for r in rows) == sum(q.numel() for q in model.parameters())
        assert rows[-1][2] == "3"  # three iris classes


def test_a_run_of_an_unregistered_space(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``run_search(config, space=...)`` with a space no spec knows: the choices panel
    is rebuilt from the trials (each choice's options in the order trials first took
    them), every choice counts as used, and a winner gets a note instead of a drawing
    (there is no model to build) and no training hint."""
    import quarch.report as report
    from quarch.space import Choice, Space

    space = Space([Choice("n_layers", [1, 2, 3]), Choice("width_0", [8, 16, 32]),
                   Choice("activation", ["relu", "gelu"])], name="mine")  # fmt: skip

    class Ev:
        fingerprint = "mine"

        def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
            p = float(arch["width_0"] * arch["n_layers"])
            return {"val_error": 1 / p + 0.01 * (arch["activation"] == "gelu"), "params": p}

    cfg = SearchConfig(space="mine", trials=6, seed=4, out=str(tmp_path / "run"),
                       objectives=["val_error", "params"])  # fmt: skip
    res = run_search(cfg, space=space, evaluator=Ev(), progress=False)
    seen: dict[str, Any] = {}
    real = report.choices_grid

    def grid(result: Any, choices: Any, used: Any) -> Any:
        seen["choices"], seen["used"] = choices, used
        return real(result, choices, used)

    monkeypatch.setattr(report, "choices_grid", grid)
    page = write_report(tmp_path / "run", winners=2).html.read_text()
    _check_structure(page)
    done = sorted(res.complete, key=lambda t: t.number)
    want = [(n, list(dict.fromkeys(t.params[n] for t in done))) for n in done[0].params]
    assert [(c.name, list(c.options)) for c in seen["choices"]] == want
    arch = {"n_layers": 1, "width_0": 8, "activation": "relu"}
    assert seen["used"](arch) == arch
    front = res.pareto
    _, rows = _table_after(page, f"<h2>Pareto architectures ({len(front)})</h2>")
    assert [r[-1] for r in rows] == [", ".join(f"{k}={v}" for k, v in t.params.items())
                                     for t in front]  # fmt: skip
    for t in front[:2]:
        block = page.split(f"<h3>Trial {t.number}</h3>", 1)[1].split("<h", 1)[0]
        assert block.startswith("<p class='note'>no drawing: ")
        assert "mine" in block and "quarch train" not in block
    assert "On the device" not in page
