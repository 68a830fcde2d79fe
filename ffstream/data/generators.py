"""Seeded generators of the stream kinds a learner's defaults must cope with.

Every generator takes the number of frames ``n`` and a ``seed`` and returns ``(x, y)``: ``x`` a
``(n, features)`` float32 array, ``y`` a ``(n,)`` int64 array of class labels (for the
unlabelled :func:`sensor_fault_stream`: 1 while a fault is under way, for scoring detectors
only). Randomness comes from ``numpy.random.default_rng(seed)`` or from river's seeded
generators, never from a global generator, so the same arguments give the same arrays.

Six kinds share one *linear concept*: 16 standard Gaussian features, 4 classes, the label the
argmax of a random linear map (no noise, so a linear model can be right on every frame). For one
seed they draw the same frames ``x`` first and the same first map, so each differs from
:func:`linear_stream` only as its docstring says (where the concept changes, which labels are
flipped, which frames carry outliers).

:data:`STREAM_KINDS` names every kind; :data:`NUM_CLASSES` gives its classes (with default
arguments). ``ffstream bench streams`` runs learners and river's baselines on each.

Examples
--------
>>> x, y = STREAM_KINDS["abrupt"](1000, seed=0)
>>> x.shape, x.dtype, y.dtype, NUM_CLASSES["abrupt"]
((1000, 16), dtype('float32'), dtype('int64'), 4)
>>> first, _ = next(river_stream(x, y))
>>> list(first)[:3]
['x0', 'x1', 'x2']
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import numpy as np

from ffstream.data.synthetic import sensor_stream

__all__ = [
    "NUM_CLASSES",
    "STREAM_KINDS",
    "abrupt_stream",
    "class_incremental_stream",
    "gradual_stream",
    "high_dim_stream",
    "label_noise_stream",
    "linear_stream",
    "low_dim_stream",
    "mixed_scale_stream",
    "nonlinear_stream",
    "outlier_burst_stream",
    "recurring_stream",
    "river_stream",
    "sensor_fault_stream",
]

Arrays = tuple[np.ndarray, np.ndarray]

_FEATURES, _CLASSES = 16, 4  # the linear concept


def _check_n(n: int) -> None:
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")


def _linear_base(
    n: int, seed: int, maps: int = 1, features: int = _FEATURES, classes: int = _CLASSES
) -> tuple[np.random.Generator, np.ndarray, list]:
    """The generator, the frames, then ``maps`` random linear maps, always in this order."""
    _check_n(n)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features)).astype(np.float32)
    ws = [rng.standard_normal((features, classes)) for _ in range(maps)]
    return rng, x, ws


def _labels(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return np.argmax(x @ w, axis=1).astype(np.int64)


def linear_stream(n: int, seed: int, features: int = _FEATURES, classes: int = _CLASSES) -> Arrays:
    """The linear concept, stationary: 16 Gaussian features, 4 classes, ``argmax(x @ W)``.

    ``features`` and ``classes`` change its size (the other kinds built on it keep 16 and 4).

    Examples
    --------
    >>> x, y = linear_stream(500, seed=1)
    >>> x.shape, sorted(set(y.tolist()))
    ((500, 16), [0, 1, 2, 3])
    """
    _, x, (w,) = _linear_base(n, seed, features=features, classes=classes)
    return x, _labels(x, w)


def abrupt_stream(n: int, seed: int, at: int | None = None) -> Arrays:
    """The linear concept until frame ``at`` (default ``n // 2``), then a second random map.

    Before ``at`` the labels are :func:`linear_stream`'s; from ``at`` on, the same frames are
    labelled by an independent map (a real drift: the frames look the same, the labels change).

    Examples
    --------
    >>> x, y = abrupt_stream(1000, seed=0)
    >>> bool((y[:500] == linear_stream(1000, seed=0)[1][:500]).all())
    True
    """
    _, x, (wa, wb) = _linear_base(n, seed, maps=2)
    at = n // 2 if at is None else at
    y = _labels(x, wa)
    y[at:] = _labels(x[at:], wb)
    return x, y


def gradual_stream(n: int, seed: int, width: int | None = None) -> Arrays:
    """The linear concept, replaced by a second map over a window centred on ``n // 2``.

    In the window (``width`` frames, default ``n // 5``) each frame is labelled by the second
    map with a probability that rises linearly from 0 to 1; before it by the first map (as
    :func:`linear_stream`), after it by the second.

    Examples
    --------
    >>> x, y = gradual_stream(1000, seed=0)
    >>> bool((y[:400] == linear_stream(1000, seed=0)[1][:400]).all())
    True
    """
    rng, x, (wa, wb) = _linear_base(n, seed, maps=2)
    width = max(1, n // 5 if width is None else width)
    start = n // 2 - width / 2
    p_new = np.clip((np.arange(n) - start) / width, 0.0, 1.0)
    new = rng.random(n) < p_new
    y = _labels(x, wa)
    y[new] = _labels(x[new], wb)
    return x, y


def recurring_stream(n: int, seed: int, period: int | None = None) -> Arrays:
    """The linear concept and a second map taking turns: A, B, A, B, ... every ``period`` frames.

    ``period`` defaults to ``n // 4`` (each concept twice). The A segments are labelled as in
    :func:`linear_stream`.

    Examples
    --------
    >>> x, y = recurring_stream(1000, seed=0)
    >>> same = y == linear_stream(1000, seed=0)[1]
    >>> bool(same[:250].all() and same[500:750].all() and same[250:500].mean() < 0.6)
    True
    """
    _, x, (wa, wb) = _linear_base(n, seed, maps=2)
    period = max(1, n // 4 if period is None else period)
    concept_b = (np.arange(n) // period) % 2 == 1
    y = _labels(x, wa)
    y[concept_b] = _labels(x[concept_b], wb)
    return x, y


def label_noise_stream(n: int, seed: int, noise: float = 0.2) -> Arrays:
    """:func:`linear_stream` with a share ``noise`` of the labels changed to another class.

    Each frame's label is flipped with probability ``noise`` to one of the other three classes,
    uniformly; the frames are :func:`linear_stream`'s. The best achievable accuracy is
    ``1 - noise``.

    Examples
    --------
    >>> x, y = label_noise_stream(2000, seed=0)
    >>> clean = linear_stream(2000, seed=0)[1]
    >>> bool(0.15 < (y != clean).mean() < 0.25)
    True
    """
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise must be in [0, 1], got {noise}")
    rng, x, (w,) = _linear_base(n, seed)
    y = _labels(x, w)
    flip = rng.random(n) < noise
    y[flip] = (y[flip] + rng.integers(1, _CLASSES, int(flip.sum()))) % _CLASSES
    return x, y


def outlier_burst_stream(
    n: int, seed: int, share: float = 0.05, length: int = 25, hit: int = 4
) -> Arrays:
    """:func:`linear_stream` with bursts of huge values on a few features (a failing sensor).

    ``round(share * n / length)`` bursts (at least one) of ``length`` frames start at random
    places; within a burst, ``hit`` features chosen for that burst get a random sign times
    ``10 ** U(1, 3)`` (10 to 1,000, where clean features stay within about ±5) added to every
    frame. Labels stay those of the clean frames (:func:`linear_stream`'s): the outliers are
    measurement faults, not a new concept.

    Examples
    --------
    >>> x, y = outlier_burst_stream(2000, seed=0)
    >>> bool((y == linear_stream(2000, seed=0)[1]).all()), bool(np.abs(x).max() > 10)
    (True, True)
    """
    rng, x, (w,) = _linear_base(n, seed)
    y = _labels(x, w)
    length = max(1, min(length, n))
    for start in rng.integers(0, n - length + 1, max(1, round(share * n / length))):
        features = rng.choice(_FEATURES, size=min(hit, _FEATURES), replace=False)
        size = (length, len(features))
        burst = rng.choice((-1.0, 1.0), size=size) * 10.0 ** rng.uniform(1, 3, size=size)
        x[start : start + length, features] += burst.astype(np.float32)
    return x, y


def high_dim_stream(
    n: int, seed: int, features: int = 200, informative: int = 10, classes: int = 4
) -> Arrays:
    """A linear concept on a few of many features: 200 Gaussian features, 10 of them decide.

    The label is the argmax of a random linear map of ``informative`` features chosen at random;
    the others are pure noise.

    Examples
    --------
    >>> x, y = high_dim_stream(300, seed=0)
    >>> x.shape, int(y.max()) < 4
    ((300, 200), True)
    """
    _check_n(n)
    if not 1 <= informative <= features:
        raise ValueError(f"informative must be in [1, {features}], got {informative}")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features)).astype(np.float32)
    chosen = rng.choice(features, size=informative, replace=False)
    return x, _labels(x[:, chosen], rng.standard_normal((informative, classes)))


def class_incremental_stream(
    n: int, seed: int, classes: int = 10, phases: int = 5, features: int = 16, spread: float = 0.75
) -> Arrays:
    """Gaussian class clusters whose classes arrive in phases: 0-1, then 0-3, ..., then 0-9.

    The stream has ``phases`` equal phases; phase ``p`` (from 0) draws labels uniformly from the
    first ``(p + 1) * classes // phases`` classes, so classes first appear in order of their
    label, phase by phase, and keep appearing after. A frame is its class centre (drawn once,
    ``spread`` standard deviations per feature) plus unit Gaussian noise.

    Examples
    --------
    >>> x, y = class_incremental_stream(1000, seed=0)
    >>> int(y[:200].max()), int(y[-200:].max())
    (1, 9)
    """
    _check_n(n)
    if not 1 <= phases <= classes:
        raise ValueError(f"phases must be in [1, classes={classes}], got {phases}")
    rng = np.random.default_rng(seed)
    centres = spread * rng.standard_normal((classes, features))
    phase = np.arange(n) * phases // n
    active = (phase + 1) * classes // phases
    y = np.floor(rng.random(n) * active).astype(np.int64)
    x = (centres[y] + rng.standard_normal((n, features))).astype(np.float32)
    return x, y


def _from_river(dataset, n: int) -> Arrays:
    """The first ``n`` samples of a river dataset as arrays, features in the first one's order."""
    _check_n(n)
    rows = list(itertools.islice(dataset, n))
    keys = list(rows[0][0])
    x = np.array([[float(sample[k]) for k in keys] for sample, _ in rows], dtype=np.float32)
    return x, np.array([int(label) for _, label in rows], dtype=np.int64)


def nonlinear_stream(n: int, seed: int) -> Arrays:
    """river's ``RandomRBF``: 10 features, 4 classes, 50 Gaussian centroids in [0, 1]^10.

    Each centroid has a class, a weight and a spread; a frame is drawn around a centroid picked
    by weight (a non-linear concept with overlapping classes; features roughly in [-1, 2]).
    Seeds: ``seed_model=seed``, ``seed_sample=seed``.

    Examples
    --------
    >>> x, y = nonlinear_stream(300, seed=0)
    >>> x.shape, sorted(set(y.tolist()))
    ((300, 10), [0, 1, 2, 3])
    """
    from river.datasets import synth

    rbf = synth.RandomRBF(seed_model=seed, seed_sample=seed, n_classes=4, n_features=10)
    return _from_river(rbf, n)


def low_dim_stream(n: int, seed: int) -> Arrays:
    """river's ``SEA`` (variant 0, no noise): 3 features in [0, 10], label ``x0 + x1 > 8``.

    The third feature is irrelevant; about two thirds of the labels are 1. Features keep their
    raw scale (not standardised).

    Examples
    --------
    >>> x, y = low_dim_stream(300, seed=0)
    >>> x.shape, bool(((x[:, 0] + x[:, 1] > 8) == (y == 1)).all())
    ((300, 3), True)
    """
    from river.datasets import synth

    return _from_river(synth.SEA(variant=0, noise=0.0, seed=seed), n)


def mixed_scale_stream(n: int, seed: int) -> Arrays:
    """river's ``Agrawal`` (function 1, balanced): 9 loan features of very different scales.

    Features, in order: salary, commission, age, elevel, car, zipcode, hvalue, hyears, loan
    (from single digits to hundreds of thousands, raw); the label is 1 when the salary lies in
    an age-dependent band. Classes are balanced.

    Examples
    --------
    >>> x, y = mixed_scale_stream(300, seed=0)
    >>> x.shape, bool(x.max() > 10_000), sorted(set(y.tolist()))
    ((300, 9), True, [0, 1])
    """
    from river.datasets import synth

    return _from_river(synth.Agrawal(classification_function=1, seed=seed, balance_classes=True), n)


def sensor_fault_stream(n: int, seed: int, channels: int = 6, warmup: int | None = None) -> Arrays:
    """:func:`~ffstream.data.synthetic.sensor_stream` as arrays: unlabelled, faults for scoring.

    ``x`` holds the channels in order (``ch0``, ``ch1``, ...); ``y`` is 1 while a fault is under
    way. A detector must not learn from ``y``, only be scored by it (ROC-AUC). ``warmup``
    (fault-free leading frames) defaults to ``min(300, n // 10)``, so short streams hold faults.

    Examples
    --------
    >>> x, y = sensor_fault_stream(1000, seed=0)
    >>> x.shape, int(y[:100].max()), 0 < int(y.sum()) < 100
    ((1000, 6), 0, True)
    """
    _check_n(n)
    warmup = min(300, n // 10) if warmup is None else warmup
    return _from_river(sensor_stream(n=n, channels=channels, warmup=warmup, seed=seed), n)


def river_stream(x: np.ndarray, y: np.ndarray) -> Iterator[tuple[dict[str, float], int]]:
    """``(x, y)`` arrays as river samples: ``({"x0": ..., "x1": ...}, label)``, one per frame.

    Examples
    --------
    >>> next(river_stream(np.array([[0.5, 2.0]], dtype=np.float32), np.array([1])))
    ({'x0': 0.5, 'x1': 2.0}, 1)
    """
    keys = [f"x{i}" for i in range(x.shape[1])]
    for row, label in zip(x.tolist(), y.tolist()):
        yield dict(zip(keys, row)), label


#: stream kind -> generator ``(n, seed) -> (x, y)``, in the order of the benchmark's page
STREAM_KINDS: dict[str, Callable[..., Arrays]] = {
    "linear": linear_stream,
    "nonlinear": nonlinear_stream,
    "low-dim": low_dim_stream,
    "high-dim": high_dim_stream,
    "mixed-scale": mixed_scale_stream,
    "abrupt": abrupt_stream,
    "gradual": gradual_stream,
    "recurring": recurring_stream,
    "class-incremental": class_incremental_stream,
    "label-noise": label_noise_stream,
    "outlier-bursts": outlier_burst_stream,
    "sensor": sensor_fault_stream,
}

#: stream kind -> its classes with default arguments (None: unlabelled, ``y`` marks faults)
NUM_CLASSES: dict[str, int | None] = {
    **{kind: _CLASSES for kind in STREAM_KINDS},
    "low-dim": 2,
    "mixed-scale": 2,
    "class-incremental": 10,
    "sensor": None,
}
