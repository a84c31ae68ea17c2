"""``SpaceSpec.used_params``: a choice it drops must not change the network built.

Independent truth: build the model of an architecture and of the same architecture
with a dropped choice set to every other option, with one seed: the parameters must be
identical in name, shape and value (the choice really is ignored). Tables and the
report show only the choices that are kept.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
import torch

from quarch.config import SearchConfig
from quarch.spaces import get_spec, make_evaluator


def _state(ev: Any, arch: dict[str, Any]) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in ev.build(arch, seed=7).state_dict().items()}


@pytest.mark.parametrize(
    ("space", "dataset", "options", "ev_opts"),
    [
        ("mlp", "iris", {}, {}),
        ("cnn", "digits", {"n_stages": 2, "max_blocks": 2}, {"latency": "model"}),
        ("hqnn", "iris", {"max_qubits": 3, "max_layers": 3, "frontends": ["linear"]}, {}),
    ],
)
def test_dropped_choices_do_not_change_the_network(
    space: str, dataset: str, options: dict[str, Any], ev_opts: dict[str, Any]
) -> None:
    spec = get_spec(space)
    cfg = SearchConfig(space=space, dataset=dataset, space_options=options,
                       evaluator_options=ev_opts, max_train=64)  # fmt: skip
    sp = spec.build_space(cfg)
    ev: Any = make_evaluator(sp, cfg)
    rng = random.Random(0)
    dropped_any = False
    for k in range(6):
        arch = sp.sample(k)
        used = spec.used_params(arch)
        assert all(arch[c] == used[c] for c in used)
        dropped = [c for c in arch if c not in used]
        dropped_any = dropped_any or bool(dropped)
        base = _state(ev, arch)
        for c in dropped:
            other = dict(arch)
            other[c] = rng.choice([o for o in sp[c].options if o != arch[c]] or [arch[c]])
            got = _state(ev, other)
            assert got.keys() == base.keys(), (c, other)
            assert all(torch.equal(got[n], base[n]) for n in base), (c, other)
    assert dropped_any, "no sample had an unused choice; the test checked nothing"
