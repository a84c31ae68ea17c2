"""The plug-in registries and a space's spec, against what their docstrings and the
README's tables say: registration order, lazy loading, every refusal's whole line,
and the defaults a space without options gets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import pytest

from quarch._errors import ConfigError
from quarch._registry import Entry, Registry
from quarch.config import SearchConfig
from quarch.space import Choice, Space
from quarch.spaces import SpaceSpec

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _table(title: str) -> list[tuple[str, str]]:
    m = re.search(rf"^### {title}\n(.*?)(?=^#)", README, re.S | re.M)
    assert m, title
    return re.findall(r"^\| `([^`]+)` \| (.*) \|$", m.group(1), re.M)


# -- Registry ------------------------------------------------------------------------------
def test_registration_order_lookup_and_refusals() -> None:
    reg: Registry[Any] = Registry("widget")
    assert reg.kind == "widget" and reg.names() == [] and reg.entries() == []
    reg.add("alpha", 1, "the first")

    @reg.register("beta", "the second")
    def beta() -> int:
        return 2

    assert beta() == 2  # the decorator returns the factory itself
    reg.add("gamma", 3, "the third")
    assert reg.names() == ["alpha", "beta", "gamma"] == list(reg)
    assert reg.entries() == [
        Entry("alpha", 1, "the first"), Entry("beta", beta, "the second"),
        Entry("gamma", 3, "the third"),
    ]  # fmt: skip
    assert reg.get("alpha") == 1 and reg.get("beta") is beta
    assert "gamma" in reg and "delta" not in reg and 3 not in reg
    with pytest.raises(ValueError) as e:
        reg.add("beta", 5, "again")
    assert str(e.value) == "widget 'beta' is already registered"
    with pytest.raises(ConfigError) as c:
        reg.get("gama")
    assert str(c.value) == (
        "unknown widget 'gama'; choose from: alpha, beta, gamma ('gama': did you mean 'gamma'?)"
    )
    with pytest.raises(ConfigError) as c:
        reg.get("zzz")
    assert str(c.value) == "unknown widget 'zzz'; choose from: alpha, beta, gamma"
    reg.remove("beta")
    assert reg.names() == ["alpha", "gamma"]
    reg.add("beta", 7, "back")  # a removed name can be registered again, last
    assert reg.names() == ["alpha", "gamma", "beta"] and reg.get("beta") == 7
    with pytest.raises(KeyError):
        reg.remove("nothing")


def test_lazy_entries_load_when_read_in_their_place() -> None:
    """``add_lazy``: the loader runs when the table is first read (not before), its
    entries take the place they would have had if added then, each loader runs once,
    and ``get`` of a name already there runs no loader."""
    calls: list[str] = []

    def loader(tag: str, names: list[str]) -> Any:
        def load() -> list[tuple[str, int, str]]:
            calls.append(tag)
            return [(n, i, f"{tag} {n}") for i, n in enumerate(names)]

        return load

    reg: Registry[int] = Registry("plug")
    reg.add("a", 10, "eager")
    reg.add_lazy(loader("first", ["x", "y"]))
    reg.add_lazy(loader("second", ["z"]))
    assert calls == []
    assert reg.get("a") == 10 and calls == []  # a known name: no scan
    assert "a" in reg and calls == []
    assert reg.get("y") == 1 and calls == ["first", "second"]
    assert reg.names() == ["a", "x", "y", "z"] and calls == ["first", "second"]
    assert reg.entries()[3] == Entry("z", 0, "second z")

    for read in (
        lambda r: r.names(), lambda r: r.entries(), lambda r: list(r), lambda r: "x" in r,
        lambda r: r.get("x"),
    ):  # fmt: skip
        calls.clear()
        r2: Registry[int] = Registry("plug")
        r2.add_lazy(loader("only", ["x"]))
        assert calls == []
        read(r2)
        assert calls == ["only"]
        assert r2.names() == ["x"] and calls == ["only"]

    # an eager add after a lazy one keeps the order of the calls
    calls.clear()
    r3: Registry[int] = Registry("plug")
    r3.add_lazy(loader("early", ["p"]))
    r3.add("q", 1, "later")
    assert r3.names() == ["p", "q"]
    with pytest.raises(ValueError, match=r"^plug 'p' is already registered$"):
        r3.add_lazy(loader("dup", ["p"]))
        r3.names()
    r4: Registry[int] = Registry("plug")
    r4.add_lazy(loader("gone", ["p", "q"]))
    r4.remove("p")  # the lazy entries are loaded first, then one removed
    assert r4.names() == ["q"]
    r5: Registry[int] = Registry("plug")
    r5.add_lazy(loader("late", ["name"]))
    with pytest.raises(ConfigError, match=r"^unknown plug 'nam'; choose from: name \('nam'"):
        r5.get("nam")


def test_registries_list_the_readme_tables() -> None:
    from quarch.search import STRATEGIES
    from quarch.spaces import SPACES

    strategies = _table("Strategies")
    assert sorted(STRATEGIES.names()) == sorted(n for n, _ in strategies)
    assert len(strategies) == len(STRATEGIES.names())
    from quarch.spaces import BUILTIN_SPACES

    spaces = _table("Spaces")
    # other tests register spaces of their own (the README's toy space): after these
    assert BUILTIN_SPACES == ("mlp", "nb201", "cnn", "hqnn")
    assert tuple(SPACES.names()[:4]) == BUILTIN_SPACES
    assert sorted(n for n, _ in spaces) == sorted(BUILTIN_SPACES)
    for e in SPACES.entries():
        if e.name in BUILTIN_SPACES:
            assert e.description and e.factory().name == e.name


# -- SpaceSpec -------------------------------------------------------------------------------
def toy_space(*, depth_max: int = 2, width: int = 8) -> Space:
    """A module-level builder, as the built-in specs have (``mlp_space`` and friends)."""
    return Space([Choice("depth", list(range(1, depth_max + 1))), Choice("w", [width])], name="toy")


class ToySpec(SpaceSpec):
    name = "toy-truth"
    description = "two choices"
    evaluator_options: ClassVar[dict[str, str]] = {
        "epochs_x": "how long",
        "save_weights": "keep the weights",
    }
    flag_options = ("save_weights",)

    def space(self, **options: Any) -> Space:
        return toy_space(**options)

    def make_evaluator(self, space: Space, config: Any, *, weights_dir: Path | None = None) -> Any:
        raise NotImplementedError

    def metrics(self, config: SearchConfig) -> frozenset[str] | None:
        return frozenset({"val_error", "params"})


class KeywordSpec(ToySpec):
    name = "toy-kw"

    def space(self, *, depth_max: int = 2, width: int = 8) -> Space:  # type: ignore[override]
        if width < 1:
            raise ValueError(f"width must be >= 1; got {width}")
        return toy_space(depth_max=depth_max, width=width)


class DataSpec(ToySpec):
    name = "toy-data"
    dataset_aware = True

    def space(self, **options: Any) -> Space:
        return toy_space(depth_max=3 if options.pop("dataset", None) == "wine" else 2, **options)


def _config(**kw: Any) -> SearchConfig:
    return SearchConfig(**{"space": "mlp", "dataset": "digits", **kw})


def _refused(fn: Any, *args: Any) -> str:
    with pytest.raises(ConfigError) as e:
        fn(*args)
    return str(e.value)


def test_build_space_refusals_name_the_options() -> None:
    spec = ToySpec()
    assert spec.build_space(None).size == 2
    assert spec.build_space(_config(space_options={"depth_max": 3})).size == 3
    assert _refused(spec.build_space, _config(space_options={"depht_max": 3, "trials": 4})) == (
        "space 'toy-truth' takes no options 'depht_max', 'trials'; it takes: depth_max, width "
        "('trials' is a config key: in a TOML file, keys below [space_options] belong to it; "
        "put them above it) ('depht_max': did you mean 'depth_max'?)"
    )
    kw = KeywordSpec()
    assert kw.space_option_names() == ["depth_max", "width"]
    assert _refused(kw.build_space, _config(space_options={"width": 0})) == (
        "space 'toy-kw' rejected its options {'width': 0}: width must be >= 1; got 0; it "
        "takes: depth_max, width"
    )
    assert spec.space_option_names() == []  # **options, no error to read a builder from
    assert spec.space_option_names(TypeError("nothing to read")) == []
    assert spec.space_option_names(TypeError("len() got an unexpected keyword argument 'x'")) == []


def test_check_option_names_refuses_names_only_with_build_spaces_line() -> None:
    """The CLI's early check (before torch) refuses what ``build_space`` refuses for a
    name, with its line, whatever the space's other options say, and nothing else: a
    value may depend on the data set the search resolves later."""
    calls: list[dict[str, Any]] = []

    class Recording(ToySpec):
        name = "toy-rec"

        def space(self, **options: Any) -> Space:
            calls.append(options)
            if options.get("width") == "boom":
                raise RuntimeError("not a TypeError: the search reports it")
            return toy_space(**options)

    for spec in (ToySpec(), KeywordSpec(), Recording()):
        for bad in ({"depht_max": 3}, {"depht_max": 3, "width": 0}, {"depht_max": 4, "zz": 1}):
            config = _config(space_options=bad)
            assert _refused(spec.check_option_names, config) == _refused(spec.build_space, config)
            n = len(set(bad) - {"depth_max", "width"})
            what = "option" if n == 1 else "options"
            assert f"takes no {what} 'depht_max'" in _refused(spec.check_option_names, config)
        spec.check_option_names(_config(space_options={"width": 0}))  # accepted: no error
        spec.check_option_names(_config(space_options={"depth_max": 3}))  # accepted: no error
    with pytest.raises(ConfigError, match="width must be >= 1"):  # ...which the search refuses
        KeywordSpec().build_space(_config(space_options={"width": 0}))
    calls.clear()
    Recording().check_option_names(_config(space_options={"width": "boom"}))  # accepted: no error
    Recording().check_option_names(_config())  # no options: nothing built, no error
    assert calls == [{"width": "boom"}]
    data = DataSpec()  # the data set it receives is quarch's, never an unknown name
    data.check_option_names(_config(space_options={"depth_max": 3}))  # accepted: no error


def bare_space() -> Space:
    """A module-level builder of no options (as ``nb201_space`` is)."""
    return Space([Choice("depth", [1, 2])], name="bare")


class BareSpec(ToySpec):
    name = "toy-bare"

    def space(self, **options: Any) -> Space:
        return bare_space(**options)


def test_a_space_of_no_options_says_so_in_the_users_terms() -> None:
    """Python's own line (``bare_space() got an unexpected keyword argument 'x'``) names
    a function the user never wrote; the refusal names the option, and says the space
    takes none when its builder, found in the spec's module, has no keywords; a builder
    not found (a closure) leaves that part out, as nothing is known of what it takes."""
    for spec, tail in ((BareSpec(), "; it takes none"), (_ClosureSpec(), "")):
        for options, hint in (({"x": 1}, ""), ({"trials": 3}, _TRIALS_HINT)):
            config = _config(space_options=options)
            key = next(iter(options))
            want = f"space {spec.name!r} takes no option {key!r}{tail}{hint}"
            assert _refused(spec.build_space, config) == want
            assert _refused(spec.check_option_names, config) == want
    assert BareSpec().build_space(None).size == 2
    BareSpec().check_option_names(_config())  # accepted: no error


#: Not a function: an error naming it names no builder whose keywords could be read.
NOT_A_BUILDER = 3


def test_a_name_in_the_error_that_is_not_a_function_is_no_builder() -> None:
    class Odd(ToySpec):
        name = "toy-odd"

        def space(self, **options: Any) -> Space:
            raise TypeError("NOT_A_BUILDER() got an unexpected keyword argument 'x'")

    spec = Odd()
    assert spec.space_option_names(TypeError("NOT_A_BUILDER() got an unexpected keyword")) == []
    assert _refused(spec.build_space, _config(space_options={"x": 1})) == (
        "space 'toy-odd' takes no option 'x'"  # nothing known of what it takes
    )


_TRIALS_HINT = (
    " ('trials' is a config key: in a TOML file, keys below [space_options] belong to it; "
    "put them above it)"
)


class _ClosureSpec(ToySpec):
    name = "toy-closure"

    def space(self, **options: Any) -> Space:
        def inner() -> Space:  # not in the module: no builder to read names from
            return bare_space()

        return inner(**options)


def test_a_refusal_without_option_names() -> None:
    """A space taking ``**options`` whose error names no builder: the line has no
    "it takes" part and no hint (no names to compare the options with)."""

    class Opaque(ToySpec):
        name = "opaque"

        def space(self, **options: Any) -> Space:
            raise ValueError(f"cannot build with {sorted(options)}")

    assert _refused(Opaque().build_space, None) == (
        "space 'opaque' rejected its options {}: cannot build with []"
    )
    assert _refused(Opaque().build_space, _config(space_options={"trials": 3})) == (
        "space 'opaque' rejected its options {'trials': 3}: cannot build with ['trials']"
    )


def test_a_dataset_aware_space_gets_the_data_set() -> None:
    spec = DataSpec()
    assert spec.space_options(None) == {}
    assert spec.space_options(_config(dataset="wine")) == {"dataset": "wine"}
    assert spec.build_space(_config(dataset="wine")).size == 3
    assert spec.build_space(_config(dataset="digits")).size == 2
    assert ToySpec().space_options(_config(dataset="wine", space_options={"width": 4})) == {
        "width": 4
    }  # not dataset-aware: the data set is not an option
    assert DataSpec().space_options(_config(dataset=None, space_options={"width": 4})) == {
        "width": 4
    }
    assert spec.space_options(_config(dataset="wine", space_options={"dataset": "wine"})) == {
        "dataset": "wine"
    }
    assert _refused(
        spec.space_options, _config(dataset="wine", space_options={"dataset": "iris"})
    ) == (
        "space option dataset='iris' contradicts --dataset 'wine'; the space takes its data "
        "set from --dataset (drop the option)"
    )


def test_check_refusals_whole_lines() -> None:
    spec = ToySpec()
    spec.check(_config(objectives=["val_error"], budgets=["params<=10"]))
    spec.check(_config(evaluator_options={"save_weights": False, "epochs_x": 3}))
    assert _refused(spec.check, _config(dataset=None)) == (
        "space 'toy-truth' needs --dataset NAME (`quarch datasets` lists them)"
    )

    class NoData(ToySpec):
        needs_dataset = False

    NoData().check(_config(dataset=None))
    assert _refused(spec.check, _config(evaluator_options={"epoch_x": 1, "seed": 2})) == (
        "space 'toy-truth' takes no evaluator option 'epoch_x', 'seed'; it takes: epochs_x, "
        "save_weights ('seed' is a config key: in a TOML file, keys below [evaluator_options] "
        "belong to it; put them above it) ('epoch_x': did you mean 'epochs_x'?)"
    )

    class Bare(ToySpec):
        evaluator_options: ClassVar[dict[str, str]] = {}

    assert _refused(Bare().check, _config(evaluator_options={"x": 1})) == (
        "space 'toy-truth' takes no evaluator option 'x'; it takes: none"
    )
    assert _refused(spec.check, _config(evaluator_options={"save_weights": "no"})) == (
        "space 'toy-truth': evaluator option 'save_weights' must be true or false; got 'no'"
    )
    assert _refused(spec.check, _config(evaluator_options={"save_weights": 0})) == (
        "space 'toy-truth': evaluator option 'save_weights' must be true or false; got 0"
    )
    assert _refused(
        spec.check, _config(objectives=["val_error", "latency_ms", "latency_ms"],
                            budgets=["memory_kb<=3", "params<=4"])
    ) == (
        "space 'toy-truth' does not produce metric(s) 'latency_ms', 'memory_kb' with this "
        "config; it produces: params, val_error"
    )  # fmt: skip

    class Timed(ToySpec):  # the metrics depend on the config
        def metrics(self, config: SearchConfig) -> frozenset[str] | None:
            timed = config.evaluator_options.get("epochs_x")
            return frozenset({"val_error", *(["latency_ms"] if timed else [])})

    Timed().check(_config(objectives=["latency_ms"], evaluator_options={"epochs_x": 2}))
    assert _refused(Timed().check, _config(objectives=["latency_ms"])) == (
        "space 'toy-truth' does not produce metric(s) 'latency_ms' with this config; it "
        "produces: val_error"
    )

    class Unknown(ToySpec):
        def metrics(self, config: SearchConfig) -> frozenset[str] | None:
            return None

    Unknown().check(_config(objectives=["latency_ms"]))  # cannot say: nothing refused


def test_defaults_of_a_space_without_options() -> None:
    class Plain(SpaceSpec):
        name = "plain"

    p = Plain()
    cfg = _config()
    assert p.resolve(cfg) is cfg
    assert p.metrics(cfg) is None
    assert p.used_params({"a": 1, "b": 2}) == {"a": 1, "b": 2}
    assert p.datasets(None) == [] and p.benchmark_tasks() == {}
    assert p.is_trainable() is False
    assert p.needs_dataset is True and p.default_dataset is None and p.weight_sharing is None

    class Exports(Plain):
        export_formats = ("onnx",)

    assert Exports().is_trainable() is True
    with pytest.raises(NotImplementedError):
        p.space()
    with pytest.raises(NotImplementedError):
        p.make_evaluator(toy_space(), cfg)
