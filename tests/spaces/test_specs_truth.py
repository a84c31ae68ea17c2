"""The space registry (:mod:`quarch.spaces`) and the four built-in specs, against their
docstrings, the README and independent construction.

Truth: which choices an architecture uses is found by building its network (and
circuit) with each choice changed to every other option; the metrics a config declares
are compared with what its evaluator returns and with the option descriptions; the
NB-201 rows and latency columns are read with ``csv``; standardising is redone with
scikit-learn; a calibrated target's width comes from Qiskit's fake backend; each
refusal is checked as the whole line a user reads.
"""

from __future__ import annotations

import csv
import dataclasses
import importlib
import importlib.util
import inspect
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import quarch
import quarch.spaces as spaces_module
from quarch._errors import ConfigError
from quarch.config import SearchConfig
from quarch.cost.devices import DEVICES, get_device
from quarch.objectives import Budget
from quarch.space import Choice, Space
from quarch.spaces import (
    BUILTIN_SPACES,
    SPACES,
    SpaceSpec,
    get_spec,
    make_evaluator,
    register_space,
)

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / ".." / "shared" / "data"
NB201 = DATA / "nb201"


def _declared(config: SearchConfig) -> frozenset[str]:
    """The metrics the config's space declares (every built-in space can say)."""
    out = get_spec(config.space).metrics(config)
    assert out is not None
    return out


def _refused(fn: Any, *args: Any) -> str:
    with pytest.raises(ConfigError) as e:
        fn(*args)
    return str(e.value)


# -- the registry ----------------------------------------------------------------------------
def test_builtin_specs_are_imported_on_first_use() -> None:
    """The module docstring: built-in specs are imported on first use, so importing the
    registry stays light; each name then gives its module's ``SPEC``. A fresh process
    (the registration runs at import)."""
    code = (
        "import sys\n"
        "import quarch.spaces as s\n"
        "rooms = [m for m in sys.modules if m.startswith('quarch.spaces.')"
        " and m != 'quarch.spaces._spec']\n"
        "assert rooms == [], rooms\n"
        "for name in ('hqnn', 'mlp', 'nb201', 'cnn'):\n"
        "    spec = s.get_spec(name)\n"
        "    assert spec is sys.modules['quarch.spaces.' + name].SPEC, name\n"
        "    assert spec.name == name and s.get_spec(name) is spec\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(quarch.__file__).resolve().parents[1])}
    if "__mutmut_" not in env.get("MUTANT_UNDER_TEST", "__mutmut_"):
        del env["MUTANT_UNDER_TEST"]  # mutmut's bookkeeping modes; a mutant's name passes
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


class _UserSpec(SpaceSpec):
    name = "truth-user"
    description = "a user's space"
    needs_dataset = False

    def space(self, **options: Any) -> Space:
        return Space([Choice("a", [1, 2])], name=self.name)

    def make_evaluator(self, space: Space, config: Any, *, weights_dir: Path | None = None) -> Any:
        raise NotImplementedError


@pytest.fixture
def clean_registry() -> Iterator[None]:
    """Leave the global registry as it was (the names these tests add removed)."""
    before = list(SPACES.names())
    yield
    for name in SPACES.names():
        if name not in before:
            SPACES.remove(name)
            spaces_module._CACHE.pop(name, None)


def test_get_spec_builds_a_registered_factory_once(clean_registry: None) -> None:
    """``get_spec`` calls the registered factory (a name added straight to ``SPACES``
    has no spec yet), once, and refuses an unknown name listing the registered ones."""
    calls: list[int] = []

    def factory() -> SpaceSpec:
        calls.append(1)
        return _UserSpec()

    SPACES.add("truth-lazy", factory, "built on first use")
    assert calls == []
    first = get_spec("truth-lazy")
    assert isinstance(first, _UserSpec) and calls == [1]
    assert get_spec("truth-lazy") is first and calls == [1]
    line = _refused(get_spec, "truth-nothing")
    assert line.startswith("unknown space 'truth-nothing'; choose from: mlp, nb201, cnn, hqnn")
    assert "truth-lazy" in line


def test_register_space_and_replace(clean_registry: None) -> None:
    """``register_space``: returns the spec, which ``get_spec`` and the registry then
    give (with its description); a taken name is refused unless ``replace=True``, and a
    built-in space is never replaced; a spec without name or description is refused."""
    first = _UserSpec()
    assert register_space(first) is first
    assert get_spec("truth-user") is first and SPACES.get("truth-user")() is first
    (entry,) = [e for e in SPACES.entries() if e.name == "truth-user"]
    assert entry.description == "a user's space"

    second = _UserSpec()
    with pytest.raises(ValueError) as e:
        register_space(second)
    assert str(e.value) == "space 'truth-user' is already registered"
    assert get_spec("truth-user") is first
    assert register_space(second, replace=True) is second
    assert get_spec("truth-user") is second and SPACES.get("truth-user")() is second
    assert SPACES.names().count("truth-user") == 1

    for name in BUILTIN_SPACES:
        fake = type("Fake", (_UserSpec,), {"name": name})()
        for replace in (False, True):
            with pytest.raises(ValueError) as e:
                register_space(fake, replace=replace)
            assert str(e.value) == f"space {name!r} is already registered"
        assert get_spec(name) is importlib.import_module(f"quarch.spaces.{name}").SPEC

    for attrs in ({"name": ""}, {"description": ""}, {"name": "", "description": ""}):
        bad = type("Bad", (_UserSpec,), attrs)()
        with pytest.raises(ValueError) as e:
            register_space(bad)
        assert str(e.value) == "a SpaceSpec needs a name and a one-line description"
    assert "" not in SPACES


# -- used_params against the built network -------------------------------------------------
def _network(ev: Any, arch: Mapping[str, Any], circuit: bool) -> tuple[Any, ...]:
    """What ``arch`` builds: the module tree, its initial weights and, for the hybrid
    space, the circuit's operations."""
    model = ev.build(dict(arch), seed=3)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    ops: Any = None
    if circuit:
        from quarch.spaces.hqnn.model import build_circuit

        ops = list(build_circuit(arch).ops)
    return repr(model), state, ops


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    (ra, sa, oa), (rb, sb, ob) = a, b
    if ra != rb or oa != ob or sa.keys() != sb.keys():
        return False
    return all(sa[k].shape == sb[k].shape and torch.equal(sa[k], sb[k]) for k in sa)


def _used_by_the_network(ev: Any, space: Space, arch: dict[str, Any], keys: list[str],
                         circuit: bool) -> set[str]:  # fmt: skip
    base = _network(ev, arch, circuit)
    used = set()
    for k in keys:
        for option in space[k].options:
            if option != arch[k] and not _same(_network(ev, {**arch, k: option}, circuit), base):
                used.add(k)
                break
    return used


@pytest.mark.parametrize(
    ("name", "dataset", "options", "per_layer", "count"),
    [
        ("mlp", "iris", {"max_layers": 3}, r"width_\d+", "n_layers"),
        ("cnn", "digits", {"n_stages": 2, "max_blocks": 3}, r"(kernel|expand|se)_\d+_\d+",
         "depth_0"),
        ("hqnn", "iris", {"max_qubits": 2, "max_layers": 3, "frontends": ["linear"],
                          "heads": ["linear"]}, r"(rotation|entanglement)_\d+", "layers"),
    ],
)  # fmt: skip
def test_used_params_keeps_exactly_what_the_network_uses(
    name: str, dataset: str, options: dict[str, Any], per_layer: str, count: str
) -> None:
    """Each per-layer (per-block) choice is kept exactly when some other option of it
    changes the network built; every other choice is kept. Counts at both ends."""
    import re

    spec = get_spec(name)
    cfg = SearchConfig(space=name, dataset=dataset, space_options=options, max_train=64,
                       evaluator_options={"latency": "model"} if name == "cnn" else {})  # fmt: skip
    space = spec.build_space(cfg)
    ev: Any = make_evaluator(space, cfg)
    archs = [space.sample(k) for k in range(3)]
    for n in space[count].options:  # the fewest and the most layers (blocks)
        archs.append({**space.sample(n + 7), count: n})
    seen_drop = seen_keep = False
    for arch in archs:
        keys = [k for k in arch if re.fullmatch(per_layer, k)]
        used = _used_by_the_network(ev, space, arch, keys, circuit=name == "hqnn")
        kept = spec.used_params(arch)
        assert {k: v for k, v in kept.items()} == {
            k: v for k, v in arch.items() if k not in keys or k in used
        }, arch
        assert list(kept) == [k for k in arch if k in kept]  # the space's order
        seen_drop |= len(kept) < len(arch)
        seen_keep |= bool(used)
    assert seen_drop and seen_keep


def test_used_params_of_partial_architectures() -> None:
    """Choices read without their count (a plain Optuna trial may lack keys) do not
    raise; a stage without ``depth_<s>`` keeps its blocks."""
    assert get_spec("cnn").used_params({"kernel_0_2": 3, "width_mult": 1.0}) == {
        "kernel_0_2": 3, "width_mult": 1.0,
    }  # fmt: skip
    assert get_spec("cnn").used_params({"depth_0": 1, "kernel_0_1": 3, "kernel_1_3": 5}) == {
        "depth_0": 1, "kernel_1_3": 5,
    }  # fmt: skip
    mlp = get_spec("mlp").used_params({"activation": "relu", "width_0": 8})
    assert mlp["activation"] == "relu"
    hqnn = get_spec("hqnn").used_params({"qubits": 2, "rotation_0": "ry"})
    assert hqnn["qubits"] == 2


# -- mlp -------------------------------------------------------------------------------------
def test_mlp_evaluator_standardises_tabular_features_on_the_training_split(
    tmp_path: Path,
) -> None:
    """The room's docstring: trained by ``TrainingEvaluator`` (its defaults when the
    config sets no epochs or batch), tabular features standardised on the training
    split; the config's seed, ``max_train`` and device reach it; ``save_weights=false``
    saves nothing."""
    from sklearn.preprocessing import StandardScaler

    from quarch.data import load_dataset
    from quarch.evaluate import TrainingEvaluator

    spec = get_spec("mlp")
    cfg = SearchConfig(space="mlp", dataset="wine", seed=3, max_train=60, device="cpu:0")
    space = spec.build_space(cfg)
    ev: Any = spec.make_evaluator(space, cfg, weights_dir=tmp_path)
    assert isinstance(ev, TrainingEvaluator)
    defaults = inspect.signature(TrainingEvaluator).parameters
    assert ev.epochs == defaults["epochs"].default
    assert ev.batch_size == defaults["batch_size"].default
    assert ev.device == "cpu:0" and ev.weights_dir == tmp_path and ev.space is space
    raw = load_dataset("wine", seed=3, max_train=60)
    assert len(ev.data.X_train) == 60
    scaler = StandardScaler().fit(raw.X_train.reshape(len(raw.X_train), -1))
    for got, want in ((ev.data.X_train, raw.X_train), (ev.data.X_val, raw.X_val),
                      (ev.data.X_test, raw.X_test)):  # fmt: skip
        np.testing.assert_allclose(got, scaler.transform(want), rtol=1e-5, atol=1e-5)
    for part in ("y_train", "y_val", "y_test"):
        assert np.array_equal(getattr(ev.data, part), getattr(raw, part))

    cfg2 = dataclasses.replace(cfg, epochs=3, batch_size=7,
                               evaluator_options={"save_weights": False})  # fmt: skip
    ev2: Any = spec.make_evaluator(space, cfg2, weights_dir=tmp_path)
    assert (ev2.epochs, ev2.batch_size, ev2.weights_dir) == (3, 7, None)
    ev3: Any = spec.make_evaluator(
        space, dataclasses.replace(cfg, evaluator_options={"save_weights": True}),
        weights_dir=tmp_path,
    )  # fmt: skip
    assert ev3.weights_dir == tmp_path


@pytest.mark.skipif(not (DATA / "mnist").is_dir(), reason="shared MNIST files absent")
def test_mlp_images_come_from_the_data_dir_unstandardised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Images are not tabular: left in [0, 1] as loaded, from the config's data folder."""
    from quarch.data import load_dataset

    monkeypatch.setenv("QUARCH_DATA_DIR", str(tmp_path))  # nothing there
    monkeypatch.setenv("QUARCH_OFFLINE", "1")
    spec = get_spec("mlp")
    cfg = SearchConfig(space="mlp", dataset="mnist", data_dir=str(DATA), seed=1, max_train=40)
    ev: Any = spec.make_evaluator(spec.build_space(cfg), cfg)
    raw = load_dataset("mnist", data_dir=DATA, seed=1, max_train=40)
    assert ev.data.X_train.shape == raw.X_train.shape and len(raw.X_train) == 40
    for part in ("X_train", "X_val", "y_train"):
        assert np.array_equal(getattr(ev.data, part), getattr(raw, part))


def test_mlp_lr_option_reaches_a_space_without_an_lr_choice() -> None:
    """``lr``: the learning rate of an architecture without an lr choice."""
    spec = get_spec("mlp")
    cfg = SearchConfig(space="mlp", dataset="iris", evaluator_options={"lr": 0.05})
    full = spec.build_space(None)
    no_lr = Space([c for c in full.choices if c.name != "lr"], name="mlp")
    ev: Any = spec.make_evaluator(no_lr, cfg)
    assert ev.lr == 0.05


# -- nb201 -----------------------------------------------------------------------------------
needs_nb201 = pytest.mark.skipif(not NB201.is_dir(), reason="shared nb201 tables absent")


def _latency_columns() -> list[str]:
    with (NB201 / "nb201_latency.csv").open(newline="") as f:
        header = next(csv.reader(f))
    assert header[:2] == ["index", "arch"]
    return header[2:]


@needs_nb201
def test_nb201_metrics_are_what_the_look_up_returns() -> None:
    """The six devices' latency columns (the table's header) come with ``latency``
    (default true) and not without it; the look-up returns exactly what is declared."""
    spec = get_spec("nb201")
    cols = set(_latency_columns())
    assert len(cols) == 6
    base = {"val_error", "val_accuracy", "params", "flops", "macs"}
    for opts, want in (({}, base | cols), ({"latency": True}, base | cols),
                       ({"latency": False}, base)):  # fmt: skip
        cfg = SearchConfig(space="nb201", dataset="cifar10", data_dir=str(DATA),
                           evaluator_options=opts)  # fmt: skip
        assert _declared(cfg) == want
        space = spec.build_space(cfg)
        ev = make_evaluator(space, cfg)
        assert set(ev.evaluate(space.sample(5), seed=0)) == want


def test_nb201_datasets_are_its_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One entry per CIFAR set, found under ``DIR/nb201`` or ``DIR`` itself, the default
    data folder when none is given, ``~`` expanded; absent tables are listed as such."""
    spec = get_spec("nb201")
    classes = {"cifar10": 10, "cifar100": 100}

    def check(infos: list[Any], available: bool, location: Path, rows: int) -> None:
        assert [i.name for i in infos] == ["cifar10", "cifar100"]
        for i in infos:
            assert i.n_samples == rows and i.n_classes == classes[i.name]
            assert i.input_shape == (3, 32, 32) and i.space == "nb201" and i.problem is None
            assert i.available is available and i.location == str(location)
            assert i.source == (
                f"NAS-Bench-201 table: {rows} cells' {i.name} accuracies (no images)"
            )

    check(spec.datasets(tmp_path), False, tmp_path / "nb201", 15625)
    monkeypatch.setenv("QUARCH_DATA_DIR", str(tmp_path / "env"))
    check(spec.datasets(None), False, tmp_path / "env" / "nb201", 15625)
    monkeypatch.setenv("HOME", str(tmp_path))
    check(spec.datasets("~/d"), False, tmp_path / "d" / "nb201", 15625)
    if NB201.is_dir():
        with (NB201 / "nb201_cifar.csv").open(newline="") as f:
            rows = sum(1 for _ in csv.reader(f)) - 1
        check(spec.datasets(DATA), True, DATA / "nb201", rows)
        flat = tmp_path / "flat"
        flat.mkdir()
        (flat / "nb201_cifar.csv").symlink_to((NB201 / "nb201_cifar.csv").resolve())
        check(spec.datasets(str(flat)), True, flat, rows)


# -- cnn -------------------------------------------------------------------------------------
def _cnn(**opts: Any) -> SearchConfig:
    return SearchConfig(space="cnn", dataset="digits", evaluator_options=opts)


def _edge(measured: bool | None = None) -> list[str]:
    return [e.name for e in DEVICES.entries() if e.factory.kind == "edge"
            and (measured is None or getattr(e.factory, "measured", None) is measured)]  # fmt: skip


@pytest.fixture
def no_onnx(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``onnx`` and ``onnxruntime`` not installed (as far as ``find_spec`` says)."""
    missing = ["onnx", "onnxruntime"]
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any, **kw: Any) -> Any:
        return None if name in missing else real(name, *args, **kw)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    return missing


def test_cnn_refuses_measured_latency_without_onnx(no_onnx: list[str]) -> None:
    """``latency``: auto measures on local-cpu and models elsewhere; measured always
    measures; model never does. Measuring needs the onnx extra, said before any trial."""
    spec = get_spec("cnn")
    assert _edge(measured=True) == ["local-cpu"]

    def line(profile: str, missing: str) -> str:
        return (
            f"space 'cnn' measures latency_ms with ONNX Runtime on the {profile} profile, "
            f"which needs the onnx extra (missing: {missing}): pip install 'quarch[onnx]', "
            "or use the analytic latency model "
            '(evaluator_options.latency = "model" in a config file)'
        )

    for cfg, profile in ((_cnn(), "local-cpu"), (_cnn(latency="auto"), "local-cpu"),
                         (_cnn(latency="measured"), "local-cpu"),
                         (_cnn(device_profile="local-cpu"), "local-cpu"),
                         (_cnn(device_profile="cortex-m7", latency="measured"), "cortex-m7")):  # fmt: skip
        assert _refused(spec.check, cfg) == line(profile, "onnx, onnxruntime")
    for modelled in _edge(measured=False):
        spec.check(_cnn(device_profile=modelled))
        spec.check(_cnn(device_profile=modelled, latency="auto"))
        spec.check(_cnn(device_profile=modelled, latency="model"))
    spec.check(_cnn(latency="model"))
    spec.check(_cnn(device_profile="local-cpu", latency="model"))
    no_onnx.remove("onnx")
    assert _refused(spec.check, _cnn()) == line("local-cpu", "onnxruntime")


def test_cnn_device_profiles_and_their_budgets() -> None:
    """``device_profile`` must name an edge profile (the line lists them); ``resolve``
    adds the profile's budget of every metric the run has no budget of, and nothing
    else."""
    spec = get_spec("cnn")
    edge = _edge()
    assert set(edge) >= {"cortex-m7", "raspi4", "local-cpu"}
    for bad in ("ibm-heron", "cortex-m9"):
        assert _refused(spec.check, _cnn(device_profile=bad, latency="model")).startswith(
            f"unknown device profile {bad!r} for this space (edge profiles); known: "
            f"{', '.join(edge)}"
        )
    for good in edge:
        spec.check(_cnn(device_profile=good, latency="model"))

    plain = SearchConfig(space="cnn", dataset="digits", budgets=["memory_kb<=2048"])
    assert spec.resolve(plain) is plain
    for profile in edge:
        cfg = dataclasses.replace(plain, evaluator_options={"device_profile": profile})
        out = spec.resolve(cfg)
        assert dataclasses.replace(out, budgets=cfg.budgets) == cfg
        assert out.budgets[0] == "memory_kb<=2048"
        parsed = [Budget.parse(b) for b in out.budgets[1:]]
        want = {m: v for m, v in get_device(profile).budgets.items() if m != "memory_kb"}
        assert {b.metric: b.limit for b in parsed} == want and len(parsed) == len(want)
        assert all(b.op == "<=" for b in parsed)


# -- hqnn ------------------------------------------------------------------------------------
def _hqnn(space: dict[str, Any] | None = None, **opts: Any) -> SearchConfig:
    return SearchConfig(space="hqnn", dataset="iris",
                        space_options=space or {"max_qubits": 2, "max_layers": 1},
                        evaluator_options=opts)  # fmt: skip


def test_hqnn_record_epochs_metrics_are_what_training_returns() -> None:
    """``record_epochs``: also ``val_error_e<k>``, ``test_error_e<k>`` and
    ``train_seconds``; the evaluator returns exactly the declared metrics."""
    spec = get_spec("hqnn")
    plain = _declared(_hqnn())
    cfg = dataclasses.replace(_hqnn(record_epochs="1,2"), epochs=2)
    declared = _declared(cfg)
    assert declared - plain == {"train_seconds", "val_error_e1", "test_error_e1",
                                "val_error_e2", "test_error_e2"}  # fmt: skip
    assert plain <= declared
    space = spec.build_space(cfg)
    ev = make_evaluator(space, cfg)
    assert set(ev.evaluate(space.sample(0), seed=0)) == declared


def test_hqnn_noise_metrics() -> None:
    """``noise`` adds the noisy error and its standard error; ``zne`` adds its error only
    with noise (it folds the noisy circuit)."""
    plain = _declared(_hqnn())
    assert _declared(_hqnn(zne=True)) == plain
    assert _declared(_hqnn(noise="device")) - plain == {"noisy_val_error", "noisy_se"}
    assert _declared(_hqnn(noise=True)) - plain == {"noisy_val_error", "noisy_se"}


def test_hqnn_noise_on_a_calibrated_target_adds_the_routed_costs() -> None:
    """A calibrated target named by ``noise`` routes the circuits as one named by
    ``device_profile`` does: the routed device costs are declared and computed."""
    pytest.importorskip("qiskit_ibm_runtime")
    from quarch.cost.device_costs import DEVICE_METRICS

    spec = get_spec("hqnn")
    plain = _declared(_hqnn())
    assert not set(DEVICE_METRICS) & plain
    by_noise = _hqnn(noise="ibm-manila")
    declared = _declared(by_noise)
    assert declared - plain == {*DEVICE_METRICS, "noisy_val_error", "noisy_se"}
    assert _declared(_hqnn(device_profile="ibm-manila")) - plain == set(DEVICE_METRICS)
    space = spec.build_space(by_noise)
    ev: Any = make_evaluator(space, by_noise)
    cheap = set(ev.cheap_metrics(space.sample(0)))
    assert set(DEVICE_METRICS) <= cheap <= declared


def test_hqnn_record_epochs_refusals() -> None:
    """``record_epochs`` past the training's epochs (the evaluator's default when
    ``--epochs`` is not given) or beside weight sharing or noise-aware training."""
    spec = get_spec("hqnn")
    # "Iris" unresolved (a config not through ``resolve``) trains as no data set does
    for dataset in ("iris", "wine", "Iris"):
        cfg = dataclasses.replace(_hqnn(), dataset=dataset)
        epochs = make_evaluator(spec.build_space(cfg), cfg).epochs  # type: ignore[attr-defined]
        assert epochs > 2
        spec.check(dataclasses.replace(cfg, evaluator_options={"record_epochs": f"1,{epochs}"}))
        late = dataclasses.replace(cfg, evaluator_options={"record_epochs": f"1,{epochs + 1}"})
        assert _refused(spec.check, late) == (
            f"record_epochs [1, {epochs + 1}] goes past the training's {epochs} "
            f"epochs; set --epochs {epochs + 1} or drop the larger counts"
        )
    spec.check(dataclasses.replace(_hqnn(record_epochs="2,5"), epochs=5))
    assert _refused(spec.check, dataclasses.replace(_hqnn(record_epochs="2,5"), epochs=4)) == (
        "record_epochs [2, 5] goes past the training's 4 epochs; set --epochs 5 or drop the "
        "larger counts"
    )
    for extra in ({"supercircuit": True}, {"noise": "device", "noise_aware": True}):
        assert _refused(spec.check, _hqnn(record_epochs="1", **extra)) == (
            "record_epochs needs standalone noiseless training, not the supercircuit or noise_aware"
        )


def test_hqnn_noise_names_are_checked() -> None:
    """``noise``: true (or 'device') for the device profile's noise, or a profile, which
    must be a known quantum one."""
    spec = get_spec("hqnn")
    for ok in (True, "true", "device", "ibm-heron"):
        spec.check(_hqnn(noise=ok))
    quantum = [e.name for e in DEVICES.entries() if e.factory.kind == "quantum"]
    for key in ("noise", "device_profile"):
        for bad in ("ibm-mars", "cortex-m7"):
            assert _refused(spec.check, _hqnn(None, **{key: bad})).startswith(
                f"unknown device profile {bad!r} for this space (quantum profiles); known: "
                f"{', '.join(quantum[:3])}"
            )


def test_hqnn_calibrated_targets_named_by_noise_route_the_circuits() -> None:
    """A layout choice needs a calibrated target (the device profile's, or the noise's);
    the narrowest circuit must fit on it (Qiskit's fake backend gives its width)."""
    pytest.importorskip("qiskit_ibm_runtime")
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2

    spec = get_spec("hqnn")
    width = FakeManilaV2().num_qubits
    layouts = {"max_qubits": 2, "max_layers": 1, "layouts": 2}
    assert _refused(spec.check, _hqnn(layouts)) == (
        "a layout choice (space option layouts) needs a calibrated device: --device-profile "
        "ibm-fez (or another calibrated target in `quarch devices`)"
    )
    spec.check(_hqnn(layouts, noise="ibm-manila"))
    spec.check(_hqnn(layouts, device_profile="ibm-manila"))
    at = {"min_qubits": width, "max_qubits": width, "max_layers": 1}
    spec.check(_hqnn(at, noise="ibm-manila"))
    wider = {"min_qubits": width + 1, "max_qubits": width + 1, "max_layers": 1}
    for opts in ({"noise": "ibm-manila"}, {"device_profile": "ibm-manila"}):
        assert _refused(spec.check, _hqnn(wider, **opts)) == (
            f"every circuit of this space needs at least {width + 1} qubits; ibm-manila has {width}"
        )
    spec.check(_hqnn(wider))  # a hand profile has no coupling map: nothing to fit


def test_hqnn_checks_noise_memory_against_the_evaluators_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The space's widest circuit is checked before the run against the memory limit
    the evaluator simulates under (one sample's density-matrix run: three ``4**n``
    complex64 matrices)."""
    import quarch.spaces.hqnn.costs as costs
    import quarch.spaces.hqnn.noise as noise

    spec = get_spec("hqnn")
    cfg = _hqnn({"max_qubits": 4, "max_layers": 1}, noise="device")
    need = 3 * 4**4 * 8 / 2**30
    for machine in (1.9 * need, 2.1 * need, 0.9 * need, 3.9 * need):
        monkeypatch.setattr(noise, "machine_memory_gb", lambda m=machine: m)
        monkeypatch.setattr(costs, "machine_memory_gb", lambda m=machine: m)
        ok_cfg = _hqnn({"max_qubits": 2, "max_layers": 1}, noise="device")
        ev: Any = make_evaluator(spec.build_space(ok_cfg), ok_cfg)
        limit = ev.costs.noise_setup.memory_gb
        if need > limit:
            assert "the limit is" in _refused(spec.check, cfg)
        else:
            spec.check(cfg)


def test_hqnn_any_spelling_of_a_data_set_searches_and_trains_as_its_name() -> None:
    """``load_dataset`` reads a name in any case, with dashes or underscores; the run
    resolves it, so ``--dataset Iris`` gets iris's qubit range and training defaults
    (before the fix: 2-12 qubits and 10 epochs of batch 32 instead of 2-4, 30 and 16)."""
    from quarch.study import check_search

    spec = get_spec("hqnn")
    for given, name in (("Iris", "iris"), ("BREAST_CANCER", "breast-cancer"), (" Wine ", "wine")):
        want = SearchConfig(space="hqnn", dataset=name)
        assert spec.resolve(want) is want
        got = spec.resolve(SearchConfig(space="hqnn", dataset=given))
        assert got == want
        assert check_search(SearchConfig(space="hqnn", dataset=given)).dataset == name
        space, want_space = spec.build_space(got), spec.build_space(want)
        assert [(c.name, c.options) for c in space.choices] == [
            (c.name, c.options) for c in want_space.choices
        ]
        ev: Any = make_evaluator(space, got)
        ev_want: Any = make_evaluator(want_space, want)
        assert (ev.epochs, ev.batch_size) == (ev_want.epochs, ev_want.batch_size)
    assert (
        spec.build_space(want)["qubits"].options
        != spec.build_space(SearchConfig(space="hqnn", dataset="Wine"))["qubits"].options
    )  # unresolved, the name is no data set's
    for untouched in (SearchConfig(space="hqnn", dataset="irs"),
                      SearchConfig(space="hqnn", dataset="Irs"),  # refused later as typed
                      SearchConfig(space="hqnn", dataset=None)):  # fmt: skip
        assert spec.resolve(untouched) is untouched
    both = SearchConfig(space="hqnn", dataset="Iris",
                        space_options={"dataset": "Iris", "max_layers": 2})  # fmt: skip
    resolved = spec.resolve(both)
    assert resolved.space_options == {"dataset": "iris", "max_layers": 2}
    assert (
        spec.build_space(resolved)["qubits"].options
        == spec.build_space(SearchConfig(space="hqnn", dataset="iris"))["qubits"].options
    )
    other = SearchConfig(space="hqnn", dataset="Iris", space_options={"dataset": "wine"})
    assert spec.resolve(other).space_options == {"dataset": "wine"}  # refused by the check


def test_every_spelling_of_a_data_set_is_saved_as_its_registered_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every spelling ``load_dataset`` reads gives one run: the default ``resolve`` saves
    the registered name (``--dataset Iris`` made ``runs/mlp-Iris-...`` beside
    ``runs/mlp-iris-...``, two runs of one data set); a run saved under the typed name
    still resumes; names that are no :mod:`quarch.data` set are left as given."""
    from quarch._cli_search import _interrupted_line
    from quarch._errors import RunExistsError
    from quarch.data import list_datasets, load_dataset
    from quarch.study import check_search, resume_config, run_search, stored_config

    registered = {d.name for d in list_datasets()}
    for given in ("Iris", "IRIS", "Breast_Cancer", " wine "):
        want = load_dataset(given).name  # the reader's own answer
        assert want in registered
        for space in ("mlp", "hqnn"):
            assert check_search(SearchConfig(space=space, dataset=given)).dataset == want
    cnn = get_spec("cnn")
    typed = dataclasses.replace(_cnn(device_profile="local-cpu"), dataset="Digits")
    assert cnn.resolve(typed) == cnn.resolve(_cnn(device_profile="local-cpu"))
    assert cnn.resolve(typed).budgets  # the profile's budgets are kept as well
    for kept in (SearchConfig(space="nb201", dataset="cifar10"),
                 SearchConfig(space="nb201", dataset="Iris"),  # its tables are its own
                 SearchConfig(space="nb201", dataset="cifar-10"),  # refused later
                 SearchConfig(space="nb201", dataset=None),
                 SearchConfig(space="mlp", dataset="irs"),  # refused later, as typed
                 SearchConfig(space="mlp", dataset=None)):  # fmt: skip
        assert get_spec(kept.space).resolve(kept) is kept
    nb201 = get_spec("nb201")
    for given, table in ((" CIFAR100", "cifar100"), ("nb201-Cifar10", "cifar10")):
        typed = SearchConfig(space="nb201", dataset=given, data_dir=str(DATA))
        assert nb201.resolve(typed) == dataclasses.replace(typed, dataset=table)
        if NB201.is_dir():  # the table the run reads is the one named
            assert check_search(typed).dataset == table

    class ToySpec(SpaceSpec):  # a user's space inherits the default
        name = "toy-data-name"
        dataset_aware = True

        def space(self, **options: Any) -> Space:
            return Space([Choice("w", [1, 2])], name=self.name)

        def make_evaluator(self, space: Space, config: SearchConfig, *,
                           weights_dir: Path | None = None) -> Any:  # fmt: skip
            raise NotImplementedError

    toy = ToySpec().resolve(
        SearchConfig(space="toy-data-name", dataset="Wine", space_options={"dataset": "Wine"})
    )
    assert (toy.dataset, toy.space_options) == ("wine", {"dataset": "wine"})

    monkeypatch.chdir(tmp_path)
    cfg = SearchConfig(space="mlp", dataset="Iris", trials=1, epochs=1, seed=0)
    res = run_search(cfg, progress=False)
    assert res.config.dataset == "iris"
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["mlp-iris-random-s0"]
    assert stored_config(cfg) == res.config  # said without a check or the data
    own = SearchConfig(space="not-registered", dataset="Iris")  # run_search(space=...)
    assert stored_config(own).dataset == "Iris"
    default = SearchConfig(space="hqnn", dataset=None)
    assert stored_config(default).run_dir == Path("runs/hqnn-iris-random-s0")
    assert check_search(default).run_dir == Path("runs/hqnn-iris-random-s0")
    with pytest.raises(RunExistsError):  # the same run, whatever the spelling
        run_search(dataclasses.replace(cfg, dataset="IRIS"), progress=False)
    # Ctrl-C's line finds that folder (it had said nothing was written)
    assert _interrupted_line(None, dataclasses.replace(cfg, dataset="IRIS")) == (
        "interrupted with all 1 trials done; nothing is left to run; see them with "
        "`quarch trials runs/mlp-iris-random-s0`"
    )
    unchecked = SearchConfig(space="cnn", evaluator_options={"device_profile": "no-such"})
    for nothing in (dataclasses.replace(cfg, seed=1), unchecked):  # stopped before a check
        assert _interrupted_line(None, nothing) == (
            "interrupted before the run started; nothing was written"
        )

    # a run saved before names were resolved (as typed) resumes with this code
    with monkeypatch.context() as m:
        m.setattr(SpaceSpec, "resolve", lambda self, config: config)
        old = run_search(dataclasses.replace(cfg, out="typed"), progress=False)
    assert old.config.dataset == "Iris"
    again = run_search(resume_config("typed", trials=2), resume=True, progress=False)
    assert (again.done, again.config.dataset) == (2, "iris")
