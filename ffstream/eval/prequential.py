"""Prequential (test-then-train) accuracy of a stream, in bounded memory.

:class:`PrequentialAccuracy` counts predictions you make yourself; :func:`prequential` runs the
whole test-then-train loop for a river-style model or a :class:`~ffstream.stream.StreamLearner`.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["PrequentialAccuracy", "PrequentialResult", "prequential"]


class PrequentialAccuracy:
    """Test-then-train accuracy of a stream: over everything seen, and over a recent window.

    Memory is bounded by ``window_size``, however long the stream runs. Before any update both
    accuracies are 0.0 (as in river's metrics). For dict streams scored one sample at a time,
    river's ``metrics.Accuracy`` and ``utils.Rolling(metrics.Accuracy(), window_size)`` do the
    same; this class also counts whole tensor batches in one call.

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


@dataclass(frozen=True)
class PrequentialResult:
    """What :func:`prequential` measured on one stream.

    Attributes
    ----------
    accuracy
        Fraction of samples predicted right before the model learned from them.
    samples
        How many samples the stream held.
    seconds
        Wall-clock time of the loop (predicting and learning).
    curve
        ``(samples seen, windowed accuracy)`` after every ``window`` samples: the accuracy over
        the last ``window`` predictions, which shows how the model follows a drift.
    """

    accuracy: float
    samples: int
    seconds: float
    curve: list[tuple[int, float]]

    @property
    def samples_per_s(self) -> float:
        """Throughput of the loop (0.0 for an empty stream)."""
        return self.samples / self.seconds if self.seconds > 0 else 0.0


def prequential(
    model: Any, stream: Iterable[tuple[Any, Any]], window: int = 1000
) -> PrequentialResult:
    """Score ``model`` test-then-train on ``stream``: each sample is predicted, then learned.

    Two kinds of model are understood:

    - river-style, with ``predict_one(x)`` and ``learn_one(x, y)`` (any river classifier or
      pipeline, :class:`ffstream.river.FFClassifier`);
    - ffstream-style, with ``observe(x, y)`` that predicts and learns in one call and returns an
      object whose ``prediction`` is the label predicted before learning
      (:class:`ffstream.stream.StreamLearner`: ``x`` one frame, ``y`` its class).

    A prediction counts as right when it equals ``y`` (one-element tensors and arrays are
    compared by value); ``None`` (no prediction yet) counts as wrong.

    Parameters
    ----------
    model
        The learner; it keeps learning, so pass a fresh one to score from scratch.
    stream
        ``(x, y)`` pairs, one sample each, read once.
    window
        Samples per point of the windowed accuracy curve.

    Returns
    -------
    PrequentialResult
        Overall accuracy, sample count, time taken and the windowed curve.

    Raises
    ------
    TypeError
        If ``model`` has neither ``predict_one``/``learn_one`` nor ``observe``.
    ValueError
        If ``window`` is below 1, or a prediction holds more than one label.

    Examples
    --------
    A model that always predicts the label it saw last:

    >>> class Last:
    ...     label = None
    ...     def predict_one(self, x):
    ...         return self.label
    ...     def learn_one(self, x, y):
    ...         self.label = y
    >>> stream = [({"t": t}, t >= 3) for t in range(8)]  # the label flips once, at t = 3
    >>> result = prequential(Last(), stream, window=4)
    >>> result.samples, result.accuracy, result.curve
    (8, 0.75, [(4, 0.5), (8, 1.0)])

    See Also
    --------
    PrequentialAccuracy : the same counts, for a loop of your own.
    """
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    if callable(getattr(model, "predict_one", None)) and callable(
        getattr(model, "learn_one", None)
    ):

        def step(x: Any, y: Any) -> Any:
            y_pred = model.predict_one(x)
            model.learn_one(x, y)
            return y_pred

    elif callable(getattr(model, "observe", None)):

        def step(x: Any, y: Any) -> Any:
            return model.observe(x, y).prediction

    else:
        raise TypeError(
            f"{type(model).__name__} has neither predict_one/learn_one (river) nor observe "
            "(ffstream): prequential cannot score it"
        )
    acc = PrequentialAccuracy(window_size=window)
    curve = []
    start = time.perf_counter()
    for x, y in stream:
        hit = _one(step(x, y)) == _one(y)
        acc.update([int(bool(hit))], [1])
        if acc.n % window == 0:
            curve.append((acc.n, acc.windowed_accuracy))
    seconds = time.perf_counter() - start
    return PrequentialResult(acc.accuracy, acc.n, seconds, curve)


def _one(label: Any) -> Any:
    """A label as a plain value: one-element tensors and arrays become Python scalars."""
    if isinstance(label, (torch.Tensor, np.ndarray)):
        size = label.size if isinstance(label, np.ndarray) else label.numel()
        if size == 1:
            return label.item()
        raise ValueError(
            f"got a prediction or label of {tuple(label.shape)} values; prequential scores one "
            "sample at a time"
        )
    return label
