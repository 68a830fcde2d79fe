"""Frames from any Python iterable."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence

import torch

from ._rows import DictOrder, to_frame
from ._targets import TargetEncoder, Task
from .base import Feed, Frame, OnError
from .class_index import ClassIndex

__all__ = ["IteratorFeed"]


class IteratorFeed(Feed):
    """Wrap an iterable of numbers, lists, numpy arrays, tensors or dicts as a feed.

    Each item is one frame. Dicts are read in a fixed feature order: ``features`` if given
    (other keys are then ignored), else the keys of the first dict (later dicts must have the same
    keys). With ``with_labels=True`` each item is an ``(x, y)`` pair and the feed yields
    ``(x, y)`` tensors; see :class:`ClassIndex` for how class labels become integers.

    A generator can be consumed once; wrap a list (or anything re-iterable) to replay a stream.

    Parameters
    ----------
    iterable
        The items.
    features
        Feature order for dict items.
    with_labels
        Items are ``(x, y)`` pairs.
    task
        ``"classification"``, ``"regression"`` or ``"auto"`` (float targets mean regression).
    classes
        A fixed list of class labels (``classes[i]`` maps to ``i``); otherwise the index grows.
    device, batch_size, on_error
        See :class:`Feed`.

    Attributes
    ----------
    feature_names
        The dict feature order once known, else ``None``.
    num_features
        The frame width, fixed by the first valid frame.
    class_index
        The :class:`ClassIndex` used for class labels.

    Examples
    --------
    >>> import numpy as np
    >>> items = [[1, 2], np.array([3.0, 4.0]), torch.tensor([5.0, float("nan")])]
    >>> feed = IteratorFeed(items, on_error="skip")
    >>> [x.tolist() for x in feed]
    [[1.0, 2.0], [3.0, 4.0]]
    >>> feed.skipped, str(feed.last_error)
    (1, 'item 3: column 1 is NaN or Inf')

    Dicts keep the first item's key order; labels go through a growing class index:

    >>> rows = [({"b": 2, "a": 1}, "cat"), ({"a": 3, "b": 4}, "dog")]
    >>> feed = IteratorFeed(rows, with_labels=True, batch_size=2)
    >>> x, y = next(iter(feed))
    >>> x, y, feed.feature_names
    (tensor([[2., 1.],
            [4., 3.]]), tensor([0, 1]), ['b', 'a'])
    """

    _item_name = "item"

    def __init__(
        self,
        iterable: Iterable,
        *,
        features: Sequence[Hashable] | None = None,
        with_labels: bool = False,
        task: Task = "auto",
        classes: Iterable[Hashable] | None = None,
        device: torch.device | str = "cpu",
        batch_size: int | None = None,
        on_error: OnError = "raise",
    ) -> None:
        super().__init__(device=device, batch_size=batch_size, on_error=on_error)
        self.iterable = iterable
        self.with_labels = with_labels
        self._order = DictOrder(features)
        self._targets = TargetEncoder(task, classes)
        self.num_features: int | None = None

    @property
    def feature_names(self) -> list[Hashable] | None:
        return self._order.names

    @property
    def class_index(self) -> ClassIndex:
        return self._targets.classes

    def _items(self) -> Iterable:
        return self.iterable

    def _frames(self) -> Iterator[Frame]:
        for n, item in enumerate(self._items(), start=1):
            try:
                frame = self._convert(item, f"{self._item_name} {n}")
            except ValueError as err:
                self._reject(err)
                continue
            yield frame

    def _convert(self, item, where: str) -> Frame:
        if self.with_labels:
            if not (isinstance(item, Sequence) and len(item) == 2):
                raise ValueError(f"{where}: expected an (x, y) pair, got {type(item).__name__}")
            x, y = item
        else:
            x, y = item, None
        names = None
        if isinstance(x, Mapping):
            x = self._order.values(x, where)
            names = self._order.names
        frame = to_frame(x, device=self.device, where=where, width=self.num_features, names=names)
        self.num_features = frame.numel()
        if not self.with_labels:
            return frame
        return frame, self._targets(y, device=self.device, where=where)
