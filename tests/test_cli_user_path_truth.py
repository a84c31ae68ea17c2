"""What a new user reads after `quarch train` and `quarch export`, checked against the
files those commands wrote and figures computed here.

Found by following the README as a new user (session 37): `export --format onnx-int8`
of an iris `mlp` printed `fp32_bytes: 4150`, `int8_bytes: 7010` and then a note that
int8 "saves memory"; its accuracies (percent) stood beside errors (fractions) with no
unit, in 16 digits; `train` printed `75.00 ± 11.79` without saying what ± is, and
never said where it saved its result.
"""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import pytest

from quarch.cli import main
from quarch.study import Run

from ._scope import per_module


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope=per_module)
def mlp_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("user") / "mlp"
    code = main(["search", "--space", "mlp", "--dataset", "iris", "--trials", "1",
                 "--epochs", "2", "--seed", "3", "--out", str(run), "--quiet"])  # fmt: skip
    assert code == 0
    return run


def _lines(out: str) -> dict[str, str]:
    """``  key: value`` lines of an export's output."""
    return {m[1]: m[2] for m in re.finditer(r"^  ([a-z0-9_]+): (.*)$", out, re.M)}


# figures in the shape export_trial's checks give them: (fp32 ms, int8 ms, fp32 B, int8 B)
@pytest.mark.parametrize(
    ("f32_ms", "i8_ms", "f32_b", "i8_b", "slower", "larger"),
    [
        (0.011, 0.028, 4150, 7010, True, True),  # the iris mlp: slower and larger
        (0.077, 0.124, 87443, 64421, True, False),  # a digits cnn: slower, smaller
        (0.080, 0.050, 4150, 7010, False, True),
        (0.080, 0.050, 87443, 64421, False, False),
    ],
)
def test_the_int8_notes_follow_the_figures_they_explain(
    f32_ms: float, i8_ms: float, f32_b: int, i8_b: int, slower: bool, larger: bool
) -> None:
    from quarch._cli_finish import _int8_notes

    checks = {"fp32_latency_ms": f32_ms, "int8_latency_ms": i8_ms,
              "fp32_bytes": f32_b, "int8_bytes": i8_b}  # fmt: skip
    notes = _int8_notes(checks)
    assert len(notes) == slower + larger
    assert any("slower" in n for n in notes) is slower
    # "saves memory" only where the int8 file is the smaller one
    assert any("saves memory" in n for n in notes) is (slower and not larger)
    said = [n for n in notes if "larger" in n]
    assert len(said) == larger
    if larger:
        assert f"({i8_b} vs {f32_b} bytes)" in said[0]
    assert _int8_notes({"weights": "loaded"}) == []  # not an int8 export: nothing


def test_an_int8_export_larger_than_its_float_graph_says_so(
    capsys: pytest.CaptureFixture[str], mlp_run: Path, tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    out_file = tmp_path / "m8.onnx"
    code, out, err = _run(capsys, "export", str(mlp_run), "--trial", "0", "--format",
                          "onnx-int8", "--out", str(out_file), "--quiet")  # fmt: skip
    assert code == 0, err
    got = _lines(out)
    i8_b = int(got["int8_bytes"].removesuffix(" bytes"))
    f32_b = int(got["fp32_bytes"].removesuffix(" bytes"))
    assert i8_b == out_file.stat().st_size  # the figure is the file written
    # a 2-layer iris mlp: quantisation's added nodes outweigh its 8-bit weights
    assert i8_b > f32_b
    assert "saves memory" not in out
    assert f"note: the int8 file is larger than the float one here ({i8_b} vs {f32_b} bytes)" in out
    for key in ("fp32_test_accuracy", "int8_test_accuracy"):
        assert got[key].endswith(" %"), got[key]
        assert 0 <= float(got[key].removesuffix(" %")) <= 100
    for key in ("fp32_latency_ms", "int8_latency_ms"):
        assert got[key].endswith(" ms") and float(got[key].removesuffix(" ms")) > 0


def test_an_export_labels_percentages_and_keeps_errors_fractions(
    capsys: pytest.CaptureFixture[str], mlp_run: Path, tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    t = Run.open(mlp_run).result().complete[0]
    code, out, err = _run(capsys, "export", str(mlp_run), "--trial", str(t.number), "--format",
                          "onnx", "--out", str(tmp_path / "m.onnx"), "--quiet")  # fmt: skip
    assert code == 0, err
    got = _lines(out)
    # the loaded network is the trial's: its error, a fraction, as `quarch trials` has it
    assert float(got["test_error"]) == pytest.approx(t.metrics["test_error"], abs=5e-5)
    # the ONNX file's own accuracy, a percentage, agrees with that error
    acc = got["onnx_test_accuracy"]
    assert acc.endswith(" %"), acc
    assert float(acc.removesuffix(" %")) == pytest.approx(
        100 * (1 - t.metrics["test_error"]), abs=0.05
    )
    assert len(got["max_abs_diff_vs_torch"]) <= len("1.234e-06")  # four digits, not 16
    code, out, err = _run(capsys, "export", str(mlp_run), "--trial", str(t.number), "--format",
                          "onnx", "--out", str(tmp_path / "j.onnx"), "--quiet", "--json")  # fmt: skip
    assert code == 0, err
    assert isinstance(json.loads(out)["onnx_test_accuracy"], float)  # --json keeps values


def test_train_says_what_its_spread_is_and_where_it_saved(
    capsys: pytest.CaptureFixture[str], mlp_run: Path
) -> None:
    code, out, err = _run(capsys, "train", str(mlp_run), "--trial", "0", "--seeds", "2",
                          "--epochs", "1", "--quiet")  # fmt: skip
    assert code == 0, err
    saved = mlp_run / "train" / "trial_0.json"
    assert f"saved: {saved}" in out.splitlines()
    values = json.loads(saved.read_text())["test_accuracy"]["values"]
    assert len(values) == 2
    spread = float(re.search(r"^│ searched .*│ [\d.]+ ± ([\d.]+)\s*│$", out, re.M).group(1))  # type: ignore[union-attr]
    assert spread == pytest.approx(statistics.stdev(values), abs=0.005)  # n-1, as said
    assert "mean ± standard deviation (n-1) over the 2 seeds" in out


def test_the_listings_json_flag_says_what_it_prints(capsys: pytest.CaptureFixture[str]) -> None:
    """`devices --json` prints a list at once, as the other listings do; its help said
    "one JSON object at the end", the search's wording."""
    for cmd in ("devices", "datasets", "strategies", "spaces", "tasks"):
        code, out, _ = _run(capsys, cmd, "--help")
        assert code == 0
        assert re.search(r"--json\s+Print JSON\.", out), (cmd, out)


def test_the_command_list_shows_whole_clauses(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`quarch --help` at 80 columns: each command's line is its docstring's first
    sentence, or that sentence less its parentheses, or its first clause: words of the
    docstring in their order, never cut mid-clause with "..." (click cut 7 of 12:
    `Write an HTML report (plots embedded) and its plots (PNG;...`)."""
    import typer

    from quarch.cli import app

    monkeypatch.setenv("COLUMNS", "80")  # click's help is at most 80 columns wide
    group = typer.main.get_command(app)
    docs = {name: " ".join((c.help or "").split("\n\n")[0].split())
            for name, c in group.commands.items()}  # type: ignore[attr-defined]  # fmt: skip
    code, out, _ = _run(capsys, "--help")
    assert code == 0
    listed = dict(re.findall(r"^  (\S+) +(.+)$", out.split("Commands:\n", 1)[1], re.M))
    assert set(listed) == set(docs)
    for name, shown in listed.items():
        assert len(f"  {name}") + len(shown) <= 80 + 2, shown
        assert not shown.endswith("..."), (name, shown)
        plain = re.sub(r" \([^)]*\)", "", docs[name]).rstrip(".")
        whole = docs[name].rstrip(".")
        clauses = [re.split(r"[;:,]", plain)[0]]
        assert shown in (whole, plain, *clauses), (name, shown, docs[name])


def _shown_options(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, space: str
) -> dict[str, str]:
    import quarch._cli_app

    # the raw attribute: setting `width` would be restored as the width it read, which
    # then stays fixed for the tests after this one
    monkeypatch.setattr(quarch._cli_app._out, "_width", 1000)  # one line per option
    code, out, err = _run(capsys, "spaces", space)
    assert code == 0, err
    table = out.split("space options", 1)[1].split("evaluator options", 1)[0]
    return dict(re.findall(r"^│ (\w+) +│ (.+?) +│$", table, re.M))


def _choices(space: str, options: dict[str, object]) -> list[tuple[str, list[object]]]:
    from quarch.config import SearchConfig
    from quarch.spaces import get_spec

    cfg = SearchConfig.from_dict({"space": space, "space_options": options})
    built = get_spec(space).build_space(get_spec(space).resolve(cfg))
    return [(c.name, list(c.options)) for c in built.choices]


@pytest.mark.parametrize("space", ["mlp", "cnn", "hqnn"])
def test_spaces_name_lists_the_options_a_search_takes_with_their_defaults(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, space: str
) -> None:
    """`quarch spaces NAME` (it said "unexpected extra argument"; the options were named
    only by the refusal of a mistyped one): the names are those the search's refusal
    lists, and each default shown, given back as `--space-option KEY=SHOWN`, builds the
    space the search builds without it."""
    from quarch._cli_app import _kv

    shown = _shown_options(capsys, monkeypatch, space)
    code, _, err = _run(capsys, "search", "--space", space, "--space-option", "nope=1",
                        "--dry-run")  # fmt: skip
    assert code == 2
    refused = err.split("it takes: ", 1)[1].split(" (", 1)[0].strip()
    assert list(shown) == [n.strip() for n in refused.split(",")]
    default = _choices(space, {})
    for key, text in shown.items():
        if text == "(not set)":
            continue
        given = _kv([f"{key}={text}"], "--space-option")  # as the command line reads it
        assert _choices(space, given) == default, (key, text)
    code, out, err = _run(capsys, "spaces", space, "--json")
    assert code == 0, err
    from quarch.spaces import get_spec

    got = json.loads(out)
    assert got["evaluator_options"] == dict(get_spec(space).evaluator_options)
    assert list(got["space_options"]) == list(shown)


def test_a_space_options_defaults_are_folded_never_cut(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a narrow console a long default wraps; every option of it is still there."""
    import quarch._cli_app

    monkeypatch.setattr(quarch._cli_app._out, "_width", 60)
    code, out, err = _run(capsys, "spaces", "hqnn")
    assert code == 0, err
    assert "…" not in out
    text = "".join(out.split())  # the cells' pieces joined again
    for option in ("range-5", "amplitude", "mlp-256"):
        assert option in text


def test_trials_and_report_of_a_weighted_run_show_the_cost_it_is_ranked_by(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The search's summary names the chosen trial by its weighted cost; `quarch trials`
    listed the metrics alone. The cost shown is the weights times the listed metrics."""
    run = tmp_path / "w"
    code, _, err = _run(capsys, "search", "--space", "mlp", "--trials", "2", "--epochs", "1",
                        "--objectives", "val_error,params", "--weights", "1,0.0001",
                        "--budget", "params<=100000", "--out", str(run), "--quiet")  # fmt: skip
    assert code == 0, err
    import quarch._cli_app

    monkeypatch.setattr(quarch._cli_app._out, "_width", 1000)  # one line per trial
    code, out, err = _run(capsys, "trials", str(run))
    assert code == 0, err
    header = next(line for line in out.splitlines() if "trial" in line and "state" in line)
    cols = [c.strip() for c in header.strip("┃ ").split("┃")]
    assert cols[:6] == ["trial", "state", "val_error", "params", "weighted cost", "seconds"]
    rows = [
        [c.strip() for c in line.strip("│ ").split("│")]
        for line in out.splitlines()
        if line.startswith("│")
    ]
    records = {r["number"]: r for r in json.loads(_run(capsys, "trials", str(run), "--json")[1])}
    assert len(rows) == len(records) == 2
    for row in rows:
        m = records[int(row[0])]["metrics"]
        want = 1 * m["val_error"] + 0.0001 * m["params"]
        assert float(row[4]) == pytest.approx(want, rel=1e-3), row
    # the report states the objective as given, not as "objectives weighted_cost"
    code, _, err = _run(capsys, "report", str(run), "--out", str(tmp_path / "rep"))
    assert code == 0, err
    page = (tmp_path / "rep" / "index.html").read_text()
    stated = re.search(r"objectives <b>(.*?)</b>", page)
    assert stated is not None
    assert stated[1] == "weighted cost = 1*val_error + 0.0001*params"
