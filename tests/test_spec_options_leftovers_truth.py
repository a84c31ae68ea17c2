"""A space's evaluator options are the ones its spec lists (session 36).

``quarch search`` refuses an ``--evaluator-option`` outside the spec's
``evaluator_options`` before it imports the search loop (``SpaceSpec.check_names``),
whatever the spec's ``check()`` says. A user's spec whose ``check()`` was written to take
more (``opt_*`` here) was refused with the bare "takes no evaluator option 'opt_beta'; it
takes: lr", which read as if the user had mistyped a name the spec meant to take. The
contract is now written where the spec is documented (``SpaceSpec.evaluator_options``,
``check``, ``check_evaluator_option_names``), and where the spec's ``check()`` is the
user's own the line says that a spec's ``check()`` cannot take more and which table to
add the option to. The truth for each line is the default ``SpaceSpec.check``'s own
refusal of the same config, and the spec's own table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import pytest

from quarch._errors import ConfigError
from quarch.cli import main
from quarch.config import SearchConfig
from quarch.space import Choice, Space
from quarch.spaces import _CACHE, SPACES, SpaceSpec, register_space


class _Eval:
    fingerprint = "leftovers-toy"

    def evaluate(self, arch: dict[str, Any], *, seed: int) -> dict[str, float]:
        return {"val_error": 1 / (arch["depth"] * arch["width"]), "params": float(arch["depth"])}


class PlainSpec(SpaceSpec):
    """A user's spec that lists its one option and keeps the default ``check()``."""

    name = "leftovers-plain"
    description = "toy"
    needs_dataset = False
    evaluator_options: ClassVar[Mapping[str, str]] = {"lr": "learning rate"}

    def space(self, **options: Any) -> Space:
        return Space([Choice("depth", [1, 2]), Choice("width", [8, 16])], name=self.name)

    def make_evaluator(self, space: Space, config: SearchConfig, *, weights_dir: Any = None) -> Any:
        return _Eval()

    def metrics(self, config: SearchConfig) -> frozenset[str]:
        return frozenset({"val_error", "params"})


class WideCheckSpec(PlainSpec):
    """A user's spec whose ``check()`` lets any ``opt_*`` option through."""

    name = "leftovers-wide"

    def check(self, config: SearchConfig) -> None:
        rest = {k: v for k, v in config.evaluator_options.items() if not k.startswith("opt_")}
        super().check(dataclasses.replace(config, evaluator_options=rest))


class ListedSpec(WideCheckSpec):
    """The same, with the option listed as the line says."""

    name = "leftovers-listed"
    evaluator_options: ClassVar[Mapping[str, str]] = {"lr": "learning rate", "opt_beta": "beta"}


@pytest.fixture
def specs() -> Iterator[dict[str, SpaceSpec]]:
    """The three specs, registered for one test and removed after it."""
    made: dict[str, SpaceSpec] = {c.name: c() for c in (PlainSpec, WideCheckSpec, ListedSpec)}
    for spec in made.values():
        register_space(spec, replace=True)
    yield made
    for name in made:
        if name in SPACES:
            SPACES.remove(name)
        _CACHE.pop(name, None)


def _search(
    space: str, option: str, capsys: pytest.CaptureFixture[str], out: str
) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["search", "--space", space, "--evaluator-option", option, "--out", out,
                 "--trials", "2", "--dry-run"])  # fmt: skip
    return code, capsys.readouterr().err


def _default_refusal(spec: SpaceSpec, option: str) -> str:
    """What the default ``SpaceSpec.check`` says of the option (the search's check when
    a spec keeps it)."""
    config = SearchConfig(space=spec.name, evaluator_options={option: 1})
    with pytest.raises(ConfigError) as e:
        SpaceSpec.check(spec, config)
    return str(e.value)


def test_a_users_check_that_takes_more_is_told_the_contract(
    specs: dict[str, SpaceSpec], capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    wide = specs["leftovers-wide"]
    wide.check(SearchConfig(space=wide.name, evaluator_options={"opt_beta": 1}))  # takes it
    code, err = _search(wide.name, "opt_beta=1", capsys, str(tmp_path / "r"))
    truth = _default_refusal(wide, "opt_beta")
    assert truth == "space 'leftovers-wide' takes no evaluator option 'opt_beta'; it takes: " + (
        ", ".join(sorted(wide.evaluator_options))
    ) + (
        "; a space takes the evaluator options its spec lists (its check() cannot take "
        "more): add one to WideCheckSpec.evaluator_options"
    )
    assert (code, err) == (2, f"error: {truth}\n")
    # a typo is still a typo: "did you mean" before the contract
    code, err = _search(wide.name, "lrr=1", capsys, str(tmp_path / "r"))
    assert code == 2
    assert err == f"error: {_default_refusal(wide, 'lrr')}\n"
    assert "('lrr': did you mean 'lr'?); a space takes the evaluator options" in err
    assert not (tmp_path / "r").exists()


def test_a_spec_with_the_default_check_keeps_the_short_line(
    specs: dict[str, SpaceSpec], capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    plain = specs["leftovers-plain"]
    code, err = _search(plain.name, "opt_beta=1", capsys, str(tmp_path / "r"))
    truth = _default_refusal(plain, "opt_beta")
    assert truth == "space 'leftovers-plain' takes no evaluator option 'opt_beta'; it takes: lr"
    assert (code, err) == (2, f"error: {truth}\n")


def test_the_option_listed_as_the_line_says_is_taken(
    specs: dict[str, SpaceSpec], capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    capsys.readouterr()
    out = tmp_path / "r"
    code = main(["search", "--space", "leftovers-listed", "--evaluator-option", "opt_beta=0.5",
                 "--out", str(out), "--trials", "2", "--dry-run"])  # fmt: skip
    got = capsys.readouterr()
    assert code == 0, got.err
    assert got.out.startswith("ok: the search can start")
    assert '"opt_beta": 0.5' in got.out
    assert not out.exists()


def test_the_built_in_spaces_lines_are_unchanged() -> None:
    """The built-in spaces' check() is quarch's own: no contract for a user to read."""
    from quarch.spaces import get_spec

    for name in ("mlp", "hqnn", "cnn"):
        spec = get_spec(name)
        config = SearchConfig(space=name, evaluator_options={"zzz": 1})
        with pytest.raises(ConfigError) as e:
            spec.check_evaluator_option_names(config)
        assert str(e.value).endswith(f"it takes: {', '.join(sorted(spec.evaluator_options))}")


def test_the_python_api_keeps_the_command_lines_rule(
    specs: dict[str, SpaceSpec], tmp_path: Any
) -> None:
    """``check_search`` and ``run_search`` refuse what ``quarch search`` refuses, in the
    same line, before anything is written: a spec's ``check()`` that takes more does not
    make the Python API take it."""
    from quarch.study import check_search, run_search

    wide = specs["leftovers-wide"]
    out = tmp_path / "r"
    config = SearchConfig(space=wide.name, evaluator_options={"opt_beta": 1}, trials=2,
                          out=str(out))  # fmt: skip
    for start in (lambda: check_search(config), lambda: run_search(config, progress=False)):
        with pytest.raises(ConfigError) as e:
            start()
        assert str(e.value) == _default_refusal(wide, "opt_beta")
        assert not out.exists()
    listed = specs["leftovers-listed"]
    ok = dataclasses.replace(config, space=listed.name, out=str(tmp_path / "ok"))
    res = run_search(ok, progress=False)
    assert res.done == 2
