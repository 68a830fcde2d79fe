"""Goodness: how strongly a layer responds to its input.

Hinton (2022) scores a layer by the sum of its squared activities and calls an input *real* with
probability ``sigmoid(goodness - theta)``. His MATLAB ffcode uses the sum of squares with
``theta = number of units``, i.e. a mean square of 1 per unit. Many re-implementations use the
mean of squares with ``theta = 2`` instead, which is a different operating point.
"""

from __future__ import annotations

from typing import Literal

import torch

__all__ = ["Goodness"]


class Goodness:
    """Per-sample goodness of a layer's activities.

    Parameters
    ----------
    reduction
        ``"sum"`` of squares (Hinton's ffcode) or ``"mean"`` of squares.
    threshold
        The ``theta`` that separates real from unreal. ``None`` picks the convention that
        matches Hinton's: the number of units for ``"sum"``, 1.0 for ``"mean"``.

    Examples
    --------
    >>> g = Goodness("sum")
    >>> h = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    >>> g(h)
    tensor([5., 0.])
    >>> g.threshold_for(num_units=2)
    2.0
    >>> Goodness("mean", threshold=2.0).threshold_for(num_units=500)
    2.0
    """

    def __init__(self, reduction: Literal["sum", "mean"] = "sum", threshold: float | None = None):
        if reduction not in ("sum", "mean"):
            raise ValueError(f"goodness reduction must be 'sum' or 'mean', got {reduction!r}")
        self.reduction = reduction
        self.threshold = threshold

    def __call__(self, h: torch.Tensor) -> torch.Tensor:
        squares = (h if h.dim() == 2 else h.flatten(1)).square()
        return squares.sum(1) if self.reduction == "sum" else squares.mean(1)

    def threshold_for(self, num_units: int) -> float:
        """The threshold used for a layer with ``num_units`` activities per sample."""
        if self.threshold is not None:
            return float(self.threshold)
        return float(num_units) if self.reduction == "sum" else 1.0

    def __repr__(self) -> str:
        return f"Goodness({self.reduction!r}, threshold={self.threshold})"
