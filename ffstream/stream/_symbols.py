"""Checks of symbol input for :class:`~ffstream.stream.SequenceLearner`."""

from __future__ import annotations

import operator
from collections.abc import Iterable

import torch

__all__ = ["as_symbols", "is_single"]


def is_single(symbols) -> bool:
    """One symbol (a scalar), rather than a sequence of them."""
    if isinstance(symbols, torch.Tensor):
        return symbols.dim() == 0
    return not isinstance(symbols, Iterable)


def as_symbols(symbols, vocab_size: int, name: str = "symbol") -> list[int]:
    """Validate one symbol or a sequence of symbols; ``ValueError`` names the problem."""
    if isinstance(symbols, (str, bytes)):
        raise ValueError(f"{name} must be int symbol ids, got {type(symbols).__name__}")
    items = [symbols] if is_single(symbols) else list(symbols)
    out = []
    for s in items:
        # operator.index accepts ints (and numpy/torch integer scalars) but not floats; bools
        # are ints in Python, yet a bool symbol is almost certainly a caller's mistake.
        if isinstance(s, bool):
            raise ValueError(f"{name} must be an int, got bool {s!r}")
        try:
            value = operator.index(s)
        except TypeError:
            raise ValueError(f"{name} must be an int, got {type(s).__name__} {s!r}") from None
        if not 0 <= value < vocab_size:
            raise ValueError(f"{name} {value} is outside the vocabulary [0, {vocab_size})")
        out.append(value)
    return out
