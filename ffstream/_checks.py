"""Input and hyper-parameter validation shared by every public entry point.

Bad input must raise a ``ValueError`` that names the problem *before* any state changes, so
callers can catch it and keep streaming. The hyper-parameter checks (``check_*``) are the single
implementation behind every config and estimator: each names the parameter, says what it must
be, and returns the value in its canonical Python type.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from numbers import Real
from typing import Any

import numpy as np
import torch

from ffstream._device import from_host

__all__ = [
    "as_frames",
    "as_labels",
    "check_bool",
    "check_choice",
    "check_ema_decay",
    "check_fallback_window",
    "check_finite",
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


def as_frames(
    x,
    feature_shape: Sequence[int],
    *,
    device: torch.device | str,
    dtype: torch.dtype = torch.float32,
    name: str = "x",
) -> torch.Tensor:
    """Turn one frame or a batch into a float tensor of shape ``(batch, *feature_shape)``.

    Accepts torch tensors (any device), numpy arrays and nested lists of floats. A single frame
    (shape ``feature_shape``) becomes a batch of one.

    Raises
    ------
    ValueError
        For non-floating dtypes, NaN or Inf entries, frames whose sum of squares overflows the
        dtype (their RMS normalisation would turn them into zeros), an empty batch, or a shape
        that matches neither one frame nor a batch of frames.

    Examples
    --------
    >>> as_frames([0.5, 1.0, 2.0], (3,), device="cpu").shape
    torch.Size([1, 3])
    >>> as_frames([[float("nan"), 0.0, 0.0]], (3,), device="cpu")
    Traceback (most recent call last):
    ...
    ValueError: x contains NaN or Inf (1 non-finite entries); nothing was learned from it
    >>> as_frames([[3e19, 0.0, 0.0]], (3,), device="cpu")
    Traceback (most recent call last):
    ...
    ValueError: x has 1 frame(s) too large to normalise: the sum of squares overflows ...
    """
    feature_shape = tuple(int(s) for s in feature_shape)
    t = _to_tensor(x, name)
    if not (t.is_floating_point()):
        raise ValueError(
            f"{name} has dtype {t.dtype}; expected a floating-point tensor "
            "(scale integer data yourself, e.g. pixels / 255)"
        )
    if tuple(t.shape) == feature_shape:
        t = t.unsqueeze(0)
    elif tuple(t.shape[1:]) != feature_shape:
        raise ValueError(
            f"{name} has shape {tuple(t.shape)}; expected {feature_shape} for one frame "
            f"or (batch, {', '.join(map(str, feature_shape))}) for a batch"
        )
    if t.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch")
    if t.dtype != dtype:
        t = t.to(dtype=dtype)
    # Checked where the frames are, then moved: frames that come from the host never make a
    # GPU learner wait for its device. NaN and Inf survive a sum of squares: one reduction on
    # the common, clean path. The sum can also overflow on finite data, so only the full
    # checks below decide.
    flat = t.reshape(-1)
    if math.isfinite(torch.dot(flat, flat)):
        return _moved(t, device)
    bad = int((~torch.isfinite(t)).sum())
    if bad:
        raise ValueError(
            f"{name} contains NaN or Inf ({bad} non-finite entries); nothing was learned from it"
        )
    # Each frame is divided by its root-mean-square: a sum of squares past the largest float
    # makes that inf and the frame all zeros. Refuse such frames rather than learn zeros.
    squares = t.reshape(t.shape[0], -1).square().sum(1)
    overflow = ~torch.isfinite(squares)
    if bool(overflow.any()):
        largest = float(t.reshape(t.shape[0], -1)[overflow].abs().max())
        raise ValueError(
            f"{name} has {int(overflow.sum())} frame(s) too large to normalise: the sum of "
            f"squares overflows {t.dtype} (largest |value| {largest:.3g}); rescale the input. "
            "Nothing was learned from it"
        )
    return _moved(t, device)


def _moved(t: torch.Tensor, device) -> torch.Tensor:
    """Checked frames on the learner's device; a pinned tensor is copied blocking, since its
    owner may refill it for the next frame (a sensor loop's buffer) before a copy would run."""
    if t.device == torch.device(device):
        return t
    return t.to(device) if t.is_pinned() else from_host(t, torch.device(device))


def check_finite(x: torch.Tensor, name: str) -> None:
    """``ValueError`` if the tensor ``x`` holds NaN or Inf (one reduction and one read when clean).

    >>> check_finite(torch.tensor([1.0, float("inf")]), "reward")
    Traceback (most recent call last):
    ...
    ValueError: reward holds 1 NaN or Inf entries; nothing was learned from it
    """
    if not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name} holds {bad} NaN or Inf entries; nothing was learned from it")


def as_labels(y, batch_size: int, num_classes: int, *, device, name: str = "y") -> torch.Tensor:
    """Turn a label or a batch of labels into a ``long`` tensor of shape ``(batch_size,)``.

    Examples
    --------
    >>> as_labels(3, 1, 10, device="cpu")
    tensor([3])
    >>> as_labels([1, 12], 2, 10, device="cpu")
    Traceback (most recent call last):
    ...
    ValueError: y has labels outside [0, 10): [12]
    """
    t = _to_tensor(y, name)
    if t.is_floating_point():
        if not bool((t == t.round()).all()):
            raise ValueError(f"{name} holds non-integer labels")
        t = t.long()
    elif t.dtype == torch.bool or t.is_complex():
        raise ValueError(f"{name} has dtype {t.dtype}; expected integer class labels")
    t = t.reshape(-1)
    if t.dtype != torch.long:
        t = t.long()
    if t.numel() == 1 and batch_size > 1:
        t = t.expand(batch_size)
    if t.numel() != batch_size:
        raise ValueError(f"{name} has {t.numel()} labels for a batch of {batch_size} frames")
    # A few CPU labels are cheapest checked as Python ints; larger batches in one reduction.
    if t.device.type == "cpu" and t.numel() <= 64:
        values = t.tolist()
        low, high = min(values), max(values)
    else:
        low, high = (int(v) for v in torch.aminmax(t))
    if low < 0 or high >= num_classes:
        bad = t[(t < 0) | (t >= num_classes)]
        raise ValueError(f"{name} has labels outside [0, {num_classes}): {bad.unique().tolist()}")
    return _moved(t, device)


# ---------------------------------------------------------------------------- hyper-parameters
# One implementation of every hyper-parameter check: each raises a ValueError that names the
# parameter and says what it must be, and returns the value in its canonical Python type.


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


def _to_tensor(x, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach() if x.requires_grad else x
    try:
        array = np.asarray(x)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{name} could not be read as an array: {err}") from None
    if array.dtype == object:
        raise ValueError(f"{name} is ragged or holds non-numbers; expected a rectangular array")
    if array.dtype.kind in "US":
        raise ValueError(f"{name} holds strings; expected numbers")
    return torch.from_numpy(np.ascontiguousarray(array))
