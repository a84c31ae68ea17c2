"""The harness: every strategy on every seed of a task, sequentially or in worker
processes, with the energy the runs used."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from quarch._errors import ConfigError, RunError, did_you_mean
from quarch._paths import check_folder, writing
from quarch.benchmark._journal import RUNS_FILE, _Journal, _settings
from quarch.benchmark._result import BenchmarkResult
from quarch.benchmark._run import run_one
from quarch.benchmark._tasks import build_task
from quarch.config import MAX_SEED

__all__ = ["CPU_WATTS", "RUNS_FILE", "run_benchmark"]

#: Power assumed per busy core when no energy meter is readable (W).
CPU_WATTS = 10.0

_Job = tuple[str, str, int, int, "str | None", tuple[str, ...]]


def _run_job(job: _Job) -> dict[str, Any]:
    from quarch.search import STRATEGIES

    if job[1] not in STRATEGIES:  # known to the caller (checked there): this is a worker
        raise ConfigError(
            f"strategy {job[1]!r} is not registered in the worker processes: they import "
            'the main script again, but not what runs under `if __name__ == "__main__":`; '
            "register it at the script's top level or in a module the script imports"
        )
    return run_one(*job)


def _init_worker() -> None:
    """One thread per worker. Where workers are forked (Linux before Python 3.14: they
    inherit the loaded task; see :func:`_start_method`), Qiskit's Rust thread pool does
    not survive the fork: a task that transpiled in the
    parent (a custom task computing routed costs) would hang at the workers' first
    transpile. With ``QISKIT_IN_PARALLEL`` set Qiskit runs serially; its answer is
    cached per process (``functools.cache``), so the parent's is dropped, or a parent
    that ran with ``QISKIT_PARALLEL=TRUE`` would have each worker start its own pool.

    Signals are the parent's to handle: Ctrl-C reaches the whole process group, and a
    worker taking it would print its own traceback; the parent ends the pool with
    SIGTERM, which a worker would otherwise take as the Ctrl-C that the command line's
    handler (inherited through a fork) makes of it, with a traceback again."""
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["QISKIT_IN_PARALLEL"] = "TRUE"
    parallel = sys.modules.get("qiskit.utils.parallel")
    if parallel is not None:
        parallel.should_run_in_parallel.cache_clear()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):  # held since the fork (:func:`_pool`)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _WORKER_SIGNALS)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def _pool(ctx: Any, processes: int) -> Any:
    """The workers' pool, its processes started with Ctrl-C ignored where they are
    spawned (the search's :class:`~quarch.study._parallel._SpawnedIgnoringCtrlC`; the
    forkserver, started so too, hands that on). A spawned worker imports the main
    script and quarch before :func:`_init_worker` runs: a Ctrl-C in those seconds
    printed a ``KeyboardInterrupt`` traceback from each (and the pool started another
    in its place) under the command's one line. The parent still takes Ctrl-C, and
    ends the pool."""
    from quarch.study._parallel import _SpawnedIgnoringCtrlC

    with _SpawnedIgnoringCtrlC(), _signals_held():
        return ctx.Pool(processes, initializer=_init_worker)


#: The signals a forked worker holds until :func:`_init_worker` has set them.
_WORKER_SIGNALS = {signal.SIGINT, signal.SIGTERM}


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM blocked in this thread while the pool forks its workers.

    A forked worker starts with the parent's Python handlers (the command line's make
    both a ``KeyboardInterrupt``) and keeps them until :func:`_init_worker` replaces
    them: a SIGTERM to the process group in that window printed the worker's traceback
    under the command's one line. A forked child inherits its thread's signal mask, so
    the workers start with both held and take them only once set (SIGTERM then ends a
    worker silently, SIGINT is ignored); the pool's handler threads, made here too,
    keep them blocked, so the workers they fork in place of dead ones start so as well,
    and the signals reach this process through its main thread as before. Here a held
    signal waits the milliseconds the forks take. Spawned workers start afresh (exec
    resets handlers; :class:`~quarch.study._parallel._SpawnedIgnoringCtrlC` covers them).
    """
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no fork, no mask
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _WORKER_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


#: Seconds the pool's SIGTERM has to end its workers before they are killed.
_END_GRACE_SECONDS = 2.0


@contextlib.contextmanager
def _ended(pool: Any) -> Iterator[Any]:
    """``pool``, ended on leaving as ``with pool`` ends it (``Pool.terminate``), but
    killing (SIGKILL) the workers that SIGTERM has not ended within
    :data:`_END_GRACE_SECONDS`.

    The pool forks a worker in place of a dead one from its handler thread, in a
    process with other threads; such a child can block forever on a lock it inherited
    held (a futex wait, one thread) before :func:`_init_worker` sets its SIGTERM to the
    default, so the parent's Python handler it inherited never runs, SIGTERM does
    nothing, and ``terminate``'s join waited forever (seen under ``pytest -n 2`` with
    two workers killed at once: 60 s, then a leaked process). ``terminate`` stops
    forking workers before it joins them, so the workers killed here are the last."""
    try:
        yield pool
    finally:
        _end_pool(pool)


def _end_pool(pool: Any) -> None:
    """What :func:`_ended` does on leaving, in a plain function: mutmut 3 mutates no
    function under a decorator (``@contextlib.contextmanager``), so this is where the
    tests of ``test_benchmark_pool_end_truth.py`` reach it."""
    import threading

    ender = threading.Thread(target=pool.terminate, name="quarch-pool-end", daemon=True)
    ender.start()
    ender.join(_END_GRACE_SECONDS)
    while ender.is_alive():
        for p in list(pool._pool):
            if p.exitcode is None:
                p.kill()
        ender.join(0.1)


def _start_method() -> str:
    """How the worker processes start: Python's default, or the one the program set with
    ``multiprocessing.set_start_method``. That is ``fork`` on Linux before Python 3.14
    (the workers inherit the loaded task), ``forkserver`` there from 3.14, and ``spawn``
    on macOS and Windows. The harness asked for ``fork`` wherever the platform had it,
    macOS included, where Python stopped forking by default in 3.8 because the system
    libraries may start threads, and a forked child can crash (bpo-33725)."""
    import multiprocessing

    # not get_context(): it would fix the default, and a later set_start_method fail;
    # the platform's default is the first method listed (documented)
    chosen = multiprocessing.get_start_method(allow_none=True)
    return chosen or multiprocessing.get_all_start_methods()[0]


#: Seconds the parent waits for a run's row before it looks for a worker that died.
_WATCH_SECONDS = 0.5


def _run_noted(item: tuple[str, int, _Job]) -> dict[str, Any]:
    """``_run_job`` in a worker, after noting in the folder ``item[0]`` that this
    process runs job ``item[1]``: what tells the parent which run a dead worker took
    with it (the pool's workers are its own; it says nothing of what each runs)."""
    folder, index, job = item
    part = Path(folder, f".{index}")
    part.write_text(str(os.getpid()))  # digits: the same bytes in any encoding
    os.replace(part, Path(folder, str(index)))  # whole, or not there: never half a pid
    return _run_job(job)


def _run_pool(
    pool: Any, notes: Path, jobs: list[_Job], add: Callable[[dict[str, Any]], None]
) -> dict[int, int]:
    """Run ``jobs`` on ``pool``, passing each row to ``add`` as it arrives; the jobs
    lost to a worker that died during them (the OOM killer, a user's ``kill``, a crash
    in native code), by index, with the dead worker's process id. The workers note
    the job they start in the folder ``notes``, which must outlive the pool (a worker
    still running after a Ctrl-C here writes there).

    ``multiprocessing.Pool`` starts a new worker in place of one that died, but the
    dead one's job is never answered: ``imap_unordered`` waited for it forever and only
    Ctrl-C ended the benchmark. The parent now waits for each row at most
    :data:`_WATCH_SECONDS` and then looks for started jobs (:func:`_run_noted`) whose
    process is no longer one of the pool's; it ends when every job is answered or
    lost. The other runs go on meanwhile, as a search's do when one of its workers dies
    (:func:`quarch.study._parallel.run_workers` finishes its work and fails the dead
    worker's trial naming the process): a lost run costs only itself.
    ``concurrent.futures.ProcessPoolExecutor`` raises ``BrokenProcessPool`` instead of
    waiting, but it then ends every worker, and with them every run in progress."""
    import multiprocessing

    done: set[int] = set()
    lost: dict[int, int] = {}
    index = {(j[1], j[2]): i for i, j in enumerate(jobs)}
    rows = pool.imap_unordered(_run_noted, [(str(notes), i, j) for i, j in enumerate(jobs)])
    while len(done | set(lost)) < len(jobs):
        try:
            row = rows.next(timeout=_WATCH_SECONDS)
        except multiprocessing.TimeoutError:
            lost = _lost(pool, notes)
            continue
        done.add(index[row["strategy"], row["seed"]])
        (notes / str(index[row["strategy"], row["seed"]])).unlink()  # no longer running
        add(row)
    # a row may come after its worker was seen gone (it died as it sent it)
    return {i: pid for i, pid in lost.items() if i not in done}


def _lost(pool: Any, notes: Path) -> dict[int, int]:
    """The jobs noted as running (their rows not in yet) whose worker process is no
    longer alive in ``pool``, by index, with that process's id. ``Pool._pool``, the
    pool's list of its workers (private, the same since Python 3.0), drops a dead
    worker as the pool starts another."""
    alive = {p.pid for p in pool._pool if p.exitcode is None}
    running = {int(f.name): int(f.read_text()) for f in notes.glob("[0-9]*")}
    return {i: pid for i, pid in running.items() if pid not in alive}


def _lost_line(task: str, jobs: list[_Job], lost: dict[int, int], kept: str) -> str:
    """The line ending a benchmark that lost runs to dead workers: which runs, their
    processes, and what is kept."""
    runs = ", ".join(
        f"{jobs[i][1]} seed {jobs[i][2]} (process {pid})" for i, pid in sorted(lost.items())
    )
    one = len(lost) == 1
    return (
        f"benchmark {task}: the worker process{'' if one else 'es'} running {runs} died "
        "(killed: out of memory, or by a user; or crashed), and "
        f"{'that run was' if one else 'those runs were'} lost; {kept}"
    )


def _check_main_guard(workers: int, method: str) -> None:
    """Refuse, before the task is built or anything is written, worker processes that
    import the main script again (``spawn``, ``forkserver``) when the benchmark was
    called from its top level, outside ``if __name__ == "__main__":``: each worker ran
    the benchmark again, and died with multiprocessing's ``RuntimeError`` about its
    bootstrapping phase, and the pool started another in its place, without end. A
    worker process still importing the main script is refused too. As
    :func:`quarch.study.run_search` refuses it (the same line but for its subject), and
    so is a main script read from standard input (``python -``), whose workers each
    failed to open ``<stdin>``, and the pool started others in their place without end
    (:func:`~quarch.study._parallel.check_sendable`)."""
    if method == "fork":
        return
    import multiprocessing

    from quarch.study._parallel import check_sendable, unguarded_call

    inheriting = getattr(multiprocessing.current_process(), "_inheriting", False)
    where = "this is a worker process importing the main script" if inheriting else unguarded_call()
    if where is not None:
        raise ConfigError(
            f"workers={workers} starts worker processes that import the main script again "
            f"(Python's {method} start method), and a benchmark called at its top level would "
            f'start again in each; put the call under `if __name__ == "__main__":` ({where})'
        )
    check_sendable(workers)


class _Meter:
    """CodeCarbon's tracker when installed (sequential runs), else CPU time x watts."""

    def __init__(self, use_codecarbon: bool) -> None:
        self.tracker: Any = None
        if use_codecarbon:
            try:
                from codecarbon import OfflineEmissionsTracker

                self.tracker = OfflineEmissionsTracker(
                    country_iso_code="USA", save_to_file=False, log_level="error"
                )
            except Exception:  # not installed or no readable meter: fall back
                self.tracker = None

    @property
    def method(self) -> str:
        if self.tracker is not None:
            return "CodeCarbon (measured)"
        return f"CPU time x {CPU_WATTS:g} W (no CodeCarbon meter)"

    def measure(self, fn: Callable[[], list[dict[str, Any]]]) -> tuple[list[dict[str, Any]], float]:
        """``fn``'s rows and the joules they took. The runs are done once: an error in
        them, or Ctrl-C, stops the tracker and goes on up (a fallback that caught it
        ran every run of the strategy a second time); only the tracker's own failure
        to start or to stop falls back to CPU time."""
        if self.tracker is not None:
            try:
                self.tracker.start()
            except Exception:  # no readable meter after all
                self.tracker = None
        if self.tracker is None:
            rows = fn()
            return rows, sum(r["cpu_seconds"] for r in rows) * CPU_WATTS
        try:
            rows = fn()
        finally:
            joules = self._stop()
        if joules is None:
            return rows, sum(r["cpu_seconds"] for r in rows) * CPU_WATTS
        return rows, joules

    def _stop(self) -> float | None:
        """Stop the tracker; the joules it measured, or ``None`` when it cannot say."""
        try:
            self.tracker.stop()
            return float(self.tracker._total_energy.kWh) * 3.6e6
        except Exception:
            self.tracker = None
            return None


def _as_list(value: str | Sequence[str], what: str) -> list[str]:
    """``"qiea,random"`` (one name, or names as the CLI's flag reads them) as a list,
    never the characters of the string; any other sequence as it is."""
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            f"{what} must be a list of strings or one comma-separated string; got {value!r}"
        )
    return list(value)


def run_benchmark(
    *,
    task: str,
    strategies: Sequence[str],
    seeds: int,
    trials: int,
    data_dir: str | None = None,
    budgets: Sequence[str] = (),
    out: str | None = None,
    progress: bool = True,
    workers: int = 1,
    first_seed: int = 0,
    overwrite: bool = False,
) -> BenchmarkResult:
    """Run every strategy on seeds ``first_seed .. first_seed + seeds - 1`` of ``task``
    for ``trials`` queries each.

    Args:
        task: a registered task (:func:`quarch.benchmark.task_names`) or
            ``package.module:function`` (a task factory, :mod:`quarch.evaluate.task`).
        strategies: registered strategy names (``quarch.search.STRATEGIES``); a
            string is one name or several separated by commas.
        seeds: runs per strategy, >= 1.
        trials: queries per run, >= 1.
        data_dir: folder holding the task's data (``nb201/`` for the nb201 tasks).
        budgets: hard limits such as ``raspi4<=20``, added to the task's own (a
            string: one, or several separated by commas).
        out: folder for ``results.csv``, ``curves.csv`` and ``best_so_far.png``
            (default ``runs/benchmark-<task>``).
        progress: show a progress bar on stderr.
        workers: processes running (strategy, seed) pairs in parallel (each with one
            thread); 1 runs them in this process.
        first_seed: the first seed (tune on seeds you do not report).
        overwrite: start over, replacing the runs a stopped benchmark kept in ``out``
            (:data:`RUNS_FILE`), which are otherwise taken when the settings are the
            same and refused when they differ.

    Returns:
        The :class:`BenchmarkResult`.

    Raises:
        ConfigError: an unknown task or strategy, a malformed budget, or bad counts.
        DataError: the task's data files are missing.
        OutputError: ``out`` cannot be written (checked before the runs).
        RunExistsError: ``out`` holds the runs of a stopped benchmark of other
            settings, and not ``overwrite`` (before the runs).
        RunError: no run found an architecture within the budget (each stopped at its
            cap on asks; one that did not while another did is a warning), every
            evaluation failed, or a worker process died during a run (the runs
            finished are kept: the same call finishes the benchmark).
    """
    from quarch.search import STRATEGIES, strategy_kind

    if not isinstance(task, str):
        raise ConfigError(f"task must be a name or package.module:function; got {task!r}")
    names = _as_list(strategies, "strategies")
    if not names:
        raise ConfigError(f"no strategies given; choose from: {', '.join(STRATEGIES.names())}")
    unknown = [s for s in names if s not in STRATEGIES]
    if unknown:
        raise ConfigError(
            f"unknown strategy {', '.join(map(repr, unknown))}; "
            f"choose from: {', '.join(STRATEGIES.names())}"
            f"{did_you_mean(unknown, STRATEGIES.names())}"
        )
    twice = sorted({s for s in names if names.count(s) > 1})
    if twice:
        raise ConfigError(f"strategies named more than once: {', '.join(twice)}")
    for label, v in (("seeds", seeds), ("trials", trials), ("workers", workers)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ConfigError(f"{label} must be a positive integer; got {v!r}")
    if not isinstance(first_seed, int) or isinstance(first_seed, bool) or first_seed < 0:
        raise ConfigError(f"first_seed must be an integer >= 0; got {first_seed!r}")
    if first_seed + seeds - 1 > MAX_SEED:  # the range `quarch search --seed` takes
        raise ConfigError(
            f"the last seed, first_seed + seeds - 1 = {first_seed + seeds - 1}, is above "
            f"{MAX_SEED} (2**32 - 1, the seeds numpy's RandomState and Optuna's samplers take)"
        )
    bud = tuple(_as_list(budgets, "budgets"))
    start = _start_method()
    if workers > 1:
        _check_main_guard(workers, start)
    # Build (and cache) the task here: errors surface before any run, and forked
    # workers inherit the loaded table.
    base = build_task(task, seed=first_seed, data_dir=data_dir, budgets=bud)
    if "grid" in names:  # as `quarch search` refuses it: more queries than cells repeat them
        from quarch.search import make_sampler

        grid = make_sampler("grid", seed=first_seed, space=base.space, objective=base.objective)
        cells = getattr(grid, "max_trials", None)
        if cells is not None and trials > cells:
            raise ConfigError(
                f"strategy 'grid' proposes each of {cells} architectures once; --trials must "
                f"be at most {cells}"
            )
    out_dir = Path(out) if out else Path("runs") / f"benchmark-{base.name}"
    check_folder(out_dir, "benchmark folder")  # before the runs, not after them

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn

    from quarch.study._progress import progress_bar  # one line of the cell in a notebook

    bar = progress_bar(
        TextColumn(f"[bold]benchmark {base.name}"),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(file=sys.stderr),
        disable=not progress,
    )
    seed_list = range(first_seed, first_seed + seeds)
    journal = _Journal(out_dir, _settings(task, trials, bud, data_dir), overwrite=overwrite)
    kept = [r for s in names for k in seed_list if (r := journal.take(s, k)) is not None]
    jobs = {
        s: [(task, s, k, trials, data_dir, bud) for k in seed_list if journal.take(s, k) is None]
        for s in names
    }
    rows: list[dict[str, Any]] = []
    energy: dict[str, float] = {}
    t0 = time.perf_counter()
    try:
        with bar:
            tid = bar.add_task("", total=len(names) * seeds, completed=len(kept))
            if kept and progress:
                bar.console.print(
                    f"benchmark {base.name}: {len(kept)} of {len(names) * seeds} runs taken "
                    f"from {str(journal.path)!r} (a stopped benchmark's)"
                )
            if workers == 1:
                meter = _Meter(use_codecarbon=True)
                for s in names:
                    bar.update(tid, description=s)

                    def run_all(s: str = s) -> list[dict[str, Any]]:
                        out_rows = []
                        for job in jobs[s]:
                            out_rows.append(_run_job(job))
                            journal.add(out_rows[-1])
                            bar.advance(tid)
                        return out_rows

                    got, energy[s] = meter.measure(run_all)
                    rows += got
                method = meter.method
            else:
                import multiprocessing as mp

                ctx = mp.get_context(start)
                all_jobs = [j for s in names for j in jobs[s]]
                processes = min(workers, len(all_jobs))  # more would only start and wait

                def add(r: dict[str, Any]) -> None:
                    rows.append(r)
                    journal.add(r)
                    bar.update(tid, description=r["strategy"], advance=1)

                if all_jobs:  # none when every run was kept: no pool to start
                    # the notes' folder is removed after the pool ends its workers
                    with (
                        tempfile.TemporaryDirectory(prefix="quarch-benchmark-") as notes,
                        _ended(_pool(ctx, processes)) as pool,
                    ):
                        lost = _run_pool(pool, Path(notes), all_jobs, add)
                    if lost:
                        left = journal.left(len(names) * seeds)
                        raise RunError(_lost_line(base.name, all_jobs, lost, left))
                for s in names:
                    energy[s] = sum(r["cpu_seconds"] for r in rows if r["strategy"] == s)
                    energy[s] *= CPU_WATTS
                method = f"CPU time x {CPU_WATTS:g} W (no CodeCarbon meter in parallel runs)"
    except KeyboardInterrupt:
        raise journal.stopped(len(names) * seeds) from None
    finally:
        journal.close(done=False)  # the file stays until the results are written
    if kept:  # the kept runs' energy, as a parallel run's: their CPU time
        for s in names:
            energy[s] += sum(r["cpu_seconds"] for r in kept if r["strategy"] == s) * CPU_WATTS
        method += f"; {len(kept)} runs of a stopped benchmark: CPU time x {CPU_WATTS:g} W"
    rows += kept
    wall = time.perf_counter() - t0
    order = {s: i for i, s in enumerate(names)}
    rows.sort(key=lambda r: (order[r["strategy"]], r["seed"]))
    curves = {
        s: np.array([r["curve"] for r in rows if r["strategy"] == s], dtype=float) for s in names
    }
    optima = sorted({r["optimum"] for r in rows})
    try:
        _check_stops(base.name, rows)
        _check_failures(base.name, rows)
    except RunError:  # nothing within the budget, or every evaluation failed: no run
        journal.close(done=True)  # is worth keeping
        raise
    for r in rows:
        del r["curve"], r["failed"], r["first_failure"]
        r.pop("stopped", None)  # absent from the runs a stopped benchmark of older kept
    result = BenchmarkResult(
        task=base.name,
        strategies=names,
        seeds=seeds,
        trials=trials,
        budgets=[str(b) for b in base.objective.budgets],
        maximize=base.maximize,
        score_name=base.score_name,
        target=base.target,
        energy_method=method,
        rows=rows,
        curves=curves,
        energy_j=energy,
        wall_seconds=wall,
        optima=optima,
        oracle=base.oracle,
        oracle_label=base.oracle_label,
        kinds={s: strategy_kind(s) for s in names},
        first_seed=first_seed,
        software=journal.header.get("software"),
        software_changes=journal.header.get("software_changes", []),
    )
    try:
        with writing(out_dir, "benchmark folder"):
            result.write(out_dir)
    except KeyboardInterrupt:  # the runs are all kept: the same command writes them
        raise journal.stopped(len(names) * seeds) from None
    journal.close(done=True)
    result.out = out_dir
    return result


def _check_stops(task: str, rows: list[dict[str, Any]]) -> None:
    """Runs stopped at their cap on asks (:data:`~quarch.benchmark._run.MAX_ASKS_PER_QUERY`)
    short of their queries: an error when no run made a query (a budget that no
    architecture of the task meets: the table would be all blanks, and the search gives
    up on such a budget too), else a warning; one line, quoting the first run's stop
    line (the budget, the nearest value, what to do). Silent before: ``[0 feasible]``
    and blanks, exit 0."""
    short = [r for r in rows if r.get("stopped")]
    if not short:
        return
    first = short[0]
    where = f"{first['strategy']}, seed {first['seed']}: {first['stopped']}"
    if all(r["queries"] == 0 for r in rows):
        raise RunError(f"benchmark {task}: no run found an architecture within the budget; "
                       f"the first ({where})")  # fmt: skip
    from quarch._warnings import warn

    warn(f"benchmark {task}: {len(short)} of {len(rows)} runs stopped short of their "
         f"queries; the first ({where})")  # fmt: skip


def _check_failures(task: str, rows: list[dict[str, Any]]) -> None:
    """A failed evaluation is a wasted query, as in a search; but when every one failed
    (a task of your own whose evaluator returns no objective metric, say) the table would
    be all blanks: that is an error naming the first failure, before anything is
    written; some failures are a warning with the same detail."""
    failed = sum(r["failed"] for r in rows)
    if not failed:
        return
    total = sum(r["queries"] for r in rows)
    first = next(r for r in rows if r["failed"])
    where = f"{first['strategy']}, seed {first['seed']}: {first['first_failure']}"
    if failed == total:
        raise RunError(
            f"benchmark {task}: every evaluation failed ({total} of {total}); the first ({where})"
        )
    from quarch._warnings import warn

    warn(f"benchmark {task}: {failed} of {total} evaluations failed, each a wasted query; "
         f"the first ({where})")  # fmt: skip
