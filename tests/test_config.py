"""Config files: formats, types, comma-separated lists, and secrets kept out of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from quarch import ConfigError
from quarch.config import SearchConfig, mask_secrets, strip_password


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("c.toml", 'space = "mlp"\nbudgets = "params<=100"\nobjectives = "val_error, flops"\n'),
        ("c.json", '{"space": "mlp", "budgets": "params<=100", "objectives": "val_error,flops"}'),
        ("c.yaml", "space: mlp\nbudgets: params<=100\nobjectives: val_error,flops\n"),
        ("c.yml", "space: mlp\nbudgets: [params<=100]\nobjectives: [val_error, flops]\n"),
    ],
)
def test_every_format_and_a_string_where_a_list_is_expected(
    tmp_path: Path, name: str, text: str
) -> None:
    """A string where a list is meant is one item (or comma-separated items), never
    read character by character; a .yaml file is read as YAML, not as JSON."""
    path = tmp_path / name
    path.write_text(text)
    cfg = SearchConfig.from_file(path)
    assert cfg.budgets == ["params<=100"]
    assert cfg.objectives == ["val_error", "flops"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"space": "mlp", "trials": "ten"}, "config key 'trials' takes an integer; got 'ten'"),
        ({"space": "mlp", "trials": True}, "config key 'trials' takes an integer; got True"),
        ({"space": "mlp", "seed": 1.5}, "config key 'seed' takes an integer; got 1.5"),
        ({"space": "mlp", "weights": ["a"]}, "config key 'weights' takes a list of numbers"),
        ({"space": "mlp", "budgets": [3]}, "config key 'budgets' takes a list of budgets"),
        ({"space": "mlp", "space_options": "x"}, "config key 'space_options' takes a table"),
        ({"space": "mlp", "ray": "yes"}, "config key 'ray' takes true or false; got 'yes'"),
        ({"space": 3}, "config key 'space' takes a string; got 3"),
        ({"space": "mlp", "timeout": float("nan")}, "timeout must be > 0 seconds; got nan"),
        ({"space": "mlp", "batch_size": 0}, "batch_size must be >= 1; got 0"),
        ({"space": "mlp", "pruner": "sometimes"}, "unknown pruner 'sometimes'"),
    ],
)
def test_wrong_types_are_one_clear_error(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as e:
        SearchConfig.from_dict(data)
    assert str(e.value).startswith(message), str(e.value)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"epochs": "5"}, "config key 'epochs' takes an integer; got '5'"),
        ({"timeout": "60"}, "config key 'timeout' takes a number of seconds; got '60'"),
        ({"trials": True}, "config key 'trials' takes an integer; got True"),
        ({"max_train": 100.5}, "config key 'max_train' takes an integer; got 100.5"),
        ({"space_options": None}, "config key 'space_options' takes a table of options"),
        ({"budgets": [3]}, "config key 'budgets' takes a list of budgets"),
        ({"device": 0}, "config key 'device' takes a string; got 0"),
    ],
)
def test_the_constructor_checks_types_as_a_file_does(
    fields: dict[str, object], message: str
) -> None:
    """``SearchConfig(...)`` from Python is held to a config file's types: one
    ConfigError naming the field, not a TypeError from a comparison (``epochs="5"``)
    or a value accepted and failing later (``space_options=None`` in run_search)."""
    with pytest.raises(ConfigError) as e:
        SearchConfig(space="mlp", **fields)  # type: ignore[arg-type]
    assert str(e.value).startswith(message), str(e.value)


def test_the_constructor_takes_paths_and_tuples(tmp_path: Path) -> None:
    """A Path for a folder and a tuple for a list, as Python code writes them, are
    stored as a config file has them, so the config saves (``out=Path`` made
    run_search fail writing config.json) and resumes equal."""
    cfg = SearchConfig(
        space="mlp",
        out=tmp_path / "run",  # type: ignore[arg-type]
        data_dir=tmp_path,  # type: ignore[arg-type]
        objectives=("val_error", "params"),  # type: ignore[arg-type]
        weights=(1, 2),  # type: ignore[arg-type]
    )
    assert cfg.out == str(tmp_path / "run") and cfg.data_dir == str(tmp_path)
    assert cfg.objectives == ["val_error", "params"] and cfg.weights == [1.0, 2.0]
    cfg.save(tmp_path / "config.json")
    assert SearchConfig.from_file(tmp_path / "config.json") == cfg


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("c.yaml", "space: [mlp\n", "cannot parse config file"),
        ("c.yaml", "- space\n- mlp\n", "must hold a table of keys; got list"),
        ("c.json", "[1, 2]", "must hold a table of keys; got list"),
        ("c.toml", "spcae = 'mlp'\n", "unknown config key(s) ['spcae']"),
        ("c.txt", "space = 'mlp'\n", "unknown format '.txt'"),
    ],
)
def test_bad_files(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        SearchConfig.from_file(path)
    assert message in str(e.value)


def test_binary_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        SearchConfig.from_file(path)


def test_read_file_lets_flags_add_the_space(tmp_path: Path) -> None:
    """A config file without ``space`` is fine when the command line gives it."""
    path = tmp_path / "c.toml"
    path.write_text("trials = 3\n")
    data = SearchConfig.read_file(path)
    assert data == {"trials": 3}
    assert SearchConfig.from_dict({**data, "space": "mlp"}).trials == 3


@pytest.mark.parametrize(
    ("url", "masked", "stripped"),
    [
        (
            "postgresql+psycopg://ann:s3cret@db.example:5432/q",
            "postgresql+psycopg://ann:***@db.example:5432/q",
            "postgresql+psycopg://ann@db.example:5432/q",
        ),
        ("mysql+pymysql://u:p%40ss@h/db", "mysql+pymysql://u:***@h/db", "mysql+pymysql://u@h/db"),
        ("postgresql://ann@db/q", "postgresql://ann@db/q", "postgresql://ann@db/q"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
        ("postgresql://:tok@db/q", "postgresql://:***@db/q", "postgresql://@db/q"),
    ],
)
def test_mask_and_strip_passwords(url: str, masked: str, stripped: str) -> None:
    assert mask_secrets(f"cannot open {url!r}: refused") == f"cannot open {masked!r}: refused"
    assert strip_password(url) == stripped
    assert json.loads(mask_secrets(json.dumps({"storage": url}))) == {"storage": masked}
