"""The hybrid space's entangling patterns and embeddings written out by hand,
independently of quarch's templates (``range-r`` folded as the space documents), for
the tests that build an architecture's circuit gate by gate."""

from __future__ import annotations

from typing import Any


def pl_embed(emb: str, n: int, x: Any) -> None:
    """Embedding ``emb`` of features ``x`` on ``n`` wires, in PennyLane's templates (call
    inside a QNode)."""
    import pennylane as qml

    if emb == "amplitude":
        qml.AmplitudeEmbedding(x, wires=range(n), normalize=True, pad_with=0.0)
    elif emb == "iqp":
        qml.IQPEmbedding(x, wires=range(n))
    else:
        if emb == "angle-z":
            for q in range(n):
                qml.Hadamard(q)
        qml.AngleEmbedding(x, wires=range(n), rotation=emb[-1].upper())


def pairs(n: int, pattern: str, gate: str = "cnot") -> list[tuple[int, int]]:
    """The pairs ``gate`` acts on: CZ is symmetric and has no angle, so a pair that
    ``range-r`` on ``2r`` wires names in both orders is one CZ (two would cancel)."""
    listed = _listed(n, pattern)
    if gate != "cz":
        return listed
    return [p for k, p in enumerate(listed) if {*p} not in [{*q} for q in listed[:k]]]


def _listed(n: int, pattern: str) -> list[tuple[int, int]]:
    if pattern == "none":
        return []
    if pattern == "linear":
        return [(i, i + 1) for i in range(n - 1)]
    if pattern == "ring":
        return [(i, i + 1) for i in range(n - 1)] + ([(n - 1, 0)] if n > 2 else [])
    if pattern == "full":
        return [(i, j) for i in range(n) for j in range(i + 1, n)]
    if pattern == "even":
        return [(i, i + 1) for i in range(0, n - 1, 2)]
    if pattern == "odd":
        return [(i, i + 1) for i in range(1, n - 1, 2)]
    r = int(pattern[6:])
    r = r if r < n else (r - 1) % (n - 1) + 1
    return list(dict.fromkeys((i, (i + r) % n) for i in range(n)))
