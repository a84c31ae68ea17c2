"""Torch modules built from architectures (MLP now; HybridNet, EdgeCNN, supernets later)."""

from __future__ import annotations

from quarch.models.cnn import EdgeCNN
from quarch.models.hybrid import HybridNet, classical_ablation
from quarch.models.mlp import MLP
from quarch.models.supercircuit import SuperCircuit
from quarch.models.supernet import SuperNet

__all__ = ["MLP", "EdgeCNN", "HybridNet", "SuperCircuit", "SuperNet", "classical_ablation"]
