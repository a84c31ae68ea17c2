"""Torch modules built from architectures (MLP now; HybridNet, EdgeCNN, supernets later)."""

from __future__ import annotations

from quarch.models.mlp import MLP

__all__ = ["MLP"]
