"""The local optimiser of an FF net: one optimiser object, one parameter group per layer."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ffstream.ff._fast import fused_optimizer

__all__ = ["make_optimizer"]


def make_optimizer(
    layers: Sequence[nn.Module],
    name: str = "adam",
    lr: float = 1e-3,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
) -> torch.optim.Optimizer:
    """One optimizer with one parameter group per layer.

    SGD and Adam keep their state per parameter, so each layer's optimizer state is its own and
    never mixes with another layer's; a single optimizer object only batches the arithmetic.
    """
    groups = [{"params": list(layer.parameters())} for layer in layers]
    # fused: one kernel per step for all tensors (ffstream.ff._fast.fused_optimizer), the same
    # arithmetic as the per-tensor loop up to float rounding, which FFNet.step can call without
    # Optimizer.step's per-call Python (ffstream.ff._fast.fused_update).
    common = dict(lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return fused_optimizer(torch.optim.SGD, groups, momentum=momentum, **common)
    if name == "adam":
        return fused_optimizer(torch.optim.Adam, groups, betas=(momentum, 0.999), **common)
    if name == "adamw":
        return fused_optimizer(torch.optim.AdamW, groups, betas=(momentum, 0.999), **common)
    raise ValueError(f"unknown optimizer {name!r}; choose 'sgd', 'adam' or 'adamw'")
