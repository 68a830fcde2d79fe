"""Prequential (test-then-train) accuracy of a stream, in bounded memory."""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
import torch

__all__ = ["PrequentialAccuracy"]


class PrequentialAccuracy:
    """Test-then-train accuracy of a stream: over everything seen, and over a recent window.

    Memory is bounded by ``window_size``, however long the stream runs. Before any update both
    accuracies are 0.0 (as in river's metrics).

    Parameters
    ----------
    window_size
        How many of the most recent predictions the windowed accuracy covers.

    Examples
    --------
    >>> acc = PrequentialAccuracy(window_size=3)
    >>> acc.update(torch.tensor([0, 1, 2, 3]), torch.tensor([0, 1, 0, 0]))
    >>> acc.update(1, 1)
    >>> acc.n, acc.accuracy, acc.windowed_accuracy
    (5, 0.6, 0.3...)
    """

    def __init__(self, window_size: int = 1000):
        if window_size < 1:
            raise ValueError(f"window_size must be at least 1, got {window_size}")
        self.window_size = window_size
        self.n = 0
        self.correct = 0
        self._window: deque[int] = deque(maxlen=window_size)
        self._window_correct = 0

    def update(self, y_true: Any, y_pred: Any) -> None:
        """Count one prediction or a batch of them (scalars, lists, numpy arrays or tensors)."""
        t = _as_labels(y_true, "y_true")
        p = _as_labels(y_pred, "y_pred")
        if t.shape != p.shape:
            raise ValueError(f"y_true has {t.size} labels but y_pred has {p.size}")
        hits = (t == p).astype(int)
        self.n += hits.size
        self.correct += int(hits.sum())
        # Only the last window_size hits can still be in the window.
        for hit in hits[-self.window_size :].tolist():
            if len(self._window) == self.window_size:
                self._window_correct -= self._window[0]
            self._window.append(hit)
            self._window_correct += hit

    @property
    def accuracy(self) -> float:
        """Fraction correct over the whole stream so far."""
        return self.correct / self.n if self.n else 0.0

    @property
    def windowed_accuracy(self) -> float:
        """Fraction correct over the last ``window_size`` predictions."""
        return self._window_correct / len(self._window) if self._window else 0.0

    def __repr__(self) -> str:
        return (
            f"PrequentialAccuracy(n={self.n}, accuracy={self.accuracy:.4f}, "
            f"windowed_accuracy={self.windowed_accuracy:.4f}, window_size={self.window_size})"
        )


def _as_labels(y: Any, name: str) -> np.ndarray:
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    array = np.asarray(y).reshape(-1)
    if array.dtype.kind not in "iub":
        raise ValueError(f"{name} has dtype {array.dtype}; expected integer class labels")
    return array
