"""Qubit-layout co-search under a device's noise, and the speed of noisy evaluation.

**Co-search** (``--part cosearch``): on each device and data set, for each seed, two
``hqnn`` searches with the same strategy and budget:

* *co-search*: the layout is a choice (``--space-option layouts=K``: the K best regions
  of the device) and each architecture is scored by its noisy validation error on the
  device's noise model (``--noise device``, objective ``noisy_val_error``);
* *baseline*: the default layout (the best region) and noiseless scoring (objective
  ``val_error``).

Each search's pick (its best trial) is judged the same way: the test accuracy of its
trained weights on the device's noise model, beside its noiseless test accuracy and the
test accuracy of its classical ablation (same front-end and head, the circuit replaced
by a classical layer of equal parameter count).

**Speed** (``--part speed``): noisy evaluation of a 10-qubit, 2-layer architecture
routed on a device, on 30 samples, every expectation to a standard error of 0.01 or
better: quarch's trajectories (and its exact density matrices) against ``qiskit-aer``
simulating the same 30 routed circuits with the same noise model, exactly with its
density-matrix method and with the shots its state-vector method needs for that
error, in alternating rounds.

    python benchmarks/device_cosearch.py [--part both] [--seeds 3] [--trials 12]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from quarch.config import SearchConfig
from quarch.cost.device_costs import device_noise, observables_on_device
from quarch.cost.devices import get_calibration
from quarch.cost.routing import route
from quarch.evaluate import torch_threads
from quarch.quantum.noisy_circuit import noisy_circuit_expval
from quarch.quantum.trajectories import trajectory_expval
from quarch.spaces import get_spec
from quarch.spaces.hqnn.model import build_circuit, observables_of
from quarch.study import Run, run_search

ARCH10 = {
    "embedding": "angle-y", "qubits": 10, "layers": 2, "rotation_0": "rot", "rotation_1": "rot",
    "entanglement_0": "ring", "entanglement_1": "ring", "entangler": "cnot", "reupload": False,
    "measurement": "z", "frontend": "linear", "head": "linear", "lr": 0.01,
}  # fmt: skip


# -- speed ------------------------------------------------------------------------------
def _aer_sim(routed: Any, method: str) -> tuple[Any, Any]:
    """Aer on the region only (no idle qubits), its noise model built by Aer from the
    region's calibration (the numbers of ``NoiseModel.from_backend``): Aer's fastest
    set-up for these circuits."""
    from qiskit_aer import AerSimulator
    from qiskit_aer.noise import NoiseModel
    from qiskit_aer.noise.device.models import (
        basic_device_gate_errors,
        basic_device_readout_errors,
    )

    cal = get_calibration(routed.device)
    assert cal is not None
    sub = cal.sub_target(routed.region)
    nm = NoiseModel(basis_gates=["rz", "sx", "x", cal.two_qubit_gate])
    for name, qubits, err in basic_device_gate_errors(target=sub):
        nm.add_quantum_error(err, name, qubits)
    for qubits, err in basic_device_readout_errors(target=sub):
        nm.add_readout_error(err, qubits)
    return AerSimulator(method=method, noise_model=nm), nm


def _bound(routed: Any, w: np.ndarray, x: np.ndarray) -> list[Any]:
    qc = routed.qiskit
    out = []
    for row in x:
        vals = {p: float(w[int(p.name[2:-1])] if p.name[0] == "w" else row[int(p.name[2:-1])])
                for p in qc.parameters}  # fmt: skip
        out.append(qc.assign_parameters(vals))
    return out


def _aer_dm(routed: Any, circuits: list[Any], words: list[dict[int, str]]) -> np.ndarray:
    """Exact expectations from Aer's density matrix, readout error applied with Aer's
    own readout matrices (Aer applies them to sampled bits only)."""
    sim, nm = _aer_sim(routed, "density_matrix")
    n = routed.n_qubits
    runs = []
    for qc in circuits:
        qc = qc.copy()
        qc.save_probabilities(list(range(n)))
        runs.append(qc)
    res = sim.run(runs, shots=1).result()
    conf = {tuple(q): np.asarray(e.probabilities) for q, e in _readout(routed)}
    del nm
    idx = np.arange(2**n)
    out = np.empty((len(runs), len(words)))
    for k in range(len(runs)):
        p = np.asarray(res.data(k)["probabilities"]).reshape([2] * n)
        for i in range(n):
            ax = n - 1 - i
            p = np.moveaxis(np.tensordot(p, conf[(i,)], axes=([ax], [0])), -1, ax)
        flat = p.reshape(-1)
        for j, word in enumerate(words):
            par = np.zeros_like(idx)
            for q in word:
                par ^= (idx >> q) & 1
            out[k, j] = float(np.sum(flat * (1 - 2 * par)))
    return out


def _readout(routed: Any) -> list[Any]:
    from qiskit_aer.noise.device.models import basic_device_readout_errors

    cal = get_calibration(routed.device)
    assert cal is not None
    return basic_device_readout_errors(target=cal.sub_target(routed.region))


def _aer_shots(routed: Any, circuits: list[Any], shots: int) -> None:
    sim, _ = _aer_sim(routed, "statevector")
    runs = []
    for qc in circuits:
        qc = qc.copy()
        qc.measure_all()
        runs.append(qc)
    sim.run(runs, shots=shots, seed_simulator=0).result()


def speed(a: argparse.Namespace) -> None:
    print(f"\n== speed: 10 qubits, 2 layers on {a.speed_device}, {a.samples} samples ==")
    c = build_circuit(ARCH10)
    r = route(c, a.speed_device, seed=0)
    nc = device_noise(r)
    words = observables_on_device(r, observables_of(ARCH10))
    rng = np.random.default_rng(0)
    w = rng.uniform(-np.pi, np.pi, c.n_weights)
    x = rng.uniform(-np.pi, np.pi, (a.samples, c.n_inputs))
    xt, wt = torch.tensor(x), torch.tensor(w)
    circuits = _bound(r, w, x)
    print(f"routed: {len(r.ops)} native gates, {r.two_qubit_gates} two-qubit, {r.swaps} SWAPs; "
          f"quarch on {a.threads} torch thread(s), Aer on its default OpenMP threads "
          f"({os.cpu_count()} cores), load average {os.getloadavg()}")  # fmt: skip
    times: dict[str, list[float]] = {"quarch trajectories": [], "aer density_matrix": []}
    if a.density:
        times["quarch density (complex64)"] = []
    exact = None
    tr = None
    for rnd in range(a.rounds):
        t0 = time.perf_counter()
        with torch_threads(a.threads):  # as the hqnn evaluator runs circuits of <= 10 qubits
            tr = trajectory_expval(nc, words, inputs=xt, weights=wt, target_se=0.01, seed=rnd)
        times["quarch trajectories"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        exact = _aer_dm(r, circuits, words)
        times["aer density_matrix"].append(time.perf_counter() - t0)
        if a.density:
            t0 = time.perf_counter()
            with torch_threads(a.threads):
                noisy_circuit_expval(nc, words, inputs=xt, weights=wt, dtype=torch.complex64)
            times["quarch density (complex64)"].append(time.perf_counter() - t0)
    assert tr is not None and exact is not None
    shots = 10_000  # SE of a +-1 mean is at most 1/sqrt(shots) = 0.01
    t0 = time.perf_counter()
    _aer_shots(r, circuits[: a.shot_circuits], shots)
    per = (time.perf_counter() - t0) / a.shot_circuits
    z = np.abs(tr.mean.double().numpy() - exact) / tr.stderr.double().numpy()
    for name, ts in times.items():
        print(
            f"{name:28s} median {statistics.median(ts):8.2f} s  rounds {[round(t, 2) for t in ts]}"
        )
    print(f"{'aer statevector, 10^4 shots':28s} {per:8.2f} s per circuit, measured on "
          f"{a.shot_circuits} circuits: {per * a.samples:.1f} s for {a.samples} (estimate)")  # fmt: skip
    q, best = (
        statistics.median(times["quarch trajectories"]),
        statistics.median(times["aer density_matrix"]),
    )
    print(f"trajectories: {tr.trajectories} patterns, P(no jump) {tr.no_jump_probability:.3f}, "
          f"largest standard error {float(tr.stderr.max()):.4f}, "
          f"{100 * (z <= 3).mean():.1f} % of {z.size} values within 3 SE of Aer's exact value")  # fmt: skip
    print(f"speed-up over Aer's fastest (density_matrix): {best / q:.2f}x")


# -- co-search --------------------------------------------------------------------------
def _judge(run_dir: Path, device: str, dataset: str, seed: int, layouts: int) -> dict[str, float]:
    """Noisy and noiseless test accuracy of the run's pick, and its classical ablation."""
    run = Run.open(run_dir)
    res = run.result()
    obj = res.objective.names[0]
    pick = min(res.complete, key=lambda t: (t.metrics[obj], t.metrics["val_error"], t.number))
    space_opts: dict[str, Any] = {"max_layers": 2}
    if layouts:
        space_opts["layouts"] = layouts
    cfg = SearchConfig(
        space="hqnn", dataset=dataset, seed=seed, space_options=space_opts,
        evaluator_options={"device_profile": device, "noise": "device",
                           "noise_samples": 10**6, "save_weights": False},
    )  # fmt: skip
    spec = get_spec("hqnn")
    ev: Any = spec.make_evaluator(spec.build_space(cfg), cfg)
    assert pick.seed is not None
    model = ev.build(pick.params, seed=pick.seed)
    state = run.saved_weights(pick.seed)
    assert state is not None
    model.load_state_dict(state)
    noisy = ev.costs.noisy_scores(pick.params, model, seed=0, split="test")["noisy_test_error"]
    _, abl = ev.fit_ablation(pick.params, seed=pick.seed)
    return {
        "noisy_test_acc": 100 * (1 - noisy),
        "test_acc": 100 * (1 - pick.metrics["test_error"]),
        "ablation_test_acc": 100 * (1 - abl["test_error"]),
        "qubits": pick.metrics["qubits"],
        "success": pick.metrics["success_probability"],
        "layout": float(pick.params.get("layout", 0)),
    }


def _ms(xs: list[float]) -> str:
    return f"{statistics.fmean(xs):6.2f} ± {statistics.stdev(xs) if len(xs) > 1 else 0.0:5.2f}"


def cosearch(a: argparse.Namespace) -> None:
    from scipy import stats

    print(f"\n== co-search: {a.trials} trials of {a.strategy}, {a.seeds} seeds, "
          f"layouts {a.layouts} ==")  # fmt: skip
    root = Path(a.out or tempfile.mkdtemp(prefix="cosearch-"))
    pairs: list[tuple[float, float]] = []
    for device in a.devices.split(","):
        for dataset in a.datasets.split(","):
            rows: dict[str, list[dict[str, float]]] = {"co-search": [], "baseline": []}
            for seed in range(a.seeds):
                for arm in ("co-search", "baseline"):
                    co = arm == "co-search"
                    space_opts: dict[str, Any] = {"max_layers": 2}
                    ev_opts: dict[str, Any] = {"device_profile": device}
                    if co:
                        space_opts["layouts"] = a.layouts
                        ev_opts["noise"] = "device"
                    out = root / f"{device}-{dataset}-{seed}-{arm}"
                    t0 = time.perf_counter()
                    run_search(
                        SearchConfig(
                            space="hqnn", dataset=dataset, strategy=a.strategy, trials=a.trials,
                            seed=seed, objectives=["noisy_val_error" if co else "val_error"],
                            space_options=space_opts, evaluator_options=ev_opts, out=str(out),
                        ),
                        progress=False,
                    )  # fmt: skip
                    j = _judge(out, device, dataset, seed, a.layouts if co else 0)
                    rows[arm].append(j)
                    print(f"{device:14s} {dataset:6s} seed {seed} {arm:9s} noisy test "
                          f"{j['noisy_test_acc']:6.2f}  test {j['test_acc']:6.2f}  ablation "
                          f"{j['ablation_test_acc']:6.2f}  qubits {j['qubits']:.0f} layout "
                          f"{j['layout']:.0f} ESP {j['success']:.3f}  "
                          f"({time.perf_counter() - t0:.0f} s)", flush=True)  # fmt: skip
            for c_row, b_row in zip(rows["co-search"], rows["baseline"], strict=True):
                pairs.append((c_row["noisy_test_acc"], b_row["noisy_test_acc"]))
            print(f"-- {device} {dataset}: noisy test accuracy co-search "
                  f"{_ms([r['noisy_test_acc'] for r in rows['co-search']])}, baseline "
                  f"{_ms([r['noisy_test_acc'] for r in rows['baseline']])}; noiseless test "
                  f"{_ms([r['test_acc'] for r in rows['co-search']])} / "
                  f"{_ms([r['test_acc'] for r in rows['baseline']])}; classical ablation "
                  f"{_ms([r['ablation_test_acc'] for r in rows['co-search']])} / "
                  f"{_ms([r['ablation_test_acc'] for r in rows['baseline']])}")  # fmt: skip
    co_acc = [c for c, _ in pairs]
    base_acc = [b for _, b in pairs]
    diff = [c - b for c, b in pairs]
    t = stats.ttest_rel(co_acc, base_acc)
    wil = stats.wilcoxon(co_acc, base_acc) if any(diff) else None
    print(f"\nall {len(pairs)} pairs: co-search {_ms(co_acc)}, baseline {_ms(base_acc)}, "
          f"difference {_ms(diff)} points; paired t-test p = {t.pvalue:.3f}"
          + (f", Wilcoxon p = {wil.pvalue:.3f}" if wil is not None else ""))  # fmt: skip
    print(f"runs in {root}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=["speed", "cosearch", "both"], default="both")
    p.add_argument("--devices", default="ibm-torino,ibm-sherbrooke")
    p.add_argument("--datasets", default="iris,wine")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--trials", type=int, default=12)
    p.add_argument("--strategy", default="tpe")
    p.add_argument("--layouts", type=int, default=4)
    p.add_argument("--out", default=None, help="folder for the runs (default: a temp folder)")
    p.add_argument("--speed-device", default="ibm-fez")
    p.add_argument("--samples", type=int, default=30)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--shot-circuits", type=int, default=2)
    p.add_argument("--density", action="store_true", help="also time quarch's density matrices")
    p.add_argument("--threads", type=int, default=1, help="torch threads for quarch")
    a = p.parse_args()
    if a.part in ("speed", "both"):
        speed(a)
    if a.part in ("cosearch", "both"):
        cosearch(a)


if __name__ == "__main__":
    main()
