"""Observation: what a stream learner reports of each frame it observes."""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["Observation"]


@dataclass(frozen=True)
class Observation:
    """What the learner saw, for each frame of an observed batch.

    Attributes
    ----------
    goodness
        Per-layer goodness, shape ``(batch, num_layers)``, before learning from the frame.
    novelty
        ``-log p(real)`` summed over layers (higher = more unfamiliar), shape ``(batch,)``.
    prediction
        Predicted class before learning from the frame (prequential), or None without classes.
        With ``ema_decay`` it is the weight average's prediction. A learner that standardises
        moves its running statistics with the frame first (no label is involved), as a river
        pipeline's scaler does.
    slept
        Whether a sleep phase ran after this batch.
    """

    goodness: torch.Tensor
    novelty: torch.Tensor
    prediction: torch.Tensor | None
    slept: bool
