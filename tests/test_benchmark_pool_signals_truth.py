"""A forked benchmark worker that a SIGTERM (or Ctrl-C) reaches before its initializer
has set its signals prints no traceback.

``quarch benchmark`` stopped by a SIGTERM to its process group printed a pool worker's
``KeyboardInterrupt`` traceback under its one line (seen in a whole-suite run of
``tests/test_benchmark_interrupt.py``): a forked worker starts with the command line's
handlers, which make SIGTERM and SIGINT a ``KeyboardInterrupt``, and keeps them until
``_init_worker`` replaces them. Here the window is made certain: the worker sends itself
the signal first thing, before the real initializer runs.

Truth: what the worker process writes to its standard error, and that the signal still
ends it (SIGTERM) or is ignored (SIGINT) once the initializer has run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

_SCRIPT = textwrap.dedent(
    """
    import multiprocessing as mp, os, signal, sys, time
    import quarch.benchmark._harness as harness

    def interrupt(signum, frame):  # what the command line installs
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    real = harness._init_worker
    SIG = getattr(signal, sys.argv[1])

    def early():
        os.kill(os.getpid(), SIG)  # the group's signal, before the initializer's work
        time.sleep(0.2)
        real()
        print("initialized", os.getpid(), flush=True)

    harness._init_worker = early
    pool = harness._pool(mp.get_context("fork"), 1)
    time.sleep(1.5)
    pool.terminate()
    print("parent", signal.getsignal(signal.SIGTERM) is interrupt, flush=True)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="no fork")
@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT"])
def test_a_signal_before_the_initializer_prints_no_traceback(name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, name], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "KeyboardInterrupt" not in done.stderr, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "parent True"  # the parent's own handlers are as they were
    inited = [line for line in lines if line.startswith("initialized")]
    if name == "SIGTERM":  # it still ends the worker, silently, once it is the default
        assert inited == [], done.stdout
    else:  # Ctrl-C is the parent's: the worker ignores it and goes on
        assert len(inited) == 1, done.stdout
