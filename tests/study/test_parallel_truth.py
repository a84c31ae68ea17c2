"""What ``--workers`` and ``--ray`` promise, checked against the processes themselves.

* ``--workers N`` (README, "Running on several cores"): N workers on one study, this
  process and N-1 spawned ones, at most one per trial; each gets ``cores // N`` torch
  threads and a passive OpenMP wait policy (``thread_env``: OMP, MKL and OpenBLAS pools
  pinned), where the cores are the CPU affinity's. The budget is done exactly once
  across them; Ctrl-C stops every child (SIGINT again until it ends, SIGTERM after the
  grace), a worker that gives up ends the others, a timeout ends them all, and no
  process is left behind.
* ``--ray`` (``study/_ray.py``): an address where nothing listens is refused in one
  line within :data:`PROBE_SECONDS`; Ray is started (or joined) with the documented
  options; the driver runs evaluations as one-CPU tasks and gives the serial loop's
  trials for a seeded study.

Spawned workers are real where the claim is about them (the environment they start
with, read from ``/proc/PID/environ``; a budget done once; Ctrl-C). Elsewhere a
stand-in with ``multiprocessing.Process``'s interface runs a real ``python -c``
process (started, signalled, terminated and reaped for real) or records what a worker
would start with, so those tests take a fraction of a second. A local Ray takes 15-20 s
to start on the test machine, so the driver runs against a stand-in of Ray's API
(``_FakeRay``: tasks run in this process, finished newest first);
``tests/test_ray_skips_heard_truth.py::test_a_real_ray_gives_the_serial_loops_trials_and_hooks``
runs a real one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.machinery
import multiprocessing
import multiprocessing.util
import os
import signal
import socket
import subprocess
import sys
import time
import types
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import optuna
import pytest
import torch
from optuna.trial import TrialState

from quarch import ConfigError, RunError
from quarch.config import SearchConfig
from quarch.space import Space
from quarch.study import _parallel as par
from quarch.study import _ray as qray
from quarch.study import run_search, space_for, trial_seed
from quarch.study._run import Run
from quarch.study._worker import INTERRUPTED, OWNER
from quarch.testing.evaluators import ArithmeticEvaluator

ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY")
HOST = socket.gethostname()


# ---------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def _restore_process_state() -> Iterator[None]:
    """Torch's thread count, Optuna's verbosity, SIGINT and the unraisable hook are
    process-wide: the code under test sets them, so each test gives them back."""
    threads = torch.get_num_threads()
    verbosity = optuna.logging.get_verbosity()
    sigint = signal.getsignal(signal.SIGINT)
    hook = sys.unraisablehook
    yield
    torch.set_num_threads(threads)
    optuna.logging.set_verbosity(verbosity)
    signal.signal(signal.SIGINT, sigint)
    sys.unraisablehook = hook


@pytest.fixture
def spawnable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A spawned child re-runs the parent's ``__main__`` script when it has no module
    name (``multiprocessing``'s ``init_main_from_path``). Under mutmut that script is
    mutmut's command line, which fails outside mutmut's folder, so every spawned worker
    would die before it works. Hide the script (``python -m pytest``'s ``__main__`` has
    a module name and is unaffected); the child still gets this process's ``sys.path``
    and environment, so it runs the code under test."""
    main = sys.modules["__main__"]
    if getattr(main, "__spec__", None) is None and hasattr(main, "__file__"):
        monkeypatch.delattr(main, "__file__")
    if "MUTANT_UNDER_TEST" in os.environ:  # the child imports mutmut's trampoline, which
        import quarch  # reads mutmut's config from the working folder: mutmut's copy

        monkeypatch.chdir(Path(quarch.__file__).parents[2])


def _cfg(tmp_path: Path, **kw: Any) -> SearchConfig:
    base: dict[str, Any] = {
        "space": "mlp", "dataset": "iris", "strategy": "random", "out": str(tmp_path / "run"),
        "objectives": ["val_error", "params"], "trials": 1,
    }  # fmt: skip
    base.update(kw)
    return SearchConfig(**base)


def _run(tmp_path: Path, **kw: Any) -> Run:
    """A run folder with one trial done (``workers=2`` gives it a journal file, which
    several processes share)."""
    run_search(_cfg(tmp_path, **kw), evaluator=ArithmeticEvaluator(), progress=False)
    return Run.open(tmp_path / "run")


def _truth(arch: Mapping[str, Any], seed: int) -> dict[str, float]:
    """``ArithmeticEvaluator``'s closed form (its docstring)."""
    return {
        "val_error": 0.1 * arch["n_layers"] + 0.001 * arch["width_0"],
        "params": float(arch["width_0"] * arch["n_layers"]),
        "noise": float(seed % 997) / 997.0,
    }


class _Threads(ArithmeticEvaluator):
    """Records torch's thread count at each evaluation (in this process)."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__(delay)
        self.seen: list[int] = []

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        self.seen.append(torch.get_num_threads())
        return super().evaluate(arch, seed=seed)


class _Raises(ArithmeticEvaluator):
    def __init__(self, exc: BaseException) -> None:
        super().__init__()
        self.exc = exc

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        raise self.exc


def _recording_processes(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Spawned workers that record what they would start with (their target, arguments
    and name; this process's environment at ``start`` and its SIGINT disposition at the
    fork and exec, ``multiprocessing.util.spawnv_passfds``, which a spawned interpreter
    inherits) and never work."""
    log: list[dict[str, Any]] = []
    at_exec: list[Any] = []

    def spawnv_passfds(path: Any, args: Any, passfds: Any) -> int:
        at_exec.append(signal.getsignal(signal.SIGINT))
        return 0

    monkeypatch.setattr(multiprocessing.util, "spawnv_passfds", spawnv_passfds)

    class _Recorded:
        pid = None

        def __init__(self, *, target: Any, args: tuple[Any, ...], name: str) -> None:
            self.entry: dict[str, Any] = {"target": target, "args": args, "name": name,
                                          "joined": False}  # fmt: skip

        def start(self) -> None:
            self.entry["env"] = {k: os.environ.get(k) for k in ENV}
            multiprocessing.util.spawnv_passfds(os.fsencode(sys.executable), [], [])  # spawn's
            self.entry["sigint"] = at_exec.pop()
            log.append(self.entry)

        def is_alive(self) -> bool:
            return False

        def join(self, timeout: float | None = None) -> None:
            self.entry["joined"] = True

        def terminate(self) -> None:
            pass

    monkeypatch.setattr(multiprocessing.get_context("spawn"), "Process", _Recorded)
    return log


#: a worker stand-in: SIGINT stays as inherited (ignored while run_workers starts it)
#: for IGNORE seconds, as in a spawned worker importing torch; then it takes Ctrl-C
#: back (the default action: the process ends by SIGINT) and waits for it
_CHILD = """
import os, signal, sys, time
inherited = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
signal.signal(signal.SIGINT, signal.SIG_IGN)
print(inherited, flush=True)
print(*[os.environ.get(k) for k in {env!r}], sep="\\n", flush=True)
time.sleep({ignore})
signal.signal(signal.SIGINT, signal.SIG_DFL)
time.sleep(600)
"""


class _Child:
    """``multiprocessing.Process``'s interface over a real ``python -c`` process."""

    made: ClassVar[list[_Child]] = []
    starting: ClassVar[_Child]  # the one whose start is under way
    via_spawn: ClassVar[bool] = False  # started through spawnv_passfds (the fixture)

    def __init__(
        self, *, ignore: float, target: Any = None, args: Any = (), name: str = ""
    ) -> None:
        self.ignore, self.name = ignore, name
        self.popen: subprocess.Popen[str] | None = None
        _Child.made.append(self)

    @property
    def pid(self) -> int | None:
        return None if self.popen is None else self.popen.pid

    def start(self) -> None:
        """Started where spawn forks and execs (``multiprocessing.util.spawnv_passfds``,
        which the ``children`` fixture points at :meth:`exec`), so it inherits what the
        real start's exec would."""
        if not _Child.via_spawn:  # started by a test itself
            self.exec()
            return
        _Child.starting = self
        multiprocessing.util.spawnv_passfds(os.fsencode(sys.executable), [], [])

    def exec(self) -> int:
        code = _CHILD.format(env=ENV, ignore=self.ignore)
        self.popen = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                                      text=True)  # fmt: skip
        return self.popen.pid

    def is_alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def join(self, timeout: float | None = None) -> None:
        assert self.popen is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout)

    def terminate(self) -> None:
        assert self.popen is not None
        self.popen.terminate()

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()

    def ready(self) -> None:
        """Wait until it ignores SIGINT (it says so first)."""
        assert self.popen is not None and self.popen.stdout is not None
        self.first = self.popen.stdout.readline().strip()

    def said(self) -> list[str]:
        assert self.popen is not None and self.popen.stdout is not None
        return self.popen.stdout.read().splitlines()


@pytest.fixture
def children(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[float], None]]:
    """Make run_workers spawn :class:`_Child` processes that ignore SIGINT for the
    given seconds; every one is killed at the end, whatever the test did."""
    _Child.made = []

    def use(ignore: float) -> None:
        def make(*, target: Any, args: Any, name: str) -> _Child:
            return _Child(ignore=ignore, target=target, args=args, name=name)

        monkeypatch.setattr(multiprocessing.get_context("spawn"), "Process", make)
        # the fork and exec: run_workers wraps whatever is here when it starts them
        monkeypatch.setattr(_Child, "via_spawn", True)
        monkeypatch.setattr(multiprocessing.util, "spawnv_passfds",
                            lambda *args: _Child.starting.exec())  # fmt: skip

    yield use
    for c in _Child.made:
        c.kill()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# ---------------------------------------------------------------- threads and cores


def test_thread_env_pins_every_pool_and_makes_openmp_wait_passively() -> None:
    assert par.thread_env(3) == {
        "OMP_NUM_THREADS": "3", "MKL_NUM_THREADS": "3", "OPENBLAS_NUM_THREADS": "3",
        "OMP_WAIT_POLICY": "PASSIVE",
    }  # fmt: skip


def test_a_fresh_interpreter_with_thread_env_runs_that_many_torch_threads() -> None:
    """The variables are what a spawned interpreter's torch reads at start-up (torch
    caps its pool at the cores, so one thread is what a 2-core machine can check)."""
    env = {**os.environ, **par.thread_env(1)}
    out = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
                         env=env, capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    assert out.stdout.strip() == "1"


def test_cores_are_the_cpu_affinity(monkeypatch: pytest.MonkeyPatch) -> None:
    assert par._cores() == len(os.sched_getaffinity(0))
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3, 5} if pid == 0 else set())
    assert par._cores() == 3  # taskset/a container grants 3 of 64
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set())
    assert par._cores() == 1
    monkeypatch.delattr(os, "sched_getaffinity")  # no affinity on this system
    assert par._cores() == 64
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert par._cores() == 1


@pytest.mark.parametrize(
    ("cores", "workers", "trials"),
    [(8, 4, 10), (8, 3, 10), (9, 2, 10), (8, 4, 2), (2, 3, 10), (1, 2, 5)],
)
def test_each_worker_starts_with_its_share_of_the_cores(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cores: int, workers: int, trials: int
) -> None:
    """N = min(workers, trials) workers, ``cores // N`` threads each (at least one):
    the spawned ones start with :func:`thread_env` of it and SIGINT ignored, this one
    runs its trials at that many torch threads; afterwards this process's environment,
    threads and SIGINT handler are what they were."""
    run = _run(tmp_path, workers=2)
    log = _recording_processes(monkeypatch)
    monkeypatch.setattr(par, "_cores", lambda: cores)
    monkeypatch.setenv("OMP_NUM_THREADS", "7")  # the user's own setting
    for k in ENV[1:]:
        monkeypatch.delenv(k, raising=False)
    torch.set_num_threads(2)
    sigint = signal.getsignal(signal.SIGINT)
    n = min(workers, trials)
    threads = max(1, cores // n)
    evaluator = _Threads()
    config = dataclasses.replace(run.config, trials=trials, workers=workers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # more workers than cores: tested in test_cli_mistakes
        stopped = par.run_workers(
            run.study(), space=run.space, evaluator=evaluator, objective=run.objective,
            config=config, poll=lambda: None, storage="sqlite:///elsewhere.db",
        )  # fmt: skip
    assert stopped == "budget"
    assert [e["name"] for e in log] == [f"quarch-worker-{i}" for i in range(1, n)]
    for e in log:
        assert e["target"] is par._worker_main
        # the last argument is the run's deadline: none without --timeout
        assert e["args"] == ("sqlite:///elsewhere.db", str(run.dir), config, run.space,
                             evaluator, threads, None)  # fmt: skip
        assert e["env"] == {**par.thread_env(threads)}
        assert e["sigint"] == signal.SIG_IGN
        assert e["joined"]
    assert evaluator.seen and set(evaluator.seen) == {threads}
    assert {k: os.environ.get(k) for k in ENV} == dict.fromkeys(ENV[1:], None) | {
        "OMP_NUM_THREADS": "7"
    }
    assert torch.get_num_threads() == 2
    assert signal.getsignal(signal.SIGINT) is sigint


def test_a_worker_builds_its_own_evaluator_unless_given_one_and_finds_the_storage(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``custom_evaluator=False``: the spawned workers get no evaluator (they build the
    run's own); without ``storage`` they open the run folder's."""
    run = _run(tmp_path, workers=2)
    log = _recording_processes(monkeypatch)
    monkeypatch.setattr(par, "_cores", lambda: 4)
    config = dataclasses.replace(run.config, trials=3, workers=2)
    par.run_workers(run.study(), space=run.space, evaluator=ArithmeticEvaluator(),
                    objective=run.objective, config=config, poll=lambda: None,
                    custom_evaluator=False)  # fmt: skip
    want = (run.storage, str(run.dir), config, run.space, None, 2, None)  # None: no deadline
    assert [e["args"] for e in log] == [want]
    assert run.storage == "journal"


def test_the_last_poll_comes_after_every_worker_ended(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The progress bar is told after each trial here, and once more after the spawned
    workers' trials are in (they are joined first)."""
    run = _run(tmp_path, workers=2)
    log = _recording_processes(monkeypatch)
    monkeypatch.setattr(par, "_cores", lambda: 3)
    seen: list[bool] = []
    config = dataclasses.replace(run.config, trials=4, workers=3)
    par.run_workers(run.study(), space=run.space, evaluator=ArithmeticEvaluator(),
                    objective=run.objective, config=config,
                    poll=lambda: seen.append(all(e["joined"] for e in log)))  # fmt: skip
    assert len(log) == 2
    assert len(seen) == 3 + 1  # the 3 trials left, all done here, and the last word
    assert seen[-1] and not any(seen[:-1])


def test_a_timeout_stops_this_worker_and_joins_the_others(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run = _run(tmp_path, workers=2)
    log = _recording_processes(monkeypatch)
    config = dataclasses.replace(run.config, trials=200, workers=2, timeout=0.6)
    t0 = time.monotonic()
    stopped = par.run_workers(run.study(), space=run.space, evaluator=ArithmeticEvaluator(0.2),
                              objective=run.objective, config=config, poll=lambda: None)  # fmt: skip
    assert stopped == "timeout"
    assert time.monotonic() - t0 < 30
    assert [e["joined"] for e in log] == [True]
    done = [t for t in run.study().get_trials() if t.state == TrialState.COMPLETE]
    assert 1 < len(done) < 200


def test_this_worker_applies_the_trial_time_limit(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run = _run(tmp_path, workers=2)
    _recording_processes(monkeypatch)

    class _HangsOnce(ArithmeticEvaluator):
        calls = 0

        def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
            self.calls += 1
            if self.calls == 1:
                time.sleep(30)
            return super().evaluate(arch, seed=seed)

    config = dataclasses.replace(run.config, trials=2, workers=2, trial_timeout=0.3)
    t0 = time.monotonic()
    par.run_workers(run.study(), space=run.space, evaluator=_HangsOnce(),
                    objective=run.objective, config=config, poll=lambda: None)  # fmt: skip
    assert time.monotonic() - t0 < 10
    trials = run.study().get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE]
    assert trials[1].user_attrs["fail_reason"] == (
        "TrialTimeout: the trial ran longer than its time limit of 0.3 s"
    )


# ---------------------------------------------------------------- stopping


def test_stop_sends_sigint_again_until_a_starting_worker_takes_it() -> None:
    """A worker still starting (SIGINT ignored) is sent SIGINT again until it ends by
    it: it is not terminated, and it ends soon after it takes Ctrl-C back."""
    fast, slow = _Child(ignore=0.0), _Child(ignore=1.0)
    try:
        for c in (fast, slow):
            c.start()
        for c in (fast, slow):
            c.ready()
        t0 = time.monotonic()
        par._stop([fast, slow], grace=30.0)
        took = time.monotonic() - t0
        assert not fast.is_alive() and not slow.is_alive()
        assert fast.popen is not None and slow.popen is not None
        assert fast.popen.returncode == slow.popen.returncode == -signal.SIGINT
        assert took < 10, took
    finally:
        fast.kill()
        slow.kill()


def test_stop_terminates_a_worker_that_ignores_sigint_after_the_grace() -> None:
    stubborn, done = _Child(ignore=600.0), _Child(ignore=0.0)
    try:
        stubborn.start()
        stubborn.ready()
        done.start()
        done.popen.kill()  # type: ignore[union-attr]
        done.popen.wait()  # type: ignore[union-attr]
        t0 = time.monotonic()
        par._stop([stubborn, done], grace=1.0)
        took = time.monotonic() - t0
        assert stubborn.popen is not None and stubborn.popen.returncode == -signal.SIGTERM
        assert 1.0 <= took < 6, took
    finally:
        stubborn.kill()
        done.kill()


def test_stop_waits_15_seconds_before_terminating(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default grace on a fake clock: SIGINT again and again (a worker that ended
    between the check and the signal is passed over), SIGTERM once 15 s have passed,
    then each worker is reaped, waiting at most 5 s (the docstring's bound)."""
    now = [0.0]
    clock = types.SimpleNamespace(monotonic=lambda: now[0],
                                  sleep=lambda s: now.__setitem__(0, now[0] + s))  # fmt: skip
    monkeypatch.setattr(par, "time", clock)
    sent: list[tuple[int, int]] = []

    def kill(pid: int, sig: int) -> None:
        sent.append((pid, sig))
        raise ProcessLookupError  # it ended just now

    monkeypatch.setattr(os, "kill", kill)

    class _Stuck:
        pid = 4242

        def __init__(self) -> None:
            self.ended_at: float | None = None
            self.joined: list[float | None] = []

        def is_alive(self) -> bool:
            return self.ended_at is None

        def terminate(self) -> None:
            self.ended_at = now[0]

        def join(self, timeout: float | None = None) -> None:
            self.joined = [*self.joined, timeout]

    class _Ended(_Stuck):  # ended already: its PID may be another process's now
        pid = 777

        def is_alive(self) -> bool:
            return False

    stuck, ended = _Stuck(), _Ended()
    par._stop([stuck, ended])  # type: ignore[list-item]
    assert stuck.ended_at is not None and 15.0 <= stuck.ended_at < 15.3 + 1e-6
    assert set(sent) == {(4242, signal.SIGINT)}
    assert len(sent) in (50, 51)  # every 0.3 s (``_interrupt_once``)
    assert stuck.joined == [5]
    assert ended.ended_at is None and ended.joined == [5]


@pytest.mark.filterwarnings("ignore:.* workers on .* core")  # this machine's cores, not the claim
def test_ctrl_c_stops_every_worker_and_fails_their_trials(
    tmp_path: Path, children: Callable[[float], None]
) -> None:
    """Ctrl-C in this worker: each spawned one is sent SIGINT until it ends by it (one
    ignores it for a while, as one importing torch does), none is left running, and a
    trial whose worker had to end is failed as died; this process's own trial is failed
    as interrupted, and Ctrl-C goes on up."""
    run = _run(tmp_path, workers=2)
    children(0.8)
    study = run.study()
    owned: list[int] = []

    class _CtrlC(ArithmeticEvaluator):
        def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
            for c in _Child.made:  # the trial a spawned worker was running
                t = study.ask()
                study._storage.set_trial_system_attr(t._trial_id, OWNER, f"{HOST}:{c.pid}")
                owned.append(t.number)
            raise KeyboardInterrupt

    config = dataclasses.replace(run.config, trials=6, workers=3)
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        par.run_workers(study, space=run.space, evaluator=_CtrlC(), objective=run.objective,
                        config=config, poll=lambda: None)  # fmt: skip
    assert time.monotonic() - t0 < 12  # well within the 15 s grace
    assert len(_Child.made) == 2
    for c in _Child.made:
        assert c.popen is not None and c.popen.returncode == -signal.SIGINT
        assert c.said()[0] == "True"  # started with Ctrl-C ignored
    trials = study.get_trials(deepcopy=False)
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    by_number = {t.number: t for t in trials}
    for number, c in zip(owned, _Child.made, strict=True):
        assert by_number[number].user_attrs["fail_reason"] == (
            f"interrupted: worker process {c.pid} died during this trial"
        )
    mine = [t for t in trials[1:] if t.system_attrs.get(OWNER) == f"{HOST}:{os.getpid()}"]
    assert [t.user_attrs.get("fail_reason") for t in mine] == [INTERRUPTED]


@pytest.mark.filterwarnings("ignore:.* workers on .* core")  # this machine's cores, not the claim
def test_a_worker_that_gives_up_terminates_the_others_at_once(
    tmp_path: Path, children: Callable[[float], None]
) -> None:
    """This worker gives up (25 trials in a row failed): the spawned ones, which would
    ignore Ctrl-C, are terminated without waiting for a grace, and the error goes on."""
    run = _run(tmp_path, workers=2)
    children(600.0)
    config = dataclasses.replace(run.config, trials=40, workers=3)
    t0 = time.monotonic()
    with pytest.raises(RunError, match="25 trials in a row failed"):
        par.run_workers(run.study(), space=run.space, evaluator=_Raises(RuntimeError("no")),
                        objective=run.objective, config=config, poll=lambda: None)  # fmt: skip
    assert len(_Child.made) == 2
    for c in _Child.made:
        assert c.popen is not None and c.popen.returncode == -signal.SIGTERM
    assert time.monotonic() - t0 < 14


@pytest.mark.filterwarnings("ignore:.* workers on .* core")  # this machine's cores, not the claim
def test_a_worker_that_gives_up_never_waits_forever_for_one_that_does_not_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A spawned worker that outlives SIGTERM (a user's evaluator that handles it, a
    process stuck in the kernel) does not hold up the error: each is terminated, then
    waited for with a bound. The stand-in never ends, so an unbounded wait would hang."""
    run = _run(tmp_path, workers=2)

    class _Immortal:
        made: ClassVar[list[_Immortal]] = []

        def __init__(self, *, target: Any, args: Any, name: str) -> None:
            self.pid = 90000 + len(_Immortal.made)  # never signalled: terminate is faked
            self.calls: list[str] = []
            _Immortal.made.append(self)

        def start(self) -> None:
            self.calls.append("start")

        def is_alive(self) -> bool:
            return True

        def terminate(self) -> None:
            self.calls.append("terminate")

        def join(self, timeout: float | None = None) -> None:
            if timeout is None:
                raise AssertionError("joined a worker that never ends without a bound")
            self.calls.append("join")

    monkeypatch.setattr(multiprocessing.get_context("spawn"), "Process", _Immortal)
    config = dataclasses.replace(run.config, trials=40, workers=3)
    with pytest.raises(RunError, match="25 trials in a row failed"):
        par.run_workers(run.study(), space=run.space, evaluator=_Raises(RuntimeError("no")),
                        objective=run.objective, config=config, poll=lambda: None)  # fmt: skip
    assert [p.calls for p in _Immortal.made] == [["start", "terminate", "join"]] * 2


def test_children_start_with_thread_env_in_their_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, children: Callable[[float], None]
) -> None:
    """A real process started by run_workers (here ``python -c``) prints the variables
    it was given: thread_env of cores // workers."""
    run = _run(tmp_path, workers=2)
    children(0.0)
    monkeypatch.setattr(par, "_cores", lambda: 6)
    config = dataclasses.replace(run.config, trials=2, workers=2)
    with pytest.raises(KeyboardInterrupt):
        par.run_workers(run.study(), space=run.space, evaluator=_Raises(KeyboardInterrupt()),
                        objective=run.objective, config=config, poll=lambda: None)  # fmt: skip
    (child,) = _Child.made
    assert child.said() == ["True", "3", "3", "3", "PASSIVE"]


# ---------------------------------------------------------------- a spawned worker's code


def test_a_spawned_worker_takes_ctrl_c_back_and_fails_its_trial_quietly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``_worker_main`` starts with SIGINT ignored: it takes it back, so a real SIGINT
    during a trial fails that trial as interrupted, and it returns without a traceback
    (the parent reports). The parent sends SIGINT again until the worker ends: one more
    while the trial is being failed is ignored (it left the trial RUNNING, later failed
    as "died during this trial"). It also installs the hook that drops Ctrl-C reports
    from import callbacks."""
    import quarch.study._worker as worker

    run = _run(tmp_path)
    real_finish = worker.finish

    def finish_after_another_sigint(*args: Any) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # _stop's next SIGINT, 0.3 s later
        time.sleep(0.1)
        real_finish(*args)

    monkeypatch.setattr(worker, "finish", finish_after_another_sigint)

    class _SigInt(ArithmeticEvaluator):
        def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # the signal arrives first
            return super().evaluate(arch, seed=seed)

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    t0 = time.monotonic()
    try:
        par._worker_main(run.storage, str(run.dir), dataclasses.replace(run.config, trials=3),
                         run.space, _SigInt(), 1)  # fmt: skip
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C went on up from the spawned worker (a second traceback)")
    assert time.monotonic() - t0 < 4
    trials = run.study().get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL]
    assert trials[1].user_attrs["fail_reason"] == INTERRUPTED
    assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN  # until it ends
    assert getattr(sys.unraisablehook, "quarch_quiet", False)


def test_the_spawned_workers_share_the_runs_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--timeout T`` with ``--workers``: every spawned worker is handed the wall-clock
    time T seconds after the run started, not T from its own start (seconds later, after
    importing torch; the parent then waited for it: ``--timeout 20`` ran 54 s)."""
    run = _run(tmp_path, workers=2)
    log = _recording_processes(monkeypatch)
    config = dataclasses.replace(run.config, trials=6, workers=2, timeout=30.0)
    before = time.time()
    par.run_workers(
        run.study(), space=run.space, evaluator=ArithmeticEvaluator(), objective=run.objective,
        config=config, poll=lambda: None,
    )  # fmt: skip
    (entry,) = log
    assert before + 30.0 <= entry["args"][-1] <= time.time() + 30.0


def test_a_spawned_worker_past_the_deadline_starts_no_trial(tmp_path: Path) -> None:
    """A worker that starts after the run's deadline (its imports took longer than the
    whole ``--timeout``) claims nothing, though the timeout itself is a minute: it
    counts from the deadline it was handed, not from its own start."""
    run = _run(tmp_path)
    config = dataclasses.replace(run.config, trials=4, timeout=60.0)
    par._worker_main(run.storage, str(run.dir), config, run.space, ArithmeticEvaluator(), 1,
                     deadline=time.time() - 0.01)  # fmt: skip
    assert len(run.study().get_trials(deepcopy=False)) == 1  # the one _run did
    par._worker_main(run.storage, str(run.dir), config, run.space, ArithmeticEvaluator(), 1,
                     deadline=time.time() + 60.0)  # fmt: skip
    assert len(run.study().get_trials(deepcopy=False)) == 4


def test_a_spawned_worker_that_gives_up_returns_quietly(tmp_path: Path) -> None:
    run = _run(tmp_path)
    # the RunError of 25 failures in a row ends it without a traceback: it returns
    par._worker_main(run.storage, str(run.dir), dataclasses.replace(run.config, trials=40),
                     run.space, _Raises(RuntimeError("no")), 1)  # fmt: skip
    trials = run.study().get_trials(deepcopy=False)
    assert sum(t.state == TrialState.FAIL for t in trials) == 25


def test_a_spawned_worker_runs_the_runs_budget_seed_threads_and_time_limits(
    tmp_path: Path,
) -> None:
    """``_work_here`` (a spawned worker's work) sets its torch threads, quiets Optuna's
    INFO lines, completes the run's budget with the run's trial seeds, applies the
    trial time limit, and a seeded run's sampler proposes the same architectures in two
    workers that start from the same point."""
    archs = []
    for name in ("a", "b"):
        run = _run(tmp_path / name, seed=11)
        evaluator = _Threads()
        par._work_here(run.storage, str(run.dir), dataclasses.replace(run.config, trials=5),
                       run.space, evaluator, 3)  # fmt: skip
        assert set(evaluator.seen) == {3} and len(evaluator.seen) == 4
        assert torch.get_num_threads() == 3
        assert optuna.logging.get_verbosity() == optuna.logging.WARNING
        trials = run.study().get_trials(deepcopy=False)
        assert [t.state for t in trials] == [TrialState.COMPLETE] * 5
        for t in trials:
            assert t.user_attrs["seed"] == trial_seed(11, t.number)
            assert t.user_attrs["metrics"] == _truth(t.params, trial_seed(11, t.number))
        archs.append([t.params for t in trials])
    assert archs[0] == archs[1]
    other = _run(tmp_path / "c", seed=12)
    par._work_here(other.storage, str(other.dir), dataclasses.replace(other.config, trials=5),
                   other.space, ArithmeticEvaluator(), 1)  # fmt: skip
    assert [t.params for t in other.study().get_trials()] != archs[0]

    class _Hangs(ArithmeticEvaluator):
        def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
            time.sleep(30)
            return {}

    run = _run(tmp_path / "d")
    t0 = time.monotonic()
    par._work_here(run.storage, str(run.dir),
                   dataclasses.replace(run.config, trials=3, trial_timeout=0.3, timeout=0.5),
                   run.space, _Hangs(), 1)  # fmt: skip
    assert time.monotonic() - t0 < 10
    failed = [t for t in run.study().get_trials() if t.state == TrialState.FAIL]
    assert len(failed) in (1, 2)  # the run's timeout stops it after one or two trials
    assert {t.user_attrs["fail_reason"] for t in failed} == {
        "TrialTimeout: the trial ran longer than its time limit of 0.3 s"
    }


def test_a_spawned_worker_builds_the_runs_evaluator_and_opens_its_study_by_name(
    tmp_path: Path,
) -> None:
    """Without a custom evaluator a spawned worker builds the run's own: it trains the
    space's model and saves the weights in the run folder, as the search's process
    does. It opens the run's study by name, in a database that holds another."""
    run = _run(tmp_path, epochs=1)
    optuna.create_study(study_name="another", storage=f"sqlite:///{run.dir / 'study.db'}")
    par._work_here(run.storage, str(run.dir), dataclasses.replace(run.config, trials=2),
                   run.space, None, 1)  # fmt: skip
    trials = run.study().get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2
    assert "params" in trials[1].user_attrs["metrics"]
    assert run.saved_weights(trials[1].user_attrs["seed"]) is not None
    assert run.saved_weights(trials[0].user_attrs["seed"]) is None  # ArithmeticEvaluator's


def test_a_spawned_worker_prunes_with_the_runs_pruner_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pruner a spawned worker's study gets is built from the run's ``--pruner``
    and its ``--pruner-option`` values (``test_pruning.py`` checks the kind)."""
    run = _run(tmp_path, pruner="median", objectives=["val_error"],
               pruner_options={"n_startup_trials": 7, "n_warmup_steps": 2})  # fmt: skip
    seen: list[Any] = []
    real_work = par.work

    def work(study: optuna.Study, **kwargs: Any) -> str:
        seen.append(study.pruner)
        return real_work(study, **kwargs)

    monkeypatch.setattr(par, "work", work)
    par._work_here(run.storage, str(run.dir), dataclasses.replace(run.config, trials=2),
                   run.space, ArithmeticEvaluator(), 1)  # fmt: skip
    (pruner,) = seen
    assert isinstance(pruner, optuna.pruners.MedianPruner)
    assert (pruner._n_startup_trials, pruner._n_warmup_steps) == (7, 2)


def test_a_spawned_worker_hands_its_strategy_the_cheap_metrics_and_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The strategy a spawned worker builds is the run's: its name, seed, options, the
    space, the objective and the evaluator's metrics known without training (which the
    QUBO family screens with; ``tests/study/test_loop_truth.py`` runs one on NB201)."""
    import quarch.search

    run = _run(tmp_path, strategy="evolution", seed=4,
               strategy_options={"population_size": 3})  # fmt: skip
    built: list[dict[str, Any]] = []
    real = quarch.search.make_sampler

    def make_sampler(strategy: str, **kwargs: Any) -> Any:
        built.append({"strategy": strategy, **kwargs})
        return real(strategy, **kwargs)

    monkeypatch.setattr(quarch.search, "make_sampler", make_sampler)
    evaluator = _Cheap()
    par._work_here(run.storage, str(run.dir), dataclasses.replace(run.config, trials=2),
                   run.space, evaluator, 1)  # fmt: skip
    assert built == [{"strategy": "evolution", "seed": 4, "space": run.space,
                      "objective": run.objective, "cheap_metrics": evaluator.cheap_metrics,
                      "population_size": 3}]  # fmt: skip
    assert len(evaluator.seen) == 1


# ---------------------------------------------------------------- real spawned workers


def test_two_spawned_workers_do_the_budget_once_with_their_threads(
    tmp_path: Path, spawnable: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two real spawned workers and this one: every trial of the budget is done once,
    by both kinds of process, with the trial seeds and metrics of a serial run; the
    spawned ones started with thread_env of cores // 3 (read from /proc/PID/environ);
    none is left running. (Which spawned worker takes trials is a race: under load the
    first one can finish the budget while the second still imports torch.)"""
    run = _run(tmp_path, workers=2)
    monkeypatch.setattr(par, "_cores", lambda: 7)
    study = run.study()
    envs: dict[str, dict[str, str]] = {}
    spawned: set[str] = set()
    me = f"{HOST}:{os.getpid()}"

    deadline = time.monotonic() + 120  # for a spawned worker to take trials too

    def poll() -> None:
        for p in multiprocessing.active_children():
            if p.name.startswith("quarch-worker-") and p.pid is not None:
                spawned.add(f"{HOST}:{p.pid}")
                with open(f"/proc/{p.pid}/environ", "rb") as f:
                    items = [x.decode().split("=", 1) for x in f.read().split(b"\0") if x]
                envs[p.name] = {k: v for k, v in items if k in ENV}
        while time.monotonic() < deadline:  # this process waits for a spawned one's trial
            owners = {t.system_attrs.get(OWNER) for t in study.get_trials(deepcopy=False)
                      if t.state == TrialState.COMPLETE}  # fmt: skip
            if owners & spawned:
                return
            time.sleep(0.1)

    config = dataclasses.replace(run.config, trials=9, workers=3)
    assert par.run_workers(study, space=run.space, evaluator=ArithmeticEvaluator(0.05),
                           objective=run.objective, config=config, poll=poll) == "budget"  # fmt: skip
    assert not multiprocessing.active_children()
    assert envs == {f"quarch-worker-{i}": par.thread_env(2) for i in (1, 2)}
    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(done) == 9
    assert all(t.user_attrs["fail_reason"].startswith("surplus")
               for t in trials if t.state != TrialState.COMPLETE)  # fmt: skip
    owners = {t.system_attrs[OWNER] for t in done}
    assert me in owners and owners & spawned and owners <= spawned | {me}
    assert len(spawned) == 2
    for t in done:
        assert t.user_attrs["metrics"] == _truth(t.params, trial_seed(0, t.number))


@pytest.mark.filterwarnings("ignore:.* workers on .* core")  # this machine's cores, not the claim
def test_ctrl_c_with_real_spawned_workers_leaves_none_running(
    tmp_path: Path, spawnable: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while two real spawned workers are in a trial: both end by it within the
    grace (each fails its trial as interrupted), none is left running."""
    run = _run(tmp_path, workers=2)
    study = run.study()
    me = f"{HOST}:{os.getpid()}"
    pressed: list[float] = []

    def work_until_ctrl_c(study: optuna.Study, **kwargs: Any) -> str:
        # Ctrl-C once both are in their evaluation (their trial's parameters written):
        # one that lands as a worker takes the journal's lock file can leave it behind
        # (Optuna takes it outside its try), and every process then waits about 30 s
        # for Optuna to break it
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            running = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
                       if t.system_attrs.get(OWNER, me) != me and t.params]  # fmt: skip
            if len(running) == 2:
                time.sleep(1.0)
                break
            time.sleep(0.1)
        pressed.append(time.monotonic())
        raise KeyboardInterrupt

    monkeypatch.setattr(par, "work", work_until_ctrl_c)  # in this process only
    config = dataclasses.replace(run.config, trials=9, workers=3)
    pids: list[int] = []
    real_start = multiprocessing.process.BaseProcess.start

    def start(self: Any) -> None:
        real_start(self)
        pids.append(self.pid)

    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", start)
    with pytest.raises(KeyboardInterrupt):
        par.run_workers(study, space=run.space, evaluator=ArithmeticEvaluator(60.0),
                        objective=run.objective, config=config, poll=lambda: None)  # fmt: skip
    assert len(pids) == 2 and not any(_alive(p) for p in pids)
    assert not multiprocessing.active_children()
    trials = study.get_trials(deepcopy=False)
    assert sorted(t.user_attrs.get("fail_reason", "") for t in trials[1:]) == [INTERRUPTED] * 2, [
        (t.number, t.state, t.user_attrs, t.system_attrs) for t in trials
    ]
    assert time.monotonic() - pressed[0] < 15  # the grace: none had to be terminated


# ---------------------------------------------------------------- Ray: the address probe


class _Probe:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, error: OSError | None = None) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.error = error
        monkeypatch.setattr(socket, "create_connection", self)

    def __call__(self, address: tuple[str, int], timeout: float) -> socket.socket:
        self.calls.append((address, timeout))
        if self.error is not None:
            raise self.error
        return socket.socket()  # closed at once by the ``with``


@pytest.mark.parametrize(
    ("address", "probed"),
    [
        ("10.1.2.3:6379", ("10.1.2.3", 6379)),
        ("ray://head.example:10001", ("head.example", 10001)),
        ("[::1]:6379", ("::1", 6379)),
        ("Xeon-node:6379", ("Xeon-node", 6379)),
        (":6379", ("127.0.0.1", 6379)),
        ("ray://:10001", ("127.0.0.1", 10001)),
        ("auto", None),
        ("head", None),
        ("head:port", None),
        ("", None),
        (None, None),
    ],
)
def test_check_ray_probes_host_and_port_forms_only(
    monkeypatch: pytest.MonkeyPatch, address: str | None, probed: tuple[str, int] | None
) -> None:
    """``host:port`` and ``ray://host:port`` are probed with a TCP connection that
    waits PROBE_SECONDS (the README's 5 s); other forms are left to Ray."""
    probe = _Probe(monkeypatch)
    qray.check_ray(address)
    assert probe.calls == ([] if probed is None else [(probed, 5.0)])
    assert qray.PROBE_SECONDS == 5.0


def test_check_ray_passes_a_listening_address_and_refuses_a_closed_one() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        qray.check_ray(f"127.0.0.1:{port}")
        qray.check_ray(f"ray://127.0.0.1:{port}")
    with pytest.raises(ConfigError) as e:
        qray.check_ray(f"127.0.0.1:{port}")
    assert str(e.value) == f"cannot reach a Ray cluster at '127.0.0.1:{port}': Connection refused"
    assert e.value.__cause__ is None and e.value.__suppress_context__


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (TimeoutError("timed out"), "timeout"),
        (socket.gaierror(-2, "Name or service not known"), "Name or service not known"),
        (OSError(113, "No route to host"), "No route to host"),
        (ConnectionResetError(), "connectionreset"),
        (type("Error", (OSError,), {})("no strerror, no name"), "no strerror, no name"),
    ],
)
def test_check_ray_names_the_reason_in_one_line(
    monkeypatch: pytest.MonkeyPatch, error: OSError, reason: str
) -> None:
    _Probe(monkeypatch, error)
    with pytest.raises(ConfigError) as e:
        qray.check_ray("ray://head:10001")
    assert str(e.value) == f"cannot reach a Ray cluster at 'ray://head:10001': {reason}"


def test_check_ray_without_ray_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    probe = _Probe(monkeypatch)
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ConfigError) as e:
        qray.check_ray("127.0.0.1:1")
    assert str(e.value) == "--ray needs Ray: pip install 'quarch[ray]'"
    assert probe.calls == []


# ---------------------------------------------------------------- Ray: a stand-in


class _Put:
    def __init__(self, value: Any) -> None:
        self.value = value


class _Task:
    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn, self.args = fn, args


class _TaskError(Exception):
    """As Ray's ``RayTaskError``: its own message, the task's exception as ``cause``."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"ray::_evaluate() failed\nTraceback ...\n{cause!r}")
        self.cause = cause


class _WorkerCrashedError(Exception):
    """As Ray's error for a worker process that died: no ``cause``."""


class _Crash(Exception):
    """An evaluator raises this to make the stand-in's task die as a worker crash."""


class _FakeRay(types.ModuleType):
    """Ray's driver API as ``connect`` and ``drive`` use it: a task runs in this process
    when ``ray.get`` asks for it, with its ``ray.put`` arguments resolved; ``ray.wait``
    says the newest task is ready first (a cluster finishes tasks out of order), and
    none at its first call (a wait that times out)."""

    def __init__(self, cpus: float | None = 3.0, *, initialized: bool = False) -> None:
        super().__init__("ray")
        self.__spec__ = importlib.machinery.ModuleSpec("ray", None)
        self.cpus, self.initialized = cpus, initialized
        self.inits: list[dict[str, Any]] = []
        self.shutdowns = 0
        self.options: list[dict[str, Any]] = []
        self.waits: list[int] = []
        self.timeouts: list[float | None] = []

    def is_initialized(self) -> bool:
        return self.initialized

    def init(self, **kwargs: Any) -> None:
        self.inits.append(kwargs)
        self.initialized = True

    def shutdown(self) -> None:
        self.shutdowns += 1
        self.initialized = False

    def cluster_resources(self) -> dict[str, float]:
        return {"memory": 1e9} if self.cpus is None else {"CPU": self.cpus, "memory": 1e9}

    def put(self, value: Any) -> _Put:
        return _Put(value)

    def remote(self, **options: Any) -> Callable[[Callable[..., Any]], Any]:
        self.options.append(options)

        def wrap(fn: Callable[..., Any]) -> Any:
            return types.SimpleNamespace(remote=lambda *args: _Task(fn, args))

        return wrap

    def wait(
        self, refs: list[_Task], *, num_returns: int = 1, timeout: float | None = None
    ) -> tuple[list[_Task], list[_Task]]:
        self.waits.append(len(refs))
        self.timeouts.append(timeout)
        if len(self.waits) == 1:
            return [], refs
        return refs[-num_returns:], refs[:-num_returns]

    def get(self, ref: _Task) -> Any:
        args = [a.value if isinstance(a, _Put) else a for a in ref.args]
        try:
            return ref.fn(*args)
        except _Crash as e:
            raise _WorkerCrashedError(f"the worker died: {e}") from None
        except Exception as e:
            raise _TaskError(e) from e


@pytest.fixture
def fake_ray(monkeypatch: pytest.MonkeyPatch) -> Callable[..., _FakeRay]:
    def install(cpus: float | None = 3.0, *, initialized: bool = False) -> _FakeRay:
        ray = _FakeRay(cpus, initialized=initialized)
        monkeypatch.setitem(sys.modules, "ray", ray)
        return ray

    return install


class _Evaluates(ArithmeticEvaluator):
    """Records the threads and seed of each evaluation; fails, crashes or hangs on
    purpose in the trials whose seeds it is given (a trial's seed names its number)."""

    def __init__(self, fails: int = -1, crashes: int = -1, hangs: int = -1) -> None:
        super().__init__()
        self.seen: list[tuple[int, int]] = []
        self.fails, self.crashes, self.hangs = fails, crashes, hangs

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        self.seen.append((torch.get_num_threads(), seed))
        if seed == self.fails:
            raise RuntimeError("evaluator exploded on purpose")
        if seed == self.crashes:
            raise _Crash("segfault")
        if seed == self.hangs:
            time.sleep(30)
        return super().evaluate(arch, seed=seed)


class _Cheap(_Evaluates):
    def cheap_metrics(self, arch: Mapping[str, Any]) -> dict[str, float]:
        return {"params": float(arch["width_0"] * arch["n_layers"])}


def _trials_of(result: Any) -> list[tuple[Any, ...]]:
    return sorted((t.number, t.state, tuple(sorted(t.params.items())), t.seed,
                   tuple(sorted(t.metrics.items()))) for t in result.trials)  # fmt: skip


def test_ray_gives_the_serial_loops_trials(
    tmp_path: Path, fake_ray: Callable[..., _FakeRay]
) -> None:
    """A seeded random run through ``--ray`` (tasks finished out of order, three at a
    time) holds the trials, seeds and metrics of the same run in one process; Ray is
    started with the documented options once and shut down at the end."""
    serial = run_search(_cfg(tmp_path, trials=8, seed=5, out=str(tmp_path / "serial")),
                        evaluator=ArithmeticEvaluator(), progress=False)  # fmt: skip
    ray = fake_ray(3.0)
    evaluator = _Evaluates()
    torch.set_num_threads(2)
    heard: list[tuple[int, int, int]] = []
    remote = run_search(_cfg(tmp_path, trials=8, seed=5, out=str(tmp_path / "ray"), ray=True),
                        evaluator=evaluator, progress=False,
                        on_trial=lambda done, n, rec: heard.append((done, n, rec.number)))  # fmt: skip
    assert _trials_of(remote) == _trials_of(serial)
    assert len(remote.complete) == 8 and remote.stopped == "budget"
    # the hook hears of each trial as Ray finishes it, with the complete ones so far
    assert [(done, n) for done, n, _ in heard] == [(k, 8) for k in range(1, 9)]
    assert sorted(number for _, _, number in heard) == list(range(8))
    assert ray.inits == [{"include_dashboard": False, "log_to_driver": False,
                          "logging_level": 30, "num_cpus": os.cpu_count()}]  # fmt: skip
    assert ray.shutdowns == 1 and not ray.initialized
    assert ray.options == [{"num_cpus": 1, "max_retries": 0}]
    assert max(ray.waits) == 3
    assert [threads for threads, _ in evaluator.seen] == [1] * 8  # one CPU each


class _Ticks(ArithmeticEvaluator):
    """Each evaluation moves the driver's clock (``_ray.time``) on by ``step`` seconds."""

    def __init__(self, step: float) -> None:
        super().__init__()
        self.now, self.step = 0.0, step

    def monotonic(self) -> float:
        return self.now

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        self.now += self.step
        return super().evaluate(arch, seed=seed)


def test_a_ray_search_past_its_timeout_says_so(
    tmp_path: Path, fake_ray: Callable[..., _FakeRay], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``--timeout`` the driver stops sending trials and the result says why. On
    a clock that each trial moves on by 0.5 s, a timeout of 1.5 s sends three trials
    on one CPU: the third ends at 1.5 s, the timeout reached exactly, and none follows."""
    fake_ray(1.0)
    evaluator = _Ticks(0.5)
    monkeypatch.setattr(qray, "time", evaluator)
    res = run_search(_cfg(tmp_path, trials=50, ray=True, timeout=1.5),
                     evaluator=evaluator, progress=False)  # fmt: skip
    assert res.stopped == "timeout"
    assert [t.number for t in res.trials] == [0, 1, 2]
    assert len(res.complete) == 3


def test_drive_records_failures_crashes_and_time_limits(
    tmp_path: Path, fake_ray: Callable[..., _FakeRay]
) -> None:
    """A task that raises fails its trial with the evaluator's own exception (Ray's
    wrapper unwrapped), a crashed worker with Ray's error, a task past the trial time
    limit with the limit; the budget of complete trials is still reached, each trial
    with its seed; the callback hears of each trial Ray finished, in its final state;
    Ray started here is shut down."""
    run = _run(tmp_path, seed=2)
    ray = fake_ray(2.0)
    evaluator = _Evaluates(*(trial_seed(2, n) for n in (1, 2, 4)))
    heard: list[optuna.trial.FrozenTrial] = []
    study = run.study()
    config = dataclasses.replace(run.config, trials=4, ray=True, trial_timeout=0.3)
    qray.drive(study, space=run.space, evaluator=evaluator, objective=run.objective,
               config=config, on_trial=heard.append)  # fmt: skip
    assert ray.shutdowns == 1 and len(ray.inits) == 1
    trials = study.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.FAIL,
                                         TrialState.COMPLETE, TrialState.FAIL,
                                         TrialState.COMPLETE, TrialState.COMPLETE]  # fmt: skip
    assert [trials[n].user_attrs["fail_reason"] for n in (1, 2, 4)] == [
        "RuntimeError: evaluator exploded on purpose",
        "_WorkerCrashedError: the worker died: segfault",
        "TrialTimeout: the trial ran longer than its time limit of 0.3 s",
    ]
    for t in trials[1:]:
        assert t.user_attrs["seed"] == trial_seed(2, t.number)
        if t.state == TrialState.COMPLETE:
            assert t.user_attrs["metrics"] == _truth(t.params, trial_seed(2, t.number))
    assert sorted(seed for _, seed in evaluator.seen) == sorted(
        trial_seed(2, n) for n in range(1, 7)
    )
    assert sorted(f.number for f in heard) == list(range(1, 7))
    assert all(f.state == trials[f.number].state for f in heard)


def test_drive_skips_an_architecture_over_a_known_budget_without_sending_it(
    tmp_path: Path, fake_ray: Callable[..., _FakeRay]
) -> None:
    run = _run(tmp_path, budgets=["params<=60"], objectives=["val_error"])
    fake_ray(2.0)
    evaluator = _Cheap()
    study = run.study()
    # seeded: unseeded, the first 6 architectures were all within the budget 1 run in 15
    study.sampler = optuna.samplers.RandomSampler(seed=3)
    config = dataclasses.replace(run.config, trials=6, ray=True)
    qray.drive(study, space=run.space, evaluator=evaluator, objective=run.objective,
               config=config)  # fmt: skip
    trials = study.get_trials(deepcopy=False)
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 6
    over = [t for t in trials[1:] if t.params["width_0"] * t.params["n_layers"] > 60]
    assert over  # the mlp space's widths reach 128
    for t in over:
        assert t.state == TrialState.PRUNED
        assert t.user_attrs["skip_reason"].startswith("over budget before training: params=")
    sent = [t for t in trials[1:] if t not in over]
    assert all(t.state == TrialState.COMPLETE for t in sent)
    assert sorted(seed for _, seed in evaluator.seen) == sorted(t.user_attrs["seed"] for t in sent)


def test_drive_fails_a_trial_whose_architecture_cannot_be_suggested(
    tmp_path: Path, fake_ray: Callable[..., _FakeRay]
) -> None:
    run = _run(tmp_path)
    fake_ray(1.0)
    evaluator = _Evaluates()

    class _Space:
        def __getattr__(self, name: str) -> Any:
            return getattr(run.space, name)

        def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
            if trial.number == 2:
                raise ValueError("no architecture here")
            return dict(run.space.suggest(trial))

    study = run.study()
    config = dataclasses.replace(run.config, trials=3, ray=True)
    qray.drive(study, space=_Space(), evaluator=evaluator, objective=run.objective,  # type: ignore[arg-type]
               config=config)  # fmt: skip
    trials = study.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.COMPLETE,
                                         TrialState.FAIL, TrialState.COMPLETE]  # fmt: skip
    assert trials[2].user_attrs["fail_reason"] == "ValueError: no architecture here"
    assert len(evaluator.seen) == 2


@pytest.mark.parametrize(("cpus", "slots"), [(5.0, 5), (2.5, 2), (0.5, 1), (None, 1)])
def test_drive_keeps_one_task_per_cpu_in_flight(
    tmp_path: Path, fake_ray: Callable[..., _FakeRay], cpus: float | None, slots: int
) -> None:
    run = _run(tmp_path)
    ray = fake_ray(cpus, initialized=True)
    study = run.study()
    config = dataclasses.replace(run.config, trials=9, ray=True)
    qray.drive(study, space=run.space, evaluator=_Evaluates(), objective=run.objective,
               config=config)  # fmt: skip
    assert max(ray.waits) == slots
    assert sum(t.state == TrialState.COMPLETE for t in study.get_trials()) == 9
    assert ray.inits == [] and ray.shutdowns == 0  # Ray ran already: left running


def test_drive_stops_sending_tasks_after_the_timeout(
    tmp_path: Path, fake_ray: Callable[..., _FakeRay], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a clock that each trial moves on by 0.2 s, a timeout of 0.5 s sends the
    trials that start at 0, 0.2 and 0.4 s, and no other; the run's own first trial
    was there before."""
    run = _run(tmp_path)
    fake_ray(1.0)
    study = run.study()
    config = dataclasses.replace(run.config, trials=50, ray=True, timeout=0.5)
    evaluator = _Ticks(0.2)
    monkeypatch.setattr(qray, "time", evaluator)
    qray.drive(study, space=run.space, evaluator=evaluator, objective=run.objective,
               config=config)  # fmt: skip
    assert [t.state for t in study.get_trials()] == [TrialState.COMPLETE] * 4


def test_ray_tasks_evaluate_on_one_thread_within_the_time_limit() -> None:
    evaluator = _Evaluates()
    arch = {"n_layers": 2, "width_0": 16}
    torch.set_num_threads(2)
    assert qray._evaluate(evaluator, arch, 7, None) == _truth(arch, 7)
    assert evaluator.seen == [(1, 7)]
    evaluator.hangs = 7
    t0 = time.monotonic()
    with pytest.raises(Exception, match=r"^the trial ran longer than its time limit of 0.2 s$"):
        qray._evaluate(evaluator, arch, 7, 0.2)
    assert time.monotonic() - t0 < 5


# ---------------------------------------------------------------- Ray: connecting


def test_connect_starts_a_local_ray_on_every_core(
    fake_ray: Callable[..., _FakeRay], monkeypatch: pytest.MonkeyPatch
) -> None:
    ray = fake_ray()
    monkeypatch.setattr(os, "cpu_count", lambda: 12)
    assert qray.connect(SearchConfig(space="mlp", ray=True)) is True
    assert ray.inits == [{"include_dashboard": False, "log_to_driver": False,
                          "logging_level": 30, "num_cpus": 12}]  # fmt: skip
    ray = fake_ray()
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert qray.connect(SearchConfig(space="mlp", ray=True)) is True
    assert ray.inits == [{"include_dashboard": False, "log_to_driver": False,
                          "logging_level": 30, "num_cpus": 1}]  # fmt: skip


def test_connect_joins_a_cluster_at_its_address(fake_ray: Callable[..., _FakeRay]) -> None:
    ray = fake_ray()
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        address = f"ray://127.0.0.1:{server.getsockname()[1]}"
        assert qray.connect(SearchConfig(space="mlp", ray_address=address)) is True
    assert ray.inits == [{"include_dashboard": False, "log_to_driver": False,
                          "logging_level": 30, "address": address}]  # fmt: skip


def test_connect_leaves_a_running_ray_alone(fake_ray: Callable[..., _FakeRay]) -> None:
    """Ray joined already (the search loop connects before ``drive``): nothing is
    probed (the address here is closed) nor started."""
    ray = fake_ray(initialized=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{s.getsockname()[1]}"
    assert qray.connect(SearchConfig(space="mlp", ray_address=closed)) is False
    assert ray.inits == []


def test_connect_refuses_a_closed_address_before_starting_ray(
    fake_ray: Callable[..., _FakeRay],
) -> None:
    ray = fake_ray()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(ConfigError, match=r"^cannot reach a Ray cluster at "):
        qray.connect(SearchConfig(space="mlp", ray_address=closed))
    assert ray.inits == []


@pytest.mark.parametrize(
    ("address", "error", "message"),
    [
        ("auto", ConnectionError("no running Ray instance.\nmore"),
         "cannot start Ray at 'auto': no running Ray instance."),
        (None, ValueError("bad num_cpus\nmore"), "cannot start Ray: bad num_cpus"),
    ],
)  # fmt: skip
def test_connect_says_in_one_line_why_ray_did_not_start(
    fake_ray: Callable[..., _FakeRay], address: str | None, error: Exception, message: str
) -> None:
    ray = fake_ray()

    def fails(**kwargs: Any) -> None:
        raise error

    ray.init = fails  # type: ignore[method-assign]
    with pytest.raises(ConfigError) as e:
        qray.connect(SearchConfig(space="mlp", ray=True, ray_address=address))
    assert str(e.value) == message
    assert e.value.__suppress_context__


def test_connect_without_ray_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ConfigError) as e:
        qray.connect(SearchConfig(space="mlp", ray=True))
    assert str(e.value) == "--ray needs Ray: pip install 'quarch[ray]'"
    assert e.value.__suppress_context__


# ---------------------------------------------------------------- Ray: giving up


class _NeverGaveUp(BaseException):
    """What no search loop catches: raised past 100 calls of a :class:`_Hopeless`."""


class _Hopeless(_Cheap):
    """Every evaluation fails (``RuntimeError: no data``). Past 100 calls it raises
    :class:`_NeverGaveUp`, so a loop that never gives up fails the test, not hangs it."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = self.evaluated = 0

    def _call(self) -> None:
        self.calls += 1
        if self.calls > 100:
            raise _NeverGaveUp("100 calls, and the search goes on")

    def cheap_metrics(self, arch: Mapping[str, Any]) -> dict[str, float]:
        self._call()
        return super().cheap_metrics(arch)

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        self._call()
        self.evaluated += 1
        raise RuntimeError("no data")


def _give_up(tmp_path: Path, name: str, evaluator: Any, **kw: Any) -> tuple[str, Any]:
    """Run ``run_search`` until it gives up: its one line and the run's trials."""
    with pytest.raises(RunError) as e:
        run_search(_cfg(tmp_path, out=str(tmp_path / name), **kw), evaluator=evaluator,
                   progress=False)  # fmt: skip
    return str(e.value), Run.open(tmp_path / name).study().get_trials(deepcopy=False)


def test_ray_gives_up_after_as_many_failed_trials_in_a_row_as_the_serial_loop(
    tmp_path: Path, fake_ray: Callable[..., _FakeRay], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An evaluator that always fails (a data set missing on the cluster): the Ray
    driver gives up as the serial loop does (``work``), after the same number of
    failed trials in a row and with the same line, instead of failing trials forever;
    no trial is left running, and Ray started here is shut down."""
    from quarch.study import _worker

    monkeypatch.setattr(_worker, "MAX_CONSECUTIVE_FAILURES", 7)  # 25 in a real run
    serial, serial_trials = _give_up(tmp_path, "serial", _Hopeless(), trials=4)
    assert serial == (
        "gave up: 7 trials in a row failed, with 0 of 4 trials done; the last failed "
        "with: RuntimeError: no data"
    )
    ray = fake_ray(3.0)
    line, trials = _give_up(tmp_path, "ray", _Hopeless(), trials=4, ray=True)
    assert line == serial
    assert [t.user_attrs["fail_reason"] for t in serial_trials] == ["RuntimeError: no data"] * 7
    # three tasks in flight: the two still on Ray when the seventh failed are failed too
    assert sorted(t.user_attrs["fail_reason"] for t in trials) == [
        *["RuntimeError: no data"] * 7,
        *[qray.GAVE_UP] * 2,
    ]
    assert all(t.state == TrialState.FAIL for t in trials)
    assert ray.shutdowns == 1 and not ray.initialized


class _NoParams(ArithmeticEvaluator):
    """Breaks the evaluator contract: never returns ``params``, which the objective needs."""

    def __init__(self) -> None:
        super().__init__()
        self.evaluated = 0

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        self.evaluated += 1
        return {"val_error": super().evaluate(arch, seed=seed)["val_error"]}


def test_ray_stops_at_the_first_broken_contract_as_the_serial_loop(
    tmp_path: Path, fake_ray: Callable[..., _FakeRay]
) -> None:
    """An evaluator that returns no metric the objective needs: the Ray driver stops at
    the first result, with the serial loop's line, instead of failing 25 trials; the
    trial is failed with the reason, the ones still in flight as given up, and Ray
    started here is shut down."""
    serial_ev = _NoParams()
    serial, serial_trials = _give_up(tmp_path, "serial", serial_ev, trials=4)
    reason = "evaluate() returned no 'params', which the objective needs (it returned val_error)"
    assert serial.startswith(f"evaluator {__name__}._NoParams broke its contract at trial 0: ")
    assert serial_ev.evaluated == 1
    assert [t.user_attrs["fail_reason"] for t in serial_trials] == [reason]
    ray = fake_ray(3.0)
    ev = _NoParams()
    line, trials = _give_up(tmp_path, "ray", ev, trials=4, ray=True)
    assert ev.evaluated == 1
    broke = [t for t in trials if t.user_attrs["fail_reason"] == reason]
    assert len(broke) == 1
    assert line == serial.replace("trial 0", f"trial {broke[0].number}")
    # three tasks in flight: the two not yet evaluated are failed as given up
    assert sorted(t.user_attrs["fail_reason"] for t in trials) == sorted(
        [reason, qray.GAVE_UP, qray.GAVE_UP]
    )
    assert all(t.state == TrialState.FAIL for t in trials)
    assert ray.shutdowns == 1 and not ray.initialized


def test_ray_gives_up_after_as_many_skips_in_a_row_as_the_serial_loop(
    tmp_path: Path, fake_ray: Callable[..., _FakeRay], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A budget no architecture meets: the driver gives up as the serial loop does,
    with the same line (the same seeded architectures, so the same last one), instead
    of skipping architectures forever; none was sent to Ray."""
    from quarch.study import _worker

    monkeypatch.setattr(_worker, "MAX_CONSECUTIVE_SKIPS", 6)  # 500 in a real run
    kw: dict[str, Any] = {"trials": 3, "budgets": ["params<=1"], "objectives": ["val_error"]}
    serial, serial_trials = _give_up(tmp_path, "serial", _Hopeless(), **kw)
    assert serial.startswith("gave up: 6 architectures in a row were over budget before "
                             "training, with 0 of 3 trials done; the nearest had params=")  # fmt: skip
    nearest = serial.split("the nearest had params=")[1].split(" ")[0]
    assert serial.endswith(
        f" against params<=1: loosen the budget to params<={nearest} or looser, or narrow the space"
    )
    fake_ray(3.0)
    evaluator = _Hopeless()
    line, trials = _give_up(tmp_path, "ray", evaluator, ray=True, **kw)
    assert line == serial
    assert [(t.params, t.state) for t in trials] == [(t.params, t.state) for t in serial_trials]
    assert all("skip_reason" in t.user_attrs for t in trials)
    assert evaluator.evaluated == 0


def test_ctrl_c_fails_the_trials_still_on_ray_as_interrupted(
    tmp_path: Path, fake_ray: Callable[..., _FakeRay]
) -> None:
    """Ctrl-C while the driver waits on Ray: the trials still on Ray are failed as
    interrupted, as the serial loop fails its own, instead of staying RUNNING under
    this process (alive in a notebook, so a resumed run would wait for them), and Ctrl-C
    goes on up; Ray started here is shut down."""
    run = _run(tmp_path, seed=4)
    ray = fake_ray(3.0)

    class _CtrlC(_Evaluates):
        def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
            if seed == trial_seed(4, 3):
                raise KeyboardInterrupt
            return super().evaluate(arch, seed=seed)

    study = run.study()
    config = dataclasses.replace(run.config, trials=8, ray=True)
    with pytest.raises(KeyboardInterrupt):
        qray.drive(study, space=run.space, evaluator=_CtrlC(), objective=run.objective,
                   config=config)  # fmt: skip
    trials = study.get_trials(deepcopy=False)
    # tasks 1-3 sent, the newest (3) taken first: Ctrl-C with 1, 2 and 3 on Ray
    assert [t.state for t in trials] == [TrialState.COMPLETE, *[TrialState.FAIL] * 3]
    assert {t.user_attrs["fail_reason"] for t in trials[1:]} == {INTERRUPTED}
    assert ray.shutdowns == 1


def test_ctrl_c_while_an_architecture_is_suggested_fails_that_trial_too(
    tmp_path: Path, fake_ray: Callable[..., _FakeRay]
) -> None:
    """Ctrl-C while the driver asks the space for a trial's architecture (claimed, not
    yet sent to Ray): that trial is failed as interrupted along with the ones on Ray,
    and none is left RUNNING; Ctrl-C goes on up."""
    run = _run(tmp_path)
    fake_ray(3.0)

    class _Space:
        def __getattr__(self, name: str) -> Any:
            return getattr(run.space, name)

        def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
            if trial.number == 3:
                raise KeyboardInterrupt
            return run.space.suggest(trial)  # type: ignore[no-any-return]

    study = run.study()
    config = dataclasses.replace(run.config, trials=8, ray=True)
    with pytest.raises(KeyboardInterrupt):
        qray.drive(study, space=_Space(), evaluator=_Evaluates(), objective=run.objective,  # type: ignore[arg-type]
                   config=config)  # fmt: skip
    trials = study.get_trials(deepcopy=False)
    # trials 1 and 2 on Ray, 3 claimed when Ctrl-C came
    assert [t.state for t in trials] == [TrialState.COMPLETE, *[TrialState.FAIL] * 3]
    assert [t.user_attrs["fail_reason"] for t in trials[1:]] == [INTERRUPTED] * 3


def test_a_complete_trial_starts_the_count_of_failures_again(
    tmp_path: Path, fake_ray: Callable[..., _FakeRay], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two failures, a success, two failures, a success: never three failures in a
    row, so neither the serial loop nor the driver (one task at a time, in order)
    gives up at three; both end with the budget and the same trials."""
    from quarch.study import _worker

    monkeypatch.setattr(_worker, "MAX_CONSECUTIVE_FAILURES", 3)

    class _EveryThird(ArithmeticEvaluator):
        def __init__(self, run_seed: int) -> None:
            super().__init__()
            self.ok = {trial_seed(run_seed, n) for n in (2, 5)}

        def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
            if seed not in self.ok:
                raise RuntimeError("no data")
            return super().evaluate(arch, seed=seed)

    states: list[list[str]] = []
    for name, ray in (("serial", False), ("ray", True)):
        if ray:
            fake_ray(1.0)
        res = run_search(_cfg(tmp_path, out=str(tmp_path / name), trials=2, seed=3, ray=ray),
                         evaluator=_EveryThird(3), progress=False)  # fmt: skip
        states.append([t.state for t in res.trials])
    assert states[0] == states[1] == ["FAIL", "FAIL", "COMPLETE", "FAIL", "FAIL", "COMPLETE"]


def test_ctrl_c_before_the_first_task_is_ctrl_c(
    tmp_path: Path, fake_ray: Callable[..., _FakeRay]
) -> None:
    """Ctrl-C while the evaluator is shipped to Ray (``ray.put``, before any trial is
    claimed): Ctrl-C goes on up, no trial was asked for, and Ray is shut down."""
    run = _run(tmp_path)
    ray = fake_ray(2.0)

    def put(value: Any) -> _Put:
        raise KeyboardInterrupt

    ray.put = put  # type: ignore[method-assign]
    study = run.study()
    with pytest.raises(KeyboardInterrupt):
        qray.drive(study, space=run.space, evaluator=_Evaluates(), objective=run.objective,
                   config=dataclasses.replace(run.config, trials=3, ray=True))  # fmt: skip
    assert len(study.get_trials(deepcopy=False)) == 1  # the run's own first trial
    assert ray.shutdowns == 1


def test_a_trial_sent_to_ray_starts_the_count_of_skips_again(
    tmp_path: Path, fake_ray: Callable[..., _FakeRay], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two architectures over budget after each one trained, with three in a row the
    limit: never three in a row, so neither the serial loop nor the driver gives up;
    both end with the budget and the same trials."""
    from quarch.study import _worker

    monkeypatch.setattr(_worker, "MAX_CONSECUTIVE_SKIPS", 3)

    class _Space(Space):  # run_search takes a Space (a duck-typed wrapper is refused)
        def suggest(self, trial: optuna.trial.BaseTrial) -> dict[str, Any]:
            if trial.number > 100:
                raise _NeverGaveUp("100 trials, and the search goes on")
            if trial.number % 3:  # 3 x 128 parameters: over the budget
                return {"n_layers": 3, "width_0": 128}
            return {"n_layers": 1, "width_0": 8}

    kw: dict[str, Any] = {"trials": 3, "budgets": ["params<=60"], "objectives": ["val_error"]}
    states: list[list[tuple[str, bool]]] = []
    for name, ray in (("serial", False), ("ray", True)):
        if ray:
            fake_ray(1.0)
        cfg = _cfg(tmp_path, out=str(tmp_path / name), ray=ray, **kw)
        base = space_for(cfg)
        space = _Space(base.choices, base.constraint, name=base.name)
        res = run_search(cfg, space=space, evaluator=_Cheap(), progress=False)
        states.append([(t.state, t.skip_reason is not None) for t in res.trials])
    skipped = ("PRUNED", True)  # a skipped architecture: pruned with its reason
    assert (
        states[0]
        == states[1]
        == [("COMPLETE", False), skipped, skipped] * 2 + [("COMPLETE", False)]
    )


def test_architectures_that_cannot_be_suggested_count_as_failures_in_a_row(
    tmp_path: Path, fake_ray: Callable[..., _FakeRay], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in the serial loop, a trial whose architecture cannot be suggested is a
    failure: a skipped architecture between two does not reset the count, a failure
    resets the count of skips, and the third failure in a row gives up in the serial
    loop's words (none sent to Ray, none left running)."""
    from quarch.study import _worker

    monkeypatch.setattr(_worker, "MAX_CONSECUTIVE_FAILURES", 3)
    monkeypatch.setattr(_worker, "MAX_CONSECUTIVE_SKIPS", 2)
    run = _run(tmp_path, budgets=["params<=60"], objectives=["val_error"])
    fake_ray(1.0)

    class _Space:
        def __getattr__(self, name: str) -> Any:
            return getattr(run.space, name)

        def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
            if trial.number > 100:
                raise _NeverGaveUp("100 trials, and the search goes on")
            if trial.number == 2:  # 3 x 128 parameters: over the budget
                return {"n_layers": 3, "width_0": 128}
            raise ValueError("no architecture here")

    study = run.study()
    evaluator = _Cheap()
    with pytest.raises(RunError) as e:
        qray.drive(study, space=_Space(), evaluator=evaluator, objective=run.objective,  # type: ignore[arg-type]
                   config=dataclasses.replace(run.config, trials=5, ray=True))  # fmt: skip
    assert str(e.value) == (
        "gave up: 3 trials in a row failed, with 1 of 5 trials done; the last failed with: "
        "ValueError: no architecture here"
    )
    trials = study.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL,
                                         TrialState.PRUNED, TrialState.FAIL, TrialState.FAIL]  # fmt: skip
    assert evaluator.seen == []
