"""Hyper-parameter validation shared by every config and estimator.

One implementation of every check: each raises a ``ValueError`` that names the parameter and
says what it must be, before any state changes, and returns the value in its canonical Python
type. Frames and labels coming in are checked by :mod:`ffstream._inputs`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from numbers import Real
from typing import Any

import numpy as np

__all__ = [
    "check_bool",
    "check_choice",
    "check_ema_decay",
    "check_fallback_window",
    "check_float",
    "check_hidden",
    "check_int",
    "check_int_tuple",
    "check_non_negative",
    "check_pixel_shift",
    "check_positive",
    "check_seed",
    "check_share",
    "is_int",
]

_SAME = object()  # check_int_tuple's default "given": the values themselves


def is_int(value: Any) -> bool:
    """Whether ``value`` is an integer (Python, numpy, anything with ``__index__``), not a bool.

    >>> is_int(3), is_int(np.int64(3)), is_int(3.0), is_int(True)
    (True, True, False, False)
    """
    if isinstance(value, bool | np.bool_):
        return False
    try:
        operator.index(value)
    except TypeError:
        return False
    return True


def check_int(value: Any, name: str, *, low: int, what: str | None = None) -> int:
    """``value`` as an ``int`` of at least ``low``; else ``ValueError``: "``name`` must be
    ``what``" (default: "an integer of at least ``low``").

    >>> check_int(np.int64(3), "sleep_batch", low=1)
    3
    >>> check_int(0, "memory", low=2)
    Traceback (most recent call last):
    ...
    ValueError: memory must be an integer of at least 2, got 0
    >>> check_int(2.0, "num_classes", low=2, what="an int >= 2 or None")
    Traceback (most recent call last):
    ...
    ValueError: num_classes must be an int >= 2 or None, got 2.0
    """
    if not is_int(value) or operator.index(value) < low:
        raise ValueError(f"{name} must be {what or f'an integer of at least {low}'}, got {value!r}")
    return operator.index(value)


def check_int_tuple(
    values: Any,
    name: str,
    *,
    what: str = "a non-empty sequence of positive ints",
    given: Any = _SAME,
) -> tuple[int, ...]:
    """A non-empty sequence (or array) of positive integers as a tuple of ``int``.

    The error shows ``given``, the value as the caller had it before any normalisation
    (default: ``values``).

    >>> check_int_tuple([32, np.int64(16)], "hidden")
    (32, 16)
    >>> check_int_tuple((32, 0), "hidden")
    Traceback (most recent call last):
    ...
    ValueError: hidden must be a non-empty sequence of positive ints, got (32, 0)
    """
    given = values if given is _SAME else given
    if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
        raise ValueError(f"{name} must be {what}, got {given!r}")
    items = tuple(values)
    if not items or not all(is_int(v) and operator.index(v) >= 1 for v in items):
        raise ValueError(f"{name} must be {what}, got {given!r}")
    return tuple(operator.index(v) for v in items)


def check_float(value: Any, name: str, in_range: Callable[[float], bool], what: str) -> float:
    """``value`` as a finite ``float`` for which ``in_range`` holds; else ``ValueError``:
    "``name`` must be ``what``". Integers count as numbers, bools and strings do not.

    >>> check_float(1, "momentum", lambda v: 0 <= v < 1, "in [0, 1)")
    Traceback (most recent call last):
    ...
    ValueError: momentum must be in [0, 1), got 1
    """
    if isinstance(value, np.generic):  # np.float64(nan) reads as nan in the message
        value = value.item()
    ok = isinstance(value, Real) and not isinstance(value, bool)
    if ok:
        number = float(value)
        ok = math.isfinite(number) and bool(in_range(number))
    if not ok:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return number


def check_positive(value: Any, name: str) -> float:
    """``value`` as a finite ``float`` above 0.

    >>> check_positive(float("inf"), "lr")
    Traceback (most recent call last):
    ...
    ValueError: lr must be a finite number above 0, got inf
    """
    return check_float(value, name, lambda v: v > 0.0, "a finite number above 0")


def check_non_negative(value: Any, name: str) -> float:
    """``value`` as a finite ``float`` of at least 0.

    >>> check_non_negative(-0.5, "dream_noise")
    Traceback (most recent call last):
    ...
    ValueError: dream_noise must be a finite number >= 0, got -0.5
    """
    return check_float(value, name, lambda v: v >= 0.0, "a finite number >= 0")


def check_bool(value: Any, name: str) -> bool:
    """``value`` (a Python or numpy bool) as a ``bool``; 0 and 1 are not bools.

    >>> check_bool(1, "replay")
    Traceback (most recent call last):
    ...
    ValueError: replay must be a bool, got 1
    """
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def check_choice(value: Any, name: str, choices: Sequence[Any]) -> Any:
    """``value`` if it is one of ``choices``.

    >>> check_choice("max", "readout", ("mean", "last"))
    Traceback (most recent call last):
    ...
    ValueError: readout must be one of 'mean', 'last', got 'max'
    """
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {listed}, got {value!r}")
    return value


def check_hidden(hidden: Any, name: str = "hidden") -> tuple[int, ...]:
    """Layer widths: a non-empty sequence of positive integers, as a tuple.

    >>> check_hidden((32, 0))
    Traceback (most recent call last):
    ...
    ValueError: hidden must be a non-empty tuple of positive integers, got (32, 0)
    """
    return check_int_tuple(hidden, name, what="a non-empty tuple of positive integers")


def check_seed(seed: Any, name: str = "seed") -> int | None:
    """``None`` or an integer seed in ``[0, 2**64)`` (what ``torch.Generator`` takes), as an
    ``int``.

    >>> check_seed(-1)
    Traceback (most recent call last):
    ...
    ValueError: seed must be an int in [0, 2**64) or None, got -1
    """
    if seed is None:
        return None
    what = "an int in [0, 2**64) or None"
    value = check_int(seed, name, low=0, what=what)
    if value >= 2**64:
        raise ValueError(f"{name} must be {what}, got {seed!r}")
    return value


def check_fallback_window(window: Any, name: str = "ema_fallback_window") -> int | None:
    """``window`` as an int of at least 1, or ``None``; else ``ValueError`` naming ``name``.

    >>> check_fallback_window(None), check_fallback_window(500)
    (None, 500)
    >>> check_fallback_window(0)
    Traceback (most recent call last):
    ...
    ValueError: ema_fallback_window must be an int >= 1 or None, got 0
    """
    if window is None:
        return None
    return check_int(window, name, low=1, what="an int >= 1 or None")


def check_ema_decay(ema_decay: Any, name: str = "ema_decay") -> float | None:
    """A weight-average decay in ``[0, 1)``, or ``None`` (no average).

    >>> check_ema_decay(1.0)
    Traceback (most recent call last):
    ...
    ValueError: ema_decay must be None or in [0, 1), got 1.0
    """
    if ema_decay is None:
        return None
    return check_float(ema_decay, name, lambda v: 0.0 <= v < 1.0, "None or in [0, 1)")


def check_pixel_shift(shift: Any, name: str) -> int:
    """A shift of a whole, non-negative number of pixels, as an ``int``.

    >>> check_pixel_shift(1.5, "max_shift")
    Traceback (most recent call last):
    ...
    ValueError: max_shift must be a non-negative int of pixels, got 1.5
    """
    return check_int(shift, name, low=0, what="a non-negative int of pixels")


def check_share(share: Any, name: str) -> float:
    """A share (a fraction of a whole) in ``[0, 1]``, as a ``float``.

    >>> check_share(1.5, "long_term_share")
    Traceback (most recent call last):
    ...
    ValueError: long_term_share must be in [0, 1], got 1.5
    """
    return check_float(share, name, lambda v: 0.0 <= v <= 1.0, "in [0, 1]")
