"""The refusal of second derivatives through the simulator's hand-written backwards.

The small-circuit node (``_small_run``), the adjoint method (``_adjoint``) and the
rotation chains (``_rotchain``) compute first derivatives by hand. Asked for a graph of
their backward (``create_graph=True``: a gradient penalty, a Hessian, MAML), torch gave
a gradient without one, so a loss term built from it trained as a constant, with no
word. Grad mode is on inside a backward exactly when the backward records a graph, so
each of those backwards calls :func:`refuse_second_order` first.
"""

from __future__ import annotations

import torch

from quarch._errors import SimulationError

__all__ = ["SECOND_ORDER_REFUSAL", "refuse_second_order"]

SECOND_ORDER_REFUSAL = (
    "quarch's simulator computes first derivatives only: its backwards are hand-written, "
    "so a gradient of a gradient (create_graph=True, torch.autograd.functional.hessian, "
    "a gradient penalty) would come out as a constant; differentiate once, or take "
    "second derivatives by finite differences of first ones"
)


def refuse_second_order() -> None:
    """Raise :class:`~quarch.quantum.simulator.SimulationError` in a backward that
    records a graph (grad mode on); nothing otherwise."""
    if torch.is_grad_enabled():
        raise SimulationError(SECOND_ORDER_REFUSAL)
