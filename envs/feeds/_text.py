"""Shared machinery for feeds that read rows of text fields (CSV files, stdin)."""

from __future__ import annotations

import abc
from collections.abc import Hashable, Iterable, Iterator, Sequence

import torch

from ._rows import to_frame
from ._targets import TargetEncoder, Task
from .base import Feed, Frame, OnError
from .class_index import ClassIndex

__all__ = ["TextFeed"]

Column = int | str


class TextFeed(Feed):
    """Turn rows of string fields into frames; subclasses say where the rows come from.

    The first row (or the header) fixes the layout: how many fields a row has, which one is the
    target and which are features. Every later row must match it.
    """

    def __init__(
        self,
        *,
        target: Column | None,
        columns: Sequence[Column] | None,
        task: Task,
        classes: Iterable[Hashable] | None,
        device: torch.device | str,
        batch_size: int | None,
        on_error: OnError,
    ) -> None:
        super().__init__(device=device, batch_size=batch_size, on_error=on_error)
        self.target = target
        self.columns = None if columns is None else list(columns)
        self._targets = TargetEncoder(task, classes)
        self.feature_names: list[Hashable] | None = None

    @property
    def class_index(self) -> ClassIndex:
        return self._targets.classes

    @property
    def num_features(self) -> int | None:
        """The frame width, known once the header or first row has been read."""
        return None if self.feature_names is None else len(self.feature_names)

    @abc.abstractmethod
    def _rows(self) -> Iterator[tuple[str, list[str]]]:
        """Yield ``(where, fields)`` for each data row; call :meth:`_set_layout` first."""

    def _frames(self) -> Iterator[Frame]:
        self._layout: tuple[int, int | None, list[int]] | None = None
        for where, fields in self._rows():
            if self._layout is None:
                self._set_layout(len(fields), None)
            try:
                frame = self._convert(fields, where)
            except ValueError as err:
                self._reject(err)
                continue
            yield frame

    def _set_layout(self, width: int, header: list[str] | None) -> None:
        """Resolve ``target`` and ``columns`` (names need a header) into field positions.

        A bad column here is a configuration mistake, so it raises even when skipping rows.
        """
        position = _Positions(width, header, self._source_name())
        target = None if self.target is None else position(self.target)
        if self.columns is None:
            features = [i for i in range(width) if i != target]
        else:
            features = [position(c) for c in self.columns]
        if target in features:
            raise ValueError(f"{self._source_name()}: the target column is also a feature")
        if not features:
            raise ValueError(f"{self._source_name()}: no feature columns")
        self.feature_names = [header[i] if header else i for i in features]
        self._layout = (width, target, features)

    def _convert(self, fields: list[str], where: str) -> Frame:
        width, target, features = self._layout
        if len(fields) != width:
            raise ValueError(f"{where}: expected {width} fields, got {len(fields)}")
        x = to_frame(
            [fields[i] for i in features], device=self.device, where=where, names=self.feature_names
        )
        if target is None:
            return x
        return x, self._targets(fields[target], device=self.device, where=where)

    def _source_name(self) -> str:
        return type(self).__name__


class _Positions:
    """Column name or (possibly negative) index -> field position."""

    def __init__(self, width: int, header: list[str] | None, source: str) -> None:
        self.width, self.header, self.source = width, header, source

    def __call__(self, column: Column) -> int:
        if isinstance(column, str):
            if self.header is None:
                raise ValueError(f"{self.source}: column {column!r} named, but there is no header")
            if self.header.count(column) != 1:
                found = "is ambiguous in" if column in self.header else "is not in"
                raise ValueError(f"{self.source}: column {column!r} {found} header {self.header}")
            return self.header.index(column)
        try:
            return range(self.width)[column]
        except (IndexError, TypeError):
            raise ValueError(
                f"{self.source}: column {column!r} is out of range for {self.width} fields"
            ) from None
