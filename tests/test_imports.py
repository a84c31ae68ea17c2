"""The import graph: no cycle among quarch's modules, and the contracts hold.

grimp (import-linter's graph builder) counts every import: at module level, inside
functions and under ``TYPE_CHECKING``. A lazy import inside a method still makes a
cycle (the method's module needs the other, which needs it back). The layer and
independence contracts themselves are ``lint-imports`` in the test command
(``pyproject.toml``); this test adds what a contract cannot say: no cycle at all.
"""

from __future__ import annotations

import grimp


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done

    def visit(m: str, path: list[str]) -> list[str] | None:
        state[m] = 1
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                return [*path[path.index(d) :], d]
            if d not in state and (found := visit(d, [*path, d])):
                return found
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m, [m])):
            return found
    return None


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_among_quarch_modules() -> None:
    g = grimp.build_graph("quarch")
    graph = {m: set(g.find_modules_directly_imported_by(m)) for m in g.modules}
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_circuit_has_no_exporter_methods() -> None:
    """The IR stays data: exporters and the simulator take a circuit as an argument."""
    from quarch.quantum import Circuit

    for name in ("to_qasm", "from_qasm", "to_qiskit", "to_pennylane", "resources", "statevector"):
        assert not hasattr(Circuit, name), name
