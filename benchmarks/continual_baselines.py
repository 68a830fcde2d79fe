"""The backprop baselines of the continual suites that store no frames (naive, EWC) and the
machinery every backprop baseline shares (:class:`MLPMethod`).

Every backprop baseline is the same MLP (the suite's hidden widths, ReLU), trained online by SGD on
cross-entropy, with its own step size chosen on the validation split
(:data:`~benchmarks.continual_config.BP_LR`) unless ``--bp-lr`` gives one for all. Per incoming
batch of ``batch_size`` frames it first predicts the batch (the prequential answer), then makes
``--bp-updates`` SGD steps (2 by default: FF makes one awake step on the batch and, on average, one
sleep step per batch), then (the replaying methods of :mod:`benchmarks.continual_replay`) offers the
batch to its memory. With ``--ema-decay`` it predicts and is scored with an exponential moving
average of its weights, moved after every SGD step as FF's is after every awake and sleep step.
Its SGD runs torch's fused kernel, as FF's layers' optimizer does (the same arithmetic; on a
small net the per-tensor loop would cost more than the step itself).

In a multi-head scenario (:mod:`benchmarks.continual_heads`) the output layer's rows are grouped
into one head per task, and every loss of a frame is over its own head (:meth:`MLPMethod.logits`).

- ``naive``: fine-tuning; each step sees the ``batch_size`` incoming frames;
- ``ewc``: elastic weight consolidation (Kirkpatrick et al. 2017); each step sees the incoming
  frames. EWC is defined with task boundaries, so it is told them (the runner calls its
  ``end_task``); it stores no frames.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from benchmarks.continual_config import ContinualConfig
from benchmarks.continual_heads import TaskHeads
from ffstream.ff._fast import fused_optimizer

__all__ = ["EWCMethod", "MLPMethod", "mlp"]


def mlp(in_features: int, hidden: tuple[int, ...], num_classes: int) -> torch.nn.Sequential:
    """Linear and ReLU layers of widths ``hidden``, then a linear head of ``num_classes``.

    Examples
    --------
    >>> mlp(4, (8, 8), 3)(torch.zeros(2, 4)).shape
    torch.Size([2, 3])
    """
    sizes = (in_features, *hidden)
    layers: list[torch.nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers, torch.nn.Linear(sizes[-1], num_classes))


class MLPMethod:
    """Online backprop MLP, naive fine-tuning; the base of every backprop baseline.

    Subclasses change :meth:`loss` (what one step minimises, on :meth:`logits`), :meth:`remember`
    (what is kept of a batch) and :meth:`_before_step` (a hook on the gradients before each
    step). With ``heads`` (multi-head, task-incremental) each frame's loss spans its task's head.

    Examples
    --------
    >>> from benchmarks.continual_config import ContinualConfig
    >>> method = MLPMethod(ContinualConfig(hidden=(8,), ema_decay=None), 4, 3, seed=0)
    >>> method.observe(torch.rand(10, 4), torch.arange(10) % 3).shape
    torch.Size([10])
    >>> method.steps  # --bp-updates steps per incoming batch
    2
    """

    name = "naive"

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
        torch.manual_seed(seed)
        self.num_classes = num_classes
        self.frames_shape = image_shape  # the scenario's, for the methods that shift frames
        self.model = mlp(in_features, cfg.hidden, num_classes).to(device)
        self.heads = heads
        self.lr = cfg.method_lr(self.name)
        self.optimizer = fused_optimizer(torch.optim.SGD, self.model.parameters(), lr=self.lr)
        self.updates = cfg.bp_updates
        self.ema_decay = cfg.ema_decay
        self.averaged = self._new_average()
        self.generator = torch.Generator().manual_seed(seed)
        self.steps = 0  # SGD steps made so far

    def _new_average(self) -> AveragedModel | None:
        if self.ema_decay is None:
            return None
        return AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(self.ema_decay))

    def observe(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Predict the batch, make ``bp_updates`` SGD steps, remember it; the predictions."""
        prediction = self.predict(x, y)
        for step in range(self.updates):
            self.step(lambda step=step: self.loss(x, y, step))
        self.remember(x, y)
        return prediction

    def predict(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The prequential prediction of a batch before learning from it: the argmax over every
        class, or with heads over the head of each frame's task (known, not its label)."""
        scores = self.scores(x)
        return (scores if self.heads is None else self.heads.restrict(scores, y)).argmax(1)

    def step(self, loss_fn) -> None:
        """One SGD step on ``loss_fn()`` (a mean over the frames it saw), then the average."""
        self.optimizer.zero_grad(set_to_none=True)
        loss, frames = loss_fn()
        loss.backward()
        self._before_step(frames)
        self.optimizer.step()
        self.steps += 1
        if self.averaged is not None:
            self.averaged.update_parameters(self.model)

    def logits(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The learning network's logits of frames ``x`` labelled ``y``, for a loss: with heads,
        the classes outside each frame's head at ``-inf`` (a softmax over its head alone)."""
        logits = self.model(x)
        return logits if self.heads is None else self.heads.restrict(logits, y)

    def loss(self, x: torch.Tensor, y: torch.Tensor, step: int) -> tuple[torch.Tensor, int]:
        """The loss of SGD step ``step`` on incoming batch ``(x, y)``, and the frames it saw."""
        return F.cross_entropy(self.logits(x, y), y), len(y)

    def remember(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Keep what the method keeps of a batch after its steps (nothing here)."""

    def _before_step(self, frames: int) -> None:
        """Hook between the gradient of the loss (a mean over ``frames``) and the SGD step."""

    def predictor(self) -> torch.nn.Module:
        """The network that predicts and is scored: the weight average, if kept."""
        return self.model if self.averaged is None else self.averaged.module

    @torch.no_grad()
    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """The logits ``(N, num_classes)`` of the predicting network."""
        return self.predictor()(x)

    def stored_frames(self) -> int:
        """The most frames this method can hold."""
        return 0

    def settings(self) -> dict[str, float]:
        """The settings resolved from the suite's tables (recorded: a record's config says
        'none' for them)."""
        return {"lr": self.lr}


class EWCMethod(MLPMethod):
    """Online backprop with elastic weight consolidation, told where each task ends.

    While a task streams by, the diagonal empirical Fisher information of its loss is estimated
    from the gradients of its steps (squared batch gradient times batch size, the per-frame
    scale). At the end of the task it is added to the consolidated Fisher ``F`` and the weights
    become the anchor ``w*``; later updates pay ``ewc_lambda / 2 * sum(F * (w - w*)**2)``.
    Each weight's penalty coefficient ``ewc_lambda * F`` is capped at ``1 / lr``, so one SGD step
    of the penalty never carries a weight past its anchor (uncapped, large ``ewc_lambda``
    diverges).
    """

    name = "ewc"

    def __init__(self, cfg: ContinualConfig, *args, **kwargs):
        """Arguments as :class:`MLPMethod`'s."""
        super().__init__(cfg, *args, **kwargs)
        self.strength = cfg.ewc_strength()
        self.params = list(self.model.parameters())
        self.fisher = [torch.zeros_like(p) for p in self.params]
        self.task_fisher = [torch.zeros_like(p) for p in self.params]
        self.task_steps = 0
        self.max_coefficient = 1.0 / self.lr
        self.coefficients: list[torch.Tensor] = []  # ewc_lambda * F, capped
        self.anchor: list[torch.Tensor] | None = None

    def settings(self) -> dict[str, float]:
        return {**super().settings(), "ewc_lambda": self.strength}

    @torch.no_grad()
    def _before_step(self, frames: int) -> None:
        """Accumulate this step's Fisher estimate, then add the penalty's gradient."""
        for fisher, p in zip(self.task_fisher, self.params):
            fisher.add_(p.grad.square(), alpha=frames)
        self.task_steps += 1
        if self.anchor is not None:
            for p, coefficient, anchor in zip(self.params, self.coefficients, self.anchor):
                p.grad.add_(coefficient * (p - anchor))

    @torch.no_grad()
    def end_task(self) -> None:
        """Consolidate the task just learned: add its Fisher, anchor the current weights."""
        if self.task_steps:
            for fisher, task in zip(self.fisher, self.task_fisher):
                fisher.add_(task / self.task_steps)
                task.zero_()
        self.task_steps = 0
        self.coefficients = [
            (self.strength * fisher).clamp_(max=self.max_coefficient) for fisher in self.fisher
        ]
        self.anchor = [p.detach().clone() for p in self.params]
