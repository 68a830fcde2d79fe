"""The FF method of the continual suites: a :class:`~ffstream.stream.StreamLearner` under the
memory budget.

The learner is awake on every frame and asleep every ``sleep_every`` frames. Its memory counts
toward the budget as ``memory_capacity`` (long-term) plus ``recent_capacity`` (the frames since
the last sleep): ``recent = min(sleep_every, memory // 2)`` and ``long-term = memory - recent``.
The rest of its settings come from the suite's config (``--ff-*`` flags, see
:mod:`benchmarks.continual_config`).

Caveat when reading FF numbers: FF's readout is fixed between sleeps, but its layers keep
learning from the current task's frames, so accuracy on old tasks can be higher right after a
sleep than in the middle of an awake phase. With the quick configuration (2,000 frames per
task, a multiple of ``sleep_every``) every row of the accuracy matrix is measured right after a
sleep, which favours FF; with the full one (task lengths such as 12,665 frames) rows fall
anywhere in the cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from benchmarks._common import IMAGE_SUITE_LEARNER
from ffstream.stream import EveryN, StreamLearner

if TYPE_CHECKING:
    from benchmarks.continual_config import ContinualConfig

__all__ = ["FFMethod", "replayed_shape"]


def replayed_shape(
    cfg: ContinualConfig, image_shape: tuple[int, int] | None
) -> tuple[int, int] | None:
    """The image shape replayed frames are shifted in, or ``None`` without ``replay_shift``."""
    if not cfg.replay_shift:
        return None
    if image_shape is None:
        raise ValueError(
            "replay_shift needs image frames, and this scenario's frames have no pixel layout "
            "(Permuted-MNIST scatters them); use --replay-shift 0"
        )
    return tuple(image_shape)


class FFMethod:
    """The FF StreamLearner under the memory budget (see the module notes for the count)."""

    name = "ff"

    def __init__(
        self,
        cfg: ContinualConfig,
        in_features: int,
        num_classes: int,
        seed: int,
        image_shape: tuple[int, int] | None = None,
        device: str | torch.device = "cpu",
    ):
        recent = min(cfg.sleep_every, cfg.memory // 2)
        extra = {**IMAGE_SUITE_LEARNER, **({} if cfg.ff_lr is None else {"lr": cfg.ff_lr})}
        self.frame_shape = replayed_shape(cfg, image_shape) or (in_features,)
        self.learner = StreamLearner(
            self.frame_shape,
            num_classes,
            hidden=cfg.hidden,
            schedule=EveryN(recent),
            memory_capacity=cfg.memory - recent,
            recent_capacity=recent,
            readout_learns=cfg.ff_readout,
            predict_with=cfg.ff_predict_with,
            goodness_layers=cfg.ff_goodness_layers,
            readout_batch=cfg.ff_readout_batch if cfg.ff_readout == "asleep" else None,
            balanced_memory=cfg.ff_memory == "balanced",
            sleep_batch=cfg.ff_sleep_batch,
            long_term_share=cfg.ff_long_term_share,
            replay_shift=cfg.replay_shift,
            ema_decay=cfg.ff_ema_decay,
            device=device,
            seed=seed,
            **extra,
        )

    def observe(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Predict the batch, then learn from it; returns the predictions."""
        return self.learner.observe(x.view(len(x), *self.frame_shape), y).prediction

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores ``(N, num_classes)``; the argmax is the prediction."""
        return self.learner.class_scores(x)

    def stored_frames(self) -> int:
        """The most frames this method can hold: long-term plus recent capacity."""
        return self.learner.memory.capacity + self.learner.recent.capacity
