"""Tests of the command line: JSON output, listings and one-line errors with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import optuna
import pytest
import torch

from quarch.cli import main


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()  # not a shared fixture's output (per test under mutmut)
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


class TestErrors:
    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["search", "--space", "nope"], "error: unknown space 'nope'; choose from: mlp"),
            (["search", "--space", "mlp", "--dataset", "cifar"], "error: unknown data set 'cifar'"),
            (
                ["search", "--space", "mlp", "--strategy", "magic"],
                "error: unknown strategy 'magic'",
            ),
            (
                ["search", "--space", "mlp", "--objectives", "val_error,speed"],
                "error: unknown metric 'speed'",
            ),
            (
                ["search", "--space", "mlp", "--trials", "0"],
                "error: trials must be a positive integer; got 0",
            ),
            (
                ["search", "--space", "mlp", "--budget", "params<<3"],
                "error: malformed budget 'params<<3'",
            ),
            (
                ["search", "--space", "mlp", "--weights", "1,x"],
                "error: --weights takes numbers; got 'x'",
            ),
            (
                ["search", "--space", "mlp", "--trials", "abc"],
                "error: Invalid value for '--trials'",
            ),
            (["search", "--no-such-flag"], "error: No such option"),
            (["search", "--resume", "nowhere"], "error: 'nowhere': no such folder"),
            (
                ["search", "--space", "mlp", "--device", "gpu0"],
                "error: --device 'gpu0' is not a torch device",
            ),
        ],
    )
    def test_one_line_and_exit_2(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], message: str
    ) -> None:
        code, out, err = _run(
            capsys, *args, *([] if "--resume" in args else ["--out", str(tmp_path / "r")])
        )
        assert code == 2
        assert err.startswith(message), err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert out == ""

    def test_missing_idx_files(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("QUARCH_OFFLINE", "1")
        code, _, err = _run(
            capsys,
            "search",
            "--space",
            "mlp",
            "--dataset",
            "mnist",
            "--data-dir",
            str(tmp_path),
            "--out",
            str(tmp_path / "r"),
        )
        assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
        assert "mnist" in err.lower()

    def test_corrupt_idx_file(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        d = tmp_path / "mnist"
        d.mkdir()
        for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                     "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):  # fmt: skip
            (d / name).write_bytes(b"\x00\x00\x08\x03not an idx file")
        code, _, err = _run(
            capsys,
            "search",
            "--space",
            "mlp",
            "--dataset",
            "mnist",
            "--data-dir",
            str(tmp_path),
            "--out",
            str(tmp_path / "r"),
        )
        assert code == 2 and err.startswith("error: ") and err.count("\n") == 1

    def test_subprocess_exit_code_and_no_traceback(self, tmp_path: Path) -> None:
        p = subprocess.run(
            [sys.executable, "-m", "quarch.cli", "search", "--space", "nope", "--out", str(tmp_path)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert p.returncode == 2
        assert p.stderr.strip().splitlines() == [
            "error: unknown space 'nope'; choose from: mlp, nb201, cnn, hqnn"
        ]


def test_search_json_and_determinism(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    outs = []
    for name in ("a", "b"):
        code, out, _ = _run(
            capsys, "search", "--space", "mlp", "--dataset", "iris", "--strategy", "random",
            "--trials", "4", "--epochs", "5", "--seed", "0", "--json", "--out", str(tmp_path / name),
        )  # fmt: skip
        assert code == 0
        outs.append(json.loads(out))
    a, b = outs
    assert set(a) >= {"run", "trials", "complete", "failed", "pareto", "best"}
    assert a["complete"] == 4 and a["failed"] == 0
    assert [p["params"] for p in a["pareto"]] == [p["params"] for p in b["pareto"]]
    assert [p["metrics"] for p in a["pareto"]] == [p["metrics"] for p in b["pareto"]]
    for p in a["pareto"]:
        assert {"val_error", "params"} <= set(p["metrics"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_fails_before_any_trial(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = _run(capsys, "search", "--space", "mlp", "--dataset", "iris",
                        "--device", "cuda", "--out", str(tmp_path / "r"))  # fmt: skip
    assert code == 2
    assert err.startswith("error: --device cuda: this torch has no usable CUDA device")
    assert not (tmp_path / "r").exists()  # no half-made run folder


@pytest.mark.parametrize(
    ("device", "line"),
    [
        ("xla", "error: --device xla: this torch cannot make tensors there (NotImplementedError: "),
        ("meta", "error: --device meta: meta tensors hold no data to train on"),
    ],
)
def test_a_device_this_torch_cannot_use_fails_before_any_trial(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, device: str, line: str
) -> None:
    # xla passed torch.device() and then failed every trial until the run gave up
    code, _, err = _run(capsys, "search", "--space", "mlp", "--dataset", "iris",
                        "--device", device, "--out", str(tmp_path / "r"))  # fmt: skip
    assert code == 2
    assert err.startswith(line) and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_listings(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "strategies", "--json")
    assert code == 0 and "random" in [r["name"] for r in json.loads(out)]
    code, out, _ = _run(capsys, "spaces", "--json")
    assert code == 0 and "mlp" in [r["name"] for r in json.loads(out)]
    code, out, _ = _run(capsys, "datasets", "--json")
    names = [r["name"] for r in json.loads(out)]
    assert code == 0 and {
        "iris",
        "digits",
        "wine",
        "breast-cancer",
        "mnist",
        "fashion-mnist",
    } <= set(names)


def test_one_strategys_options(capsys: pytest.CaptureFixture[str]) -> None:
    from quarch.search import strategy_options

    code, out, _ = _run(capsys, "strategies", "qubo-sqa", "--json")
    row = json.loads(out)
    assert code == 0 and row["name"] == "qubo-sqa"
    assert row["options"] == strategy_options("qubo-sqa") and row["options"]["n_startup"] == 20
    code, out, _ = _run(capsys, "strategies", "qubo-sqa")
    assert code == 0 and "escape_patience" in out and "n_startup" in out
    code, out, _ = _run(capsys, "strategies", "tpe", "--json")
    assert json.loads(out)["options"]["multivariate"] is True
    code, _, err = _run(capsys, "strategies", "nope")
    assert code == 2 and err.startswith("error: unknown strategy 'nope'; choose from: qiea,")
    from quarch.search import STRATEGIES

    def mine(**kw: Any) -> optuna.samplers.BaseSampler:  # listed here, never built
        return optuna.samplers.RandomSampler(**kw)

    STRATEGIES.add("mine", mine, "a user's own")
    try:
        code, out, _ = _run(capsys, "strategies", "mine")
        assert code == 0 and "its options are not known to quarch" in out
        code, out, _ = _run(capsys, "strategies", "mine", "--json")
        assert json.loads(out) == {"name": "mine", "description": "a user's own", "options": None}
    finally:
        STRATEGIES.remove("mine")
    code, out, _ = _run(capsys, "strategies", "--json")
    kinds = {r["name"]: r["kind"] for r in json.loads(out)}
    assert kinds["qiea"] == "quantum-inspired" and kinds["tpe"] == "classical"


@pytest.mark.parametrize("cmd", ["search", "datasets", "strategies", "spaces"])
def test_every_command_has_help(capsys: pytest.CaptureFixture[str], cmd: str) -> None:
    code, out, _ = _run(capsys, cmd, "--help")
    assert code == 0 and "Usage" in out


def test_config_file_with_flag_override(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cfg = tmp_path / "search.toml"
    cfg.write_text(
        'space = "mlp"\ndataset = "wine"\nstrategy = "random"\ntrials = 5\nepochs = 2\n'
        'objectives = ["val_error", "flops"]\nbudgets = ["params<=5000"]\n'
        "[space_options]\nmax_layers = 2\n"
    )
    out = tmp_path / "run"
    code, stdout, err = _run(
        capsys, "search", "--config", str(cfg), "--trials", "3", "--out", str(out), "--json"
    )
    assert code == 0, err
    assert json.loads(stdout)["complete"] == 3  # the flag overrode the file's 5
    saved = json.loads((out / "config.json").read_text())
    assert saved["dataset"] == "wine" and saved["trials"] == 3
    assert saved["objectives"] == ["val_error", "flops"] and saved["budgets"] == ["params<=5000"]
    assert saved["space_options"] == {"max_layers": 2}


def test_config_file_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('spcae = "mlp"\n')
    code, _, err = _run(capsys, "search", "--config", str(bad), "--out", str(tmp_path / "r"))
    assert code == 2 and err.startswith("error: unknown config key(s) ['spcae']")
    broken = tmp_path / "broken.toml"
    broken.write_text("trials = = 3\n")
    code, _, err = _run(capsys, "search", "--config", str(broken), "--out", str(tmp_path / "r"))
    assert code == 2 and err.startswith("error: cannot parse config file")


def test_python_dash_m_quarch_is_the_command() -> None:
    """`python -m quarch` runs the same entry point: listings and one-line errors alike."""
    ok = subprocess.run([sys.executable, "-m", "quarch", "strategies", "--json"],
                        capture_output=True, text=True, timeout=120)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "qiea" in {s["name"] for s in json.loads(ok.stdout)}
    bad = subprocess.run([sys.executable, "-m", "quarch", "search", "--space", "nope"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and bad.stderr.startswith("error:")


def test_full_int8_needs_the_int8_format(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ["export", str(tmp_path), "--trial", "0", "--format", "onnx", "--full-int8"]
    code, out, err = _run(capsys, *args, "--out", str(tmp_path / "m.onnx"))
    assert code == 2 and out == ""
    assert err == "error: --full-int8 applies to --format onnx-int8, not 'onnx'\n"


# -- issue 20: the user's path ----------------------------------------------------------
@pytest.mark.parametrize("cmd", ["search", "export", "train", "report", "trials", "worker"])
def test_help_reads_plainly(capsys: pytest.CaptureFixture[str], cmd: str) -> None:
    """No '<bool>' after flags, no '{run}' in the usage line, the defaults shown."""
    code, out, _ = _run(capsys, cmd, "--help")
    assert code == 0
    assert "<bool>" not in out and "{" not in out.splitlines()[0]
    if cmd in ("export", "train", "report", "trials"):
        assert out.splitlines()[0] == f"Usage: quarch {cmd} [OPTIONS] RUN"
    if cmd == "search":
        for text in ("[default: random]", "[default: 20]", "[default: none]", "--pruner",
                     "--dry-run", "--overwrite", "--evaluator-option"):  # fmt: skip
            assert text in out, text
    if cmd == "export":
        assert "including the one-channel stem that is kept in float by default" in " ".join(
            out.split()
        )


def test_dry_run_checks_everything_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = _run(capsys, "search", "--space", "mlp", "--dry-run", "--json",
                          "--out", str(tmp_path / "r"), "--data-dir", "rel/data")  # fmt: skip
    assert code == 0, err
    cfg = json.loads(out)
    assert cfg["dataset"] == "iris"  # the space's default, as the run would store it
    assert cfg["data_dir"] == str((Path.cwd() / "rel" / "data").resolve())
    assert not (tmp_path / "r").exists()


def test_weighted_summary_names_the_chosen_trial(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = _run(capsys, "search", "--space", "mlp", "--weights", "1,0.001", "--trials",
                        "4", "--epochs", "2", "--out", str(tmp_path / "r"), "--quiet")  # fmt: skip
    assert code == 0
    from quarch.study import Run

    res = Run.open(tmp_path / "r").result()
    costs = {t.number: t.metrics["val_error"] + 0.001 * t.metrics["params"] for t in res.complete}
    best = min(costs, key=lambda n: costs[n])
    line = next(ln for ln in out.splitlines() if ln.startswith("chosen:"))
    assert line.startswith(f"chosen: trial {best}, weighted cost {costs[best]:.4g}")
    code, out, _ = _run(capsys, "search", "--resume", str(tmp_path / "r"), "--json")
    assert json.loads(out)["best"]["weighted_cost"] == pytest.approx(costs[best])


def test_timeout_and_nothing_to_do_are_said(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run = tmp_path / "r"
    code, _, err = _run(capsys, "search", "--space", "mlp", "--trials", "500", "--epochs", "1",
                        "--timeout", "1", "--out", str(run), "--quiet")  # fmt: skip
    assert code == 0
    from quarch.study import Run

    done = Run.open(run).result().done
    assert err == (
        f"note: stopped by --timeout after 1 s with {done} of 500 trials done; continue with "
        f"`quarch search --resume {run}`\n"
    )
    code, _, err = _run(capsys, "search", "--resume", str(run), "--trials", "1", "--quiet")
    assert code == 0 and err.startswith(f"note: the run already has {done} trials done")


def test_trials_lists_states_reasons_and_durations(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from quarch.config import SearchConfig
    from quarch.study import run_search
    from quarch.testing.evaluators import FaultyEvaluator

    cfg = SearchConfig(space="mlp", dataset="iris", trials=4, seed=3, out=str(tmp_path / "r"),
                       space_options={"max_layers": 3})  # fmt: skip
    res = run_search(cfg, evaluator=FaultyEvaluator(), progress=False)
    code, out, _ = _run(capsys, "trials", str(tmp_path / "r"), "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["number"] for r in rows] == [t.number for t in res.trials]
    for r, t in zip(rows, res.trials, strict=True):
        assert r["state"] == t.state and r["duration_s"] >= 0
        n_layers = t.params["n_layers"]
        if n_layers == 3:
            assert r["state"] == "FAIL"
            assert r["reason"] == "RuntimeError: evaluator exploded on purpose"
        elif n_layers == 2:
            assert r["state"] == "FAIL" and "not finite" in r["reason"]
        else:
            assert r["state"] == "COMPLETE" and r["reason"] is None
            assert r["metrics"]["val_error"] == pytest.approx(0.1 + 0.001 * t.params["width_0"])
    code, out, _ = _run(capsys, "trials", str(tmp_path / "r"), "--state", "fail", "--json")
    assert [r["number"] for r in json.loads(out)] == [t.number for t in res.failed]
    for state in ("complete", "pruned", "failed", "running", "WAITING"):  # every spelling taken
        code, out, _ = _run(capsys, "trials", str(tmp_path / "r"), "--state", state, "--json")
        want = "FAIL" if state == "failed" else state.upper()
        assert code == 0
        assert [r["number"] for r in json.loads(out)] == [
            t.number for t in res.trials if t.state == want
        ]
    code, out, _ = _run(capsys, "trials", str(tmp_path / "r"))
    assert code == 0 and "exploded" in out


def test_resume_accepts_what_the_api_allows(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--data-dir, --workers, --device, --pruner and the timeouts may change on resume
    (SearchConfig.RESUMABLE_CHANGES); checked with --dry-run, which writes nothing."""
    run = tmp_path / "r"
    code, _, err = _run(capsys, "search", "--space", "mlp", "--trials", "1", "--epochs", "1",
                        "--out", str(run), "--quiet")  # fmt: skip
    assert code == 0, err
    before = (run / "config.json").read_text()
    code, out, err = _run(capsys, "search", "--resume", str(run), "--workers", "2",
                          "--data-dir", str(tmp_path), "--trial-timeout", "60", "--trials", "3",
                          "--dry-run", "--json")  # fmt: skip
    assert code == 0, err
    cfg = json.loads(out)
    assert (cfg["workers"], cfg["trials"], cfg["trial_timeout"]) == (2, 3, 60.0)
    assert cfg["data_dir"] == str(tmp_path.resolve())
    assert (run / "config.json").read_text() == before
