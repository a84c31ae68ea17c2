"""What ``tests/test_notebook_tracebacks_truth.py`` left unchecked in ``quarch._errors``
(found by mutation runs of ``render_traceback`` and the frame filter).

Truth: the error's own traceback (``traceback.extract_tb``), the folders Python's
``sysconfig`` and ``site`` name, read here independently, and counts of calls.
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
import traceback
from typing import Any

import pytest

from quarch import ConfigError
from quarch._errors import HIDDEN_HINT
from quarch.config import SearchConfig

from .test_notebook_tracebacks_truth import _unknown_space

HERE = os.path.realpath(__file__)


def _search_an_unknown_space() -> None:
    """A user's function that calls quarch, which refuses the space (not caught here)."""
    from quarch.study import run_search

    run_search(SearchConfig(space="hqnnn", dataset="iris", trials=2, out="never"))


def _caught(call: Any) -> ConfigError:
    try:
        call()
    except ConfigError as e:
        return e
    raise AssertionError("no ConfigError")


@pytest.fixture
def no_ipython(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "IPython", None)  # type: ignore[arg-type]
    monkeypatch.delenv("QUARCH_DEBUG", raising=False)


def test_every_user_frame_is_kept_in_order(no_ipython: None) -> None:
    """The cell's frame and the user's function it called are both shown, in the order
    Python lists them, and quarch's frames after them are hidden."""
    e = _caught(_search_an_unknown_space)
    mine = [
        f for f in traceback.extract_tb(e.__traceback__) if os.path.realpath(f.filename) == HERE
    ]
    assert [f.name for f in mine] == ["_caught", "_search_an_unknown_space"]
    assert e._render_traceback_() == [
        "Traceback (most recent call last):",
        *"".join(traceback.format_list(mine)).rstrip("\n").split("\n"),
        f"ConfigError: {e}",
        HIDDEN_HINT,
    ]


def test_an_error_without_user_frames_is_its_line_alone(no_ipython: None) -> None:
    """Quarch's frames only (the user's cut off): no traceback header over no frames,
    just the error's line and where the whole traceback is."""
    e = _caught(_search_an_unknown_space)
    tb = e.__traceback__
    while tb is not None and os.path.realpath(tb.tb_frame.f_code.co_filename) == HERE:
        tb = tb.tb_next
    assert tb is not None  # quarch's frames are left
    e = e.with_traceback(tb)
    assert e._render_traceback_() == [f"ConfigError: {e}", HIDDEN_HINT]


@pytest.mark.parametrize("message", ["the budget is above MAX", "a message that ends in  "])
def test_the_error_s_line_is_its_message_verbatim(no_ipython: None, message: str) -> None:
    """The last line is the class and the message as raised, on the first display and
    the whole one after it (nothing of the message's end stripped but a newline)."""

    def raise_it() -> None:
        raise ConfigError(message)

    e = _caught(raise_it)
    assert e._render_traceback_()[-1] == f"ConfigError: {message}"
    assert e._render_traceback_()[-1] == f"quarch._errors.ConfigError: {message}"


def test_the_library_folders_are_read_once_a_display(monkeypatch: pytest.MonkeyPatch) -> None:
    """A display filters every frame of the traceback; the library's folders (a third of
    a millisecond to read: ``sysconfig`` and a ``realpath`` each) are read once for all
    of them, not once a frame."""
    from quarch import _errors

    monkeypatch.setitem(sys.modules, "IPython", None)  # type: ignore[arg-type]
    monkeypatch.delenv("QUARCH_DEBUG", raising=False)
    calls: list[int] = []
    real = _errors._library_folders

    def counted() -> tuple[str, ...]:
        calls.append(1)
        return real()

    monkeypatch.setattr(_errors, "_library_folders", counted)
    e = _unknown_space()
    files = [f.filename for f in traceback.extract_tb(e.__traceback__)]
    assert sum(not f.startswith("<") for f in files) > 3  # frames enough to read it again
    e._render_traceback_()
    assert calls == [1]


def test_the_library_folders_are_python_s_and_quarch_s() -> None:
    """Each folder ends in a separator (``/site-packages`` is no prefix of
    ``/site-packages-extra``) and is a real path, and they are quarch's package folder,
    the standard library's and the installed packages' as Python names them."""
    import quarch
    from quarch._errors import _library_folders

    folders = _library_folders()
    paths = sysconfig.get_paths()
    want = [os.path.dirname(os.path.realpath(quarch.__file__))]
    want += [paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")]
    want += site.getsitepackages()
    assert folders == tuple(os.path.join(os.path.realpath(f), "") for f in want)
    assert all(f.endswith(os.sep) for f in folders)


def test_a_file_next_to_quarch_s_folder_is_the_user_s() -> None:
    """A user's folder whose name starts with quarch's package folder's is not inside it
    (each library folder ends in a separator), with the folders given or read."""
    import quarch
    from quarch._errors import _library_folders, _users

    package = os.path.dirname(os.path.realpath(quarch.__file__))
    inside, beside = os.path.join(package, "x.py"), os.path.join(package + "-mine", "x.py")
    assert not _users(inside) and _users(beside)
    assert not _users(inside, _library_folders()) and _users(beside, _library_folders())


def test_code_without_a_file_is_the_user_s_in_any_working_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``<string>`` (``exec``'d code) and IPython's ``<ipython-input-1-...>`` name no file:
    they are the user's even where the working folder is a library's (a relative name
    would resolve inside it); Python's frozen import machinery is not."""
    import quarch
    from quarch._errors import _users

    monkeypatch.chdir(os.path.dirname(os.path.realpath(quarch.__file__)))
    assert _users("<string>") and _users("<ipython-input-1-0a1b2c3d4e5f>")
    assert not _users("<frozen importlib._bootstrap>")
