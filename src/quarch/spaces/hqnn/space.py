"""The ``hqnn`` space: hybrid quantum-classical networks (QNAS / FAQNAS style).

An architecture is ``front-end -> variational circuit -> head``. The circuit is an
embedding (angle-x/y/z, amplitude, IQP) on ``qubits`` wires, then ``layers`` variational
layers, each a rotation set and an entangling pattern, then a measurement. The space is
fixed-length: per-layer choices of layers beyond ``layers`` are present and ignored.

Every architecture is buildable, so the space needs no constraint (a constraint would
turn a share of an Optuna sampler's trials into failures):

* ``range-r`` on ``n`` wires with ``r >= n`` uses ``r' = (r - 1) mod (n - 1) + 1``
  (:func:`effective_pattern`), so ``range-5`` on 4 wires is ``range-2``;
* amplitude embedding reads ``2**qubits`` features, which the front-end produces;
* data re-uploading repeats angle and IQP embeddings before every layer; an amplitude
  embedding can only come first, so re-uploading is ignored for it;
* with ``tied_layers=True`` every layer uses one ``rotation`` and one ``entanglement``
  choice (a grid small enough to enumerate: the ``hqnn-bench`` table's sub-space);
  :func:`layer_choice` reads either form;
* with ``layouts=k`` the space also chooses the circuit's place on a calibrated device:
  ``layout`` ``i`` is the ``i``-th region of ``qubits`` physical qubits in the
  circuit's own order (:func:`quarch.cost.routing.layout_regions`: the calibration's 8
  best connected regions, :meth:`quarch.cost.calibration.Calibration.regions`,
  re-ranked by the success probability the circuit routes to on each, then the rest in
  the calibration's order), where Qiskit places and routes it; an index past a small
  device's last region wraps around (QuantumNAS's qubit-mapping co-search, over
  regions). Without it, circuits go to layout 0, the best of those for the circuit.

Options are plain lists so a run can narrow them with ``--space-option KEY=VALUE``
(for example ``--space-option max_qubits=4``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from quarch.space._space import Choice, Space, option_list

__all__ = [
    "EMBEDDINGS",
    "ENTANGLEMENTS",
    "ENTANGLING_GATES",
    "FRONTENDS",
    "HEADS",
    "MEASUREMENTS",
    "ROTATIONS",
    "SMALL_INPUT_MAX_QUBITS",
    "effective_pattern",
    "hqnn_space",
    "layer_choice",
]

EMBEDDINGS: tuple[str, ...] = ("angle-x", "angle-y", "angle-z", "amplitude", "iqp")
ROTATIONS: tuple[str, ...] = ("ry", "rx-ry-rz", "rot")
ENTANGLEMENTS: tuple[str, ...] = (
    "none",
    "linear",
    "ring",
    "full",
    "odd",
    "even",
    "range-1",
    "range-2",
    "range-3",
    "range-4",
    "range-5",
)
ENTANGLING_GATES: tuple[str, ...] = ("cnot", "cz", "crz")
MEASUREMENTS: tuple[str, ...] = ("z", "zz")
FRONTENDS: tuple[str, ...] = ("linear", "mlp-256", "cnn", "pca")
HEADS: tuple[str, ...] = ("linear", "mlp")
LEARNING_RATES: tuple[float, ...] = (0.01, 0.03, 0.1)
#: Default widest circuit for data sets with few input features (else 12): more qubits
#: than features adds simulation cost, not information, on these tiny tables.
SMALL_INPUT_MAX_QUBITS: dict[str, int] = {"iris": 4, "wine": 6, "breast-cancer": 6}


def _subset(name: str, given: Sequence[object], allowed: Sequence[object]) -> list[object]:
    vals = option_list(given)
    bad = [v for v in vals if v not in allowed]
    if not vals or bad:
        raise ValueError(f"{name} must be a non-empty subset of {list(allowed)}; got {vals}")
    return vals


def hqnn_space(
    *,
    min_qubits: int = 2,
    max_qubits: int | None = None,
    min_layers: int = 1,
    max_layers: int = 6,
    embeddings: Sequence[str] = EMBEDDINGS,
    rotations: Sequence[str] = ROTATIONS,
    entanglements: Sequence[str] = ENTANGLEMENTS,
    entangling_gates: Sequence[str] = ENTANGLING_GATES,
    reupload: Sequence[bool] = (False, True),
    measurements: Sequence[str] = MEASUREMENTS,
    frontends: Sequence[str] = FRONTENDS,
    heads: Sequence[str] = HEADS,
    learning_rates: Sequence[float] = LEARNING_RATES,
    layouts: int = 0,
    tied_layers: bool = False,
    dataset: str | None = None,
) -> Space:
    """The hybrid quantum-classical space.

    Choices, in order: ``embedding``, ``qubits``, ``layers``, ``rotation_<i>`` and
    ``entanglement_<i>`` for ``i < max_layers``, ``entangler``, ``reupload``,
    ``measurement``, ``frontend``, ``head``, ``lr`` and, with ``layouts``, ``layout``.
    With ``tied_layers``, one ``rotation`` and one ``entanglement`` stand for every
    layer's.

    Args:
        min_qubits (int): fewest qubits, >= 2 (ZZ on neighbours needs two).
        max_qubits (int | None): most qubits, in ``[min_qubits, 16]``; ``None`` means
            12, or :data:`SMALL_INPUT_MAX_QUBITS` of ``dataset`` for tiny tables.
        min_layers (int): fewest variational layers, >= 1.
        max_layers (int): most variational layers, in ``[min_layers, 12]``.
        embeddings, rotations, entanglements, entangling_gates, reupload,
            measurements, frontends, heads: subsets of the module's option tuples.
        learning_rates (Sequence[float]): learning rates to choose from (positive).
        tied_layers (bool): one rotation set and one entangling pattern for all
            layers, instead of one per layer.
        layouts (int): how many device regions the search chooses among (0: no
            ``layout`` choice; needs a calibrated ``device_profile``).
        dataset (str | None): the data set searched; only picks the default
            ``max_qubits``.

    Raises:
        ValueError: a range that is empty or out of bounds, or an unknown option.

    Example:
        >>> s = hqnn_space(max_qubits=4, max_layers=2)
        >>> s.names[:5]
        ['embedding', 'qubits', 'layers', 'rotation_0', 'entanglement_0']
    """
    if max_qubits is None:
        max_qubits = max(min_qubits, SMALL_INPUT_MAX_QUBITS.get(str(dataset), 12))
    if not isinstance(min_qubits, int) or not 2 <= min_qubits <= 16:
        raise ValueError(f"min_qubits must be an integer in [2, 16]; got {min_qubits!r}")
    if not isinstance(max_qubits, int) or not min_qubits <= max_qubits <= 16:
        raise ValueError(
            f"max_qubits must be an integer in [{min_qubits}, 16] (min_qubits..16); "
            f"got {max_qubits!r}"
        )
    if not isinstance(min_layers, int) or not 1 <= min_layers <= 12:
        raise ValueError(f"min_layers must be an integer in [1, 12]; got {min_layers!r}")
    if not isinstance(max_layers, int) or not min_layers <= max_layers <= 12:
        raise ValueError(
            f"max_layers must be an integer in [{min_layers}, 12] (min_layers..12); "
            f"got {max_layers!r}"
        )
    if not isinstance(tied_layers, bool):
        raise ValueError(f"tied_layers must be true or false; got {tied_layers!r}")
    if isinstance(layouts, bool) or not isinstance(layouts, int) or not 0 <= layouts <= 64:
        raise ValueError(f"layouts must be an integer in [0, 64]; got {layouts!r}")
    try:
        lrs = [float(v) for v in option_list(learning_rates)]
    except (TypeError, ValueError):
        raise ValueError(f"learning_rates must be numbers > 0; got {learning_rates!r}") from None
    if not lrs or not all(math.isfinite(v) and v > 0 for v in lrs):
        raise ValueError(f"learning_rates must be a non-empty list of numbers > 0; got {lrs}")
    rots = _subset("rotations", rotations, ROTATIONS)
    ents = _subset("entanglements", entanglements, ENTANGLEMENTS)
    choices = [
        Choice("embedding", _subset("embeddings", embeddings, EMBEDDINGS)),
        Choice("qubits", list(range(min_qubits, max_qubits + 1))),
        Choice("layers", list(range(min_layers, max_layers + 1))),
    ]
    if tied_layers:
        choices += [Choice("rotation", rots), Choice("entanglement", ents)]
    else:
        for i in range(max_layers):
            choices += [Choice(f"rotation_{i}", rots), Choice(f"entanglement_{i}", ents)]
    choices += [
        Choice("entangler", _subset("entangling_gates", entangling_gates, ENTANGLING_GATES)),
        Choice("reupload", [bool(v) for v in _subset("reupload", reupload, (False, True))]),
        Choice("measurement", _subset("measurements", measurements, MEASUREMENTS)),
        Choice("frontend", _subset("frontends", frontends, FRONTENDS)),
        Choice("head", _subset("heads", heads, HEADS)),
        Choice("lr", lrs),
    ]
    if layouts:
        choices.append(Choice("layout", list(range(layouts))))
    return Space(choices, name="hqnn")


def layer_choice(arch: Mapping[str, Any], kind: str, layer: int) -> Any:
    """Layer ``layer``'s ``kind`` (``"rotation"`` or ``"entanglement"``) of ``arch``:
    its own choice, or the one shared by every layer in a ``tied_layers`` space.

    Example:
        >>> layer_choice({"rotation": "ry"}, "rotation", 2)
        'ry'
    """
    own = f"{kind}_{layer}"
    return arch[own] if own in arch else arch[kind]


def effective_pattern(pattern: str, n_qubits: int) -> str:
    """The entanglement pattern actually built on ``n_qubits`` wires.

    ``range-r`` needs ``1 <= r < n``; a larger ``r`` wraps to ``(r - 1) mod (n - 1) + 1``
    so that every architecture of the space is buildable. Other patterns are unchanged.

    Example:
        >>> effective_pattern("range-5", 4), effective_pattern("ring", 4)
        ('range-2', 'ring')
    """
    if pattern.startswith("range-") and n_qubits >= 2:
        r = int(pattern[6:])
        return f"range-{(r - 1) % (n_qubits - 1) + 1}"
    return pattern
