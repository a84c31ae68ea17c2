"""List options of a space read as a user writes them on the command line or in a file."""

from __future__ import annotations

import re

import pytest

from quarch._errors import ConfigError
from quarch.config import SearchConfig
from quarch.spaces import get_spec


def _space(name: str, **options: object):  # type: ignore[no-untyped-def]
    cfg = SearchConfig(space=name, dataset="digits", space_options=dict(options))
    return get_spec(name).build_space(cfg)


def test_hqnn_comma_lists_and_single_values() -> None:
    s = _space("hqnn", embeddings="angle-y,iqp", reupload="false", learning_rates=0.03,
               entanglements="ring")  # fmt: skip
    assert s["embedding"].options == ("angle-y", "iqp")
    assert s["reupload"].options == (False,)
    assert s["lr"].options == (0.03,)
    assert s["entanglement_0"].options == ("ring",)


def test_cnn_comma_lists_of_numbers() -> None:
    s = _space("cnn", kernels="3,5", bits=8, width_mults="0.5,1.0")
    assert s["kernel_0_0"].options == (3, 5)
    assert s["bits"].options == (8,)
    assert s["width_mult"].options == (0.5, 1.0)


def test_a_wrong_item_is_still_named() -> None:
    with pytest.raises(ConfigError, match=r"embeddings must be a non-empty subset.*'angel-y'"):
        _space("hqnn", embeddings="angel-y")


def test_mlp_comma_lists_and_single_values() -> None:
    s = _space("mlp", widths="8,16", activations="silu", learning_rates=0.05, max_layers=2)
    assert s["width_1"].options == (8, 16) and s.names[-1] == "lr"
    assert s["activation"].options == ("silu",)
    assert s["lr"].options == (0.05,)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_layers": "two"}, "max_layers must be an integer >= 1; got 'two'"),
        ({"max_layers": True}, "max_layers must be an integer >= 1; got True"),
        ({"widths": "8,0"}, "widths must be a non-empty list of integers >= 1; got [8, 0]"),
        ({"widths": "8,4.5"}, "widths must be a non-empty list of integers >= 1; got [8, 4.5]"),
        ({"activations": "relu,swish"}, "activations must be a non-empty subset of"),
        ({"learning_rates": "0.01,nan"}, "learning_rates must be a non-empty list of numbers"),
        ({"learning_rates": "0.01,-1"}, "learning_rates must be a non-empty list of numbers"),
        ({"learning_rates": "fast"}, "learning_rates must be a non-empty list of numbers"),
    ],
)
def test_mlp_refuses_what_would_fail_or_mislead_every_trial(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        _space("mlp", **options)


def test_every_mlp_activation_the_space_offers_the_model_builds() -> None:
    import torch

    from quarch.spaces.mlp.model import _ACTIVATIONS, MLP
    from quarch.spaces.mlp.space import ACTIVATIONS

    assert set(ACTIVATIONS) == set(_ACTIVATIONS)
    for act in ACTIVATIONS:
        net = MLP({"n_layers": 1, "width_0": 4, "activation": act}, (3,), 2)
        assert net(torch.ones(2, 3)).shape == (2, 2)


def test_every_flag_option_is_an_evaluator_option() -> None:
    from quarch.spaces import BUILTIN_SPACES

    for name in BUILTIN_SPACES:
        spec = get_spec(name)
        assert set(spec.flag_options) <= set(spec.evaluator_options), name


def test_a_config_key_among_space_options_is_named_as_one() -> None:
    """A TOML file's ``trials = 3`` written below ``[space_options]`` arrives there."""
    with pytest.raises(ConfigError) as e:
        _space("mlp", max_layers=2, trials=3)
    assert str(e.value).endswith(
        "('trials' is a config key: in a TOML file, keys below [space_options] belong to it; "
        "put them above it)"
    )
    with pytest.raises(ConfigError) as e:
        _space("mlp", bogus=1)
    assert "config key" not in str(e.value)
