"""``quarch search --ray`` prints no INFO line of Ray's, and keeps Ray's warnings.

``ray.init`` configures its ``ray`` logger at INFO by default, so every ``--ray``
search printed ``INFO worker.py:... -- Started a local Ray instance.`` on the user's
terminal, under the search's bar. :func:`quarch.study._ray.connect` now starts Ray with
its logger at WARNING (``ray.init(logging_level=...)``, Ray's own option).

Truth: the standard error of a real ``quarch search --ray`` (a local Ray, started by
the command, 15-20 s here), and a warning and an INFO line written to Ray's ``ray``
logger after it, in the same process: the warning reaches the terminal, the INFO line
does not.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

_SEARCH = """
import logging, sys
from quarch.cli import main
code = main(["search", "--space", "mlp", "--dataset", "iris", "--trials", "1",
             "--epochs", "1", "--ray", "--out", "run", "--quiet"])
logging.getLogger("ray").warning("a warning of ray's, after the search")
logging.getLogger("ray").info("an info line of ray's, after the search")
sys.exit(code)
"""


def _pythonpath() -> str:
    """This test's quarch first (a copy of the old code is tested this way)."""
    import quarch

    src = str(Path(quarch.__file__).parents[1])
    return os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])


@pytest.mark.slow
def test_a_ray_search_prints_rays_warnings_but_not_its_info_lines(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    done = subprocess.run(
        [sys.executable, "-c", _SEARCH], cwd=tmp_path, capture_output=True, text=True,
        timeout=300, env={**os.environ, "PYTHONPATH": _pythonpath()},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "run.json").is_file()  # the search ran, on Ray
    assert "Started a local Ray instance" not in done.stderr
    assert " INFO " not in done.stderr, done.stderr
    assert "a warning of ray's, after the search" in done.stderr
    assert "an info line of ray's" not in done.stderr
