"""Input validation shared by every public entry point.

Bad input must raise a ``ValueError`` that names the problem *before* any state changes, so
callers can catch it and keep streaming.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["as_frames", "as_labels", "check_ema_decay", "check_pixel_shift", "check_share"]


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
    if t.dtype != dtype or t.device != torch.device(device):
        t = t.to(device=device, dtype=dtype)
    # NaN and Inf survive a sum of squares: one reduction and one sync on the common, clean
    # path. The sum can also overflow on finite data, so only the full checks below decide.
    flat = t.reshape(-1)
    if math.isfinite(torch.dot(flat, flat)):
        return t
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
    return t


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
    return t if t.device == torch.device(device) else t.to(device)


def check_ema_decay(ema_decay: float | None) -> None:
    """Refuse a weight-average decay outside ``[0, 1)`` (``None``, no average, is fine).

    >>> check_ema_decay(1.0)
    Traceback (most recent call last):
    ...
    ValueError: ema_decay must be None or in [0, 1), got 1.0
    """
    if ema_decay is not None and not 0.0 <= ema_decay < 1.0:  # NaN fails both comparisons
        raise ValueError(f"ema_decay must be None or in [0, 1), got {ema_decay!r}")


def check_pixel_shift(shift, name: str) -> None:
    """Refuse a shift that is not a whole, non-negative number of pixels.

    >>> check_pixel_shift(1.5, "max_shift")
    Traceback (most recent call last):
    ...
    ValueError: max_shift must be a non-negative int of pixels, got 1.5
    """
    if isinstance(shift, bool) or not isinstance(shift, int) or shift < 0:
        raise ValueError(f"{name} must be a non-negative int of pixels, got {shift!r}")


def check_share(share: float, name: str) -> None:
    """Refuse a share (a fraction of a whole) outside ``[0, 1]``.

    >>> check_share(1.5, "long_term_share")
    Traceback (most recent call last):
    ...
    ValueError: long_term_share must be in [0, 1], got 1.5
    """
    if not 0.0 <= share <= 1.0:  # NaN fails both comparisons
        raise ValueError(f"{name} must be in [0, 1], got {share!r}")


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
