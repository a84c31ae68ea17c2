"""``quarch ARGS`` in a fresh interpreter: its exit status, the heavy modules it loaded
and its stderr (for the claims that a refusal comes before an import)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

#: Modules the search loop brings in; none may be loaded by an early refusal.
HEAVY = ("torch", "sqlalchemy", "matplotlib", "quarch.study", "quarch.evaluate")

_PROBE = """
import json, sys
from quarch.cli import main
rc = main(json.loads(sys.argv[1]))
print(json.dumps({"rc": rc, "loaded": sorted(m for m in json.loads(sys.argv[2]) if m in sys.modules)}))
"""


def fresh(args: list[str], cwd: Path) -> tuple[int, list[str], str]:
    """Exit status, :data:`HEAVY` modules loaded, and stderr of ``quarch ARGS``."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(args), json.dumps(HEAVY)],
        capture_output=True, text=True, cwd=cwd, timeout=120, check=False,
    )  # fmt: skip
    assert done.stdout, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return out["rc"], out["loaded"], done.stderr


_REFUSALS = """
import json, sys
from quarch._errors import QuarchError
from quarch.config import SearchConfig
from quarch.study import check_search
lines = []
for config in json.loads(sys.argv[1]):
    try:
        check_search(SearchConfig.from_dict(config))
        lines.append(None)
    except QuarchError as e:
        lines.append(str(e))
print(json.dumps(lines))
"""


def fresh_refusals(configs: list[dict[str, object]], cwd: Path) -> list[str | None]:
    """The line ``check_search`` refuses each of ``configs`` with (``None``: accepted),
    in one new process, whose registries hold what a user's command sees (no test's
    own registrations). One process for all: each start imports the search loop."""
    done = subprocess.run(
        [sys.executable, "-c", _REFUSALS, json.dumps(configs)],
        capture_output=True, text=True, cwd=cwd, timeout=300, check=False,
    )  # fmt: skip
    assert done.stdout, done.stderr
    lines: list[str | None] = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(lines) == len(configs)
    return lines
