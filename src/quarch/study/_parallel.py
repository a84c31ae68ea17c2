"""Several worker processes on one machine sharing one study.

Workers are started with the ``spawn`` method (a fresh interpreter each), because
forking a process whose torch/OpenMP thread pools are running can deadlock the child.
Each worker gets ``cores // workers`` torch threads and a passive OpenMP wait policy,
so N workers do not oversubscribe the machine (measured in DESIGN.md: 3.5-4.6x faster
than the default under contention). A spawned worker imports the main script again, so
a search started at a script's top level, outside ``if __name__ == "__main__":``, is
refused before anything is written (:func:`check_main_guard`).
"""

from __future__ import annotations

import ast
import contextlib
import functools
import multiprocessing
import multiprocessing.util
import os
import pickle
import signal
import sys
import threading
import time
import types
from collections.abc import Callable, Sequence
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quarch._errors import ConfigError
from quarch._warnings import warn
from quarch.study._signals import SignalHold
from quarch.study._worker import fail_dead_trials, work
from quarch.study._worker_stops import Stopped, _leave_reason, _Watch, join_workers

if TYPE_CHECKING:
    from types import FrameType

    import optuna

    from quarch.config import SearchConfig
    from quarch.evaluate import Evaluator
    from quarch.objectives import Objective
    from quarch.space import Space

__all__ = ["check_main_guard", "check_sendable", "run_workers", "thread_env"]


def _guard_error(workers: int, where: str) -> ConfigError:
    return ConfigError(
        f"workers={workers} starts worker processes that import the main script again "
        "(Python's spawn start method), and a search called at its top level would start "
        f'again in each; put the call under `if __name__ == "__main__":` ({where})'
    )


def _main_test(test: ast.expr) -> bool:
    """Whether an ``if`` tests the module's name against ``"__main__"`` (any spelling)."""
    names = {n.id for n in ast.walk(test) if isinstance(n, ast.Name)}
    texts = {n.value for n in ast.walk(test) if isinstance(n, ast.Constant)}
    return "__name__" in names and "__main__" in texts


def _guarded(node: ast.If) -> list[ast.stmt]:
    """The statements of ``node`` that run in the main script and not where a spawned
    worker imports it: the body of ``if __name__ == "__main__":``, the ``else`` of
    ``if __name__ != "__main__":``; none for any other ``if``."""
    if not _main_test(node.test):
        return []
    test = node.test
    negated = isinstance(test, ast.Compare) and any(isinstance(o, ast.NotEq) for o in test.ops)
    return node.orelse if negated else node.body


def unguarded_call() -> str | None:
    """``FILE:LINE`` of the main script's top-level statement that led to this call when
    it lies outside every ``if __name__ == "__main__":`` block (a spawned worker
    imports the script again and would run it); ``None`` when it lies inside one, or
    when this cannot be told (no script: ``python -c``, a REPL, a notebook; its source
    unreadable; a call off the main thread)."""
    main = sys.modules.get("__main__")
    frame: FrameType | None = sys._getframe()  # this one's own is no module's
    while frame is not None and not (
        main is not None and frame.f_globals is vars(main) and frame.f_code.co_name == "<module>"
    ):
        frame = frame.f_back
    if frame is None or not getattr(main, "__file__", None):
        return None
    path, line = frame.f_code.co_filename, frame.f_lineno
    try:
        tree = ast.parse(Path(path).read_bytes())
    except (OSError, SyntaxError, ValueError):
        return None
    guarded = [s for node in ast.walk(tree) if isinstance(node, ast.If) for s in _guarded(node)]
    if any(s.lineno <= line <= (s.end_lineno or s.lineno) for s in guarded):
        return None
    return f"{path}:{line}"


def check_main_guard(
    workers: int,
    *,
    config: SearchConfig | None = None,
    space: Space | None = None,
    evaluator: Evaluator | None = None,
) -> None:
    """Refuse, before anything is written, local worker processes started from a main
    script's top level outside ``if __name__ == "__main__":``: each spawned worker runs
    the script again, which gave Python's multiprocessing ``RuntimeError`` (its
    bootstrapping phase) from every worker, after each had started the search again
    (and with ``overwrite=True`` replaced the run being made). A spawned process that
    still imports its main script (the case this could not see) is refused too, and so
    is what a worker could not receive (:func:`check_sendable`).

    Args:
        config, space, evaluator: the search's, for :func:`check_sendable` (the space
            and evaluator a caller gave, ``None`` for the registered ones).

    Raises:
        ConfigError: one line naming the script's line, saying to guard it.
    """
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise _guard_error(workers, "this is a worker process importing the main script")
    where = unguarded_call()
    if where is not None:
        raise _guard_error(workers, where)
    check_sendable(workers, config=config, space=space, evaluator=evaluator)


def _main_unimportable() -> str | None:
    """Why a spawned worker cannot import the main module, ``None`` where it can.

    A spawned interpreter imports the main module again from its ``__spec__`` name
    (``python -m``) or its ``__file__``. A Jupyter kernel, ``python -c`` and a REPL
    have neither: the workers start, but what the session defined is not theirs.
    ``python -`` has ``__file__ == "<stdin>"``, which each worker then fails to open
    (multiprocessing's ``FileNotFoundError`` traceback from every worker).
    """
    main = sys.modules.get("__main__")
    if main is None or getattr(getattr(main, "__spec__", None), "name", None):
        return None
    path = getattr(main, "__file__", None)
    if path is None:
        return "session"
    return None if Path(path).is_file() else str(path)


class _MainFinder(ForkingPickler):
    """A pickler that writes nothing and notes each class or function of ``__main__``
    the pickle would name: what a worker must import from the main module to load it.
    It is multiprocessing's own pickler at its own protocol, as spawn sends the
    arguments (pickle's highest protocol passed what spawn's refused, a
    ``PickleBuffer`` after the run folder was written; its reducers, too)."""

    def __init__(self) -> None:
        super().__init__(_Discard())
        self.found: list[str] = []

    def persistent_id(self, obj: Any) -> None:
        if isinstance(obj, (type, types.FunctionType)) and obj.__module__ == "__main__":
            name = obj.__qualname__
            if name not in self.found:
                self.found.append(name)


class _Discard:
    def write(self, data: bytes) -> int:
        return len(data)


def _pickled_from_main(workers: int, what: str, obj: object) -> list[str]:
    """The names ``__main__`` must hold for a worker to load ``obj`` (``what`` names it
    in the refusal of one that cannot be pickled at all, which gave the pickling
    traceback after the run folder was written)."""
    finder = _MainFinder()
    try:
        finder.dump(obj)
    except Exception as e:  # pickle's errors: PicklingError, TypeError, AttributeError
        raise ConfigError(
            f"workers={workers} sends the {what} to each worker process, and it cannot be "
            f"pickled ({type(e).__name__}: {e}); make it picklable, or use workers=1"
        ) from None
    return finder.found


def _registered_in_main(config: SearchConfig) -> list[str]:
    """The classes or functions of ``__main__`` a worker would look up by name: the
    space spec and the strategy factory registered under the config's names."""
    return [owner.__qualname__ for owner in _registered(config) if owner.__module__ == "__main__"]


def _registered(config: SearchConfig) -> list[Any]:
    """Where the space spec and strategy factory the config names are defined (the
    spec's class, the factory itself), where registered (an unknown name is refused
    later, in its own line): a worker must import their modules to find them."""
    from quarch.search import STRATEGIES
    from quarch.spaces import SPACES, get_spec

    found: list[object] = []
    if config.space in SPACES:
        found.append(get_spec(config.space))
    if config.strategy in STRATEGIES:
        found.append(STRATEGIES.get(config.strategy))
    out = []
    for o in found:
        while isinstance(o, functools.partial):  # its function's module, not functools'
            o = o.func
        out.append(o if isinstance(o, (type, types.FunctionType)) else type(o))
    return out


def check_sendable(
    workers: int,
    *,
    config: SearchConfig | None = None,
    space: Space | None = None,
    evaluator: Evaluator | None = None,
) -> None:
    """Refuse, before anything is written, worker processes that could not receive the
    search: a main script read from standard input (each worker failed to open
    ``<stdin>``); a space or evaluator that cannot be pickled; and, where the main
    module has no file (a Jupyter kernel, ``python -c``), a space, evaluator, space
    spec or strategy defined in it. Before, each worker died at its start (its error
    on the kernel's terminal, not in the notebook) or found no such space and stopped
    without a word, and this process ran every trial alone.

    Raises:
        ConfigError: one line naming what cannot be sent and what to do instead.
    """
    why = _main_unimportable()
    if why is not None and why != "session":
        raise ConfigError(
            f"workers={workers} starts worker processes that import the main script "
            f"again, and its file {why!r} does not exist (a script read from standard "
            "input, `python -`, has none); save the script in a file and run that, or use "
            "workers=1"
        )
    names: list[str] = []
    if space is not None:
        names += _pickled_from_main(workers, "space", space)
    if evaluator is not None:
        names += _pickled_from_main(workers, "evaluator", evaluator)
    if why is None:
        return
    if config is not None:
        names += _registered_in_main(config)
    if names:
        listed = ", ".join(dict.fromkeys(names))
        raise ConfigError(
            f"workers={workers} starts worker processes, and they cannot see {listed}: "
            "defined in this notebook or interactive session (its __main__), which a "
            "worker process cannot import; move it into a module (a .py file beside "
            "the notebook), import it from there (register_space in that module), or "
            "use workers=1"
        )


def thread_env(threads: int) -> dict[str, str]:
    """Environment that pins a worker's thread pools to ``threads``."""
    t = str(threads)
    return {
        "OMP_NUM_THREADS": t,
        "MKL_NUM_THREADS": t,
        "OPENBLAS_NUM_THREADS": t,
        "OMP_WAIT_POLICY": "PASSIVE",
    }


def _worker_main(
    spec: str, run_dir: str, config: SearchConfig, space: Space, evaluator: Evaluator | None,
    threads: int, deadline: float | None = None, sent: Sequence[bytes] = (),
) -> None:  # fmt: skip
    """A spawned worker. It starts with Ctrl-C ignored (see
    :class:`_SpawnedIgnoringCtrlC`) and takes it back here. Ctrl-C then fails its
    trial, and a run that gives up does so in every worker: the parent process reports
    both, in one line, so a traceback here would only repeat it. ``sent``: the user's
    registrations of the run's space and strategy (:func:`_sent`).

    What stops it before its first trial (a plug-in that fails to import here, a space
    or strategy unknown here, a storage or data set it cannot open: anything but
    Ctrl-C) only this process sees: it stopped without a word and the parent ran its
    share. Now it leaves the reason for the parent, which reports it in one line, and
    ends with :data:`STOPPED_AT_START` (:mod:`quarch.study._worker_stops`)."""
    import signal

    from quarch._errors import QuarchError, quiet_interrupted_imports

    quiet_interrupted_imports()
    signal.signal(signal.SIGINT, _interrupt_once)
    run: Callable[[float | None], str] | None = None
    try:
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: the parent reports it
            run = _start_here(spec, run_dir, config, space, evaluator, threads, sent)
    except BaseException as e:  # a plug-in's sys.exit() too: it never ran a trial
        sys.exit(_leave_reason(run_dir, e))
    if run is not None:
        with contextlib.suppress(KeyboardInterrupt, QuarchError):
            run(deadline)


def _interrupt_once(signum: int, frame: Any) -> None:
    """A spawned worker's SIGINT handler: Ctrl-C once, then SIGINT ignored. The parent
    sends SIGINT again every 0.3 s until the worker ends (:func:`_stop`); a second one
    that arrived while the worker failed its trial as interrupted left the trial
    RUNNING, failed later as "worker process N died during this trial"."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _start_here(
    spec: str, run_dir: str, config: SearchConfig, space: Space, evaluator: Evaluator | None,
    threads: int, sent: Sequence[bytes] = (),
) -> Callable[[float | None], str]:  # fmt: skip
    """What a spawned worker does before its first trial (import the user's plug-ins,
    register what its parent sent, build its evaluator, sampler and study); returns its
    work, which takes the run's deadline. Apart, so that :func:`_worker_main` can tell
    a worker that never started from one whose run gave up."""
    from quarch._plugins import import_plugins

    import_plugins()  # the spaces and strategies of the user's own (_plugin_env)
    _register_again(sent)
    return _ready_here(spec, run_dir, config, space, evaluator, threads)


def _work_here(
    spec: str, run_dir: str, config: SearchConfig, space: Space, evaluator: Evaluator | None,
    threads: int, *, deadline: float | None = None,
) -> None:  # fmt: skip
    """A worker's build and work in this process, without :func:`_worker_main`'s
    plug-ins, sent registrations and report of a failed start: a worker started by
    hand (the tests' in-process workers)."""
    _ready_here(spec, run_dir, config, space, evaluator, threads)(deadline)


def _ready_here(
    spec: str, run_dir: str, config: SearchConfig, space: Space, evaluator: Evaluator | None,
    threads: int,
) -> Callable[[float | None], str]:  # fmt: skip
    """A worker's evaluator, sampler and study, built; returns its work (which takes
    the run's deadline: the time left is counted when it starts)."""
    import optuna
    import torch

    from quarch.search import make_sampler
    from quarch.spaces import make_evaluator
    from quarch.study._run import Run, objective_of
    from quarch.study._storage import make_pruner, make_storage

    torch.set_num_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    objective = objective_of(config)
    if evaluator is None:
        run = Run(run_dir, config, {})
        evaluator = make_evaluator(space, config, weights_dir=run.weights_dir)
    # the strategies that take the metrics known without training get them here too
    sampler = make_sampler(
        config.strategy, seed=config.seed, space=space, objective=objective,
        cheap_metrics=getattr(evaluator, "cheap_metrics", None), **config.strategy_options,
    )  # fmt: skip
    study = optuna.load_study(
        study_name=config.study_name, storage=make_storage(spec, Path(run_dir)), sampler=sampler,
        pruner=make_pruner(config.pruner, config.pruner_options),
    )  # fmt: skip

    def work_until(deadline: float | None) -> str:
        return work(
            study, space=space, evaluator=evaluator, objective=objective, trials=config.trials,
            run_seed=config.seed, timeout=_left(config.timeout, deadline),
            trial_timeout=config.trial_timeout,
        )  # fmt: skip

    return work_until


def _deadline(timeout: float | None) -> float | None:
    """The run's ``--timeout`` as a wall-clock time every worker shares.

    Each spawned worker counted the whole timeout from its own start, seconds after the
    parent's (it imports torch and builds its evaluator first), and the parent then
    waited for it: ``--workers 2 --timeout 20`` ran 54 s. The clock is ``time.time``
    because ``time.monotonic``'s reference point is undefined across processes."""
    return None if timeout is None else time.time() + float(timeout)


def _left(timeout: float | None, deadline: float | None) -> float | None:
    """Seconds left before ``deadline`` (none left: 0, and the worker starts no trial);
    ``timeout`` itself where no deadline was set (a worker started by hand)."""
    return timeout if deadline is None else max(0.0, deadline - time.time())


def _stop(procs: list[Any], grace: float = 15.0) -> None:
    """End the spawned workers after Ctrl-C. The terminal's SIGINT reached them too,
    but one still starting up ignored it: it is sent SIGINT again until it ends (it
    then fails its trial as interrupted), and terminated after ``grace`` seconds. Each
    worker is then waited for at most 5 s (one that outlives SIGTERM, stuck in the
    kernel, is left running), so Ctrl-C ends the run within ``grace`` + 5 s a worker.
    Also how a worker hung at its start is ended, with a 1 s grace
    (:func:`~quarch.study._worker_stops.join_workers`)."""
    deadline = time.monotonic() + grace
    while any(p.is_alive() for p in procs) and time.monotonic() < deadline:
        for p in procs:
            if p.is_alive() and p.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGINT)
        time.sleep(0.3)
    for p in procs:
        if p.is_alive():
            p.terminate()
        p.join(timeout=5)


class _SpawnedIgnoringCtrlC:
    """Processes spawned in this ``with`` block start with Ctrl-C ignored, so one
    interrupted while it still imports torch prints no traceback (:func:`_worker_main`
    takes it back once it can fail its trial cleanly).

    An ignored signal is the only state that survives the exec: a handler is reset,
    and multiprocessing's fork and exec reset the signal mask. So this process ignores
    Ctrl-C for the fork and exec alone (``multiprocessing.util.spawnv_passfds``, what
    the spawn start method calls on POSIX): a few milliseconds, where ignoring it for
    the whole start (seconds: the space and evaluator are pickled and written to the
    child) lost a Ctrl-C pressed then, and the run went on to its budget. Off the main
    thread nothing is ignored: Ctrl-C reaches only the main thread's handlers.
    """

    def __enter__(self) -> None:
        self._real = multiprocessing.util.spawnv_passfds
        setattr(multiprocessing.util, "spawnv_passfds", self._spawnv_passfds)  # noqa: B010

    def __exit__(self, *exc: object) -> None:
        setattr(multiprocessing.util, "spawnv_passfds", self._real)  # noqa: B010

    def _spawnv_passfds(self, *args: Any) -> int:
        if threading.current_thread() is not threading.main_thread():
            return self._real(*args)
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            return self._real(*args)
        finally:
            signal.signal(signal.SIGINT, old)


def _plugin_env(config: SearchConfig) -> dict[str, str]:
    """``QUARCH_PLUGINS`` for the spawned workers: the user's, and the modules that
    define the run's space spec and strategy where they are neither quarch's nor the
    main module's (which a worker imports itself, or :func:`check_sendable` refused).

    A worker looks both up by name, in tables that only an import fills. A spawned
    one imports the main script again, not the modules the main process imported:
    one started from a notebook, or by ``quarch search`` with ``QUARCH_PLUGINS``,
    found no such space and stopped without a word, and this process ran every
    trial alone."""
    from quarch._plugins import PLUGINS_VARIABLE

    names = [n.strip() for n in os.environ.get(PLUGINS_VARIABLE, "").split(",") if n.strip()]
    for owner in _registered(config):
        module = owner.__module__
        if module.split(".")[0] not in ("quarch", "__main__", "__mp_main__"):
            names.append(module)
    return {PLUGINS_VARIABLE: ",".join(dict.fromkeys(names))} if names else {}


def _sent(config: SearchConfig) -> list[bytes]:
    """The run's space spec and strategy entry, pickled, where the user registered them
    (not quarch): each worker registers them again (:func:`_register_again`).

    A spawned worker fills its tables by imports alone: quarch's, the main script's,
    the modules in ``QUARCH_PLUGINS`` (:func:`_plugin_env`). A space or strategy whose
    code is in a module but whose registration is not (``register_space(my.Spec())``
    or ``STRATEGIES.add(...)`` in a notebook's cell, ``python -c``, or a script's
    ``if __name__ == "__main__":`` block) was in none of them: each worker found no
    such name and stopped without a word, and this process ran every trial alone.
    What cannot be pickled is left to the worker's imports, as before (a lambda a
    script registers at its top level, which the worker runs again)."""
    from quarch._registry import Entry
    from quarch.search import STRATEGIES
    from quarch.spaces import SPACES, get_spec

    found: list[object] = [get_spec(config.space)] if config.space in SPACES else []
    found += [e for e in STRATEGIES.entries() if e.name == config.strategy]
    sent = []
    for obj in found:
        owner = obj.factory if isinstance(obj, Entry) else obj  # its __module__: its class's
        if owner.__module__.split(".")[0] == "quarch":
            continue  # quarch's own: every worker has it
        with contextlib.suppress(Exception):  # pickle's errors, or the object's own
            sent.append(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
    return sent


def _register_again(sent: Sequence[bytes]) -> None:
    """Register in this worker the space spec and strategy entry its parent sent
    (:func:`_sent`) as the parent has them, in place of any the worker's imports
    registered under the name (a cell may have registered an edited spec again with
    ``replace=True``). One this process cannot load (a class defined where the worker
    cannot import it) is left to its imports, as before."""
    from quarch._registry import Entry
    from quarch.search import STRATEGIES
    from quarch.spaces import register_space

    for data in sent:
        try:
            obj = pickle.loads(data)
        except Exception:  # pickle's errors, or an import's
            continue
        if isinstance(obj, Entry):
            if obj.name in STRATEGIES:
                STRATEGIES.remove(obj.name)
            STRATEGIES.add(obj.name, obj.factory, obj.description)
        else:
            register_space(obj, replace=True)


def _cores() -> int:
    """Cores this process may run on: its CPU affinity where the system has one (a
    container or ``taskset`` grants fewer than ``os.cpu_count()`` counts)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def run_workers(
    study: optuna.Study,
    *,
    space: Space,
    evaluator: Evaluator,
    objective: Objective,
    config: SearchConfig,
    poll: Callable[[], Any],
    custom_evaluator: bool = True,
    storage: str | None = None,
) -> str:
    """Run ``config.workers`` workers on ``study`` until the budget is complete.

    This process is one of the workers (it has the evaluator built already); the other
    ``workers - 1`` are spawned. It keeps working until the study holds the budget, so
    it also finishes the work of spawned workers that die.

    Args:
        storage: the study's storage as this process opened it (a database URL with
            its password, which the run folder does not store); default: the run's.

    Returns:
        Why this process stopped (``"budget"`` or ``"timeout"``), a :class:`Stopped`
        that carries the workers that stopped early or were ended (hung at their start:
        :func:`~quarch.study._worker_stops.join_workers`).
    """
    import torch

    from quarch.study._run import Run

    run_dir = config.run_dir
    deadline = _deadline(config.timeout)  # counted from here, for every worker
    spec = storage if storage is not None else Run.open(run_dir).storage
    n = min(config.workers, config.trials)  # a worker beyond the budget has no trial
    cores = _cores()
    if n > cores:
        warn(
            f"{n} workers on {cores} core(s): they share the cores at one torch thread "
            f"each, and each holds its own torch and data in memory; --workers {cores} "
            f"uses the same cores"
        )
    threads = max(1, cores // n)
    ctx = multiprocessing.get_context("spawn")
    env = {**thread_env(threads), **_plugin_env(config)}
    sent = _sent(config)
    extra: dict[str, Any] = {"kwargs": {"sent": sent}} if sent else {}  # none: quarch's own
    first_trial = len(study.get_trials(deepcopy=False))  # a resumed run's are not theirs
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    # Ctrl-C and SIGTERM are held while the workers start and taken once they have,
    # so _stop ends them (SignalHold); the workers start with Ctrl-C ignored.
    hold = SignalHold()
    procs: list[multiprocessing.process.BaseProcess] = []
    try:
        procs = [
            ctx.Process(
                target=_worker_main,
                args=(
                    spec,
                    str(run_dir),
                    config,
                    space,
                    evaluator if custom_evaluator else None,
                    threads,
                    deadline,
                ),
                name=f"quarch-worker-{i}",
                **extra,
            )
            for i in range(1, n)
        ]
        with _SpawnedIgnoringCtrlC():
            for p in procs:
                p.start()
    except BaseException:
        _stop([p for p in procs if p.pid is not None])
        hold.release()
        raise
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    spawned_at = time.monotonic()
    watch = _Watch(procs, run_dir, n)

    def on_trial(_: object) -> None:
        watch()
        poll()

    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        hold.release()  # a Ctrl-C or SIGTERM that came while the workers started
        stopped = work(
            study, space=space, evaluator=evaluator, objective=objective, trials=config.trials,
            run_seed=config.seed, timeout=_left(config.timeout, deadline),
            trial_timeout=config.trial_timeout, on_trial=on_trial,
        )  # fmt: skip
        join_workers(procs, study, watch, spawned_at=spawned_at, stop=_stop, stopped=stopped,
                     first_trial=first_trial)  # fmt: skip
    except KeyboardInterrupt:
        _stop(procs)
        fail_dead_trials(study)  # the trial of a worker that had to be terminated
        watch.forget()
        raise
    except BaseException:  # this worker gave up: stop the others (their running trial is
        for p in procs:  # failed as interrupted when the run is next opened)
            p.terminate()
            p.join(timeout=30)
        watch.forget()
        raise
    finally:
        torch.set_num_threads(old_threads)
    watch(ended=True)
    poll()
    return Stopped(stopped, watch.stopped)
