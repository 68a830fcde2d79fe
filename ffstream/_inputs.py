"""Frames and labels coming in: read, checked and placed on the learner's device.

Bad input must raise a ``ValueError`` that names the problem *before* any state changes, so
callers can catch it and keep streaming. The hyper-parameter checks live in
:mod:`ffstream._checks`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from ffstream._device import from_host

__all__ = ["as_frames", "as_labels", "check_finite"]


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
