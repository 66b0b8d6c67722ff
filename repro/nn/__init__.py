"""Layers that several papers use."""
from repro.nn.norms import RMSNorm

__all__ = ["RMSNorm"]
