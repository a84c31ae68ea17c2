"""Which physical qubits a trial was scored on: recorded with the trial, checked again.

A ``layout`` choice ``i`` names the ``i``-th region of the circuit's own order *as
computed when asked* (:func:`~quarch.cost.routing.layout_regions`, afresh in every
process): the device's regions ranked by their calibration
(:meth:`~quarch.cost.calibration.Calibration.regions`), the first
:data:`~quarch.cost.routing.RERANKED` of them re-ranked by the success probability the
circuit routes to on each. So two circuits of one width may put the same ``layout`` on
other qubits, and the ranking is quarch's code (a beam search replaced a greedy growth;
the re-ranking came later) over the calibration file and the router of the installed
Qiskit, any of which can change between a search and its report, export or resume; then
``layout 2`` names other qubits than those the trial's success probability, routed
depth and SWAPs were computed on, and quarch's version (which never changes) cannot
tell.

So, as a transpiled Qiskit circuit keeps its layout, every routed trial records its
region in its metrics: ``region_qubit_<i>`` is the physical qubit of the region's
local wire ``i`` (:func:`region_metrics`; metrics are the one record every way of
running a trial writes, Ray and worker processes included). The report and ``quarch
export`` route on the recorded qubits (:func:`routed_for_trial`) and say in one warning
when the fresh ranking names others; a resume refuses such a run
(:func:`check_resumed`), because its new trials would be scored on other qubits than
its old trials of the same ``layout``.

A run written before the record existed (no ``region_qubit_0``) cannot be checked
region by region. Its recorded ``success_probability`` is checked instead: it is a
function of the qubits, the routing and the calibration, so a value that differs on the
region the layout names now proves the region (or the calibration) changed; the report
and export then warn, and a resume refuses. An equal value is taken as the same region.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any

from quarch._errors import ConfigError, RunError
from quarch._warnings import warn
from quarch.cost.calibration import Calibration
from quarch.cost.devices import get_calibration
from quarch.cost.routing import RoutedCircuit, layout_regions, route
from quarch.quantum.circuit import Circuit

__all__ = [
    "REGION_METRIC",
    "check_resumed",
    "place_trial",
    "recorded_region",
    "region_metrics",
    "route_on_region",
    "routed_for_trial",
]

#: Prefix of the metrics that record a routed trial's region (``region_qubit_0``, ...).
REGION_METRIC = "region_qubit_"

#: Relative difference of a recomputed success probability that proves another region
#: or calibration: the same qubits, routing and calibration give the same float (JSON
#: keeps a float exactly), so the margin only absorbs another machine's last digits of
#: ``exp`` and ``log``; one changed calibration figure moves it far more.
_SAME = 1e-12


def region_metrics(region: Iterable[int]) -> dict[str, float]:
    """The metrics that record ``region`` (local wire ``i`` is ``region_qubit_<i>``).

    Example:
        >>> region_metrics((4, 2))
        {'region_qubit_0': 4.0, 'region_qubit_1': 2.0}
    """
    return {f"{REGION_METRIC}{i}": float(q) for i, q in enumerate(region)}


def recorded_region(metrics: Mapping[str, Any] | None) -> tuple[int, ...] | None:
    """The region a trial's metrics record, or ``None`` when they record none (a trial
    of an older quarch, or one that was not routed).

    Raises:
        RunError: a record that is no list of distinct qubit numbers (a damaged run).
    """
    metrics = metrics or {}
    out: list[int] = []
    while f"{REGION_METRIC}{len(out)}" in metrics:
        value = metrics[f"{REGION_METRIC}{len(out)}"]
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            raise RunError(f"recorded region qubit {value!r} is not a qubit number")
        out.append(int(value))
    if len(set(out)) != len(out) or any(q < 0 for q in out):
        raise RunError(f"recorded region {out} is not a set of distinct qubit numbers")
    return tuple(out) if out else None


def current_region(
    device: str, circuit: Circuit, layout: int, *, seed: int = 0, optimization_level: int = 2
) -> tuple[int, ...]:
    """The region ``layout`` names on ``device`` for ``circuit`` now (the circuit's own
    order, computed afresh: :func:`~quarch.cost.routing.layout_regions`), as
    :func:`~quarch.cost.routing.route` picks it (an index past the last wraps)."""
    _calibration(device)
    regions = layout_regions(circuit, device, seed=seed, optimization_level=optimization_level)
    return regions[layout % len(regions)]


def _calibration(device: str) -> Calibration:
    cal = get_calibration(device)
    if cal is None:
        raise ConfigError(f"{device!r} has no calibration, so no regions")
    return cal


def route_on_region(
    circuit: Circuit,
    device: str,
    region: tuple[int, ...],
    *,
    seed: int = 0,
    optimization_level: int = 2,
) -> RoutedCircuit:
    """``circuit`` routed on the physical qubits ``region`` (in that order) of ``device``:
    the circuit a trial recorded on ``region`` was scored with (a region the ranking
    still names is the very call the search made, cached).

    Raises:
        RunError: ``region`` does not fit the circuit or the device (a damaged run).
    """
    _calibration(device)  # a hand profile: the user's device, not the record
    try:
        return route(
            circuit, device, region=region, seed=seed, optimization_level=optimization_level
        )
    except ConfigError as e:  # the region is the run's record, not the user's argument
        raise RunError(f"recorded region {list(region)} cannot be routed: {e}") from None


@dataclasses.dataclass(frozen=True)
class Drift:
    """A trial whose recorded placement is not what its ``layout`` names now."""

    trial: int
    device: str
    layout: int
    current: tuple[int, ...]
    recorded: tuple[int, ...] | None = None  # None: an old trial, told by its costs
    recorded_p: float = math.nan
    current_p: float = math.nan

    def words(self) -> str:
        """One clause: the trial, what it recorded and what the layout names now."""
        now = f"qubits {list(self.current)} of {self.device}"
        if self.recorded is not None:
            return (
                f"trial {self.trial} was scored on qubits {list(self.recorded)}, but its "
                f"layout {self.layout} names {now} now"
            )
        return (
            f"trial {self.trial} records no region (an older quarch's run, or stopped "
            f"before training), and its success probability {self.recorded_p:.6g} is "
            f"{self.current_p:.6g} on {now}, which its layout {self.layout} names now"
        )


def drift(
    costs: Any, arch: Mapping[str, Any], number: int, metrics: Mapping[str, Any] | None
) -> tuple[Drift | None, tuple[int, ...] | None]:
    """Whether trial ``number`` (``arch``, its ``metrics``) was scored on other qubits
    than its layout names now, and the qubits it was scored on (``None``: unknown, an old
    trial, or no routing at all).

    Args:
        costs: the run's :class:`~quarch.spaces.hqnn.costs.HybridCosts`.
    """
    device = costs.route_device
    if device is None:
        return None, None
    from quarch.spaces.hqnn.model import build_circuit

    circuit = build_circuit(arch)
    layout = int(arch.get("layout", 0))
    now = current_region(
        device, circuit, layout, seed=costs.transpile_seed,
        optimization_level=costs.optimization_level,
    )  # fmt: skip
    recorded = recorded_region(metrics)
    if recorded is not None:
        found = None if recorded == now else Drift(number, device, layout, now, recorded)
        return found, recorded
    p = (metrics or {}).get("success_probability")
    if not isinstance(p, int | float):  # never routed (failed before), nothing to check
        return None, None
    from quarch.cost.device_costs import success_probability

    fresh = success_probability(costs.routed(arch))
    if math.isclose(fresh, float(p), rel_tol=_SAME):
        return None, None
    return Drift(number, device, layout, now, None, float(p), fresh), None


def routed_for_trial(ev: Any, trial: Any) -> RoutedCircuit | None:
    """``trial``'s circuit routed where the trial was scored: on its recorded qubits,
    with a warning when its ``layout`` names others now (see the module docstring).

    Args:
        ev: the run's hqnn evaluator (its ``costs`` route).
        trial: a :class:`~quarch.study.TrialRecord` (``number``, ``params``, ``metrics``).
    """
    if ev.costs.route_device is None:
        return None
    arch, recorded = _where_scored(ev, trial)
    routed: RoutedCircuit | None = ev.costs.routed(arch, region=recorded)
    return routed


def place_trial(ev: Any, trial: Any) -> None:
    """Have ``ev`` train ``trial`` again where it was scored (``quarch train``): with
    ``noise_aware``, on its recorded qubits under their noise, with a warning when its
    ``layout`` names others now. Noiseless training does not depend on the qubits, and
    a noise of another device than the routed one is routed on that device's ranking
    (the record names the routed device's qubits): nothing to place then.

    Args:
        ev: the run's standalone hqnn evaluator.
        trial: a :class:`~quarch.study.TrialRecord`.
    """
    costs = ev.costs
    setup = costs.noise_setup
    if not ev.noise_aware or setup is None or setup.profile != costs.route_device:
        return
    arch, recorded = _where_scored(ev, trial)
    if recorded is not None:
        costs.place(arch, recorded)


def _where_scored(ev: Any, trial: Any) -> tuple[dict[str, Any], tuple[int, ...] | None]:
    """``trial``'s validated architecture and its recorded region (``None``: none), with
    one warning when its ``layout`` names other qubits now."""
    arch = ev.space.validate(trial.params)
    found, recorded = drift(ev.costs, arch, trial.number, trial.metrics)
    if found is not None:
        using = "the recorded qubits" if found.recorded is not None else "the current ones"
        warn(
            f"{found.words()} (quarch's region ranking or the installed Qiskit's "
            f"calibration changed since the search); using {using}"
        )
    return arch, recorded


def check_resumed(costs: Any, space: Any, trials: Iterable[Any], *, joining: bool = False) -> None:
    """Refuse to resume a run one of whose ``trials`` was scored on other qubits than
    its ``layout`` names now: the new trials would be scored on other regions than the
    old ones of the same layout, and the two could not be compared. ``joining``: a
    worker joining the run (``quarch worker``) on a machine whose quarch or Qiskit (its
    calibration files) differs from the run's, the likeliest way for the two to differ.

    Raises:
        RunError: in one line, naming the trial, its qubits and the current ones.
    """
    for t in trials:
        if not t.metrics:
            continue
        try:
            arch = space.validate(t.params)
        except Exception:  # an architecture this space cannot build: nothing routed
            continue
        found, _ = drift(costs, arch, t.number, t.metrics)
        if found is not None and joining:
            raise RunError(
                f"this worker cannot join: {found.words()} on this machine; its quarch or "
                "Qiskit (the device's calibration) differs from the run's, so its trials "
                "would be scored on other qubits: install the run's versions here"
            )
        if found is not None:
            raise RunError(
                f"cannot resume: {found.words()}; quarch's region ranking or the installed "
                "Qiskit's calibration changed since the search, so new trials would be "
                "scored on other qubits than the old ones: start a new run folder (--out)"
            )
