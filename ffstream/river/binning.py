"""PiecewiseLinearEncoder: standardise each numeric feature online, then spread it over bins."""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
from river import base, preprocessing

from ffstream._checks import check_int, check_positive
from ffstream.river._features import as_number

__all__ = ["PiecewiseLinearEncoder"]


class PiecewiseLinearEncoder(base.Transformer):
    """Online piecewise-linear encoding of numeric features, for FF nets on tabular streams.

    Each feature is standardised with a running mean and variance (river's
    ``preprocessing.StandardScaler``) and then written as ``bins`` values: the edges split
    ``[-span, span]`` evenly, and value ``k`` is how far the standardised feature has filled
    bin ``k`` (0 below it, 1 above it, linear inside), a thermometer code with linear steps.
    This is the piecewise-linear encoding of Gorishniy et al. (2022), with fixed edges because
    the values are already standardised.

    Why: threshold rules on single features ("age below 40 or from 60 on") are what decision
    trees express directly. On raw values a ReLU unit can only cut a feature once; on the
    encoded bins it can weigh any band of it, so a small FF net learns such rules from far
    fewer samples. ``ffstream bench drift`` compares :class:`FFClassifier` with and without the
    encoder (``ff-river-bins`` and ``ff-river``) beside river's adaptive trees on streams whose
    concepts are such rules (Agrawal); the results are on BENCHMARKS.md.

    Output names are ``"{feature}[{k}]"``. A feature that is ``None`` or absent produces no
    output, which :class:`FFClassifier` reads as missing. ``NaN``, infinite and non-numeric
    values raise ``ValueError`` naming the feature, before anything is learned.

    Parameters
    ----------
    bins
        Values per feature (at least 2).
    span
        The edges cover ``[-span, span]`` standard deviations; values beyond saturate.

    Examples
    --------
    >>> encoder = PiecewiseLinearEncoder(bins=4, span=2.0)
    >>> for age in (20.0, 40.0, 60.0):
    ...     encoder.learn_one({"age": age})
    >>> encoder.transform_one({"age": 50.0})  # 0.61 standard deviations above the mean
    {'age[0]': 1.0, 'age[1]': 1.0, 'age[2]': 0.6123..., 'age[3]': 0.0}

    In a pipeline with :class:`FFClassifier` on a drifting stream:

    >>> import itertools
    >>> from river import datasets, evaluate, metrics
    >>> from ffstream.river import FFClassifier
    >>> model = PiecewiseLinearEncoder(bins=24) | FFClassifier(
    ...     hidden=(64,), lr=0.2, label_strength=4.0, seed=0
    ... )
    >>> stream = itertools.islice(datasets.synth.Agrawal(classification_function=0, seed=0), 3000)
    >>> metric = evaluate.progressive_val_score(stream, model, metrics.Accuracy())
    >>> bool(metric.get() > 0.85)
    True
    """

    def __init__(self, bins: int = 16, span: float = 2.5):
        check_int(bins, "bins", low=2)
        check_positive(span, "span")
        self.bins = bins
        self.span = span
        edges = np.linspace(-span, span, bins + 1)
        self._low, self._width = edges[:-1], edges[1:] - edges[:-1]
        self._scaler = preprocessing.StandardScaler()
        self._names: dict[Hashable, list[str]] = {}

    @classmethod
    def _unit_test_params(cls):
        yield {"bins": 4}

    def _numbers(self, x: dict) -> dict:
        """The present features as floats; raises ``ValueError`` naming a bad one."""
        return {name: as_number(name, value) for name, value in x.items() if value is not None}

    def learn_one(self, x: dict) -> None:
        self._scaler.learn_one(self._numbers(x))

    def transform_one(self, x: dict) -> dict:
        out = {}
        for name, z in self._scaler.transform_one(self._numbers(x)).items():
            names = self._names.get(name)
            if names is None:
                names = self._names[name] = [f"{name}[{k}]" for k in range(self.bins)]
            filled = np.clip((z - self._low) / self._width, 0.0, 1.0)
            out.update(zip(names, filled.tolist()))
        return out
