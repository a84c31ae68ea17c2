"""List options of a space read as a user writes them on the command line or in a file."""

from __future__ import annotations

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
