"""The import graph of ``quarch.quantum``: the IR at the bottom, no cycles.

Counts every import the way an import-linter contract does: at module level, inside
functions and under ``TYPE_CHECKING``. A lazy import inside a method still makes a
cycle (the method's module needs the other module, which needs it back), so the
exporters, the simulator and the metrics take a circuit as an argument instead of
being methods of :class:`~quarch.quantum.Circuit`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import quarch.quantum

PACKAGE = "quarch.quantum"
ROOT = Path(quarch.quantum.__file__).parent


def _module(path: Path) -> str:
    return PACKAGE if path.stem == "__init__" else f"{PACKAGE}.{path.stem}"


def _imports(path: Path) -> set[str]:
    """Modules of ``quarch.quantum`` that ``path`` imports, at any depth."""
    names = {_module(p) for p in ROOT.glob("*.py")}
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == PACKAGE:
                out |= {f"{PACKAGE}.{a.name}" for a in node.names} & names or {PACKAGE}
            elif node.module.startswith(PACKAGE + "."):
                out.add(node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith(PACKAGE)}
    return out - {_module(path)}


def _graph() -> dict[str, set[str]]:
    return {_module(p): _imports(p) for p in sorted(ROOT.glob("*.py"))}


def test_circuit_ir_imports_only_the_gate_table() -> None:
    assert _graph()[f"{PACKAGE}.circuit"] == {f"{PACKAGE}.gates"}


def test_no_import_cycle_among_quantum_modules() -> None:
    # the package's __init__ imports every public module, so no module may import it
    graph = {m: deps for m, deps in _graph().items() if m != PACKAGE}
    for m, deps in graph.items():
        assert PACKAGE not in deps, f"{m} imports the package {PACKAGE} itself"
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                cycle = [*path[path.index(d) :], d]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if d not in state:
                visit(d, [*path, d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_circuit_has_no_exporter_methods() -> None:
    from quarch.quantum import Circuit

    for name in ("to_qasm", "from_qasm", "to_qiskit", "to_pennylane", "resources", "statevector"):
        assert not hasattr(Circuit, name), name
