"""Frames from lines of numbers on standard input (or any text stream)."""

from __future__ import annotations

import re
import sys
from collections.abc import Hashable, Iterable, Iterator, Sequence
from typing import TextIO

import torch

from ._targets import Task
from ._text import TextFeed
from .base import OnError

__all__ = ["StdinFeed"]

# A comma (with any spaces around it) or a run of whitespace. "1,,2" keeps its empty field, so
# the gap is reported instead of silently closing up.
_SEPARATOR = re.compile(r"\s*,\s*|\s+")


class StdinFeed(TextFeed):
    """Read one frame per line of comma- or whitespace-separated numbers.

    Blank lines and lines starting with ``#`` are ignored. The first data line fixes how many
    values a line has; a line with another count, an empty field, a non-number, NaN or Inf
    raises ``ValueError`` naming the line number (or is skipped and counted with
    ``on_error="skip"``). Lines are read as they arrive, so this works on a live pipe.

    Parameters
    ----------
    stream
        The text stream to read; default :data:`sys.stdin` (looked up when iteration starts).
    target
        Index of the label field (negative counts from the end), or ``None`` for no labels.
    columns
        Feature field indices in the order wanted; default: every field but the target.
    task, classes
        See :class:`CSVFeed`.
    device, batch_size, on_error
        See :class:`Feed`.

    Examples
    --------
    >>> import io
    >>> lines = io.StringIO("# x1 x2 y\\n0.5, 1 0\\n\\n2 3 1\\n")
    >>> [(x.tolist(), y.item()) for x, y in StdinFeed(lines, target=-1)]
    [([0.5, 1.0], 0), ([2.0, 3.0], 1)]
    >>> list(StdinFeed(io.StringIO("1 2\\n3 nan\\n")))
    Traceback (most recent call last):
    ...
    ValueError: <stdin>, line 2: column 1 is NaN or Inf
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        target: int | None = None,
        columns: Sequence[int] | None = None,
        *,
        task: Task = "classification",
        classes: Iterable[Hashable] | None = None,
        device: torch.device | str = "cpu",
        batch_size: int | None = None,
        on_error: OnError = "raise",
    ) -> None:
        super().__init__(
            target=target,
            columns=columns,
            task=task,
            classes=classes,
            device=device,
            batch_size=batch_size,
            on_error=on_error,
        )
        self.stream = stream

    def _rows(self) -> Iterator[tuple[str, list[str]]]:
        stream = sys.stdin if self.stream is None else self.stream
        for number, line in enumerate(stream, start=1):
            text = line.strip()
            if text and not text.startswith("#"):
                yield f"<stdin>, line {number}", _SEPARATOR.split(text)

    def _source_name(self) -> str:
        return "<stdin>"
