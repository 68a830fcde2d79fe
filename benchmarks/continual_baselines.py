"""The backprop baselines of the continual suites: naive, experience replay, and EWC.

All three are the same MLP (the suite's hidden widths, ReLU), trained online by SGD on
cross-entropy, one step per incoming batch:

- ``backprop``: naive fine-tuning;
- ``backprop-replay``: a reservoir buffer of ``memory`` frames; every incoming batch is trained
  on together with ``replay_batch`` frames drawn from the buffer (with ``replay_shift``, each
  replayed frame is shifted afresh, as FF's are in sleep);
- ``backprop-ewc``: elastic weight consolidation (Kirkpatrick et al. 2017). EWC is defined with
  task boundaries, so it alone is told them (the runner calls its ``end_task``); it stores no
  frames.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from benchmarks.continual_ff import replayed_shape
from ffstream.data import random_shift
from ffstream.stream.memory import ReservoirMemory

if TYPE_CHECKING:
    from benchmarks.continual_config import ContinualConfig

__all__ = ["BackpropMethod", "EWCMethod"]


class BackpropMethod:
    """Online backprop MLP (SGD, cross-entropy), naive or with reservoir experience replay.

    With ``cfg.replay_shift`` each replayed frame is shifted afresh, as FF's are in sleep.
    """

    def __init__(
        self,
        cfg: ContinualConfig,
        in_features: int,
        num_classes: int,
        seed: int,
        replay: bool,
        image_shape: tuple[int, int] | None = None,
        device: str | torch.device = "cpu",
    ):
        self.name = "backprop-replay" if replay else "backprop"
        torch.manual_seed(seed)
        sizes = (in_features, *cfg.hidden)
        layers: list[torch.nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        self.model = torch.nn.Sequential(*layers, torch.nn.Linear(sizes[-1], num_classes))
        self.model.to(device)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=cfg.bp_lr)
        self.buffer = ReservoirMemory(cfg.memory) if replay else None
        self.replay_batch = cfg.replay_batch
        self.replay_shift = cfg.replay_shift if replay else 0
        self.image_shape = replayed_shape(cfg, image_shape) if replay else None
        self.generator = torch.Generator().manual_seed(seed)

    def observe(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Predict the batch, then take one SGD step on it (and on replayed frames)."""
        logits = self.model(x)
        prediction = logits.detach().argmax(1)
        loss = F.cross_entropy(logits, y, reduction="sum")
        n = len(y)
        if self.buffer is not None and len(self.buffer):
            xr, yr = self.buffer.sample(self.replay_batch, self.generator)
            if self.replay_shift:
                images = xr.view(len(xr), *self.image_shape)
                xr = random_shift(images, self.replay_shift, self.generator).view_as(xr)
            loss = loss + F.cross_entropy(self.model(xr), yr, reduction="sum")
            n += len(yr)
        self.optimizer.zero_grad(set_to_none=True)
        (loss / n).backward()
        self._before_step(n)
        self.optimizer.step()
        if self.buffer is not None:
            self.buffer.add(x, y, self.generator)
        return prediction

    def _before_step(self, n: int) -> None:
        """Hook between the gradient of the loss (a mean over ``n`` frames) and the SGD step."""

    @torch.no_grad()
    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """The logits ``(N, num_classes)``."""
        return self.model(x)

    def stored_frames(self) -> int:
        """The most frames this method can hold: the replay buffer's capacity."""
        return 0 if self.buffer is None else self.buffer.capacity


class EWCMethod(BackpropMethod):
    """Online backprop with elastic weight consolidation, told where each task ends.

    While a task streams by, the diagonal empirical Fisher information of its loss is estimated
    from the gradients of the batches (squared batch gradient times batch size, the per-frame
    scale). At the end of the task it is added to the consolidated Fisher ``F`` and the weights
    become the anchor ``w*``; later updates pay ``ewc_lambda / 2 * sum(F * (w - w*)**2)``.
    Each weight's penalty coefficient ``ewc_lambda * F`` is capped at ``1 / lr``, so one SGD step
    of the penalty never carries a weight past its anchor (uncapped, large ``ewc_lambda``
    diverges).
    """

    def __init__(
        self,
        cfg: ContinualConfig,
        in_features: int,
        num_classes: int,
        seed: int,
        device: str | torch.device = "cpu",
    ):
        super().__init__(cfg, in_features, num_classes, seed, replay=False, device=device)
        self.name = "backprop-ewc"
        self.strength = cfg.ewc_lambda
        self.params = list(self.model.parameters())
        self.fisher = [torch.zeros_like(p) for p in self.params]
        self.task_fisher = [torch.zeros_like(p) for p in self.params]
        self.task_batches = 0
        self.max_coefficient = 1.0 / cfg.bp_lr
        self.coefficients: list[torch.Tensor] = []  # ewc_lambda * F, capped
        self.anchor: list[torch.Tensor] | None = None

    @torch.no_grad()
    def _before_step(self, n: int) -> None:
        """Accumulate this batch's Fisher estimate, then add the penalty's gradient."""
        for fisher, p in zip(self.task_fisher, self.params):
            fisher.add_(p.grad.square(), alpha=n)
        self.task_batches += 1
        if self.anchor is not None:
            for p, coefficient, anchor in zip(self.params, self.coefficients, self.anchor):
                p.grad.add_(coefficient * (p - anchor))

    @torch.no_grad()
    def end_task(self) -> None:
        """Consolidate the task just learned: add its Fisher, anchor the current weights."""
        if self.task_batches:
            for fisher, task in zip(self.fisher, self.task_fisher):
                fisher.add_(task / self.task_batches)
                task.zero_()
        self.task_batches = 0
        self.coefficients = [
            (self.strength * fisher).clamp_(max=self.max_coefficient) for fisher in self.fisher
        ]
        self.anchor = [p.detach().clone() for p in self.params]
