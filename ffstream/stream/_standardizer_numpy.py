"""NumPy views of an :class:`~ffstream.stream.standardizer.InputStandardizer` (internal).

On a CPU, one frame's update or standardisation is a few dozen operations on short vectors:
torch's dispatch would cost several times their arithmetic. These views share the module's
buffers (zero-copy, updated in place), so ``state_dict()``, checkpoints and the torch path see
every update; beside them they cache what the scale derives from the variance (the inverse
standard deviation and the update's bound), refreshed after each update.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["ScaleViews", "warm_update"]


class ScaleViews:
    """Views of (shift, offset, var, seen) and the scale derived from ``var``.

    Built for one set of buffer tensors (``source``, the variance): the module rebuilds it
    when its buffers are replaced.
    """

    __slots__ = ("shift", "offset", "var", "seen", "inv_std", "reach", "neg_reach", "source")

    def __init__(self, buffers: dict[str, torch.Tensor], winsor: float):
        self.source = buffers["var"]
        self.shift, self.offset, self.var, self.seen = (
            buffers[k].numpy() for k in ("shift", "offset", "var", "seen")
        )
        self.inv_std = np.empty_like(self.var)
        self.reach = np.empty_like(self.var)
        self.neg_reach = np.empty_like(self.var)
        self.refresh(winsor)

    def refresh(self, winsor: float) -> None:
        """Derive the scale again: 0 for a feature that has not varied (it standardises to
        0, and :func:`warm_update` never runs while one is left)."""
        varied = self.var > 0
        np.sqrt(self.var, out=self.reach)
        np.divide(1.0, self.reach, out=self.inv_std, where=varied)
        self.inv_std[~varied] = 0.0
        np.multiply(self.reach, winsor, out=self.reach, where=varied)  # inf * 0 is no bound
        np.negative(self.reach, out=self.neg_reach)

    def refresh_varied(self, winsor: float) -> None:
        """:meth:`refresh` where every feature has varied (fewer operations)."""
        np.sqrt(self.var, out=self.reach)
        np.divide(1.0, self.reach, out=self.inv_std)
        self.reach *= winsor
        np.negative(self.reach, out=self.neg_reach)

    def standardize(self, x: np.ndarray, clip: float, present: np.ndarray | None) -> np.ndarray:
        u = x - self.shift
        u -= self.offset
        u *= self.inv_std
        if present is not None:
            u *= present
        np.minimum(u, clip, out=u)
        np.maximum(u, -clip, out=u)
        return u


def warm_update(
    views: ScaleViews, x: np.ndarray, weight: float | np.ndarray, largest: float
) -> None:
    """One batch's step where every feature is present, warm (seen ``warmup`` times) and has
    varied: the general step (``_update`` in :mod:`~ffstream.stream.standardizer`) without
    the cases that cannot arise, which is the common case of a stream.

    ``weight`` is what the batch weighs: one number past the young phase
    (``1 - (1 - 1 / horizon) ** batch``), per feature within it.
    """
    one = len(x) == 1
    delta = x[0] - views.shift if one else x - views.shift
    delta -= views.offset
    np.minimum(delta, views.reach, out=delta)  # winsorised: at most the bound from the mean
    np.maximum(delta, views.neg_reach, out=delta)
    spread = None
    if not one:
        spread = delta.var(0)
        spread *= weight
        delta = delta.mean(0)
    views.offset += weight * delta
    square = delta * ((1.0 - weight) * weight)  # in this order: no square past float32
    square *= delta
    views.var *= 1.0 - weight
    views.var += square
    if spread is not None:
        views.var += spread
    np.minimum(views.var, largest, out=views.var)
    views.seen += len(x)
