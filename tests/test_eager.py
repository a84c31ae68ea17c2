"""quarch's eager path (training, FLOP counts) never imports ``torch._dynamo``.

Both checks run in a fresh process: the test session itself may have imported dynamo
already, and then quarch's eager path steps aside (it is only a shortcut).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> None:
    res = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


def test_training_and_flop_counts_do_not_import_dynamo() -> None:
    _run(
        """
        import sys
        from types import SimpleNamespace

        import numpy as np
        import torch

        from quarch.cost.classical import count_flops
        from quarch.evaluate import train_classifier

        r = np.random.default_rng(0)
        split = lambda k: (r.random((k, 4)), r.integers(0, 3, k))
        (xt, yt), (xv, yv), (xs, ys) = split(40), split(10), split(10)
        data = SimpleNamespace(
            X_train=xt, y_train=yt, X_val=xv, y_val=yv, X_test=xs, y_test=ys
        )
        model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
        assert count_flops(model, (4,)) == 2 * (4 * 8 + 8 * 3)
        out = train_classifier(
            model, data, epochs=3, lr=0.05, batch_size=8, seed=0,
            early_stopping=True, cosine=True, weight_decay=1e-3,
        )
        assert 0.0 <= out["test_error"] <= 1.0
        assert "torch._dynamo" not in sys.modules, "torch._dynamo was imported"
        raw = torch.optim.Optimizer.zero_grad.__wrapped__
        assert not hasattr(raw, "__dynamo_disable"), "torch was left patched"
        print("ok")
        """
    )


def test_eager_adam_is_torch_adam_bit_for_bit() -> None:
    # quarch's Adam first (torch's own step imports dynamo, after which quarch's
    # would defer to it), then torch's on a copy of the same start
    _run(
        """
        import copy
        import sys

        import torch

        from quarch._eager import no_dynamo_import
        from quarch.evaluate._flat_adam import _EagerAdam

        torch.manual_seed(0)
        a = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
        b, start = copy.deepcopy(a), copy.deepcopy(a)
        x = torch.randn(16, 4)

        def train(model, opt):
            for _ in range(25):
                opt.zero_grad()
                model(x).square().sum().backward()
                opt.step()

        with no_dynamo_import():
            train(a, _EagerAdam(a.parameters(), lr=0.05, weight_decay=0.01, foreach=True))
        assert "torch._dynamo" not in sys.modules
        train(b, torch.optim.Adam(b.parameters(), lr=0.05, weight_decay=0.01, foreach=False))
        for p, q, s in zip(a.parameters(), b.parameters(), start.parameters(), strict=True):
            assert torch.equal(p, q)
            assert not torch.equal(p, s)  # it trained
        print("ok")
        """
    )


def test_a_quantum_layer_does_not_import_dynamo() -> None:
    # the engine is left out of torch.compile's tracing (quarch._eager.untraced) without
    # importing dynamo; torch.compiler.disable as a decorator imported it on import
    _run(
        """
        import sys
        import torch
        from quarch.quantum import AngleEmbedding, Circuit, QuantumLayer

        layer = QuantumLayer(Circuit(3).add(AngleEmbedding(3)))
        for _ in range(3):
            layer(torch.rand(4, 3)).sum().backward()
        assert "torch._dynamo" not in sys.modules
        print("ok")
        """
    )


def test_the_eager_step_after_a_plain_adam_does_not_import_dynamo() -> None:
    # torch wraps Adam.step in its profiling hook when the first Adam is made; the
    # eager step then called the decorated step under it: 4.46 s, dynamo imported
    _run(
        """
        import sys

        import torch

        from quarch._eager import no_dynamo_import
        from quarch.evaluate._flat_adam import _EagerAdam

        with no_dynamo_import():
            torch.optim.Adam([torch.nn.Parameter(torch.zeros(2))], lr=0.1)
            p = [torch.nn.Parameter(torch.ones(3))]
            opt = _EagerAdam(p, lr=0.1)
            for _ in range(3):
                opt.zero_grad()
                (p[0] ** 2).sum().backward()
                opt.step()
        assert "torch._dynamo" not in sys.modules, "torch._dynamo was imported"
        q = [torch.nn.Parameter(torch.ones(3))]  # torch's own Adam (imports dynamo now)
        ref = torch.optim.Adam(q, lr=0.1)
        for _ in range(3):
            ref.zero_grad()
            (q[0] ** 2).sum().backward()
            ref.step()
        assert torch.equal(p[0], q[0]), (p[0], q[0])
        print("ok")
        """
    )
