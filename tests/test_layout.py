"""The rooms' rules that review alone would let slip (docs/ARCHITECTURE.md): small files,
one export path, and no code outside a space's room that names a built-in space."""

from __future__ import annotations

import ast
from pathlib import Path

import quarch
from quarch.spaces import BUILTIN_SPACES

SRC = Path(quarch.__file__).parent
MAX_LINES = 700


def _sources() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_no_source_file_over_700_lines() -> None:
    long = {
        str(p.relative_to(SRC)): n
        for p in _sources()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"split these files (at most {MAX_LINES} lines): {long}"


def test_one_export_trial() -> None:
    texts = {p: p.read_text(encoding="utf-8") for p in _sources()}
    defs = [
        str(p.relative_to(SRC))
        for p, text in texts.items()
        if "export_trial" in text  # only these can define it (parsing all took a second)
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "export_trial"
    ]
    assert defs == ["finalize.py"]


def test_built_in_space_names_only_in_their_rooms() -> None:
    """A string literal equal to a built-in space's name appears only in that space's
    folder and in the registry that lists them (``spaces/__init__.py``)."""
    names = set(BUILTIN_SPACES)
    found = []
    for p in _sources():
        rel = p.relative_to(SRC)
        if rel.parts[:1] == ("spaces",) and (len(rel.parts) == 2 or rel.parts[1] in names):
            continue  # the registry, the spec base class, and each room itself
        text = p.read_text(encoding="utf-8")
        if not any(name in text for name in names):  # no literal can equal one of them
            continue
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Constant) and node.value in names:
                found.append(f"{rel}:{node.lineno} {node.value!r}")
    assert not found, "built-in space named outside its room: " + ", ".join(found)


def test_no_package_name_hides_a_module_of_the_package() -> None:
    # A function `_random` in quarch/search/__init__.py made `quarch.search._random` the
    # function, not the module: `import quarch.search._random as m` and mock.patch then
    # reach the wrong object (tests had to import such modules by importlib).
    hidden = []
    for init in SRC.rglob("__init__.py"):
        modules = {p.stem for p in init.parent.glob("*.py")} | {
            p.parent.name for p in init.parent.glob("*/__init__.py")
        }
        for node in ast.parse(init.read_text(encoding="utf-8")).body:
            names: list[str] = []
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names = [node.name]
            elif isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names = [node.target.id]
            hidden += [f"{init.parent.relative_to(SRC)}.{n}" for n in names if n in modules]
    assert not hidden, f"rename these (each hides a module of its package): {hidden}"
