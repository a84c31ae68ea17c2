"""Wall time of the README's first command, this quarch against an older copy.

The command (``quarch search --space hqnn --dataset iris --strategy qiea --trials 20
--seed 0 --report``) is what a new user runs first; its time is imports, the study's
database, the trainings of 2-4-qubit hybrids and the HTML report. Each round runs the
older copy and this one back to back as fresh processes (alternating which goes first),
so both see the same machine load; it prints every wall time, the medians, their ratio,
the ratio within each round (robust to load that drifts between rounds), and whether the two runs' Pareto sets (architectures and metrics) are the same.

Run: ``python benchmarks/first_command.py --baseline quarch_old [--rounds 3]``
(``--diverge N``: train trial ``N`` of the older copy's run with both copies instead,
and print where their outputs and losses part), where
``quarch_old`` is an older quarch importable under that name (a copy of ``src/quarch``
with its imports renamed, on ``PYTHONPATH``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

COMMAND = ["search", "--space", "hqnn", "--dataset", "iris", "--strategy", "qiea",
           "--trials", "20", "--seed", "0", "--report"]  # fmt: skip

PARETO = """
import json, sys
from {module}.study import Run
result = Run.open(sys.argv[1]).result()
objective = result.objective.metrics
def row(t):
    return {{"params": t.params, "metrics": {{k: round(float(v), 9) for k, v in t.metrics.items()
        if k in objective}}}}
print(json.dumps({{"pareto": sorted([row(t) for t in result.pareto], key=json.dumps),
                  "trials": [row(t) for t in sorted(result.trials, key=lambda t: t.number)]}}))
"""


def run_once(module: str, out: Path) -> float:
    """Seconds of wall time of one run of the command with ``python -m module``."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", module, *COMMAND, "--out", str(out)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - t0


def pareto(module: str, out: Path) -> dict[str, list[dict[str, object]]]:
    """The run's Pareto set and its trials in order (architecture, objective metrics)."""
    code = PARETO.format(module=module)
    got = subprocess.run([sys.executable, "-c", code, str(out)], check=True,
                         capture_output=True, text=True)  # fmt: skip
    return json.loads(got.stdout)  # type: ignore[no-any-return]


def explain(old: list[dict[str, object]], new: list[dict[str, object]]) -> None:
    """Where two runs part: per trial, whether the architecture and the metrics agree.

    The search is deterministic for one engine on one machine, but two engines round
    float32 differently (the same circuit, other operations in another order); training
    amplifies differences of about 1e-7 into another best validation error for some
    architectures, and the strategy's next proposals follow those scores."""
    pairs = list(zip(old, new, strict=True))
    first_arch = next((i for i, (a, b) in enumerate(pairs) if a["params"] != b["params"]), None)
    print(f"first trial with another architecture: {first_arch}")
    for i, (a, b) in enumerate(pairs):
        if a["params"] == b["params"] and a["metrics"] != b["metrics"]:
            print(f"  trial {i}: same architecture, metrics {a['metrics']} -> {b['metrics']}")


def diverge(module: str, trial: int) -> None:
    """Train trial ``trial`` of a run of the older copy again, in this process, with both
    copies (same architecture, same seed, one torch thread as the evaluator trains) and
    print where their outputs and training losses part: the check behind the claim that
    a different Pareto set comes from float32 rounding, not from a different model."""
    import importlib

    import torch

    torch.set_num_threads(1)
    run_seed = int(COMMAND[COMMAND.index("--seed") + 1])
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        run_once(module, out)
        got: dict[str, tuple[torch.Tensor, list[float], dict[str, float]]] = {}
        for mod in (module, "quarch"):
            run = importlib.import_module(f"{mod}.study").Run.open(out)
            t = next(t for t in run.result().trials if t.number == trial)
            seed = importlib.import_module(f"{mod}.study._worker").trial_seed(run_seed, trial)
            ev = run.evaluator()
            arch = ev.space.validate(t.params)
            model = ev.build(arch, seed=seed)
            with torch.no_grad():
                first = model(torch.as_tensor(ev.data.X_train, dtype=torch.float32))
            losses: list[float] = []
            plain = torch.nn.CrossEntropyLoss.forward

            def record(
                self: torch.nn.CrossEntropyLoss,
                input: torch.Tensor,
                target: torch.Tensor,
                _plain: Any = plain,
                _l: list[float] = losses,
            ) -> torch.Tensor:
                value = _plain(self, input, target)
                _l.append(float(value.detach()))
                return value

            torch.nn.CrossEntropyLoss.forward = record  # type: ignore[method-assign]
            try:
                training = importlib.import_module(f"{mod}.evaluate.training")
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(seed)
                    res = training.train_classifier(
                        model, ev.data, epochs=ev.epochs, lr=float(arch["lr"]),
                        batch_size=ev.batch_size, seed=seed, early_stopping=True,
                    )  # fmt: skip
            finally:
                torch.nn.CrossEntropyLoss.forward = plain  # type: ignore[method-assign]
            got[mod] = (first, losses, res)
    (a0, la, ra), (b0, lb, rb) = got[module], got["quarch"]
    print(f"trial {trial}: initial outputs differ by at most {float((a0 - b0).abs().max()):.3g} "
          f"(largest output {float(a0.abs().max()):.3g})")  # fmt: skip
    steps = min(len(la), len(lb))
    for limit in (1e-6, 1e-4, 1e-2):
        k = next((i for i in range(steps) if abs(la[i] - lb[i]) > limit), None)
        print(f"  first training step whose losses differ by more than {limit:g}: {k} of {steps}")
    for mod, r in ((module, ra), ("quarch", rb)):
        print(f"  {mod}: " + ", ".join(f"{k} {v:.6g}" for k, v in sorted(r.items())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", required=True, help="module name of the older copy")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--diverge", type=int, metavar="TRIAL",
                        help="instead: train this trial of the older copy's run with both "
                        "copies and print where they part")  # fmt: skip
    args = parser.parse_args()
    if args.diverge is not None:
        diverge(args.baseline, args.diverge)
        return
    times: dict[str, list[float]] = {args.baseline: [], "quarch": []}
    fronts: dict[str, dict[str, list[dict[str, object]]]] = {}
    print(f"load average at the start: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            order = [args.baseline, "quarch"][:: 1 if r % 2 == 0 else -1]
            for module in order:
                out = Path(tmp) / f"{module}_{r}"
                times[module].append(run_once(module, out))
                fronts.setdefault(module, pareto(module, out))
                print(f"round {r}: {module:>10} {times[module][-1]:8.2f} s "
                      f"(load {os.getloadavg()[0]:.1f})", flush=True)  # fmt: skip
    old, new = (statistics.median(times[m]) for m in (args.baseline, "quarch"))
    print(f"median wall: {args.baseline} {old:.3f} s, quarch {new:.3f} s, ratio {new / old:.4f}")
    paired = [n / o for n, o in zip(times["quarch"], times[args.baseline], strict=True)]
    print(f"per-round ratios (same load): {' '.join(f'{r:.4f}' for r in paired)}; "
          f"median {statistics.median(paired):.4f}")  # fmt: skip
    same = fronts[args.baseline]["pareto"] == fronts["quarch"]["pareto"]
    print(f"Pareto sets identical: {same} ({len(fronts['quarch']['pareto'])} architectures)")
    if not same:
        explain(fronts[args.baseline]["trials"], fronts["quarch"]["trials"])
        print(json.dumps({m: f["pareto"] for m, f in fronts.items()}, indent=1))


if __name__ == "__main__":
    main()
