"""The evaluator contract.

An evaluator maps ``(architecture, seed)`` to metrics, and is pure with respect to
them: the same inputs give the same numbers, so a trial can be re-checked later and
several workers can share a study.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

__all__ = ["Evaluator", "Metrics", "cheap_metrics", "check_metrics"]

Metrics = dict[str, float]


@runtime_checkable
class Evaluator(Protocol):
    """What the search loop needs from an evaluator.

    Attributes:
        fingerprint (str): identifies the data the evaluator scores on (a SHA-256, or
            ``""`` when it uses none); saved with the run and checked on resume.
    """

    fingerprint: str

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> Metrics:
        """Metrics of ``arch`` when trained/scored with ``seed``."""
        ...


def cheap_metrics(evaluator: Any, arch: Mapping[str, Any]) -> Metrics:
    """The metrics ``evaluator`` computes without training ``arch`` (parameters, FLOPs,
    memory, quantum costs, a latency model), or ``{}`` when it declares none.

    An evaluator declares them with an optional method ``cheap_metrics(arch)``; each
    value must equal what :meth:`Evaluator.evaluate` returns for that metric. The
    search computes them first, so an architecture over a hard budget on one of them is
    recorded as infeasible and never trained.
    """
    method = getattr(evaluator, "cheap_metrics", None)
    return check_metrics(method(arch)) if callable(method) else {}


def check_metrics(metrics: Mapping[str, Any]) -> Metrics:
    """Return ``metrics`` as floats; raise ``ValueError`` on a non-finite or non-number value.

    A NaN or infinite metric fails the trial (with this message), never the run.
    """
    import math

    out: Metrics = {}
    for k, v in metrics.items():
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"metric {k!r} is not a number: {v!r}") from None
        if not math.isfinite(f):
            raise ValueError(f"metric {k!r} is not finite: {f}")
        out[k] = f
    return out
