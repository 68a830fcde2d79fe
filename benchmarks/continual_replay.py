"""The replaying backprop baselines of the continual suites: ER, ER-ACE, DER++ and GDumb.

Each is the MLP of :class:`~benchmarks.continual_baselines.MLPMethod` (same widths, SGD step,
``--bp-updates`` steps per incoming batch, weight average) with a
:class:`~ffstream.stream.ClassBalancedMemory` of ``--memory`` frames (an equal share per class
seen, reservoir sampling within a class), the memory FF's long-term store uses. Every frame drawn
from it is shifted afresh by up to ``--replay-shift`` pixels, as FF's are in sleep. Incoming
batches are offered to the memory after their steps. None of them is told task boundaries but
GDumb, whose retraining happens at each task end.

Per SGD step (``b`` = ``--batch-size``, ``r`` = ``--replay-batch``; in a multi-head scenario
each frame's cross-entropy is over its task's head, :mod:`benchmarks.continual_heads`):

- ``er``: experience replay; cross-entropy over the ``b`` incoming frames and ``r`` replayed
  frames together (``b + r`` frames, one mean);
- ``er-ace``: ER with the asymmetric cross-entropy of Caccia et al. 2022 (as in Avalanche): the
  incoming frames' loss counts only the logits of the classes present in the incoming batch,
  the ``r`` replayed frames' loss every logit, and the step minimises the mean of the two
  (``b + r`` frames; plain cross-entropy while the memory is empty);
- ``der++``: dark experience replay++ (Buzzega et al. 2020): cross-entropy on the incoming
  frames, plus ``--der-alpha`` times the squared error between the logits of ``r`` replayed
  frames and the logits stored with them, plus ``--der-beta`` times the cross-entropy of another
  ``r`` replayed frames (``b + 2r`` frames, two independent draws, as in the paper). The logits
  stored with a frame are the network's before its batch's first step;
- ``gdumb``: GDumb (Prabhu et al. 2020): learns nothing while the stream runs, only fills its
  class-balanced memory; at each task end it retrains the network from its initial weights on
  the memory alone, in shuffled epochs of ``b + r`` frames per step, for as many steps as the
  other baselines made during that task (``--bp-updates`` per incoming batch) or for
  ``--gdumb-epochs`` epochs when given. It predicts with the logits of the classes in its memory
  at the last retraining only, so it never predicts a class before the end of the task that
  brings it: its prequential accuracy on a class-incremental stream is about 0, and its anytime
  points inside a task score that task at 0.
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from benchmarks.continual_baselines import MLPMethod
from benchmarks.continual_ff import replayed_shape
from ffstream.data import random_shift
from ffstream.ff._fast import fused_optimizer
from ffstream.stream import ClassBalancedMemory

if TYPE_CHECKING:
    from benchmarks.continual_config import ContinualConfig

__all__ = ["DERPlusPlusMethod", "ERACEMethod", "ERMethod", "GDumbMethod", "ReplayMethod"]


class ReplayMethod(MLPMethod):
    """An MLP baseline with a class-balanced memory it replays from (shifted, if asked).

    Examples
    --------
    >>> from benchmarks.continual_config import ContinualConfig
    >>> cfg = ContinualConfig(hidden=(8,), memory=20, replay_batch=4)
    >>> method = ERMethod(cfg, 4, 2, seed=0)
    >>> _ = method.observe(torch.rand(10, 4), torch.arange(10) % 2)
    >>> len(method.memory), method.stored_frames(), method.replayed()[0].shape
    (10, 20, torch.Size([4, 4]))
    """

    def __init__(self, cfg: ContinualConfig, *args, **kwargs):
        """Arguments as :class:`~benchmarks.continual_baselines.MLPMethod`'s."""
        super().__init__(cfg, *args, **kwargs)
        self.image_shape = replayed_shape(cfg, self.frames_shape)
        self.replay_shift = cfg.replay_shift
        self.replay_batch = cfg.replay_batch
        self.memory = ClassBalancedMemory(cfg.memory)

    def shifted(self, x: torch.Tensor) -> torch.Tensor:
        """Flat frames as replayed: each moved afresh by up to ``replay_shift`` pixels."""
        if not self.replay_shift:
            return x
        images = x.view(len(x), *self.image_shape)
        return random_shift(images, self.replay_shift, self.generator).view_as(x)

    def replayed(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``replay_batch`` remembered frames (shifted) and labels; ``None`` while empty."""
        if len(self.memory) == 0:
            return None
        x, y = self.memory.sample(self.replay_batch, self.generator)
        return self.shifted(x), y

    def remember(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Offer the batch to the class-balanced memory."""
        self.memory.add(x, y, self.generator)

    def stored_frames(self) -> int:
        """The most frames this method can hold: its memory's capacity."""
        return self.memory.capacity


class ERMethod(ReplayMethod):
    """Experience replay: the incoming and replayed frames in one cross-entropy (see module)."""

    name = "er"

    def loss(self, x, y, step):
        replay = self.replayed()
        if replay is not None:
            x, y = torch.cat([x, replay[0]]), torch.cat([y, replay[1]])
        return F.cross_entropy(self.logits(x, y), y), len(y)


class ERACEMethod(ReplayMethod):
    """ER with the asymmetric cross-entropy of ER-ACE (see module)."""

    name = "er-ace"

    def loss(self, x, y, step):
        replay = self.replayed()
        logits = self.logits(x, y)
        if replay is None:
            return F.cross_entropy(logits, y), len(y)
        present = y.unique()  # sorted: a label's place among them is its searchsorted index
        incoming = F.cross_entropy(logits[:, present], torch.searchsorted(present, y))
        replayed = F.cross_entropy(self.logits(*replay), replay[1])
        return (incoming + replayed) / 2, len(y) + len(replay[1])


class DERPlusPlusMethod(ReplayMethod):
    """DER++: replayed logits matched, replayed labels learned (see module).

    The memory stores each frame with its logits, side by side in one row, so the one
    class-balanced memory keeps both; they are split apart when sampled.
    """

    name = "der++"

    def __init__(self, cfg: ContinualConfig, in_features: int, num_classes: int, *args, **kw):
        super().__init__(cfg, in_features, num_classes, *args, **kw)
        self.in_features = in_features
        self.alpha, self.beta = cfg.der_alpha, cfg.der_beta
        self._logits: torch.Tensor | None = None  # of the incoming batch, before its steps

    def _draw(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rows, y = self.memory.sample(self.replay_batch, self.generator)
        x, z = rows[:, : self.in_features], rows[:, self.in_features :]
        return self.shifted(x), z, y

    def _matched(self, x: torch.Tensor, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The squared error between the logits of replayed ``x`` and their stored ``z``: over
        every logit, or with heads over the frame's head only."""
        out = self.model(x)
        if self.heads is None:
            return F.mse_loss(out, z)
        keep = self.heads.allowed(y)
        return F.mse_loss(out[keep], z[keep])

    def replayed(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``replay_batch`` remembered frames (shifted, without their logits) and labels."""
        if len(self.memory) == 0:
            return None
        x, _, y = self._draw()
        return x, y

    def loss(self, x, y, step):
        logits = self.model(x)
        if step == 0:
            self._logits = logits.detach()  # every logit: the heads are read when matched
        if self.heads is not None:
            logits = self.heads.restrict(logits, y)
        loss, frames = F.cross_entropy(logits, y), len(y)
        if len(self.memory):
            x1, z1, y1 = self._draw()
            x2, _, y2 = self._draw()
            loss = loss + self.alpha * self._matched(x1, z1, y1)
            loss = loss + self.beta * F.cross_entropy(self.logits(x2, y2), y2)
            frames += len(x1) + len(x2)
        return loss, frames

    def remember(self, x, y):
        self.memory.add(torch.cat([x, self._logits], dim=1), y, self.generator)


class GDumbMethod(ReplayMethod):
    """GDumb: fill a class-balanced memory, retrain from scratch on it at each task end."""

    name = "gdumb"

    def __init__(self, cfg: ContinualConfig, *args, **kw):
        super().__init__(cfg, *args, **kw)
        self.epochs = cfg.gdumb_epochs
        self.step_frames = cfg.batch_size + cfg.replay_batch
        self.initial = copy.deepcopy(self.model.state_dict())
        self.budget = 0  # steps the other baselines made since the last retraining
        self.retrain_steps: list[int] = []  # steps of each retraining, for the record
        self._known: torch.Tensor | None = None  # classes in memory at the last retraining

    def observe(self, x, y):
        """Predict the batch and remember it; no step until the task ends."""
        prediction = self.predict(x, y)
        self.remember(x, y)
        self.budget += self.updates
        return prediction

    def end_task(self) -> None:
        """Retrain from the initial weights on the memory (see the module notes)."""
        size = len(self.memory)
        if size == 0:
            return
        if self.epochs is None:
            steps = self.budget
        else:
            steps = math.ceil(self.epochs * size / self.step_frames)
        self.model.load_state_dict(self.initial)
        self.optimizer = fused_optimizer(torch.optim.SGD, self.model.parameters(), lr=self.lr)
        self.averaged = self._new_average()
        frames, labels = self.memory.frames[:size], self.memory.labels[:size]
        order = torch.empty(0, dtype=torch.long)
        for _ in range(steps):
            if len(order) < self.step_frames:  # a new epoch: a fresh shuffle of the memory
                order = torch.cat([order, torch.randperm(size, generator=self.generator)])
            take, order = order[: self.step_frames], order[self.step_frames :]
            take = take.to(frames.device)
            x, y = self.shifted(frames[take]), labels[take]
            self.step(lambda x=x, y=y: (F.cross_entropy(self.logits(x, y), y), len(y)))
        self.retrain_steps.append(steps)
        self.budget = 0
        self._known = labels.unique()

    @torch.no_grad()
    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, those of classes absent from the memory at the last retraining at -inf."""
        logits = self.predictor()(x)
        if self._known is not None:
            mask = torch.full_like(logits[0], -math.inf)
            mask[self._known] = 0.0
            logits = logits + mask
        return logits
