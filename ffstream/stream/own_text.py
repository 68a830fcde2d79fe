"""Dreams of a sequence learner: the model's own text (Hinton's Aesop experiment).

A :class:`~ffstream.stream.SequenceLearner` frame is a window of symbols: the one-hot context,
flattened, and the next symbol as its label. Its dreams are windows the model itself would
write, so sleep pushes down exactly the continuations the model currently believes in.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from ffstream._device import from_host
from ffstream.ff.negatives import hard_wrong_labels
from ffstream.stream.dreams import Batch, Dreams, DreamSource

__all__ = ["OwnTextDreams", "sample_symbols"]

_MODES = ("teacher_forced", "generated", "both")


def sample_symbols(
    scores: torch.Tensor, temperature: float, generator: torch.Generator
) -> torch.Tensor:
    """One symbol per row, drawn from ``softmax(scores / temperature)`` (0: the argmax).

    Examples
    --------
    >>> scores = torch.tensor([[0.0, 9.0, -9.0]])
    >>> sample_symbols(scores, 0.0, torch.Generator()).tolist()
    [1]
    """
    if temperature == 0:
        return scores.argmax(1)
    probs = torch.softmax(scores / temperature, dim=1)
    draws = from_host(torch.rand(probs.shape[0], 1, generator=generator), probs.device)
    # Inverse-CDF sampling with the learner's own (CPU) generator, on any device.
    return (probs.cumsum(1) < draws).sum(1).clamp_max(scores.shape[1] - 1)


class OwnTextDreams(Dreams):
    """Windows the model writes itself, as a sequence learner's negatives.

    Parameters
    ----------
    mode
        ``"teacher_forced"``: a remembered context with its next symbol replaced by one the
        model samples, never the true one (the hard negatives of Hinton's ffcode).
        ``"generated"``: windows the model rolls out ``steps`` symbols on from a remembered
        context, sampling its own predictions. ``"both"``: the two together.
    temperature
        Temperature of the softmax over goodness that the samples are drawn from (0: argmax).
    steps
        Symbols rolled out per remembered window by ``"generated"`` dreams.

    Examples
    --------
    >>> OwnTextDreams("both", temperature=0.5, steps=2)
    OwnTextDreams(mode='both', temperature=0.5, steps=2)
    """

    needs_labels = True

    def __init__(
        self,
        mode: Literal["teacher_forced", "generated", "both"] = "teacher_forced",
        temperature: float = 1.0,
        steps: int = 4,
    ):
        if mode not in _MODES:
            raise ValueError(f"dreams must be one of {', '.join(map(repr, _MODES))}, got {mode!r}")
        self.mode, self.temperature, self.steps = mode, temperature, steps

    def generate(self, source: DreamSource, x, y, scores=None) -> Batch:
        if y is None:
            raise ValueError("OwnTextDreams dreams of labelled windows (the next symbol)")
        parts = []
        if self.mode in ("teacher_forced", "both"):
            parts.append(self.teacher_forced(source, x, y, scores))
        if self.mode in ("generated", "both"):
            parts.append(self.generated(source, x, y))
        if len(parts) == 1:
            return parts[0]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])

    def teacher_forced(self, source: DreamSource, x, y, scores=None) -> Batch:
        """The contexts ``x`` with a next symbol the model samples, never the true ``y``."""
        scores = source.class_scores(x) if scores is None else scores
        if self.temperature == 0:
            wrong = scores.masked_fill(F.one_hot(y, scores.shape[1]).bool(), float("-inf"))
            return x, wrong.argmax(1)
        return x, hard_wrong_labels(scores / self.temperature, y, source.generator)

    def generated(self, source: DreamSource, x, y) -> Batch:
        """``steps`` windows per remembered window, each continuing the model's own text."""
        vocab = source.num_classes
        context = torch.cat([x[:, vocab:], F.one_hot(y, vocab).to(x)], dim=1)  # shift in y
        frames, labels = [], []
        for _ in range(self.steps):
            symbol = sample_symbols(
                source.class_scores(context), self.temperature, source.generator
            )
            frames.append(context)
            labels.append(symbol)
            context = torch.cat([context[:, vocab:], F.one_hot(symbol, vocab).to(x)], dim=1)
        return torch.cat(frames), torch.cat(labels)
