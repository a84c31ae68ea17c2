"""A quarch error raised to a notebook cell (``QuarchError._render_traceback_``).

Before, IPython showed a user's mistake (an unknown space, a malformed budget, a run
folder that exists) as the whole traceback through quarch's internals: 5 to 9 frames
and 50 to 80 lines, where the command line prints one line. IPython shows the lines an
exception's ``_render_traceback_()`` returns instead of its traceback; now a
``QuarchError`` returns its class and message under the user's frames only, and the
whole traceback on a second display (``%tb``) or with ``QUARCH_DEBUG=1``.

The truth: the traceback Python attached to the error (``traceback.extract_tb``),
filtered here by hand to this file's frames (the test's code is the user's code);
IPython's formatter is faked (what it is handed is recorded) without a kernel, and met
in a real one (``nbclient``, skipped where it is not installed). A plain Python
traceback is checked in a subprocess.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import traceback
import types
from pathlib import Path
from typing import Any

import pytest

from quarch import ConfigError, QuarchError, RunError
from quarch._errors import HIDDEN_HINT
from quarch.config import SearchConfig

HERE = os.path.realpath(__file__)


def _unknown_space() -> ConfigError:
    """A real user's mistake, raised through quarch's own frames (and caught here)."""
    from quarch.study import run_search

    try:
        run_search(SearchConfig(space="hqnnn", dataset="iris", trials=2, out="never"))
    except ConfigError as e:
        return e
    raise AssertionError("run_search took an unknown space")


def _own_frames(error: BaseException) -> list[traceback.FrameSummary]:
    """The frames of the error's traceback that are this file's (the user's code)."""
    return [
        f for f in traceback.extract_tb(error.__traceback__) if os.path.realpath(f.filename) == HERE
    ]


@pytest.fixture
def no_ipython(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "IPython", None)  # type: ignore[arg-type]
    monkeypatch.delenv("QUARCH_DEBUG", raising=False)


class _Formatter:
    """IPython's ``InteractiveTB`` as quarch uses it: records each call, and what the
    error's cause and context were while it was formatted."""

    def __init__(self, mode: str = "Context", fail: bool = False) -> None:
        self.mode, self.fail = mode, fail
        self.calls: list[dict[str, Any]] = []
        self.tb: Any = None  # IPython's keeps the traceback it last formatted here

    def structured_traceback(self, etype: Any, value: Any, tb: Any, **kw: Any) -> list[str]:
        if self.fail:
            raise RuntimeError("IPython could not format it")
        self.calls.append({"etype": etype, "value": value, "tb": tb, "kw": kw,
                           "cause": value.__cause__, "context": value.__context__})  # fmt: skip
        return [f"IPython lines of {etype.__name__}"]

    def get_exception_only(self, etype: Any, value: Any) -> list[str]:
        self.calls.append({"only": etype})
        return [f"{etype.__name__}: {value}"]


def _fake_ipython(monkeypatch: pytest.MonkeyPatch, formatter: _Formatter) -> None:
    shell = types.SimpleNamespace(InteractiveTB=formatter)
    module = types.ModuleType("IPython")
    vars(module)["get_ipython"] = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", module)
    monkeypatch.delenv("QUARCH_DEBUG", raising=False)


def _frames_of(tb: types.TracebackType | None) -> list[tuple[str, int]]:
    return [(f.filename, f.lineno) for f in traceback.extract_tb(tb)]  # type: ignore[misc]


def test_the_first_display_is_the_user_s_frames_and_the_error_line(no_ipython: None) -> None:
    e = _unknown_space()
    whole = traceback.extract_tb(e.__traceback__)
    assert len(whole) > 3  # quarch's own frames are there to hide
    lines = e._render_traceback_()
    mine = _own_frames(e)
    assert len(mine) == 1  # the line of _unknown_space that called run_search
    assert lines == [
        "Traceback (most recent call last):",
        *"".join(traceback.format_list(mine)).rstrip("\n").split("\n"),
        f"ConfigError: {e}",
        HIDDEN_HINT,
    ]
    assert not any("src/quarch" in line or "quarch/study" in line for line in lines)
    # the traceback itself is untouched: %debug and sys.last_traceback walk it
    assert traceback.extract_tb(e.__traceback__) == whole


def test_the_second_display_and_quarch_debug_show_the_whole_traceback(
    no_ipython: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``%tb`` displays the last error again: then it is the whole traceback, as
    Python formats it; so is the first display with ``QUARCH_DEBUG=1``."""
    e = _unknown_space()
    whole = "".join(traceback.format_exception(type(e), e, e.__traceback__)).rstrip("\n")
    first = e._render_traceback_()
    assert e._render_traceback_() == whole.split("\n") != first
    monkeypatch.setenv("QUARCH_DEBUG", "0")  # "0" is off
    assert _unknown_space()._render_traceback_()[-1] == HIDDEN_HINT
    monkeypatch.setenv("QUARCH_DEBUG", "1")
    e = _unknown_space()
    whole = "".join(traceback.format_exception(type(e), e, e.__traceback__)).rstrip("\n")
    assert e._render_traceback_() == whole.split("\n")


def test_in_ipython_its_formatter_gets_the_user_s_frames_without_the_chain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """IPython's own format (its ``Cell In[5], line 1``, its colours, its ``%xmode``)
    of a new traceback of the user's frames, nothing skipped (``tb_offset=0``: IPython's
    own frame that ran the cell is a library's, already left out), and neither the
    error's cause nor its context, which are put back after."""
    fmt = _Formatter()
    _fake_ipython(monkeypatch, fmt)
    cause = OSError("disk")
    try:
        try:
            raise cause
        except OSError:
            raise RunError("cannot read the run") from cause
    except RunError as e:
        err = e
    assert err._render_traceback_() == ["IPython lines of RunError"]  # nothing hidden: no hint
    (call,) = fmt.calls
    assert call["etype"] is RunError and call["value"] is err
    assert call["kw"] == {"tb_offset": 0}
    assert _frames_of(call["tb"]) == [(f.filename, f.lineno) for f in _own_frames(err)]
    assert call["cause"] is None and call["context"] is None
    assert fmt.tb is err.__traceback__  # what %debug walks: the whole traceback
    assert err.__cause__ is cause and err.__context__ is cause and err.__suppress_context__
    # shown again (%tb): the traceback as it is, IPython's default offset, the chain kept
    assert err._render_traceback_() == ["IPython lines of RunError"]
    assert fmt.calls[1]["tb"] is err.__traceback__ and fmt.calls[1]["kw"] == {}
    assert fmt.calls[1]["cause"] is cause


def test_an_implicit_chain_is_put_back_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error raised while another was handled (no ``from``): its context comes back,
    still shown by Python (``__suppress_context__`` false, which clearing the cause for
    the short display had set)."""
    fmt = _Formatter()
    _fake_ipython(monkeypatch, fmt)
    try:
        try:
            int("not a number")
        except ValueError:
            raise ConfigError("bad key")  # noqa: B904 (the implicit chain is the case)
    except ConfigError as e:
        err = e
    context = err.__context__
    assert isinstance(context, ValueError) and not err.__suppress_context__
    err._render_traceback_()
    assert fmt.calls[0]["context"] is None  # not shown the first time
    assert err.__context__ is context and err.__cause__ is None
    assert not err.__suppress_context__


def test_which_files_are_the_user_s() -> None:
    """A cell, a script, ``exec``'d code: the user's; quarch's, the standard library's,
    an installed package's and Python's frozen import machinery's: not."""
    import optuna

    from quarch._errors import _users
    from quarch.study import _loop

    assert _users(HERE) and _users("<string>") and _users("/tmp/ipykernel_1/123.py")
    for path in (_loop.__file__, os.__file__, optuna.__file__, "<frozen importlib._bootstrap>"):
        assert not _users(path), path


def test_in_ipython_quarch_s_frames_hidden_are_said_unless_minimal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fmt = _Formatter()
    _fake_ipython(monkeypatch, fmt)
    e = _unknown_space()
    assert e._render_traceback_() == ["IPython lines of ConfigError", HIDDEN_HINT]
    assert _frames_of(fmt.calls[0]["tb"]) == [(f.filename, f.lineno) for f in _own_frames(e)]
    minimal = _Formatter(mode="Minimal")  # %xmode Minimal: the error's line alone
    _fake_ipython(monkeypatch, minimal)
    assert _unknown_space()._render_traceback_() == ["IPython lines of ConfigError"]


def test_no_user_frame_gives_the_error_line_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error whose every frame is quarch's (raised off the user's call stack)."""
    from quarch._registry import Registry

    fmt = _Formatter()
    _fake_ipython(monkeypatch, fmt)
    try:
        Registry[int]("space").get("nope")  # raised in _registry.py, caught in this frame
    except ConfigError as e:
        err = e
    err.__traceback__ = err.__traceback__.tb_next  # type: ignore[union-attr]  # quarch's only
    assert err._render_traceback_() == [f"ConfigError: {err}", HIDDEN_HINT]
    assert fmt.calls == [{"only": ConfigError}]


def test_a_formatter_that_fails_leaves_python_s_format(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not IPython's "Unexpected exception formatting exception"."""
    _fake_ipython(monkeypatch, _Formatter(fail=True))
    e = _unknown_space()
    lines = e._render_traceback_()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[-2:] == [f"ConfigError: {e}", HIDDEN_HINT]


def test_only_quarch_s_user_errors_are_shortened() -> None:
    """A bug (any other exception) keeps IPython's whole traceback."""
    assert hasattr(QuarchError("x"), "_render_traceback_")
    for bug in (ValueError("x"), KeyError("x"), RuntimeError("x")):
        assert not hasattr(bug, "_render_traceback_")


def test_a_script_s_traceback_is_python_s_own(tmp_path: Path) -> None:
    """Python never calls ``_render_traceback_``: a script prints every frame."""
    script = tmp_path / "s.py"
    script.write_text(
        "from quarch.config import SearchConfig\nfrom quarch.study import run_search\n"
        "run_search(SearchConfig(space='hqnnn', dataset='iris', trials=2, out='run'))\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)  # fmt: skip
    assert done.returncode == 1
    assert "_loop.py" in done.stderr and "_registry.py" in done.stderr
    assert "quarch._errors.ConfigError: unknown space 'hqnnn'" in done.stderr
    assert HIDDEN_HINT not in done.stderr


_DEBUG = """
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
shell.run_cell("from quarch.config import SearchConfig\\nfrom quarch.study import run_search")
shell.run_cell("run_search(SearchConfig(space='hqnnn', dataset='iris', trials=2, out='r'))")
print("=== debug")
shell.run_line_magic("debug", "")
"""


@pytest.mark.skipif(not importlib.util.find_spec("IPython"), reason="needs IPython")
def test_debug_in_ipython_stops_where_quarch_raised(tmp_path: Path) -> None:
    """``%debug`` after the short display: the post-mortem debugger at quarch's line
    that raised (``_registry.py``), its stack down from the cell (``where``). IPython's
    formatter keeps the traceback it last formatted for ``%debug``: handed the user's
    frames alone, it stopped in the cell."""
    done = subprocess.run([sys.executable, "-c", _DEBUG], input="where\nq\n", cwd=tmp_path,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TERM": "dumb"})  # fmt: skip
    shown, debugged = _plain(done.stdout).split("=== debug")
    assert HIDDEN_HINT in shown and "_loop.py" not in shown
    stops = [line for line in debugged.splitlines() if line.startswith("> ")]
    assert stops and all("quarch/_registry.py" in line and "get()" in line for line in stops)
    assert "quarch/study/_loop.py" in debugged  # `where`: quarch's frames on the way


_KERNEL = all(importlib.util.find_spec(m) for m in ("nbclient", "nbformat", "ipykernel"))


@pytest.mark.skipif(not _KERNEL, reason="needs nbclient, nbformat and ipykernel")
def test_in_a_real_kernel_the_cell_shows_its_line_and_the_error(tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    cells = [
        "from quarch.config import SearchConfig\nfrom quarch.study import run_search",
        "x = 1\nrun_search(SearchConfig(space='hqnnn', dataset='iris', trials=2, out='r'))",
        "%tb",
        "import sys\nt = sys.last_traceback\nwhile t.tb_next: t = t.tb_next\n"
        "print(t.tb_frame.f_code.co_filename)",
        "1 / 0",
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    NotebookClient(nb, timeout=240, allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()  # fmt: skip
    short, whole = (_error(nb.cells[i]) for i in (1, 2))
    assert short["ename"] == whole["ename"] == "ConfigError"
    text = _plain("\n".join(short["traceback"]))
    assert "----> 2 run_search(" in text  # the cell's line
    assert text.rstrip().endswith(f"ConfigError: {short['evalue']}\n{HIDDEN_HINT}")
    assert "_loop.py" not in text and "File " not in text  # no frame of quarch's or a library's
    assert "_loop.py" in _plain("\n".join(whole["traceback"]))  # %tb: the whole traceback
    # %debug walks sys.last_traceback: still down to the line that raised (quarch's)
    assert nb.cells[3].outputs[0].text.strip().endswith("_registry.py")
    bug = _plain("\n".join(_error(nb.cells[4])["traceback"]))
    assert "ZeroDivisionError" in bug and HIDDEN_HINT not in bug


def _error(cell: Any) -> Any:
    (out,) = [o for o in cell.outputs if o.output_type == "error"]
    return out


def _plain(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)
