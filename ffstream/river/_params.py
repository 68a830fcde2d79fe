"""Hyper-parameter and label checks of the river estimators (internal).

river's estimators store their parameters in ``__init__``; ours check them there too, through
these helpers, so a bad value raises a ``ValueError`` naming the parameter before any state
exists, and again before the net is built (an attribute set by hand after construction).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from numbers import Integral, Real

import numpy as np

__all__ = ["check_hidden", "check_int", "check_label", "check_positive", "check_seed"]


def check_positive(name: str, value) -> None:
    """Refuse anything but a finite real number above 0.

    >>> check_positive("lr", float("inf"))
    Traceback (most recent call last):
    ...
    ValueError: lr must be a finite number above 0, got inf
    """
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 < value < math.inf:
        raise ValueError(f"{name} must be a finite number above 0, got {value!r}")


def check_int(name: str, value, low: int) -> None:
    """Refuse anything but an integer of at least ``low``.

    >>> check_int("memory", 0, 2)
    Traceback (most recent call last):
    ...
    ValueError: memory must be an integer of at least 2, got 0
    """
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        raise ValueError(f"{name} must be an integer of at least {low}, got {value!r}")


def check_hidden(hidden) -> None:
    """Refuse layer widths that are not a non-empty sequence of positive integers.

    >>> check_hidden((32, 0))
    Traceback (most recent call last):
    ...
    ValueError: hidden must be a non-empty tuple of positive integers, got (32, 0)
    """
    ok = isinstance(hidden, Sequence) and not isinstance(hidden, str) and len(hidden) > 0
    if not ok or any(isinstance(h, bool) or not isinstance(h, Integral) or h < 1 for h in hidden):
        raise ValueError(f"hidden must be a non-empty tuple of positive integers, got {hidden!r}")


def check_seed(seed) -> None:
    """Refuse a seed that is neither ``None`` nor a non-negative integer.

    >>> check_seed(-1)
    Traceback (most recent call last):
    ...
    ValueError: seed must be None or a non-negative integer, got -1
    """
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0):
        raise ValueError(f"seed must be None or a non-negative integer, got {seed!r}")


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
