"""Frames from polling a callable (a sensor read) at a fixed rate."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import Any

import torch

from ._targets import Task
from .base import Frame, OnError
from .iterator import IteratorFeed

__all__ = ["PolledFeed"]


class PolledFeed(IteratorFeed):
    """Call ``source()`` ``rate_hz`` times a second and yield what it returns as frames.

    ``source`` may return anything :class:`IteratorFeed` accepts as an item (a number, list, array,
    tensor or dict; an ``(x, y)`` pair with ``with_labels=True``). The feed sleeps between polls to
    keep the rate; if the consumer falls more than one period behind, the missed polls are
    dropped rather than fired back to back. ``clock`` and ``sleep`` can be replaced, so tests run
    without really waiting.

    Parameters
    ----------
    source
        Returns one reading per call.
    rate_hz
        Polls per second.
    max_frames
        Stop after this many frames (skipped readings do not count), or ``None`` for never.
    clock
        Seconds, monotonic (default :func:`time.monotonic`).
    sleep
        Waits the given seconds (default :func:`time.sleep`).
    features, with_labels, task, classes
        See :class:`IteratorFeed`.
    device, batch_size, on_error
        See :class:`Feed`.

    Examples
    --------
    A fake clock that advances only when the feed sleeps:

    >>> now = [0.0]
    >>> feed = PolledFeed(lambda: [now[0]], rate_hz=10, max_frames=3,
    ...                   clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    >>> [round(x.item(), 6) for x in feed]
    [0.0, 0.1, 0.2]
    """

    _item_name = "poll"

    def __init__(
        self,
        source: Callable[[], Any],
        rate_hz: float,
        max_frames: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = time.sleep,
        features: Sequence[Hashable] | None = None,
        with_labels: bool = False,
        task: Task = "auto",
        classes: Iterable[Hashable] | None = None,
        device: torch.device | str = "cpu",
        batch_size: int | None = None,
        on_error: OnError = "raise",
    ) -> None:
        if not rate_hz > 0:
            raise ValueError(f"rate_hz must be positive, not {rate_hz!r}")
        if max_frames is not None and max_frames < 0:
            raise ValueError(f"max_frames must be >= 0 or None, not {max_frames!r}")
        super().__init__(
            (),
            features=features,
            with_labels=with_labels,
            task=task,
            classes=classes,
            device=device,
            batch_size=batch_size,
            on_error=on_error,
        )
        self.source = source
        self.rate_hz = float(rate_hz)
        self.max_frames = max_frames
        self._clock = clock
        self._sleep = sleep

    def _frames(self) -> Iterator[Frame]:
        # islice stops without asking for one more reading once max_frames have come through.
        return itertools.islice(super()._frames(), self.max_frames)

    def _items(self) -> Iterator[Any]:
        period = 1.0 / self.rate_hz
        due = self._clock()
        while True:
            wait = due - self._clock()
            if wait > 0:
                self._sleep(wait)
            yield self.source()
            due += period
            # Small lateness is absorbed by the schedule, keeping the average rate; a long stall
            # restarts the schedule so we do not burst through the missed polls.
            now = self._clock()
            if now - due > period:
                due = now
