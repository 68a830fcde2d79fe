"""Frames streamed from a CSV file, one row at a time."""

from __future__ import annotations

import csv
import os
from collections.abc import Hashable, Iterable, Iterator, Sequence

import torch

from ._targets import Task
from ._text import Column, TextFeed
from .base import OnError

__all__ = ["CSVFeed"]


class CSVFeed(TextFeed):
    """Stream a CSV file row by row with the :mod:`csv` module; the file is never loaded whole.

    Every row must have as many fields as the header (or the first row, without a header), and
    each selected field must be a finite number. Anything else (a short or long row, an empty row
    or field, ``abc``, ``nan``, ``inf``) raises ``ValueError`` naming the file and the row, where
    rows are counted like lines in an editor (the header is row 1). With ``on_error="skip"`` such
    rows are dropped and counted in ``skipped``.

    Parameters
    ----------
    path
        The CSV file. Each pass over the feed reopens it, so a feed can be iterated again.
    target
        The label column (name, or index counted from 0; negative counts from the end), or
        ``None`` for unlabelled frames.
    columns
        Feature columns in the order wanted; default: every column but the target.
    header
        Whether the first row holds column names.
    delimiter
        The field separator.
    task
        ``"classification"`` (default: integer-looking labels pass through, names get a growing
        :class:`ClassIndex`) or ``"regression"`` (the target is a float).
    classes
        A fixed list of class labels (``classes[i]`` maps to ``i``).
    encoding
        The file's encoding; the default also drops a byte-order mark.
    device, batch_size, on_error
        See :class:`Feed`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "readings.csv"
    >>> _ = path.write_text("a,b,label\\n1,2,ok\\n3,x,ok\\n5,6,bad\\n")
    >>> feed = CSVFeed(path, target="label", on_error="skip")
    >>> [(x.tolist(), y.item()) for x, y in feed]
    [([1.0, 2.0], 0), ([5.0, 6.0], 1)]
    >>> feed.skipped, feed.class_index.mapping
    (1, {'ok': 0, 'bad': 1})
    >>> list(CSVFeed(path, target="label"))
    Traceback (most recent call last):
    ...
    ValueError: ...readings.csv, row 3: column 'b' is not a number: 'x'
    """

    def __init__(
        self,
        path: str | os.PathLike,
        target: Column | None = None,
        columns: Sequence[Column] | None = None,
        *,
        header: bool = True,
        delimiter: str = ",",
        task: Task = "classification",
        classes: Iterable[Hashable] | None = None,
        encoding: str = "utf-8-sig",
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
        self.path = os.fspath(path)
        self.header = header
        self.delimiter = delimiter
        self.encoding = encoding

    def _source_name(self) -> str:
        return self.path

    def _rows(self) -> Iterator[tuple[str, list[str]]]:
        with open(self.path, newline="", encoding=self.encoding) as file:
            reader = csv.reader(file, delimiter=self.delimiter)
            if self.header:
                names = next(reader, None)
                if names is None:
                    raise ValueError(f"{self.path}: empty file; expected a header row")
                self._set_layout(len(names), [name.strip() for name in names])
            for fields in reader:
                # line_num, not a row counter: quoted fields may span several lines.
                yield f"{self.path}, row {reader.line_num}", fields
