"""Continual-learning metrics on an accuracy matrix.

The accuracy matrix ``R`` has shape ``(T, T)``: ``R[i, j]`` is the accuracy on task ``j``'s test
set after training through task ``i`` (row ``i`` is measured at the end of task ``i``). The
definitions follow Lopez-Paz & Ranzato (2017, GEM) for average accuracy, backward transfer and
forward transfer, and Chaudhry et al. (2018, RWalk) for forgetting. Accuracies may be fractions
or percentages; every metric comes out in the same unit.

Backward transfer follows the GEM *paper*: the mean over the first ``T - 1`` tasks, divided by
``T - 1`` (:data:`BWT_CONVENTION`). GEM's released code averages over all ``T`` tasks, the last
one contributing a zero, so its numbers are ``(T - 1) / T`` times these.

Beside the matrix: :func:`anytime_accuracy` (the mean accuracy along the stream) and
:func:`mean_interval` (mean, sample standard deviation and Student-t interval over seeds).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

__all__ = [
    "BWT_CONVENTION",
    "anytime_accuracy",
    "average_accuracy",
    "backward_transfer",
    "continual_summary",
    "forgetting",
    "forward_transfer",
    "mean_interval",
]

#: How :func:`backward_transfer` averages, named in the suites' JSON.
BWT_CONVENTION = "gem-paper: mean over tasks j < T-1 of R[T-1, j] - R[j, j] (divides by T-1)"


def average_accuracy(R: Any) -> float:
    """Mean accuracy over all tasks after training on the last one: ``mean(R[T-1, :])``.

    Examples
    --------
    >>> average_accuracy([[0.9, 0.1], [0.6, 0.8]])
    0.7...
    """
    R = _as_matrix(R)
    return float(R[-1].mean())


def backward_transfer(R: Any) -> float:
    """How learning later tasks changed earlier ones: ``mean_{j<T-1} (R[T-1, j] - R[j, j])``.

    Negative values mean forgetting. Needs at least two tasks.

    Examples
    --------
    >>> backward_transfer([[0.9, 0.1], [0.6, 0.8]])
    -0.3...
    """
    R = _as_matrix(R, min_tasks=2)
    T = len(R)
    return float((R[T - 1, : T - 1] - np.diag(R)[: T - 1]).mean())


def forward_transfer(R: Any, baseline: Any) -> float:
    """How earlier tasks help a task not yet trained on: ``mean_{j>0} (R[j-1, j] - b[j])``.

    Parameters
    ----------
    R
        The ``(T, T)`` accuracy matrix, ``T >= 2``.
    baseline
        ``b``: the accuracy of a randomly initialised model on each of the ``T`` tasks
        (``b[0]`` is not used but must be present, so indices line up with tasks).

    Examples
    --------
    >>> forward_transfer([[0.9, 0.3], [0.6, 0.8]], baseline=[0.5, 0.5])
    -0.2...
    """
    R = _as_matrix(R, min_tasks=2)
    b = _as_array(baseline, "baseline")
    if b.shape != (len(R),):
        raise ValueError(
            f"baseline has shape {b.shape}; expected one accuracy per task, ({len(R)},)"
        )
    j = np.arange(1, len(R))
    return float((R[j - 1, j] - b[j]).mean())


def forgetting(R: Any) -> float:
    """Average forgetting (Chaudhry et al. 2018): ``mean_{j<T-1} max_{l<T-1} R[l, j] - R[T-1, j]``.

    The best accuracy task ``j`` ever had before the last task, minus its final accuracy.
    As in the paper the maximum runs over every earlier row ``l < T-1``, including rows from
    before task ``j`` was trained. Needs at least two tasks.

    Examples
    --------
    >>> forgetting([[0.9, 0.1, 0.0], [0.7, 0.8, 0.1], [0.5, 0.6, 0.9]])
    0.3...
    """
    R = _as_matrix(R, min_tasks=2)
    T = len(R)
    best_before_last = R[: T - 1, : T - 1].max(axis=0)
    return float((best_before_last - R[T - 1, : T - 1]).mean())


def anytime_accuracy(points: Any) -> float:
    """Mean accuracy along the stream: each point's mean over its tasks, then the mean of those.

    Parameters
    ----------
    points
        One entry per evaluation point, spread through the stream: the accuracies (on a fixed
        test subset) of the tasks seen so far at that point, so later points hold more tasks.

    Examples
    --------
    >>> anytime_accuracy([[0.9], [0.5, 0.7], [0.4, 0.6, 0.8]])
    0.7...
    """
    if isinstance(points, (str, bytes)) or len(points) == 0:
        raise ValueError("anytime_accuracy needs at least one evaluation point")
    means = []
    for k, point in enumerate(points):
        accs = _as_array(point, f"points[{k}]")
        if accs.ndim != 1 or accs.size == 0:
            raise ValueError(f"points[{k}] must hold one accuracy per task seen, got {point!r}")
        means.append(accs.mean())
    return float(np.mean(means))


def mean_interval(values: Any) -> dict[str, Any]:
    """Mean, sample standard deviation (``ddof=1``) and Student-t interval (level 0.95) of the mean.

    The interval is ``mean ± t_{0.975, n-1} * std / sqrt(n)``; with one value the
    spread and the interval are ``None`` (a single seed says nothing about them).

    Examples
    --------
    >>> stats = mean_interval([0.80, 0.84, 0.82])
    >>> round(stats["mean"], 4), round(stats["std"], 4), stats["n"]
    (0.82, 0.02, 3)
    >>> [round(v, 4) for v in stats["ci95"]]  # t_{0.975, 2} = 4.3027
    [0.7703, 0.8697]
    """
    array = _as_array(values, "values")
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"values must be a non-empty list of numbers, got shape {array.shape}")
    n = int(array.size)
    mean = float(array.mean())
    if n == 1:
        return {"mean": mean, "std": None, "ci95": None, "n": 1}
    from scipy.stats import t  # river's dependency, so always installed beside ffstream

    std = float(array.std(ddof=1))
    half = float(t.ppf(0.975, n - 1)) * std / math.sqrt(n)
    return {"mean": mean, "std": std, "ci95": [mean - half, mean + half], "n": n}


def continual_summary(R: Any, baseline: Any = None) -> dict[str, float | None]:
    """All the metrics above as a JSON-ready dict; ``None`` where a metric is undefined.

    Transfer and forgetting are undefined for a single task, forward transfer also without a
    ``baseline``.

    Examples
    --------
    >>> summary = continual_summary([[0.9, 0.1], [0.6, 0.8]])
    >>> for name, value in summary.items():
    ...     print(name, value if value is None else round(value, 4))
    average_accuracy 0.7
    backward_transfer -0.3
    forgetting 0.3
    forward_transfer None
    """
    R = _as_matrix(R)
    several = len(R) >= 2
    return {
        "average_accuracy": average_accuracy(R),
        "backward_transfer": backward_transfer(R) if several else None,
        "forgetting": forgetting(R) if several else None,
        "forward_transfer": forward_transfer(R, baseline)
        if several and baseline is not None
        else None,
    }


def _as_array(x: Any, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    try:
        array = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} could not be read as an array of numbers: {err}") from None
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or Inf; fill every entry before computing metrics")
    return array


def _as_matrix(R: Any, min_tasks: int = 1) -> np.ndarray:
    array = _as_array(R, "R")
    if array.ndim != 2 or array.shape[0] != array.shape[1]:
        raise ValueError(f"accuracy matrix R has shape {array.shape}; expected square (T, T)")
    if len(array) < min_tasks:
        raise ValueError(f"this metric needs at least {min_tasks} tasks; R has {len(array)}")
    return array
