"""Class labels -> consecutive integer indices."""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable
from numbers import Integral, Real

__all__ = ["ClassIndex"]


class ClassIndex:
    """Map class labels (bool, int, str, ...) to the integer indices a learner expects.

    Without ``classes`` the index grows as labels arrive:

    * ``bool`` labels map to ``False -> 0``, ``True -> 1``;
    * non-negative integers (and strings such as ``"3"`` or floats such as ``3.0``) are already
      indices and pass through unchanged;
    * any other label (usually a string) gets the next free index, in order of first appearance.

    A stream may not mix named labels with integer ones, since a grown index would collide with
    them. With ``classes`` the index is fixed: label ``classes[i]`` maps to ``i`` and an unknown
    label raises ``ValueError``.

    Parameters
    ----------
    classes
        The known labels in index order, or ``None`` to grow the index.

    Examples
    --------
    >>> index = ClassIndex()
    >>> [index("cat"), index("dog"), index("cat")]
    [0, 1, 0]
    >>> index.mapping, index.num_classes
    ({'cat': 0, 'dog': 1}, 2)
    >>> ClassIndex()(True), ClassIndex()("7")
    (1, 7)
    >>> ClassIndex(["no", "yes"])("maybe")
    Traceback (most recent call last):
    ...
    ValueError: unknown class label 'maybe'; known: ['no', 'yes']
    """

    def __init__(self, classes: Iterable[Hashable] | None = None) -> None:
        self.fixed = classes is not None
        self.mapping: dict[Hashable, int] = {}
        if classes is not None:
            for label in classes:
                if label in self.mapping:
                    raise ValueError(f"duplicate class label {label!r}")
                self.mapping[label] = len(self.mapping)
        self._named: bool | None = None  # growing index: are labels names or integers?

    @property
    def num_classes(self) -> int:
        """How many classes the index knows (for integer labels: the largest seen plus one)."""
        return max(self.mapping.values(), default=-1) + 1

    def __call__(self, label: Hashable) -> int:
        if label is None or (isinstance(label, float) and math.isnan(label)):
            raise ValueError("missing class label")
        if self.fixed:
            return self._lookup(label)
        as_int = _as_index(label)
        named = as_int is None
        if self._named is not None and named != self._named:
            raise ValueError(
                f"class label {label!r} mixes named and integer labels; pass classes=[...]"
            )
        self._named = named
        if named:
            return self.mapping.setdefault(label, len(self.mapping))
        if as_int < 0:
            raise ValueError(f"class label {label!r} is negative")
        self.mapping.setdefault(as_int, as_int)
        return as_int

    def _lookup(self, label: Hashable) -> int:
        if label in self.mapping:
            return self.mapping[label]
        as_int = _as_index(label)  # "1" from a text file matches classes=[0, 1]
        if as_int is not None and as_int in self.mapping:
            return self.mapping[as_int]
        raise ValueError(f"unknown class label {label!r}; known: {list(self.mapping)}")


def _as_index(label: Hashable) -> int | None:
    """The integer a label already is, or ``None`` for a name."""
    if isinstance(label, Integral):  # bool included: False -> 0, True -> 1
        return int(label)
    if isinstance(label, str):
        try:
            label = float(label.strip())
        except ValueError:
            return None
    if isinstance(label, Real):
        if not math.isfinite(label) or label != int(label):
            raise ValueError(f"class label {label!r} is not a whole number; use task='regression'")
        return int(label)
    return None
