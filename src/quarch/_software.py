"""The software a run was made with, so that a run resumed with other software says so.

quarch's version number cannot tell two checkouts apart (it changes at a release, not at
a commit), so the installed package's own files are hashed too (:func:`source_hash`).
And a run's numbers depend as much on the libraries below it as on quarch: torch's
kernels and initialisation, Optuna's samplers, NumPy and scikit-learn's splits, Qiskit's
routing and its devices' calibrations, the annealers. A resume under another version of
any of them can change what the later trials score, and trials before and after it
would be compared as if one program had made them: the run records what it started
with, and a resume with something else is written down and said once
(:func:`resumed`), as MLflow and Weights & Biases record a run's environment.

Only this module's own table of result-changing packages is read
(:data:`RESULT_PACKAGES`): ``tests/test_software_truth.py`` checks that it covers
every requirement in ``pyproject.toml`` that can change a number.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import importlib.metadata
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from quarch._warnings import warn

__all__ = ["RESULT_PACKAGES", "changed", "resumed", "software", "source_hash"]

#: The distributions, among quarch's core requirements and its ``qiskit`` and
#: ``annealing`` extras, whose version can change a run's numbers. typer and rich
#: (what the terminal shows) cannot, and are left out.
RESULT_PACKAGES = (
    "torch",
    "numpy",
    "scipy",
    "optuna",
    "scikit-learn",
    "qiskit",
    "qiskit-ibm-runtime",
    "qiskit-addon-cutting",
    "dimod",
    "dwave-samplers",
)


def source_hash(root: Path | None = None) -> str:
    """``sha256:`` and 16 hex digits of the files of the quarch package (or of ``root``).

    Every file but compiled bytecode, by its path under the package (so a file moved or
    renamed counts) and its bytes. An editable checkout and a wheel of the same commit
    hash alike: both hold the same files. About 0.07 s for quarch's 1.8 MB, once per
    process (:func:`software` caches it).
    """
    if root is None:
        import quarch

        root = Path(quarch.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):  # under one root: ordered by the paths below it
        if not path.is_file() or path.suffix == ".pyc":  # all __pycache__ holds
            continue
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return "sha256:" + digest.hexdigest()[:16]


def _installed(name: str) -> str | None:
    """The installed version of distribution ``name``, ``None`` where it is absent."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.cache
def _software() -> tuple[tuple[str, str | None], ...]:
    from quarch import __version__

    own = (("python", platform.python_version()), ("quarch", __version__),
           ("quarch_source", source_hash()))  # fmt: skip
    return own + tuple((name, _installed(name)) for name in RESULT_PACKAGES)


def software() -> dict[str, str | None]:
    """Python's, quarch's (version and :func:`source_hash`) and :data:`RESULT_PACKAGES`'
    versions in this process (``None``: not installed)."""
    return dict(_software())


def changed(then: Mapping[str, Any], now: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``{name: [then, now]}`` for each entry that differs (or is in only one)."""
    names = sorted(set(then) | set(now))
    return {k: [then.get(k), now.get(k)] for k in names if then.get(k) != now.get(k)}


def resumed(
    meta: dict[str, Any],
    then: Mapping[str, Any],
    run_dir: str | Path,
    *,
    parts: str = "trials",
    record: str = "run.json's software_changes",
) -> None:
    """Record in ``meta`` (``run.json``'s, being written, or a benchmark's kept-runs
    header) the software of a resume.

    ``meta["software"]`` is what the run started with (from ``then``, the run's meta
    as it was read); a resume with other software appends ``{"resumed": time,
    "changed": {name: [then, now]}}`` to ``meta["software_changes"]`` and warns once,
    naming what was made before and after (``parts``) and where it is written
    (``record``). A run made before quarch recorded software (no ``"software"`` in
    ``then``) is left without a start record, and nothing is said: there is nothing to
    compare with.
    """
    history = then.get("software_changes")
    if isinstance(history, list):
        meta["software_changes"] = list(history)
    start = then.get("software")
    if not isinstance(start, dict):
        return
    meta["software"] = start
    now = software()
    diff = changed(start, now)
    if not diff:
        return
    when = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    meta.setdefault("software_changes", []).append({"resumed": when, "changed": diff})
    listed = "; ".join(f"{k} {v[0]} -> {v[1]}" for k, v in diff.items())
    warn(
        f"resuming {str(run_dir)!r} with other software than it started with ({listed}): "
        f"its {parts} from before and after may not compare ({record} records it)"
    )
