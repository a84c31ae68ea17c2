"""`SearchConfig` against what its docstring and the README promise, with config files
written by hand and read back with ``tomllib`` / ``json`` / PyYAML directly.

Each refusal is checked as the whole line a user reads (the README: "A key of the
wrong type is one error naming it"; the module: messages say what was given and what
is allowed), and each bound at the value just inside and just outside it.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from quarch import ConfigError
from quarch._errors import did_you_mean
from quarch.config import (
    CONFIG_SUFFIXES,
    PRUNERS,
    SearchConfig,
    mask_secrets,
    misplaced_keys_hint,
    strip_password,
)

FIELDS = [f.name for f in dataclasses.fields(SearchConfig)]


def _refusal(data: Any) -> str:
    with pytest.raises(ConfigError) as e:
        SearchConfig.from_dict(data)
    return str(e.value)


# -- defaults: the docstring's and the README's ------------------------------------------


def test_the_documented_defaults() -> None:
    """The class docstring and ``quarch search --help`` (random, 20, 0, cpu, 1, quarch,
    none; objectives val_error,params) name these defaults."""
    cfg = SearchConfig(space="mlp")
    want: dict[str, Any] = {
        "space": "mlp", "dataset": None, "strategy": "random", "trials": 20, "seed": 0,
        "out": None, "objectives": ["val_error", "params"], "weights": None, "budgets": [],
        "timeout": None, "data_dir": None, "epochs": None, "batch_size": None,
        "max_train": None, "device": "cpu", "space_options": {}, "strategy_options": {},
        "evaluator_options": {}, "workers": 1, "storage": None, "study_name": "quarch",
        "trial_timeout": None, "ray": False, "ray_address": None, "pruner": "none",
        "pruner_options": {},
    }  # fmt: skip
    assert cfg.to_dict() == want
    assert sorted(want) == sorted(FIELDS)
    assert PRUNERS == ("none", "median", "hyperband")
    assert CONFIG_SUFFIXES == (".toml", ".json", ".yaml", ".yml")
    # mutable defaults are fresh per config
    a, b = SearchConfig(space="mlp"), SearchConfig(space="mlp")
    a.objectives.append("flops")
    a.budgets.append("params<=1")
    a.space_options["x"] = 1
    assert b.objectives == ["val_error", "params"] and b.budgets == [] and b.space_options == {}


@pytest.mark.parametrize(
    ("fields", "folder"),
    [
        ({}, "runs/mlp-none-random-s0"),
        ({"dataset": "iris", "strategy": "qiea", "seed": 7}, "runs/mlp-iris-qiea-s7"),
        ({"out": "elsewhere/run"}, "elsewhere/run"),
    ],
)
def test_run_dir(fields: dict[str, Any], folder: str) -> None:
    """``out`` or ``runs/<space>-<dataset>-<strategy>-s<seed>`` (docstring)."""
    assert SearchConfig(space="mlp", **fields).run_dir == Path(folder)


# -- files written by hand ---------------------------------------------------------------

_TOML = """\
space = "cnn"
dataset = "fashion-mnist"
data_dir = "../shared/data"
strategy = "qiea"
trials = 40
seed = 3
objectives = ["val_error", "latency_ms", "memory_kb"]
budgets = ["memory_kb<=256"]
timeout = 90.5
epochs = 2
batch_size = 64
max_train = 500
workers = 2
study_name = "s"
trial_timeout = 600
pruner = "median"
[evaluator_options]
device_profile = "cortex-m7"
[strategy_options]
n_quantum = 4
[space_options]
widths = [4, 8]
[pruner_options]
n_warmup_steps = 1
"""


def test_a_toml_file_is_read_as_tomllib_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(_TOML)
    cfg = SearchConfig.from_file(path)
    truth = tomllib.loads(_TOML)
    got = cfg.to_dict()
    for key, value in truth.items():
        assert got[key] == value, key
    assert SearchConfig.read_file(path) == truth
    # the same keys as JSON and YAML give the same config
    (tmp_path / "c.json").write_text(json.dumps(truth))
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(truth))
    (tmp_path / "C.YML").write_text(yaml.safe_dump(truth))  # the suffix in any case
    for name in ("c.json", "c.yaml", "C.YML"):
        assert SearchConfig.from_file(tmp_path / name) == cfg, name


def test_save_writes_json_that_json_reads_back(tmp_path: Path) -> None:
    """``save`` writes the config as JSON (indented, sorted, one final newline) that
    ``json`` reads as ``to_dict`` and ``from_file`` reads as the same config."""
    cfg = SearchConfig(space="mlp", weights=[1, 0.5], budgets=["params<=9"], seed=4)
    path = tmp_path / "config.json"
    cfg.save(path)
    text = path.read_text()
    assert json.loads(text) == cfg.to_dict()
    assert text == json.dumps(cfg.to_dict(), indent=2, sort_keys=True) + "\n"
    assert SearchConfig.from_file(path) == cfg


def test_a_byte_order_mark_and_a_list_as_one_string(tmp_path: Path) -> None:
    """The README: a list may be one comma-separated string; Windows editors' BOM."""
    path = tmp_path / "c.toml"
    path.write_bytes(
        b'\xef\xbb\xbfspace = "mlp"\nobjectives = " val_error , ,flops,"\n'
        b'budgets = "params<=100"\nweights = "1, 2"\n'
    )
    cfg = SearchConfig.from_file(path)
    assert cfg.objectives == ["val_error", "flops"]
    assert cfg.budgets == ["params<=100"]
    assert cfg.weights == [1.0, 2.0] and all(type(w) is float for w in cfg.weights)


# -- refusals, each the whole line -------------------------------------------------------


def test_a_missing_or_folder_or_unknown_file(tmp_path: Path) -> None:
    folder = tmp_path / "d.toml"
    folder.mkdir()
    with pytest.raises(ConfigError) as e:
        SearchConfig.read_file(folder)
    assert str(e.value) == (
        f"config file {str(folder)!r} is a folder; name a .toml, .json or .yaml file"
    )
    missing = tmp_path / "none.toml"
    with pytest.raises(ConfigError) as e:
        SearchConfig.read_file(missing)
    assert str(e.value) == f"config file {str(missing)!r} does not exist"
    pipe = tmp_path / "p.toml"  # what `--config <(envsubst < c.toml)` names
    os.mkfifo(pipe)
    with pytest.raises(ConfigError) as e:
        SearchConfig.read_file(pipe)
    assert str(e.value) == (
        f"config file {str(pipe)!r} is not a regular file (a pipe or a device); name a "
        ".toml, .json or .yaml file"
    )
    for name, shown in (("c.txt", "'.txt'"), ("config", "'(no suffix)'")):
        path = tmp_path / name
        path.write_text('space = "mlp"\n')
        with pytest.raises(ConfigError) as e:
            SearchConfig.read_file(path)
        assert str(e.value) == (
            f"config file {str(path)!r}: unknown format {shown}; name it .toml, .json, .yaml, .yml"
        )


def _both(path: Path, text: str, parse: Any, error: type[Exception]) -> tuple[str, str]:
    """The parser's own error on ``text``, and quarch's line for a file holding it."""
    path.write_text(text)
    with pytest.raises(error) as lib:
        parse(text)
    with pytest.raises(ConfigError) as e:
        SearchConfig.read_file(path)
    return str(lib.value), str(e.value)


def test_parse_errors_say_where_in_one_line(tmp_path: Path) -> None:
    """Each format's own parse error, on one line; JSON in a .toml file is named."""
    path = tmp_path / "c.toml"
    lib, line = _both(path, 'space = "mlp"\ntrials = \n', tomllib.loads, tomllib.TOMLDecodeError)
    assert line == f"cannot parse config file {str(path)!r}: {lib}"
    # JSON written into a .toml file
    lib, line = _both(path, '  {\n  "space": "mlp"\n}\n', tomllib.loads, tomllib.TOMLDecodeError)
    assert line == (
        f"cannot parse config file {str(path)!r}: {lib} (it looks like JSON: name the file .json)"
    )
    # a multi-line parse error (YAML's) is one line
    ypath = tmp_path / "c.yaml"
    lib, line = _both(ypath, "space: [mlp\n", yaml.safe_load, yaml.YAMLError)
    assert "\n" in lib
    assert line == f"cannot parse config file {str(ypath)!r}: {' '.join(lib.split())}"
    jpath = tmp_path / "c.json"
    lib, line = _both(jpath, '{"space": }', json.loads, json.JSONDecodeError)
    assert line == f"cannot parse config file {str(jpath)!r}: {lib}"
    bpath = tmp_path / "b.yaml"
    bpath.write_bytes(b"space: \xff\n")
    with pytest.raises(ConfigError) as e:
        SearchConfig.read_file(bpath)
    assert str(e.value) == f"cannot parse config file {str(bpath)!r}: it is not UTF-8 text"


@pytest.mark.parametrize(
    ("name", "text", "got"),
    [("c.json", "[1, 2]", "list"), ("c.yaml", "mlp\n", "str"), ("c.yaml", "", "NoneType")],
)
def test_a_file_that_is_not_a_table(tmp_path: Path, name: str, text: str, got: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        SearchConfig.read_file(path)
    assert str(e.value) == f"config file {str(path)!r} must hold a table of keys; got {got}"


def test_a_dict_is_needed_and_a_space() -> None:
    assert _refusal(["space", "mlp"]) == "a config is a table of keys; got list"
    need = "a search needs a space: give --space NAME (`quarch spaces` lists them)"
    assert _refusal({}) == need
    assert _refusal({"space": None, "trials": 3}) == need


def test_unknown_keys_name_the_likely_one_and_every_key() -> None:
    known = sorted(FIELDS)
    assert _refusal({"space": "mlp", "trails": 3}) == (
        f"unknown config key(s) ['trails'] ('trails': did you mean 'trials'?); known: {known}"
    )
    assert _refusal({"space": "mlp", "zzz": 1, "budget": "p<=1", "1": 2}) == (
        "unknown config key(s) ['1', 'budget', 'zzz'] ('budget': did you mean 'budgets'?); "
        f"known: {known}"
    )
    assert _refusal({"space": "mlp", "qqqq": 1}) == (
        f"unknown config key(s) ['qqqq']; known: {known}"
    )


def test_unknown_keys_in_a_file_before_types(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("trials = 'x'\nspcae = 'mlp'\n")
    with pytest.raises(ConfigError) as e:
        SearchConfig.read_file(path)
    assert str(e.value).startswith("unknown config key(s) ['spcae'] ('spcae': did you mean")


#: field -> (a value of the wrong type, what the line says the field takes); the words
#: are the docstring's: names are strings, counts integers, times numbers of seconds,
#: options tables, lists of names / numbers / budgets.
_WRONG = {
    "space": (["mlp"], "a string"),
    "dataset": (1, "a string"),
    "strategy": (None, "a string"),
    "trials": (2.0, "an integer"),
    "seed": ("1", "an integer"),
    "out": (3, "a string"),
    "objectives": ({"a": 1}, "a list of metric names"),
    "budgets": (None, "a list of budgets such as 'params<=100'"),
    "timeout": ("60", "a number of seconds"),
    "data_dir": (["d"], "a folder"),
    "epochs": (1.5, "an integer"),
    "batch_size": ("8", "an integer"),
    "max_train": (True, "an integer"),
    "device": (None, "a string"),
    "space_options": (["a"], "a table of options"),
    "strategy_options": ("a=1", "a table of options"),
    "evaluator_options": (1, "a table of options"),
    "workers": (None, "an integer"),
    "storage": (5, "a string"),
    "study_name": (None, "a string"),
    "trial_timeout": (False, "a number of seconds"),
    "ray": (1, "true or false"),
    "ray_address": (1, "a string"),
    "pruner": (None, "one of none, median, hyperband"),
    "pruner_options": (None, "a table of options"),
}


@pytest.mark.parametrize("key", sorted(_WRONG))
def test_a_value_of_the_wrong_type_is_one_line_naming_the_key(tmp_path: Path, key: str) -> None:
    value, what = _WRONG[key]
    data: dict[str, Any] = {"space": "mlp", key: value}
    line = f"config key {key!r} takes {what}; got {value!r}"
    assert _refusal(data) == line
    if value is not None:  # JSON has every other value here
        path = tmp_path / "c.json"
        path.write_text(json.dumps(data))
        with pytest.raises(ConfigError) as e:
            SearchConfig.read_file(path)
        assert str(e.value) == line
    with pytest.raises(ConfigError) as e:
        SearchConfig(**data)
    assert str(e.value) == line


def test_every_field_is_checked() -> None:
    assert sorted(_WRONG) == sorted(f for f in FIELDS if f != "weights")


@pytest.mark.parametrize(
    ("key", "value"),
    [("objectives", ["val_error", 3]), ("budgets", ["params<=1", None])],
)
def test_a_list_with_an_item_that_is_not_text(key: str, value: list[Any]) -> None:
    what = "a list of metric names" if key == "objectives" else "a list of budgets such as"
    assert _refusal({"space": "mlp", key: value}).startswith(f"config key {key!r} takes {what}")
    assert _refusal({"space": "mlp", key: value}).endswith(f"; got {value!r}")


@pytest.mark.parametrize(
    "weights", [["1", "x"], [1, True], [1, None], "1,x", [[1]], [1, {}], 3, {"a": 1}]
)
def test_weights_take_numbers(weights: Any) -> None:
    line = _refusal({"space": "mlp", "weights": weights})
    shown = [w.strip() for w in weights.split(",")] if isinstance(weights, str) else weights
    assert line == f"config key 'weights' takes a list of numbers; got {shown!r}"


def test_weights_become_floats() -> None:
    cfg = SearchConfig.from_dict({"space": "mlp", "weights": [1, "0.5", 2.5]})
    assert cfg.weights == [1.0, 0.5, 2.5]
    assert all(type(w) is float for w in cfg.weights)
    assert SearchConfig.from_dict({"space": "mlp", "weights": None}).weights is None


@pytest.mark.parametrize(
    ("key", "good", "bad", "line"),
    [
        ("trials", 1, 0, "trials must be a positive integer; got 0"),
        ("trials", 1, -3, "trials must be a positive integer; got -3"),
        ("timeout", 0.001, 0, "timeout must be > 0 seconds; got 0"),
        ("timeout", 1, -1.5, "timeout must be > 0 seconds; got -1.5"),
        ("epochs", 1, 0, "epochs must be >= 1; got 0"),
        ("batch_size", 1, 0, "batch_size must be >= 1; got 0"),
        ("max_train", 2, 1, "max_train must be >= 2; got 1"),
        ("seed", 0, -1, "seed must be an integer from 0 to 4294967295 (2**32 - 1, the seeds "
         "numpy's RandomState and Optuna's samplers take); got -1"),
        ("seed", 2**32 - 1, 2**32, "seed must be an integer from 0 to 4294967295 (2**32 - 1, "
         "the seeds numpy's RandomState and Optuna's samplers take); got 4294967296"),
        ("workers", 1, 0, "workers must be a positive integer; got 0"),
        ("trial_timeout", 0.5, 0, "trial_timeout must be > 0 seconds; got 0"),
        ("trial_timeout", 0.5, float("nan"), "trial_timeout must be > 0 seconds; got nan"),
        ("out", "r", "", "out must name the run folder; got ''"),
        ("out", "r", " \t", "out must name the run folder; got ' \\t'"),
        ("ray_address", "auto", " ",
         "ray_address must name a Ray cluster (host:port or 'auto'); got ' '"),
        ("pruner", "hyperband", "Median", "unknown pruner 'Median'; choose from: none, median, "
         "hyperband ('Median': did you mean 'median'?)"),
    ],
)  # fmt: skip
def test_bounds_at_the_edge(key: str, good: Any, bad: Any, line: str) -> None:
    assert getattr(SearchConfig(space="mlp", **{key: good}), key) == good
    assert _refusal({"space": "mlp", key: bad}) == line


def test_ray_address_implies_ray_and_ray_excludes_workers() -> None:
    cfg = SearchConfig(space="mlp", ray_address="auto")
    assert cfg.ray is True
    assert SearchConfig(space="mlp", ray_address=None).ray is False
    assert SearchConfig(space="mlp", ray=True, workers=1).ray is True
    assert SearchConfig(space="mlp", workers=4).workers == 4
    both = "use either --workers (local processes) or --ray, not both"
    assert _refusal({"space": "mlp", "ray": True, "workers": 2}) == both
    assert _refusal({"space": "mlp", "ray_address": "h:1", "workers": 2}) == both


def test_python_callers_paths_and_tuples() -> None:
    cfg = SearchConfig(
        space="mlp",
        out=Path("a/b"),  # type: ignore[arg-type]
        data_dir=Path("d"),  # type: ignore[arg-type]
        objectives=("val_error",),  # type: ignore[arg-type]
        budgets=("params<=3",),  # type: ignore[arg-type]
        weights=(2,),  # type: ignore[arg-type]
    )
    assert (cfg.out, cfg.data_dir) == (os.path.join("a", "b"), "d")
    assert (cfg.objectives, cfg.budgets, cfg.weights) == (["val_error"], ["params<=3"], [2.0])
    assert SearchConfig(space="mlp", objectives="a, b").objectives == ["a", "b"]  # type: ignore[arg-type]


# -- resume ------------------------------------------------------------------------------


def test_what_a_resume_may_change() -> None:
    """The README: ``--data-dir``, ``--workers``, ``--device``, ``--pruner``, timeouts
    (and the trial count) may change on resume; anything else is refused."""
    base = SearchConfig(space="mlp")
    may: dict[str, Any] = {
        "trials": 50, "timeout": 9.0, "out": "x", "workers": 3, "device": "cuda",
        "trial_timeout": 5.0, "ray": True, "ray_address": "auto", "data_dir": "d",
        "pruner": "median", "pruner_options": {"n_warmup_steps": 1},
    }  # fmt: skip
    assert frozenset(may) == SearchConfig.RESUMABLE_CHANGES
    ray = {"ray", "ray_address"}  # Ray and several local workers exclude each other
    for changes in ({k: v for k, v in may.items() if k not in ray}, {**may, "workers": 1}):
        changed = dataclasses.replace(base, **changes)
        assert changed.incompatible_with(base) == []
        assert base.incompatible_with(changed) == []
    other = dataclasses.replace(base, seed=1, strategy="qiea", budgets=["params<=1"])
    assert other.incompatible_with(base) == ["budgets", "seed", "strategy"]
    assert base.incompatible_with(base) == []


# -- secrets and hints -------------------------------------------------------------------


def test_every_password_in_a_text_is_masked() -> None:
    text = (
        "a postgresql://u:p1@h/db and 'mysql+pymysql://v:p-2@h2:3306/x' "
        "https://host/path:9@x sqlite:///f.db"
    )
    assert mask_secrets(text) == (
        "a postgresql://u:***@h/db and 'mysql+pymysql://v:***@h2:3306/x' "
        "https://host/path:9@x sqlite:///f.db"
    )
    assert strip_password(None) is None
    assert strip_password("postgresql://u:p@h/db") == "postgresql://u@h/db"
    assert strip_password("redis://h:6379/0") == "redis://h:6379/0"


def test_misplaced_keys_hint() -> None:
    assert misplaced_keys_hint(["n_quantum", "lr"], "strategy_options") == ""
    assert misplaced_keys_hint({"strategy": 1, "x": 2}, "strategy_options") == (
        " ('strategy' is a config key: in a TOML file, keys below [strategy_options] "
        "belong to it; put them above it)"
    )
    assert misplaced_keys_hint(["trials", "seed", "x"], "evaluator_options") == (
        " ('seed', 'trials' are config keys: in a TOML file, keys below [evaluator_options] "
        "belong to it; put them above it)"
    )


def test_did_you_mean() -> None:
    assert did_you_mean(["trails", "zzz"], ["trials", "seed"]) == (
        " ('trails': did you mean 'trials'?)"
    )
    assert did_you_mean(["zzz"], ["trials"]) == ""
    assert (
        did_you_mean([1, "sed"], [1, "seed"])
        == " ('1': did you mean '1'?, 'sed': did you mean 'seed'?)"
    )
    # the cutoff is difflib's 0.75: 'sd' is 0.67 from 'seed', 'seeds' 0.89
    assert did_you_mean(["sd"], ["seed"]) == ""
    assert did_you_mean(["seeds"], ["seed"]) == " ('seeds': did you mean 'seed'?)"
    # compared in lower case, offered as spelt: difflib alone is case-sensitive
    assert difflib.get_close_matches("BATCH_SIZE", ["batch_size"], cutoff=0.75) == []
    assert did_you_mean(["BATCH_SIZE", "Sed"], ["batch_size", "Seed"]) == (
        " ('BATCH_SIZE': did you mean 'batch_size'?, 'Sed': did you mean 'Seed'?)"
    )
