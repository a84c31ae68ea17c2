"""Each listed equivalent mutant is pinned to the diff its reason was read against.

mutmut numbers a function's mutants afresh when the function changes, so a listing
``NAME  # reason`` can come to name another mutant, which the score would then count as
equivalent unread. ``benchmarks/mutation.py`` pins each listing (``NAME  @PIN  # reason``,
the pin a hash of the mutant's removed and added lines) and honours a listing only while
its mutant's diff still has that pin. These tests check the committed list's shape and,
on a three-line package run through mutmut's own generator (seconds, no tests run), that
a pin survives edits elsewhere in the function and that a renumbered listing is caught.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_mutation", ROOT / "benchmarks" / "mutation.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


M = _load()
LISTED = M.read_listings()


# --- the committed list ---------------------------------------------------------------


def test_the_list_parses_and_names_each_mutant_once() -> None:
    text = M.EQUIVALENT_FILE.read_text().splitlines()
    names = [ln.split()[0] for ln in text if ln.strip() and not ln.lstrip().startswith("#")]
    assert len(names) == len(set(names)) == len(LISTED) > 0


def test_every_listing_is_pinned_and_has_a_reason() -> None:
    unpinned = [n for n, ls in LISTED.items() if ls.pin is None]
    assert not unpinned, f"{len(unpinned)} unpinned, e.g. {unpinned[:3]}"
    assert all(ls.reason for ls in LISTED.values())


def test_every_listed_module_is_in_a_group() -> None:
    modules = M.group_modules([f for files, _ in M.GROUPS.values() for f in files])
    assert not sorted({M._module(n) for n in LISTED} - modules)


def test_same_as_references_name_a_listed_mutant_of_the_same_function() -> None:
    """``same as _N`` (or ``as _N``) in a reason means mutant N of the same function, listed
    too, so that a renumbered listing's followers are renumbered with it."""
    bad = []
    for name, listing in LISTED.items():
        function = name.rsplit("__mutmut_", 1)[0]
        for number in re.findall(r"(?:same as|\bas) _(\d+)\b", listing.reason):
            if f"{function}__mutmut_{number}" not in LISTED or name.endswith(f"_{number}"):
                bad.append(f"{name}: same as _{number}")
    assert not bad


# --- pins -----------------------------------------------------------------------------

DIFF = """--- src/quarch/x.py
+++ src/quarch/x.py
@@ -3,7 +3,7 @@
 def f(a, b):
     c = a + 1
-    return  c * b
+    return c / b
     # after"""


def test_a_pin_reads_only_the_changed_lines_whitespace_collapsed() -> None:
    assert M.changed_lines(DIFF) == ["-return c * b", "+return c / b"]
    moved = (
        DIFF.replace("@@ -3,7 +3,7 @@", "@@ -40,9 +40,9 @@")
        .replace("    c = a + 1", "    c = a + 2\n    d = 3")
        .replace("-    return  c * b", "-        return c  *  b")
        .replace("src/quarch/x.py", "src/quarch/y.py")
    )
    assert M.pin_of(moved) == M.pin_of(DIFF)
    assert re.fullmatch(r"[0-9a-f]{8}", M.pin_of(DIFF))
    assert M.pin_of(DIFF.replace("+    return c / b", "+    return c // b")) != M.pin_of(DIFF)
    assert M.pin_of(DIFF.replace("-    return  c * b", "-    return b * c")) != M.pin_of(DIFF)


def test_a_removed_line_that_looks_like_a_header_is_read() -> None:
    diff = "--- a\n+++ a\n@@ -1 +1 @@\n--x\n+-y\n"
    assert M.changed_lines(diff) == ["--x", "+-y"]


def test_the_reader_takes_pinned_and_unpinned_lines_and_refuses_others(tmp_path: Path) -> None:
    path = tmp_path / "eq.txt"
    path.write_text(
        "# a header\n\nm.x_f__mutmut_1  @0123abcd  # a reason # with a hash\nm.x_f__mutmut_2  # old\n"
    )
    listed = M.read_listings(path)
    assert listed["m.x_f__mutmut_1"] == M.Listing("0123abcd", "a reason # with a hash", 3)
    assert listed["m.x_f__mutmut_2"] == M.Listing(None, "old", 4)
    for bad in ("m.x_f__mutmut_1  0123abcd  # r\n", "m.x_f__mutmut_1  @0123  # r\n",
                "m.x_f__mutmut_1 extra @0123abcd # r\n", "m.x_f__mutmut_1  # r\nm.x_f__mutmut_1  # s\n"):  # fmt: skip
        path.write_text(bad)
        with pytest.raises(ValueError, match=r"eq\.txt:"):
            M.read_listings(path)


def test_only_surviving_mutants_with_their_pinned_diff_count_as_equivalent() -> None:
    f = "quarch.search._grover.x_amplified_probs__mutmut_"
    diffs = {f"{f}{i}": DIFF.replace("c / b", f"c / {i}") for i in range(1, 7)}
    pins = {n: M.pin_of(d) for n, d in diffs.items()}
    status = {f"{f}1": "survived", f"{f}2": "killed", f"{f}3": "timeout", f"{f}4": "no tests",
              f"{f}5": "survived", f"{f}6": "survived"}  # fmt: skip
    listed = {
        **{f"{f}{i}": M.Listing(pins[f"{f}{i}"], "r", i) for i in (1, 2, 3, 4)},
        f"{f}5": M.Listing(pins[f"{f}6"], "read against what 6 is today", 5),
        f"{f}6": M.Listing(None, "never pinned", 6),
        f"{f}9": M.Listing("0123abcd", "gone", 9),
        "quarch.cost.cutting.x_plan__mutmut_1": M.Listing("0123abcd", "another group", 10),
    }
    honoured, problems = M.listed_equivalents(
        status, listed, ["src/quarch/search/_grover.py"], diffs
    )
    assert honoured == {f"{f}1", f"{f}4"}
    assert problems == {f"{f}2": "killed", f"{f}3": "timeout", f"{f}5": "diff changed",
                        f"{f}6": "unpinned", f"{f}9": "no such mutant"}  # fmt: skip


def test_renumbering_follows_a_shift_and_refuses_a_clash() -> None:
    f = "quarch.search._grover.x_amplified_probs__mutmut_"
    diffs = {f"{f}{i}": DIFF.replace("c / b", f"c / {i}") for i in (1, 2, 3, 4, 5, 6, 10)}
    pin = {i: M.pin_of(diffs[f"{f}{i}"]) for i in (1, 2, 3, 4, 5, 6, 10)}
    listed = {
        f"{f}1": M.Listing(pin[3], "read against what 3 is now", 1),  # 1 -> 3, which moves on
        f"{f}3": M.Listing(pin[5], "read against what 5 is now", 2),  # 3 -> 5, free
        f"{f}2": M.Listing(pin[4], "two listings of one diff", 3),  # both want 4: neither moves
        f"{f}6": M.Listing(pin[4], "two listings of one diff", 4),
        f"{f}10": M.Listing(pin[10], "still right", 5),
        f"{f}11": M.Listing(pin[10], "gone; its diff is 10's, listed and staying", 6),
    }
    problems = M.listing_problems(listed, diffs, {"quarch.search._grover"})
    assert problems == {f"{f}{i}": "diff changed" for i in (1, 2, 3, 6)} | {
        f"{f}11": "no such mutant"
    }
    assert M.renumbered(problems, listed, diffs) == {
        f"{f}1": (f"{f}3", pin[3]),
        f"{f}3": (f"{f}5", pin[5]),
    }


def test_a_package_module_is_matched_by_its_package_name() -> None:
    assert M.group_modules(["src/quarch/quantum/__init__.py", "src/quarch/x/y.py"]) == {
        "quarch.quantum",
        "quarch.x.y",
    }
    name = "quarch.quantum.x_f__mutmut_1"
    honoured, problems = M.listed_equivalents(
        {}, {name: M.Listing("0123abcd", "r", 1)}, ["src/quarch/quantum/__init__.py"], {}
    )
    assert (honoured, problems) == (set(), {name: "no such mutant"})


def test_mutated_function_reads_mutmut_names() -> None:
    assert M.mutated_function(
        "quarch.search._qiea.x\u01c1QIEASampler\u01c1_propose__mutmut_44"
    ) == (
        "quarch.search._qiea",
        "QIEASampler._propose",
    )
    assert M.mutated_function("quarch.quantum._dense_shared.x__segment__mutmut_3") == (
        "quarch.quantum._dense_shared",
        "_segment",
    )


# --- a tiny package through mutmut's own generator ------------------------------------

SOURCE = "def f(a, b):\n    c = a + 1\n    return c * b\n"
NAME = "fakepkg.mod.x_f__mutmut_4"  # return c / b


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    if shutil.which("mutmut") is None:
        pytest.skip("mutmut is not installed (pip install -e '.[mutation]')")
    root = tmp_path / "root"
    (root / "src" / "fakepkg").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "fakepkg"\nversion = "0"\n')
    (root / "README.md").write_text("")
    (root / "src" / "fakepkg" / "__init__.py").write_text("")
    (root / "src" / "fakepkg" / "mod.py").write_text(SOURCE)
    (root / "eq.txt").write_text(f"# fake\n{NAME}  # c / b: b is 1\n")
    module = _load()
    monkeypatch.setattr(module, "ROOT", root)
    monkeypatch.setattr(module, "EQUIVALENT_FILE", root / "eq.txt")
    yield module


def test_unpinned_then_pinned_then_renumbered(
    fake: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files, work = ["src/fakepkg/mod.py"], tmp_path / "work"
    assert fake.check_listings(files, work) == 1
    out = capsys.readouterr().out
    assert f"unpinned listing: {NAME}  # c / b: b is 1" in out
    assert "+return c / b" in out

    assert fake.pin_listings([NAME, "fakepkg.mod.x_f__mutmut_99"], work) == 1
    out = capsys.readouterr().out
    assert "not listed (add `fakepkg.mod.x_f__mutmut_99  # reason` first)" in out
    assert "-return c * b" in out
    pin = fake.read_listings()[NAME].pin
    assert pin is not None and fake.check_listings(files, work) == 0
    assert (fake.ROOT / "eq.txt").read_text() == f"# fake\n{NAME}  @{pin}  # c / b: b is 1\n"

    # a line added above: its mutants come first, so mutant 4 is another mutant now
    (fake.ROOT / "src" / "fakepkg" / "mod.py").write_text(
        SOURCE.replace("    c = a + 1\n", "    a = a - 0\n    c = a + 1\n")
    )
    capsys.readouterr()
    assert fake.check_listings(files, work) == 1
    out = capsys.readouterr().out
    assert f"stale listing (diff changed): {NAME}" in out
    moved = re.search(r"the pinned diff @\w+ is now: (\S+)", out)
    assert moved is not None and moved.group(1) != NAME

    assert fake.check_listings(files, work, renumber=True) == 0
    listed = fake.read_listings()
    assert listed == {moved.group(1): fake.Listing(pin, "c / b: b is 1", 2)}
    diffs = fake.mutant_diffs(work, generate=False)
    assert fake.changed_lines(diffs[moved.group(1)]) == ["-return c * b", "+return c / b"]


def test_every_listed_mutant_names_a_function_that_exists() -> None:
    """An entry whose function was renamed, moved or deleted is left over from old code
    (moved here from ``test_mutation_listing.py``)."""
    import importlib

    mutation = _load()
    missing = []
    for name in mutation.equivalent_mutants():
        module, qualname = mutation.mutated_function(name)
        obj: object = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part, None)
        if not callable(obj):
            missing.append(name)
    assert not missing


def test_a_rewrite_follows_same_as_references_to_moved_mutants(tmp_path: Path) -> None:
    """Renumbering moves a listing and the references other listings of its function make
    to it (``same as _1`` names 3 after 1 moved to 3), not a number of another function
    nor one that did not move."""
    f = "quarch.search._grover.x_amplified_probs__mutmut_"
    g = "quarch.search._grover.x_grover_adaptive_search__mutmut_"
    path = tmp_path / "eq.txt"
    path.write_text(
        f"# block\n{f}1  @00000001  # the kind\n{f}2  @00000002  # same as _1\n"
        f"{f}7  @00000007  # as _1 and _2, not x__mutmut_1\n{g}4  @00000004  # same as _1\n"
        f"{f}9  # same as _1, unpinned\n"
    )
    M.rewrite_listings({f"{f}1": (f"{f}3", "00000001")}, path)
    assert path.read_text() == (
        f"# block\n{f}3  @00000001  # the kind\n{f}2  @00000002  # same as _3\n"
        f"{f}7  @00000007  # as _3 and _2, not x__mutmut_1\n{g}4  @00000004  # same as _1\n"
        f"{f}9  # same as _3, unpinned\n"
    )
