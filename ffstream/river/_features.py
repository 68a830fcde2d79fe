"""River's feature dicts as standardised vectors, and the checks of samples and labels (internal).

Columns are assigned to feature names as they first appear (several new names at once are sorted,
so the column order never depends on a dict's key order). Values are standardised online; a
feature missing from a sample (absent or ``None``) standardises to 0, the running mean.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping

import numpy as np
import torch

from ffstream.river._engine import RunningStandardizer
from ffstream.stream.standardizer import InputStandardizer

__all__ = [
    "MODES",
    "SLEEP_EVERY",
    "FeatureColumns",
    "as_number",
    "check_features",
    "check_label",
    "check_mode",
]

#: how a river front end schedules its negatives (see FFClassifier and FFAnomalyDetector)
MODES = ("interleaved", "awake-sleep")

#: samples between sleeps in mode "awake-sleep" (the core's ``EveryN`` schedule)
SLEEP_EVERY = 32


def _sort_key(name: Hashable) -> tuple[str, str]:
    return type(name).__name__, str(name)


def as_number(name: Hashable, value) -> float:
    """``value`` of feature ``name`` as a finite float, or ``ValueError`` naming the feature.

    >>> as_number("n", 10**400)
    Traceback (most recent call last):
    ...
    ValueError: feature 'n' is an integer too large for a float (1329 bits); rescale it
    """
    try:
        number = float(value)
    except OverflowError:
        bits = f" ({value.bit_length()} bits)" if isinstance(value, int) else ""
        raise ValueError(
            f"feature {name!r} is an integer too large for a float{bits}; rescale it"
        ) from None
    except (TypeError, ValueError):
        raise ValueError(
            f"feature {name!r} has non-numeric value {value!r} of type "
            f"{type(value).__name__}; encode it first (e.g. preprocessing.OneHotEncoder)"
        ) from None
    if not math.isfinite(number):
        raise ValueError(
            f"feature {name!r} is {number}; features must be finite numbers (use None for missing)"
        )
    return number


def check_features(x) -> None:
    """Refuse a sample that is not a dict of features (river's samples are dicts).

    >>> check_features([1.0, 2.0])
    Traceback (most recent call last):
    ...
    TypeError: a sample must be a dict of feature name -> value, got list
    """
    if type(x) is not dict and not isinstance(x, Mapping):
        raise TypeError(f"a sample must be a dict of feature name -> value, got {type(x).__name__}")


def check_mode(mode) -> None:
    """Refuse a ``mode`` that is not one of :data:`MODES`, naming the parameter.

    Examples
    --------
    >>> check_mode("awake-sleep")
    >>> check_mode("asleep")
    Traceback (most recent call last):
    ...
    ValueError: mode must be one of interleaved, awake-sleep, got 'asleep'
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")


def check_label(y) -> None:
    """Refuse a missing label (``None`` or NaN), which would otherwise become a class of its own.

    >>> check_label(float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: the label is nan: a missing label cannot be learned from (skip the sample)
    """
    missing = y is None or (isinstance(y, (float, np.floating)) and math.isnan(y))
    if missing:
        raise ValueError(
            f"the label is {y!r}: a missing label cannot be learned from (skip the sample)"
        )
    if not isinstance(y, Hashable):
        raise TypeError(f"the label must be hashable (it names a class), got {type(y).__name__}")


class FeatureColumns:
    """Feature names -> columns, standardised by the library's one running standardiser
    (:class:`~ffstream.stream.standardizer.InputStandardizer`, whose features may be missing
    from a sample or join late, each with its own young phase).

    Examples
    --------
    >>> cols = FeatureColumns()
    >>> v, present, new = cols.read({"b": 2.0, "a": 1.0})
    >>> new
    ['a', 'b']
    >>> cols.add(new)
    >>> cols.read({"a": 1.0, "b": 2.0})[0].tolist()
    [1.0, 2.0]
    >>> cols.read({"a": float("nan"), "b": 2.0})
    Traceback (most recent call last):
    ...
    ValueError: feature 'a' is nan; features must be finite numbers (use None for missing)
    """

    def __init__(self):
        self.names: list[Hashable] = []
        self.index: dict[Hashable, int] = {}
        self.scaler = InputStandardizer(0)

    def __setstate__(self, state: dict) -> None:
        scaler = state["scaler"]
        if isinstance(scaler, RunningStandardizer):  # a model pickled by ffstream 0.1
            state["scaler"] = _from_running_moments(scaler.state)
        self.__dict__.update(state)

    def __len__(self) -> int:
        return len(self.names)

    def read(self, x: dict) -> tuple[np.ndarray, np.ndarray | None, list[Hashable]]:
        """Values of the known columns, the mask of present ones (None: all), and new names.

        Raises ``ValueError`` naming the feature for NaN, infinite, non-numeric or too large
        values, and ``TypeError`` for a sample that is not a dict, before any state changes.
        Changes nothing itself.
        """
        check_features(x)
        names = self.names
        if len(x) == len(names):  # the common case: the same features as always
            try:
                v = np.array([x[k] for k in names], dtype=np.float64)
            except (KeyError, TypeError, ValueError, OverflowError):
                pass
            else:
                if math.isfinite(v.sum()) or bool(np.isfinite(v).all()):
                    return v, None, []
        return self._read_slow(x)

    def _read_slow(self, x: dict):
        v = np.zeros(len(self.names))
        present = np.zeros(len(self.names), dtype=bool)
        new = []
        for name, value in x.items():
            if value is None:
                continue
            number = as_number(name, value)
            i = self.index.get(name)
            if i is None:
                new.append(name)
            else:
                v[i] = number
                present[i] = True
        return v, (None if present.all() else present), sorted(new, key=_sort_key)

    def add(self, names: list[Hashable]) -> None:
        """Give ``names`` the next columns."""
        for name in names:
            self.index[name] = len(self.names)
            self.names.append(name)
        self.scaler.grow(len(names))


def _from_running_moments(old: dict) -> InputStandardizer:
    """The standardiser of a model pickled by ffstream 0.1 (``RunningStandardizer``: a mean,
    a variance or sum of squares, and a count per feature) as an :class:`InputStandardizer`."""
    count = np.asarray(old["count"], dtype=np.float64)
    var = old["var"] if "var" in old else old["m2"] / np.maximum(count, 1.0)
    scaler = InputStandardizer(len(count))
    for name, values in (("shift", old["mean"]), ("var", var), ("seen", count)):
        getattr(scaler, name).copy_(torch.as_tensor(np.asarray(values, dtype=np.float32)))
    scaler.count = int(count.max(initial=0))
    return scaler
