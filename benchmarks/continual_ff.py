"""The FF method of the continual suites: a :class:`~ffstream.stream.StreamLearner` under the
memory budget.

The learner is awake on every frame and asleep every ``sleep_every`` frames. Its memory counts
toward the budget as ``memory_capacity`` (long-term) plus ``recent_capacity`` (the frames since
the last sleep): ``recent = min(sleep_every, memory // 2)`` and ``long-term = memory - recent``.
The rest of its settings come from the suite's config (``--ff-*`` flags, see
:mod:`benchmarks.continual_config`).

Updates per incoming batch of ``b`` frames, averaged over a sleep cycle: one awake step of the
FF layers on the ``b`` frames (positives); a full sleep makes as many steps as there were awake
steps since the last one, so one sleep step of the layers on ``--ff-sleep-batch`` remembered
frames (positives) beside as many dreams (negatives); and, with ``--ff-readout asleep``, one
readout step on ``--ff-readout-batch`` long-term memories with each sleep step. The backprop
baselines' ``--bp-updates 2`` matches the two layer steps.

Where the evaluations fall in the sleep cycle: FF's readout is fixed between sleeps, but its
layers keep learning from the current task's frames, so accuracy on old tasks can be higher
right after a sleep than in the middle of an awake phase. Task lengths (2,000, 6,000, 60,000)
are multiples of the sleep period, so a schedule that starts with the stream would put every
row of the accuracy matrix right after a sleep. Each seed's schedule therefore starts at a
random phase (:func:`sleep_phase`, drawn from the seed): the :class:`~ffstream.stream.EveryN`
schedule is made as if ``phase`` frames had already passed since a sleep (through its public
``load_state_dict``), so the first sleep comes after ``period - phase`` frames (rounded up to a
whole batch) and every later one ``period`` frames after the last. The evaluation points (task
ends and the anytime points of :mod:`benchmarks.continual_protocol`) depend on the stream
alone, so they fall at a random place in the cycle, the same for every FF setting of a seed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from benchmarks._common import IMAGE_SUITE_LEARNER
from ffstream.stream import EveryN, StreamLearner

if TYPE_CHECKING:
    from benchmarks.continual_config import ContinualConfig
    from benchmarks.continual_heads import TaskHeads

__all__ = ["FFMethod", "replayed_shape", "sleep_phase"]

#: added to the seed of the phase's generator, so the phase is not the seed's first other draw
_PHASE_OFFSET = 40_000


def sleep_phase(seed: int, period: int) -> int:
    """Frames counted as already past since a sleep when the stream starts: uniform in
    ``[0, period)``, drawn from ``seed``.

    Examples
    --------
    >>> sleep_phase(0, 200) == sleep_phase(0, 200) and 0 <= sleep_phase(0, 200) < 200
    True
    """
    if period < 1:
        raise ValueError(f"period must be positive, got {period}")
    generator = torch.Generator().manual_seed(_PHASE_OFFSET + seed)
    return int(torch.randint(0, period, (1,), generator=generator))


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
    """The FF StreamLearner under the memory budget, its sleep schedule at a random phase (see
    the module notes). With ``heads`` (a multi-head scenario) its readout is a multi-head
    :class:`~ffstream.ff.LinearReadout`: one softmax per task (:mod:`benchmarks.continual_heads`).
    """

    name = "ff"

    def __init__(
        self,
        cfg: ContinualConfig,
        in_features: int,
        num_classes: int,
        seed: int,
        image_shape: tuple[int, int] | None = None,
        device: str | torch.device = "cpu",
        heads: TaskHeads | None = None,
    ):
        if heads is not None and cfg.ff_predict_with != "readout":
            raise ValueError(
                "a multi-head (task-incremental) scenario needs FF's readout, one head per task: "
                "use --ff-predict-with readout"
            )
        recent = min(cfg.sleep_every, cfg.memory // 2)
        extra = {**IMAGE_SUITE_LEARNER, "ema_decay": cfg.ema_decay}
        if cfg.ff_lr is not None:
            extra["lr"] = cfg.ff_lr
        self.frame_shape = replayed_shape(cfg, image_shape) or (in_features,)
        schedule = EveryN(recent)
        self.phase = sleep_phase(seed, recent)
        schedule.load_state_dict({"since": self.phase})
        self.learner = StreamLearner(
            self.frame_shape,
            num_classes,
            hidden=cfg.hidden,
            schedule=schedule,
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
            device=device,
            seed=seed,
            **extra,
        )
        self.heads = heads
        if heads is not None:  # the readout's rows of each task's classes: that task's head
            self.learner.readout.heads = heads.head_of.to(self.learner.device)

    def observe(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Predict the batch, then learn from it; returns the predictions (with heads: each
        over its task's head, an extra forward pass, as the learner's own is over every
        class)."""
        if self.heads is not None:
            prediction = self.heads.restrict(self.scores(x), y).argmax(1)
            self.learner.observe(x.view(len(x), *self.frame_shape), y)
            return prediction
        return self.learner.observe(x.view(len(x), *self.frame_shape), y).prediction

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores ``(N, num_classes)``; the argmax is the prediction."""
        return self.learner.class_scores(x)

    def stored_frames(self) -> int:
        """The most frames this method can hold: long-term plus recent capacity."""
        return self.learner.memory.capacity + self.learner.recent.capacity
