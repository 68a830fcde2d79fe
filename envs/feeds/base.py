"""The feed contract: an iterable of float32 frames on a device."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from typing import Literal, TypeAlias

import torch

__all__ = ["Feed", "Frame", "OnError"]

OnError = Literal["raise", "skip"]
#: A frame ``x``, or an ``(x, y)`` pair when the feed has labels.
Frame: TypeAlias = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class Feed(abc.ABC):
    """Base class of the sensor feeds: a passive source whose frames go to ``learner.observe``.

    Iterating a feed yields float32 tensors of shape ``(num_features,)`` on ``device`` or, with
    ``batch_size``, tensors of shape ``(batch, num_features)`` (the last batch may be shorter).
    Feeds with labels yield ``(x, y)`` pairs: ``y`` is a ``long`` class index or a float32
    regression value, of shape ``()`` or ``(batch,)``.

    Rows are read one at a time, so memory stays bounded however long the stream. A malformed row
    raises ``ValueError`` naming where it came from; with ``on_error="skip"`` it is dropped
    instead, counted in :attr:`skipped` and kept in :attr:`last_error`. A NaN never comes through.

    Parameters
    ----------
    device
        Where the frames are placed.
    batch_size
        Stack this many frames per yield, or ``None`` for one frame at a time.
    on_error
        ``"raise"`` (default) or ``"skip"`` malformed rows.
    """

    def __init__(
        self,
        *,
        device: torch.device | str = "cpu",
        batch_size: int | None = None,
        on_error: OnError = "raise",
    ) -> None:
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be a positive int or None, not {batch_size!r}")
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.on_error: OnError = on_error
        self.skipped = 0
        self.last_error: ValueError | None = None

    def __iter__(self) -> Iterator[Frame]:
        # Counters describe the current pass over the stream.
        self.skipped = 0
        self.last_error = None
        frames = self._frames()
        return frames if self.batch_size is None else _batched(frames, self.batch_size)

    @abc.abstractmethod
    def _frames(self) -> Iterator[Frame]:
        """Yield validated frames (or ``(x, y)`` pairs) one at a time."""

    def _reject(self, error: ValueError) -> None:
        """Raise ``error``, or count it and carry on when skipping."""
        if self.on_error == "raise":
            raise error
        self.skipped += 1
        self.last_error = error


def _batched(frames: Iterator[Frame], size: int) -> Iterator[Frame]:
    """Stack consecutive frames (and labels) into batches of ``size``; the last may be short."""
    pending: list[Frame] = []
    for frame in frames:
        pending.append(frame)
        if len(pending) == size:
            yield _stack(pending)
            pending = []
    if pending:
        yield _stack(pending)


def _stack(frames: list[Frame]) -> Frame:
    if isinstance(frames[0], tuple):
        xs, ys = zip(*frames, strict=True)
        return torch.stack(xs), torch.stack(ys)
    return torch.stack(frames)
