"""Files from someone else (issue 20): QASM text, config files and run folders, however
damaged, give a result or one :class:`QuarchError`, never another exception or a hang.

Hypothesis generates the inputs; each property accepts only those two outcomes.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import string
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quarch import QuarchError
from quarch.cli import main
from quarch.config import SearchConfig
from quarch.quantum import Circuit, from_qasm
from quarch.spaces import get_spec
from quarch.study import Run, run_search
from quarch.study._run import objective_of
from quarch.testing.evaluators import ArithmeticEvaluator

from ._scope import per_module

FAST = settings(deadline=None, max_examples=150, suppress_health_check=list(HealthCheck))

# -- QASM -------------------------------------------------------------------------------
_TOKENS = [
    "OPENQASM 2.0;",
    'include "qelib1.inc";',
    "qreg q[3];",
    "qreg r[2];",
    "qreg q[31];",
    "creg c[3];",
    "x q[0];",
    "cx q[0],q[1];",
    "cx q,r;",
    "rx(",
    "u3(",
    "pi",
    "9^9^9^9",
    "1/0",
    "ln(0)",
    "sqrt(-1)",
    "1e999",
    ")",
    "(",
    ",",
    "q[0]",
    "q[7]",
    ";",
    "gate g(a) x,y",
    "{",
    "}",
    "g(1) q[0],q[1];",
    "measure q -> c;",
    "barrier q;",
    "reset q[0];",
    "//",
    "\n",
    " ",
    "-",
    "*",
    "+",
    "exp(",
    "sin(",
    "0.5",
    "99999999999999999999",
    "id q[1];",
    "if(c==1) x q[0];",
    "opaque o q;",
    "U(0,0,0) q[2];",
    "ccx q[0],q[1],q[2];",
]


@FAST
@given(st.lists(st.sampled_from(_TOKENS), max_size=40).map("".join))
def test_qasm_made_of_qasm_pieces(text: str) -> None:
    _qasm_outcome(text)


@FAST
@given(st.text(max_size=400))
def test_qasm_made_of_any_text(text: str) -> None:
    _qasm_outcome(text)


@FAST
@given(
    st.recursive(
        st.sampled_from(["1", "pi", "9", "0", "2.5", "1e308", "x"]),
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "^"]), inner).map(
                lambda t: f"({t[0]}{t[1]}{t[2]})"
            ),
            st.tuples(st.sampled_from(["sin", "cos", "tan", "exp", "ln", "sqrt", "-"]), inner).map(
                lambda t: f"{t[0]}({t[1]})"
            ),
        ),
        max_leaves=30,
    )
)
def test_qasm_angle_expressions(expr: str) -> None:
    """Any arithmetic on angles: a finite angle, or one line naming the expression."""
    c = _qasm_outcome(f"OPENQASM 2.0;\nqreg q[1];\nrx({expr}) q[0];\n")
    if c is not None:
        assert len(c.ops) == 1


def test_the_issue_example() -> None:
    with pytest.raises(QuarchError, match=r"QASM line 1: cannot evaluate angle '9\^9\^9\^9'"):
        from_qasm("qreg q[1]; rx(9^9^9^9) q[0];")


def test_exponential_gate_definitions_are_refused_not_expanded() -> None:
    """39 nested definitions of two calls each would be 2**39 gates: refused at once."""
    defs = "".join(f"gate g{i} a {{ g{i - 1} a; g{i - 1} a; }}\n" for i in range(1, 40))
    text = "qreg q[1];\ngate g0 a { id a; }\n" + defs + "g39 q[0];\n"
    with pytest.raises(QuarchError, match="expands to more than 200000 gate applications"):
        from_qasm(text)


def _qasm_outcome(text: str) -> Circuit | None:
    try:
        c = from_qasm(text)
    except QuarchError as e:
        assert "\n" not in str(e).strip() or str(e).startswith("QASM")
        return None
    assert isinstance(c, Circuit) and 1 <= c.n_qubits <= 30
    return c


# -- config files -----------------------------------------------------------------------
_KEYS = [
    "space", "dataset", "strategy", "trials", "seed", "objectives", "weights", "budgets",
    "timeout", "epochs", "workers", "storage", "evaluator_options", "space_options",
    "pruner", "ray", "max_train", "batch_size", "bogus",
]  # fmt: skip
_VALUES = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(-5, 100), st.floats(allow_nan=True),
        st.sampled_from(["mlp", "hqnn", "cnn", "nb201", "iris", "val_error", "params<=100",
                         "val_error,params", "median", "qiea", "lr", "foo://bar", ""]),
        st.text(max_size=12),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(["lr", "max_layers", "x"]), inner,
                                            max_size=3)),
    max_leaves=8,
)  # fmt: skip


@FAST
@given(
    st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=8),
    st.sampled_from([".json", ".yaml"]),
)
def test_config_files_of_random_keys_and_values(
    tmp_path_factory: pytest.TempPathFactory, data: dict[str, Any], suffix: str
) -> None:
    path = tmp_path_factory.mktemp("cfg") / f"c{suffix}"
    text = json.dumps(data) if suffix == ".json" else yaml.safe_dump(data)
    path.write_text(text)
    _config_outcome(path)


@FAST
@given(st.text(max_size=300), st.sampled_from([".toml", ".json", ".yaml"]))
def test_config_files_of_any_text(
    tmp_path_factory: pytest.TempPathFactory, text: str, suffix: str
) -> None:
    path = tmp_path_factory.mktemp("cfg") / f"c{suffix}"
    path.write_text(text)
    _config_outcome(path)


def _config_outcome(path: Path) -> None:
    """Read the file and make every check a run makes before it loads data."""
    try:
        cfg = SearchConfig.from_file(path)
        objective_of(cfg)
        spec = get_spec(cfg.space)
        spec.check(cfg)
        spec.build_space(cfg)
    except QuarchError:
        return


# -- damaged run folders ----------------------------------------------------------------
@pytest.fixture(scope=per_module)
def good_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "good"
    cfg = SearchConfig(space="mlp", dataset="iris", trials=4, out=str(out))
    run_search(cfg, progress=False, evaluator=ArithmeticEvaluator())
    return out


_DAMAGE = st.one_of(
    st.tuples(st.just("truncate"), st.sampled_from(["study.db", "config.json", "run.json"]),
              st.floats(0, 1)),
    st.tuples(st.just("flip"), st.sampled_from(["study.db", "config.json", "run.json"]),
              st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=8)),
    st.tuples(st.just("json"), st.sampled_from(["config.json", "run.json"]), _VALUES),
    st.tuples(st.just("edit"), st.sampled_from(["config.json", "run.json"]),
              st.tuples(st.sampled_from([*_KEYS, "storage", "fingerprint", "objective"]),
                        _VALUES)),
    st.tuples(st.just("delete"), st.sampled_from(["study.db", "config.json", "run.json"]),
              st.none()),
)  # fmt: skip


def _damage(run: Path, how: tuple[str, str, Any]) -> None:
    kind, name, arg = how
    path = run / name
    if kind == "delete":
        path.unlink()
    elif kind == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * arg)])
    elif kind == "flip":
        flipped = bytearray(path.read_bytes())
        for where, byte in arg:
            flipped[min(int(len(flipped) * where), len(flipped) - 1)] = byte
        path.write_bytes(bytes(flipped))
    elif kind == "json":
        path.write_text(json.dumps(arg))
    else:
        key, value = arg
        data = json.loads(path.read_text())
        data[key] = value
        path.write_text(json.dumps(data))


@settings(deadline=None, max_examples=30, suppress_health_check=list(HealthCheck))
@given(how=_DAMAGE)
def test_damaged_run_folders(
    good_run: Path,
    tmp_path_factory: pytest.TempPathFactory,
    capfd: pytest.CaptureFixture[str],
    how: tuple[str, str, Any],
) -> None:
    """``Run.open(...).result()`` and ``quarch trials RUN --json`` on a damaged copy:
    a result, or one QuarchError (one ``error:`` line and exit 2 on the command line)."""
    run = tmp_path_factory.mktemp("damaged") / "run"
    shutil.copytree(good_run, run)
    _damage(run, how)
    with contextlib.suppress(QuarchError):
        Run.open(run).result()
    capfd.readouterr()
    code = main(["trials", str(run), "--json"])
    out, err = capfd.readouterr()
    assert code in (0, 2), err
    if code == 2:
        assert err.startswith("error: ") and err.count("\n") == 1, err
    else:
        assert json.loads(out) is not None
    shutil.rmtree(run.parent, ignore_errors=True)


@pytest.mark.parametrize("name", ["study.db", "run.json", "config.json"])
def test_truncated_files_and_the_report(good_run: Path, tmp_path: Path, name: str) -> None:
    """The report of a run with a file cut in half: a report, or one QuarchError."""
    from quarch.report import write_report

    run = tmp_path / "run"
    shutil.copytree(good_run, run)
    _damage(run, ("truncate", name, 0.5))
    with pytest.raises(QuarchError):
        write_report(run)
    assert not (run / "report" / "index.html").exists()
    assert os.listdir(tmp_path) == ["run"]


def test_printable_garbage_names_are_refused_cleanly() -> None:
    for name in ["", " ", "\x00", "../../etc", string.punctuation]:
        with pytest.raises(QuarchError):
            get_spec(name)
