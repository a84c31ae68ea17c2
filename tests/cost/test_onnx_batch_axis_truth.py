""":func:`quarch.cost.onnx.to_onnx`: "the batch axis is dynamic", one axis: the
logits' first dimension is the input's symbol ``batch`` in the exported graph, also
for a network whose shape inference cannot carry it (a reshape to ``(-1, k)``).

Independent truth: the graph's declared shapes read back with ``onnx``, and ONNX
Runtime's logits of a batch of five against torch's.
"""

from __future__ import annotations

import numpy as np
import onnx
import torch
from torch import nn

from quarch.cost.onnx import ort_session, to_onnx


class _Flat(nn.Module):
    """A linear layer after ``view(-1, 4)``: ONNX's Reshape with -1, whose output
    dimension shape inference names afresh unless the export names it."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x.view(-1, 4))


def _dims(value: onnx.ValueInfoProto) -> list[str | int]:
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


def test_the_logits_batch_axis_is_the_inputs() -> None:
    torch.manual_seed(0)
    model = _Flat()
    data = to_onnx(model, (2, 2))
    graph = onnx.load_from_string(data).graph
    assert _dims(graph.input[0]) == ["batch", 2, 2]
    assert _dims(graph.output[0]) == ["batch", 3]
    x = np.random.default_rng(0).standard_normal((5, 2, 2)).astype(np.float32)
    (logits,) = ort_session(data).run(None, {"x": x})
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(logits, want, rtol=1e-6, atol=1e-6)
