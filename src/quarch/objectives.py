"""What a search optimises: metric directions, weighted cost, budgets, Pareto sets.

An :class:`Objective` turns an evaluator's metrics into the values an Optuna study
optimises and the constraints that make an architecture infeasible:

* several metrics, each in its own direction (a multi-objective study), or
* one weighted cost ``C = sum_i w_i * m_i`` over metrics that are all minimised
  (``C = a*E_val + b*L_inf + c*M_size + d*P_energy``), a single-objective study;
* budgets such as ``latency_ms<=100``: Optuna constraints ``g <= 0`` (feasible when
  every ``g`` is at most 0), recorded with ``Trial.set_constraint``.

Pareto sets and hypervolumes use Optuna's own code.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from quarch._errors import ConfigError, did_you_mean

__all__ = [
    "METRICS",
    "Budget",
    "Objective",
    "hypervolume",
    "pareto_mask",
]

Direction = Literal["minimize", "maximize"]

#: Known metrics and the direction in which they improve.
METRICS: dict[str, Direction] = {
    "val_error": "minimize",
    "test_error": "minimize",
    "val_accuracy": "maximize",
    "test_accuracy": "maximize",
    "params": "minimize",
    "flops": "minimize",
    "macs": "minimize",
    "latency_ms": "minimize",
    "memory_kb": "minimize",
    "weights_kb": "minimize",
    "activation_kb": "minimize",
    "latency_model_ms": "minimize",
    "energy_mj": "minimize",
    "qubits": "minimize",
    "depth": "minimize",
    "two_qubit_gates": "minimize",
    "runtime_proxy": "minimize",
    "sim_time_ms": "minimize",
    "subcircuits": "minimize",
    "cut_overhead": "minimize",
    "noisy_val_error": "minimize",
    "noisy_se": "minimize",
    "zne_val_error": "minimize",
    # routed on a calibrated quantum device (quarch.cost.device_costs)
    "routed_depth": "minimize",
    "routed_two_qubit_gates": "minimize",
    "swaps": "minimize",
    "duration_us": "minimize",
    "success_probability": "maximize",
    "job_runtime_s": "minimize",
    "train_runtime_s": "minimize",
    # NB201 measured latencies (ms, batch 1; HELP / HW-NAS-Bench), named as in the table
    "raspi4": "minimize",
    "pixel3": "minimize",
    "eyeriss": "minimize",
    "fpga": "minimize",
    "gold_6226": "minimize",
    "1080ti_1": "minimize",
}

# A metric name may start with a digit: NB201's ``1080ti_1`` latency column.
_BUDGET_RE = re.compile(r"^\s*([A-Za-z0-9_]+)\s*(<=|>=|<|>)\s*([-+0-9.eE]+)\s*$")


def _check_metric(name: str, known: Mapping[str, Direction]) -> None:
    if name not in known:
        raise ConfigError(
            f"unknown metric {name!r}; known metrics: {', '.join(known)}"
            f"{did_you_mean([name], known)}"
        )


@dataclass(frozen=True)
class Budget:
    """A hard limit on one metric, e.g. ``Budget("latency_ms", "<=", 100)``.

    Its constraint value is ``value - limit`` for ``<=``/``<`` and ``limit - value`` for
    ``>=``/``>``: at most 0 means feasible, and the size says how far off it is.
    """

    metric: str
    op: Literal["<=", "<", ">=", ">"]
    limit: float

    @classmethod
    def parse(cls, text: str) -> Budget:
        """Parse ``"metric<=number"`` (also ``<``, ``>=``, ``>``).

        Raises:
            ConfigError: the text is not of that form.
        """
        m = _BUDGET_RE.match(text)
        if m is None:
            raise ConfigError(
                f"malformed budget {text!r}; expected METRIC<=NUMBER (or <, >=, >), "
                "e.g. latency_ms<=100"
            )
        try:
            limit = float(m.group(3))
        except ValueError:
            raise ConfigError(
                f"malformed budget {text!r}: {m.group(3)!r} is not a number"
            ) from None
        return cls(m.group(1), m.group(2), limit)  # type: ignore[arg-type]

    def violation(self, value: float) -> float:
        """Constraint value ``g``: feasible iff ``g <= 0`` (strict ops treat equality as +1e-12)."""
        g = value - self.limit if self.op in ("<=", "<") else self.limit - value
        if self.op in ("<", ">") and g == 0:
            g = 1e-12
        return float(g)

    def __str__(self) -> str:
        # ``:g`` keeps short limits short ("100", not "100.0"), but rounds to 6
        # significant digits; a limit it would change is written in full (Python's
        # shortest repr that reads back exactly), so a printed or saved budget parses
        # back to the same limit.
        text = f"{self.limit:g}"
        if float(text) != self.limit:
            text = repr(float(self.limit))
        return f"{self.metric}{self.op}{text}"


@dataclass(frozen=True)
class Objective:
    """Metrics to optimise, optional weights, and budgets.

    Args:
        metrics (Sequence[str]): metric names (see :data:`METRICS`).
        weights (Sequence[float] | None): if given, one weight per metric; the study
            minimises ``sum(w * m)``, and every metric must be one that is minimised.
        budgets (Sequence[Budget | str]): hard limits; a trial over any is infeasible.
        directions (Mapping[str, str] | None): directions of metrics not in
            :data:`METRICS` (for a user's own evaluator).

    Example:
        >>> obj = Objective(["val_error", "params"], budgets=["params<=1000"])
        >>> obj.directions, obj.values({"val_error": 0.1, "params": 500})
        (['minimize', 'minimize'], [0.1, 500.0])
    """

    metrics: tuple[str, ...]
    weights: tuple[float, ...] | None = None
    budgets: tuple[Budget, ...] = ()
    extra_directions: Mapping[str, Direction] = field(default_factory=dict)

    def __init__(
        self,
        metrics: Sequence[str],
        *,
        weights: Sequence[float] | None = None,
        budgets: Sequence[Budget | str] = (),
        directions: Mapping[str, Direction] | None = None,
    ) -> None:
        known = {**METRICS, **(directions or {})}
        ms = tuple(metrics)
        if not ms:
            raise ConfigError("at least one objective metric is required")
        for m in ms:
            _check_metric(m, known)
        if len(set(ms)) != len(ms):
            raise ConfigError(f"objective metrics repeat: {list(ms)}")
        ws: tuple[float, ...] | None = None
        if weights is not None:
            ws = tuple(float(w) for w in weights)
            if len(ws) != len(ms):
                raise ConfigError(
                    f"got {len(ws)} weights for {len(ms)} objectives {list(ms)}; give one each"
                )
            if any(not math.isfinite(w) or w < 0 for w in ws):
                raise ConfigError(f"weights must be finite and >= 0; got {list(ws)}")
            if not any(w > 0 for w in ws):  # every architecture would cost 0: no search
                raise ConfigError(
                    f"weights are all 0, so every architecture would cost the same; give at "
                    f"least one objective of {list(ms)} a weight > 0"
                )
            up = [m for m in ms if known[m] != "minimize"]
            if up:
                raise ConfigError(
                    f"a weighted cost needs metrics that are minimised; {up} are maximised "
                    "(use val_error instead of val_accuracy)"
                )
        bs = tuple(b if isinstance(b, Budget) else Budget.parse(b) for b in budgets)
        for b in bs:
            _check_metric(b.metric, known)
        object.__setattr__(self, "metrics", ms)
        object.__setattr__(self, "weights", ws)
        object.__setattr__(self, "budgets", bs)
        object.__setattr__(self, "extra_directions", dict(directions or {}))

    # -- what the study sees -----------------------------------------------------------
    @property
    def directions(self) -> list[Direction]:
        """Study directions: one per metric, or one ``minimize`` for a weighted cost."""
        if self.weights is not None:
            return ["minimize"]
        known = {**METRICS, **self.extra_directions}
        return [known[m] for m in self.metrics]

    @property
    def is_multi(self) -> bool:
        """Whether the study has several objective values."""
        return len(self.directions) > 1

    @property
    def names(self) -> list[str]:
        """Labels of the study's values (``["weighted_cost"]`` for a weighted cost)."""
        return ["weighted_cost"] if self.weights is not None else list(self.metrics)

    def direction_of(self, metric: str) -> Direction:
        """The direction in which ``metric`` improves."""
        known = {**METRICS, **self.extra_directions}
        _check_metric(metric, known)
        return known[metric]

    def values(self, metrics: Mapping[str, float]) -> list[float]:
        """The study's objective values for one trial's metrics.

        Raises:
            KeyError: a metric the objective needs is missing from ``metrics``.
        """
        missing = [m for m in self.metrics if m not in metrics]
        if missing:
            raise KeyError(f"evaluator returned no {missing}; it returned {sorted(metrics)}")
        vals = [float(metrics[m]) for m in self.metrics]
        if self.weights is not None:
            return [float(sum(w * v for w, v in zip(self.weights, vals, strict=True)))]
        return vals

    def constraints(self, metrics: Mapping[str, float]) -> dict[str, float]:
        """Constraint values ``{str(budget): g}``; a trial is feasible iff all ``g <= 0``."""
        out = {}
        for b in self.budgets:
            if b.metric not in metrics:
                raise KeyError(f"budget {b} needs metric {b.metric!r}, which the evaluator lacks")
            out[str(b)] = b.violation(float(metrics[b.metric]))
        return out

    def is_feasible(self, metrics: Mapping[str, float]) -> bool:
        """Whether ``metrics`` meet every budget."""
        return all(g <= 0 for g in self.constraints(metrics).values())

    def batch_values(self, metrics: Sequence[Mapping[str, float]]) -> np.ndarray:
        """Objective values of a batch, shape ``(n, n_obj)``."""
        return np.array([self.values(m) for m in metrics], dtype=float).reshape(
            len(metrics), len(self.directions)
        )

    def to_dict(self) -> dict[str, object]:
        """JSON form, as saved in a run's config."""
        return {
            "metrics": list(self.metrics),
            "weights": None if self.weights is None else list(self.weights),
            "budgets": [str(b) for b in self.budgets],
        }


def _as_losses(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    vals = np.asarray(values, dtype=float)
    if vals.ndim != 2 or vals.shape[1] != len(directions):
        raise ValueError(
            f"values must have shape (n, {len(directions)}) for {len(directions)} directions; "
            f"got {vals.shape}"
        )
    sign = np.array([1.0 if d == "minimize" else -1.0 for d in directions])
    return vals * sign


def pareto_mask(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``values`` (shape ``(n, n_obj)``).

    Uses Optuna's Pareto-front routine; duplicates of a Pareto point are all kept.
    """
    from optuna.study._multi_objective import _is_pareto_front

    losses = _as_losses(values, directions)
    if losses.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    return _is_pareto_front(losses, assume_unique_lexsorted=False)


def hypervolume(
    values: np.ndarray, directions: Sequence[str], reference_point: Sequence[float]
) -> float:
    """Hypervolume dominated by ``values`` up to ``reference_point`` (Optuna's WFG code).

    Points that do not dominate the reference point contribute nothing.
    """
    from optuna._hypervolume import compute_hypervolume

    losses = _as_losses(values, directions)
    ref = _as_losses(np.asarray(reference_point, dtype=float)[None, :], directions)[0]
    keep = np.all(losses < ref, axis=1)
    if not keep.any():
        return 0.0
    return float(compute_hypervolume(losses[keep], ref))
