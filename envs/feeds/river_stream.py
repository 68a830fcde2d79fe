"""Frames from river datasets and synthetic generators."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence

import torch

from ._targets import Task
from .base import OnError
from .iterator import IteratorFeed

__all__ = ["RiverFeed"]


class RiverFeed(IteratorFeed):
    """Turn a river dataset (any iterable of ``(dict x, y)``) into ``(x, y)`` tensor frames.

    Features follow ``features`` or the first sample's key order (a later sample with other keys
    is malformed). With ``task="auto"`` the dataset's own ``task`` attribute decides between
    classification and regression when it has one (``datasets.Phishing`` does; a
    ``synth.SEA(...).take(n)`` slice does not), else the first target's type does: a float means
    regression (passed through as float32), a bool, int or str means classification. Class
    labels go through a :class:`ClassIndex`: bools become 0/1, ints pass through, strings get
    indices in order of first appearance, unless ``classes`` fixes the order.

    Parameters
    ----------
    dataset
        A river dataset or generator, or any iterable of ``(dict, target)`` pairs.
    features
        Feature order; other keys are ignored.
    task
        ``"auto"``, ``"classification"`` or ``"regression"``.
    classes
        A fixed list of class labels (``classes[i]`` maps to ``i``).
    device, batch_size, on_error
        See :class:`Feed`.

    Examples
    --------
    >>> from river import datasets
    >>> feed = RiverFeed(datasets.Phishing())
    >>> x, y = next(iter(feed))
    >>> x.shape, x.dtype, y
    (torch.Size([9]), torch.float32, tensor(1))
    >>> feed.feature_names[:3]
    ['empty_server_form_handler', 'popup_window', 'https']

    Synthetic generators are infinite; take a slice and batch it:

    >>> from river.datasets import synth
    >>> x, y = next(iter(RiverFeed(synth.SEA(seed=1).take(100), batch_size=32)))
    >>> x.shape, y.dtype
    (torch.Size([32, 3]), torch.int64)
    """

    _item_name = "sample"

    def __init__(
        self,
        dataset: Iterable,
        *,
        features: Sequence[Hashable] | None = None,
        task: Task = "auto",
        classes: Iterable[Hashable] | None = None,
        device: torch.device | str = "cpu",
        batch_size: int | None = None,
        on_error: OnError = "raise",
    ) -> None:
        super().__init__(
            dataset,
            features=features,
            with_labels=True,
            task=_task_of(dataset) if task == "auto" and classes is None else task,
            classes=classes,
            device=device,
            batch_size=batch_size,
            on_error=on_error,
        )


def _task_of(dataset) -> Task:
    """Read river's ``dataset.task`` ("Binary classification", "Regression", ...) if present."""
    described = str(getattr(dataset, "task", "")).lower()
    if "multi-output" in described or "multi-label" in described:
        raise ValueError(f"RiverFeed handles one target per sample; {dataset!r} is {described}")
    if "regression" in described:
        return "regression"
    if "classification" in described:
        return "classification"
    return "auto"
