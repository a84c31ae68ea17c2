"""A space or strategy registered in a notebook's cell, searched with ``workers > 1``
(``quarch.study._parallel._sent`` and ``_register_again``).

A spawned worker fills its tables by imports alone (quarch's, the main script's, the
modules in ``QUARCH_PLUGINS``, those that define the run's spec and strategy). Before,
a spec or strategy factory whose code is in a module but whose registration is in the
session (``register_space(my_lib.Spec())`` in a cell) was unknown to each worker,
which stopped without a word; the kernel ran every trial alone. Now the parent sends
the user's registrations of the run's space and strategy with the worker's arguments,
and each worker registers them again.

The truth: the process ids that evaluated trials, recorded by the evaluator (two
workers: two ids), and the objects registered (compared with those sent).
``python -c`` stands for the kernel (to multiprocessing both are a main module with no
file); a real kernel runs too (``nbclient``, skipped where it is not installed).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from optuna.samplers import RandomSampler

from quarch.config import SearchConfig
from quarch.search import STRATEGIES
from quarch.spaces import _CACHE, SPACES, get_spec, register_space
from quarch.study import _parallel as par

#: A space spec and a strategy factory in a module that registers neither; its
#: evaluator records the process that evaluated each trial and holds its first trial
#: until two processes have started one (at most 45 s), so a second worker that never
#: evaluates shows as one process id, however slow it starts.
LIB = """
import os, time
from pathlib import Path

import optuna

from quarch.space import Choice, Space
from quarch.spaces import SpaceSpec

PIDS = Path(os.environ.get("PIDS_FILE", "pids.txt"))
WAITED = []


class Ev:
    fingerprint = "nb-lib"

    def evaluate(self, arch, *, seed):
        with PIDS.open("a") as f:
            f.write(f"{os.getpid()}\\n")
        end = time.monotonic() + 45
        while not WAITED and len(set(PIDS.read_text().split())) < 2 and time.monotonic() < end:
            time.sleep(0.05)
        WAITED.append(1)  # a process waits in its first trial only
        return {"val_error": 1 / arch["depth"], "params": float(arch["depth"])}


class LibSpec(SpaceSpec):
    name = "nb-lib"
    description = "toy"
    needs_dataset = False

    def __init__(self, depths=(1, 2, 3, 4, 5, 6)):
        self.depths = list(depths)

    def space(self, **options):
        return Space([Choice("depth", self.depths)], name="nb-lib")

    def make_evaluator(self, space, config, *, weights_dir=None):
        return Ev()


def random_factory(*, seed, space, objective, scale=1):
    return optuna.samplers.RandomSampler(seed=seed)
"""


@pytest.fixture
def lib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The module above, imported; what a test registers is forgotten after it."""
    (tmp_path / "nb_sent_lib.py").write_text(LIB)
    monkeypatch.syspath_prepend(str(tmp_path))
    spaces, strategies = set(SPACES.names()), set(STRATEGIES.names())
    module = importlib.import_module("nb_sent_lib")
    yield module
    for name in set(SPACES.names()) - spaces:
        SPACES.remove(name)
        _CACHE.pop(name, None)  # get_spec's: it would still give the spec
    for name in set(STRATEGIES.names()) - strategies:
        STRATEGIES.remove(name)
    sys.modules.pop("nb_sent_lib", None)


def test_quarch_s_own_space_and_strategy_are_not_sent() -> None:
    """Every worker has them: its arguments stay as they were (no ``kwargs``)."""
    assert par._sent(SearchConfig(space="mlp", dataset="iris", strategy="tpe")) == []
    assert par._sent(SearchConfig(space="nb201", strategy="qiea")) == []


def test_the_user_s_registrations_are_sent_and_registered_again(lib: Any) -> None:
    spec = register_space(lib.LibSpec(depths=(2, 4)), replace=True)
    factory = functools.partial(lib.random_factory, scale=3)
    STRATEGIES.add("nb-lib-random", factory, "random, from a module")
    sent = par._sent(SearchConfig(space="nb-lib", strategy="nb-lib-random"))
    assert len(sent) == 2
    # a worker: its imports registered another spec and strategy under the names
    SPACES.remove("nb-lib")
    register_space(lib.LibSpec(depths=(9,)))
    STRATEGIES.remove("nb-lib-random")
    STRATEGIES.add("nb-lib-random", lib.random_factory, "stale")
    par._register_again(sent)
    again: Any = get_spec("nb-lib")
    assert type(again) is lib.LibSpec and again.depths == [2, 4] and again is not spec
    assert SPACES.get("nb-lib")() is again
    got = STRATEGIES.get("nb-lib-random")
    assert isinstance(got, functools.partial)
    assert got.func is lib.random_factory and got.keywords == {"scale": 3}
    entry = next(e for e in STRATEGIES.entries() if e.name == "nb-lib-random")
    assert entry.description == "random, from a module"


def test_what_cannot_be_pickled_or_loaded_is_left_to_the_worker_s_imports(lib: Any) -> None:
    """A lambda (a script's top level registers it again in each worker, as before) is
    not sent; bytes a worker cannot load are passed over, the rest registered."""
    STRATEGIES.add(
        "nb-lib-lambda", lambda *, seed, space, objective: RandomSampler(seed=seed), "lambda"
    )
    register_space(lib.LibSpec(depths=(3,)), replace=True)
    sent = par._sent(SearchConfig(space="nb-lib", strategy="nb-lib-lambda"))
    assert [type(pickle.loads(b)) for b in sent] == [lib.LibSpec]
    SPACES.remove("nb-lib")
    unloadable = pickle.dumps(lib.LibSpec()).replace(b"nb_sent_lib", b"nb_gone_lib")
    par._register_again([unloadable, *sent])
    again: Any = SPACES.get("nb-lib")()
    assert type(again) is lib.LibSpec and again.depths == [3]


def test_run_workers_hands_them_to_each_worker_which_registers_them(
    lib: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In this process: ``run_workers`` gives each spawned worker the registrations
    (recorded, not started), and the worker's entry point, called here after both
    names are forgotten as a fresh interpreter never knew them, registers them again
    and runs its trials (before, it found neither and stopped without a word)."""
    import dataclasses
    import multiprocessing

    from quarch.study import Run, run_search

    monkeypatch.chdir(tmp_path)
    lib.WAITED.append(1)  # one process here: no wait for a second
    register_space(lib.LibSpec(), replace=True)
    STRATEGIES.add("nb-lib-random", lib.random_factory, "r")
    cfg = SearchConfig(space="nb-lib", strategy="nb-lib-random", trials=1, workers=2, out="run")
    run_search(dataclasses.replace(cfg, workers=1), progress=False)
    run = Run.open("run")
    log: list[dict[str, Any]] = []

    class Recorded:
        pid = None

        def __init__(self, *, target: Any, args: Any, name: str, kwargs: Any = None) -> None:
            log.append({"target": target, "args": args, "kwargs": kwargs})

        def start(self) -> None:
            pass

        def is_alive(self) -> bool:
            return False

        def join(self, timeout: float | None = None) -> None:
            pass

    monkeypatch.setattr(multiprocessing.get_context("spawn"), "Process", Recorded)
    config = dataclasses.replace(run.config, trials=3, workers=2)
    par.run_workers(run.study(), space=run.space, evaluator=lib.Ev(), objective=run.objective,
                    config=config, poll=lambda: None, custom_evaluator=False)  # fmt: skip
    (entry,) = log
    assert entry["kwargs"] == {"sent": par._sent(config)} and len(entry["kwargs"]["sent"]) == 2
    SPACES.remove("nb-lib")
    _CACHE.pop("nb-lib")  # (the fixture forgets what the worker registers)
    STRATEGIES.remove("nb-lib-random")
    args = list(entry["args"])
    args[2] = dataclasses.replace(config, trials=5)  # two trials more, for the worker
    assert args[4] is None  # the worker builds its evaluator from the registered spec
    entry["target"](*args, **entry["kwargs"])
    assert len(run.study().get_trials(deepcopy=False)) == 5


def _pythonpath(cwd: Path) -> str:
    """This test's quarch first (a copy of the old code is tested this way), then the
    folder with the user's module."""
    import quarch

    src = str(Path(quarch.__file__).parents[1])
    return os.pathsep.join([src, str(cwd), os.environ.get("PYTHONPATH", "")])


@pytest.mark.parametrize(
    ("session", "plugins"),
    [
        # the space registered in the session, quarch's strategy
        ("register_space(nb_sent_lib.LibSpec())\nstrategy = 'random'\n", ""),
        # the space registered by a module each worker imports (QUARCH_PLUGINS), the
        # strategy (a module's function) registered in the session
        ("import nb_sent_reg\n"
         "STRATEGIES.add('nb-lib-random', nb_sent_lib.random_factory, 'r')\n"
         "strategy = 'nb-lib-random'\n", "nb_sent_reg"),
    ],
    ids=["space", "strategy"],
)  # fmt: skip
def test_registered_in_a_session_both_workers_evaluate_trials(
    tmp_path: Path, session: str, plugins: str
) -> None:
    (tmp_path / "nb_sent_lib.py").write_text(LIB)
    (tmp_path / "nb_sent_reg.py").write_text(
        "import nb_sent_lib\nfrom quarch.spaces import register_space\n"
        "register_space(nb_sent_lib.LibSpec())\n"
    )
    code = (
        "import nb_sent_lib\n"
        "from quarch.config import SearchConfig\n"
        "from quarch.search import STRATEGIES\n"
        "from quarch.spaces import register_space\n"
        "from quarch.study import run_search\n" + session + "r = run_search(SearchConfig("
        "space='nb-lib', strategy=strategy, trials=6, workers=2, out='run'), progress=False)\n"
        "print('done', r.done)\n"
    )
    env = {**os.environ, "PIDS_FILE": str(tmp_path / "pids.txt"), "PYTHONPATH": _pythonpath(tmp_path),
           "QUARCH_PLUGINS": plugins}  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=200, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "done 6" in done.stdout
    assert len(set((tmp_path / "pids.txt").read_text().split())) == 2
    assert "Traceback" not in done.stderr


_KERNEL = all(importlib.util.find_spec(m) for m in ("nbclient", "nbformat", "ipykernel"))


@pytest.mark.skipif(not _KERNEL, reason="needs nbclient, nbformat and ipykernel")
def test_a_space_registered_in_a_real_kernel_s_cell_runs_on_both_workers(tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    (tmp_path / "nb_sent_lib.py").write_text(LIB)
    cells = [
        "import os\nimport nb_sent_lib\nfrom quarch.config import SearchConfig\n"
        "from quarch.spaces import register_space\nfrom quarch.study import run_search\n"
        "register_space(nb_sent_lib.LibSpec(), replace=True)",
        "r = run_search(SearchConfig(space='nb-lib', trials=6, workers=2, out='run'),\n"
        "               progress=False)\nprint(r.done, os.getpid())",
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    NotebookClient(nb, timeout=240, resources={"metadata": {"path": str(tmp_path)}}).execute()
    done, kernel = nb.cells[1].outputs[-1].text.split()
    assert done == "6"
    pids = set((tmp_path / "pids.txt").read_text().split())
    assert len(pids) == 2 and kernel in pids
