"""One row of values -> one validated float32 frame.

Every feed funnels its raw values through :func:`to_frame`, so the rules for what counts as a
valid frame (finite numbers, one dimension, a fixed width) live in exactly one place.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from numbers import Real

import numpy as np
import torch

__all__ = ["DictOrder", "to_frame"]


def to_frame(
    values,
    *,
    device: torch.device | str = "cpu",
    where: str = "frame",
    width: int | None = None,
    names: Sequence[Hashable] | None = None,
) -> torch.Tensor:
    """Validate one row of values and return it as a float32 tensor of shape ``(num_features,)``.

    Parameters
    ----------
    values
        A number, a sequence of numbers or numeric strings, a 1-D numpy array or a 1-D tensor.
    device
        Where the frame should live.
    where
        Where the row came from (``"data.csv, row 4"``); every error message starts with it.
    width
        The number of features expected, or ``None`` to accept any width.
    names
        Feature names, used only to say which column is bad.

    Raises
    ------
    ValueError
        For empty rows or values, non-numbers, NaN or Inf (also after rounding to float32), a
        shape that is not one row, or a row of the wrong width.

    Examples
    --------
    >>> to_frame(["1.5", " 2", 3])
    tensor([1.5000, 2.0000, 3.0000])
    >>> to_frame([1.0, float("nan")], where="data.csv, row 3", names=["a", "b"])
    Traceback (most recent call last):
    ...
    ValueError: data.csv, row 3: column 'b' is NaN or Inf
    """
    if isinstance(values, torch.Tensor | np.ndarray):
        frame = _array_frame(values, where)
    elif isinstance(values, str | bytes) or not isinstance(values, Sequence):
        frame = _list_frame([values], where, names)  # a single reading
    else:
        frame = _list_frame(values, where, names)
    if frame.numel() == 0:
        raise ValueError(f"{where}: empty row")
    if width is not None and frame.numel() != width:
        raise ValueError(f"{where}: expected {width} values, got {frame.numel()}")
    # Check after the cast: 1e39 is a fine float64 but Inf in float32.
    finite = torch.isfinite(frame)
    if not bool(finite.all()):
        column = int((~finite).nonzero()[0, 0])
        raise ValueError(f"{where}: {_column(column, names)} is NaN or Inf")
    return frame.to(device)


def _array_frame(values: torch.Tensor | np.ndarray, where: str) -> torch.Tensor:
    if isinstance(values, np.ndarray):
        if values.dtype.kind not in "biuf":
            raise ValueError(f"{where}: array of dtype {values.dtype}; expected numbers")
        values = torch.from_numpy(np.ascontiguousarray(values))
    if values.is_complex():
        raise ValueError(f"{where}: complex values; expected real numbers")
    if values.dim() > 1:
        raise ValueError(
            f"{where}: shape {tuple(values.shape)}; expected one row (flatten it first)"
        )
    # Copy: sensor drivers often refill one buffer, which must not rewrite frames already sent.
    return values.detach().reshape(-1).to(dtype=torch.float32, copy=True)


def _list_frame(values: Sequence, where: str, names: Sequence[Hashable] | None) -> torch.Tensor:
    floats = [_to_float(v, where, i, names) for i, v in enumerate(values)]
    return torch.tensor(floats, dtype=torch.float32)


def _to_float(value, where: str, column: int, names: Sequence[Hashable] | None) -> float:
    if isinstance(value, Real):  # bool, int, float and numpy scalars
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError(f"{where}: {_column(column, names)} is empty")
        try:
            return float(text)
        except ValueError:
            pass
    kind = "missing" if value is None else f"not a number: {value!r}"
    raise ValueError(f"{where}: {_column(column, names)} is {kind}")


def _column(index: int, names: Sequence[Hashable] | None) -> str:
    if names is not None and index < len(names):
        return f"column {names[index]!r}"
    return f"column {index}"


class DictOrder:
    """A fixed feature order for dict frames.

    Given ``names``, each dict is read in that order and other keys are ignored (a selection).
    Otherwise the first dict fixes the order and every later dict must have exactly its keys, so a
    feature that appears or vanishes mid-stream is an error rather than a silent shift.

    Examples
    --------
    >>> order = DictOrder()
    >>> order.values({"b": 2.0, "a": 1.0}, "item 1")
    [2.0, 1.0]
    >>> order.names
    ['b', 'a']
    >>> order.values({"a": 1.0}, "item 2")
    Traceback (most recent call last):
    ...
    ValueError: item 2: missing feature(s) ['b']
    """

    def __init__(self, names: Sequence[Hashable] | None = None) -> None:
        self.names: list[Hashable] | None = None if names is None else list(names)
        self._strict = names is None

    def values(self, item: Mapping, where: str) -> list:
        if self.names is None:
            self.names = list(item)
        missing = [k for k in self.names if k not in item]
        if missing:
            raise ValueError(f"{where}: missing feature(s) {missing}")
        if self._strict and len(item) != len(self.names):
            extra = [k for k in item if k not in set(self.names)]
            raise ValueError(f"{where}: unexpected feature(s) {extra}")
        return [item[k] for k in self.names]
