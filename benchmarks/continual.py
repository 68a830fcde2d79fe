"""The continual-learning scenario runner shared by the split-, permuted- and rotated-MNIST suites.

Protocol (online, single pass). A *scenario* is a sequence of tasks, each with training and test
frames. A method sees every training frame exactly once, ``batch_size`` frames at a time, task
after task; it is never told where one task ends and the next begins (EWC, defined with task
boundaries, is the one exception). After the last batch of task ``i`` it is tested on every
task's test set: ``R[i, j]`` is the accuracy on task ``j``. Before any training the untrained
method is tested too: that row is the baseline ``b`` of forward transfer. Along the stream the
mean accuracy over the tasks seen so far is measured every ``eval_every`` frames (the "accuracy
along the stream" curve), and the prequential accuracy (predict each batch, then learn from it)
is counted.

``--iid`` adds the i.i.d. reference of each scenario (:meth:`Scenario.iid`): the same frames,
shuffled across tasks, in the same single pass. Its final accuracy is the joint-training upper
bound of an online method of that size, against which forgetting can be told apart from a
learner that is simply weaker. Everything (frames, memories, models) lives on ``--device``.

One training run can be scored in several *views*: Split-MNIST trains once on labels 0-9 and is
scored class-incrementally (argmax over all 10 classes) and task-incrementally (the task is known
at test time, so the argmax runs over that task's 2 classes only).

Methods, all with the same hidden widths and the same memory budget (in stored frames):

- ``ff``: :class:`~ffstream.stream.StreamLearner`, awake on every frame, asleep every
  ``sleep_every`` frames. Its readout learns only while asleep, from the long-term memory
  (``readout_learns="asleep"``; ``--ff-readout always`` restores the learner's default), which
  keeps a run of one task's frames from tilting it toward that task's classes; its long-term
  memory keeps an equal share per class (``balanced_memory=True``; ``--ff-memory reservoir``
  for a uniform sample), so late classes are replayed as often as early ones. Each sleep step
  replays 32 remembered frames (``--ff-sleep-batch``), which lifted Permuted-MNIST by about 5
  points and Split-MNIST by about 1 over the 8 used before (BENCHMARKS.md); its readout takes
  as many long-term memories per sleep step (``--ff-readout-batch``; Split-MNIST takes 64,
  which helps there and not on the domain-incremental suites). It predicts with a moving
  average of its weights (``ema_decay=0.995`` per step; ``--ff-ema-decay none`` predicts with
  the latest weights), which added 0.5-1.1 points on Split-MNIST and on Permuted- and
  Rotated-MNIST at 6,000 frames per task (0.1 on Permuted-MNIST at full length). It predicts
  with its readout (``--ff-predict-with``), except on full-length Permuted-MNIST: there the
  goodness of every label summed over all layers (``predict_with="goodness"``,
  ``goodness_layers="all"``) scored 85.3% against 80.3% for the readout; there it also
  recalls three quarters of each sleep batch from the long-term memory
  (``--ff-long-term-share``; half elsewhere) with half the step size (``--ff-lr``), which
  forgets less: 87.5% (3 seeds). Its memory is
  counted as ``memory_capacity`` (long-term) ``+ recent_capacity`` (frames since the
  last sleep), and the two add up to the budget: ``recent_capacity = min(sleep_every,
  memory // 2)``, ``memory_capacity = memory - recent``.
- ``backprop``: an ordinary MLP trained online by SGD on cross-entropy (naive fine-tuning).
- ``backprop-replay``: the same MLP with experience replay: a reservoir buffer of ``memory``
  frames; every incoming batch is trained on together with ``replay_batch`` frames drawn from
  the buffer (``--replay-batch``, 10).
- ``backprop-ewc``: the same MLP with elastic weight consolidation (Kirkpatrick et al. 2017).
  EWC is defined with task boundaries, so it alone is told them (the runner calls its
  ``end_task``); it stores no frames.

``--replay-shift N`` (default 0, the standard protocol) moves every frame a method replays from
its memory by a fresh random offset of up to ``N`` pixels (:func:`~ffstream.data.random_shift`):
FF's sleep replay and the frames backprop-replay draws from its buffer alike, never the incoming
frames. It needs frames whose pixels keep their layout (Split- and Rotated-MNIST, not
Permuted-MNIST).

Caveat when reading FF numbers: FF sleeps every ``sleep_every`` frames. Its readout is fixed
between sleeps, but its layers keep learning from the current task's frames, so accuracy on old
tasks can be higher right after a sleep than in the middle of an awake phase. With the quick
configuration (2,000 frames per task, a multiple of ``sleep_every``) every row of ``R`` is
measured right after a sleep, which favours FF; with the full one (task lengths such as 12,665
frames) rows fall anywhere in the cycle.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from rich.console import Console
from rich.progress import Progress

from ffstream._checks import check_pixel_shift, check_share
from benchmarks._common import (
    add_data_source_arguments,
    add_ema_decay_argument,
    ema_decay_override,
    load_frames,
    make_progress,
    result_skeleton,
    sync,
)
from ffstream.eval import continual_summary
from ffstream.data import random_shift
from ffstream.stream import EveryN, StreamLearner
from ffstream.stream.memory import ReservoirMemory

__all__ = [
    "METHODS",
    "QUICK_SETTINGS",
    "BackpropMethod",
    "EWCMethod",
    "ContinualConfig",
    "FFMethod",
    "Scenario",
    "TaskData",
    "add_continual_arguments",
    "evaluate",
    "make_method",
    "markdown_table",
    "plot_results",
    "run_continual",
    "run_scenario",
    "run_suite",
    "transformed_tasks",
    "update_config",
]

#: the methods every continual suite compares, in the order they run
METHODS: tuple[str, ...] = ("ff", "backprop", "backprop-replay", "backprop-ewc")


@dataclass
class ContinualConfig:
    """Hyper-parameters shared by the continual suites (each suite subclasses it)."""

    train_per_task: int | None = None  # training frames per task; None: all of them
    test_per_task: int | None = None  # test frames per task; None: all of them
    seeds: tuple[int, ...] = (0, 1, 2)
    batch_size: int = 10  # frames per observe() call / SGD step (1 to 10 in the protocol)
    memory: int = 1_000  # memory budget in stored frames, the same for every method
    hidden: tuple[int, ...] = (500, 500)
    methods: tuple[str, ...] = METHODS
    ff_lr: float | None = None  # None: the StreamLearner default
    ff_readout: str = "asleep"  # FF readout_learns: "asleep" resists the recency bias
    ff_predict_with: str = "readout"  # FF predict_with: "readout" or "goodness" (every label)
    ff_goodness_layers: str = "above-first"  # FF goodness_layers: "above-first" or "all"
    ff_memory: str = "balanced"  # FF long-term memory: "balanced" per class, or "reservoir"
    sleep_every: int = 200  # FF: frames between sleeps (= its recent-memory size)
    ff_sleep_batch: int = 32  # FF: remembered frames per sleep step
    ff_long_term_share: float = 0.5  # FF: share of each sleep batch from the long-term memory
    ff_readout_batch: int | None = None  # FF: memories per asleep readout step; None: sleep batch
    replay_shift: int = 0  # FF and backprop-replay: shift replayed frames by up to N pixels
    ff_ema_decay: float | None = 0.995  # FF predicts with a moving average of its weights
    bp_lr: float = 0.05  # SGD step of the backprop baselines
    replay_batch: int = 10  # backprop-replay: buffer frames replayed with each batch
    ewc_lambda: float = 30.0  # backprop-ewc: penalty strength (best of 1-1000 on Permuted, 6k)
    eval_every: int = 1_000  # frames between points of the along-the-stream curve
    curve_test_per_task: int = 200  # test frames per task for curve points (R uses all)
    threads: int | None = 1  # torch CPU threads; 1 suits per-frame work on a shared machine
    device: str = "cpu"  # where frames, memories and every method live ("cuda", "cuda:1", ...)
    iid_reference: bool = False  # also run each scenario shuffled across tasks (the upper bound)


#: What every suite's ``--quick`` config shares: 2,000 training and 500 test frames per task,
#: one seed. FF's weight average decays faster there: 0.995 averages over about 1,000 frames
#: (200 steps, half of them asleep), half of a quick task, and lags too far behind.
QUICK_SETTINGS: dict[str, Any] = dict(
    train_per_task=2_000, test_per_task=500, seeds=(0,), ff_ema_decay=0.99
)


def add_continual_arguments(parser, num_tasks: int | None = None) -> None:
    """Options common to the MNIST continual suites; ``--tasks`` when ``num_tasks`` is given."""
    add_data_source_arguments(parser)
    if num_tasks is not None:
        parser.add_argument(
            "--tasks", type=int, default=None, help=f"number of tasks ({num_tasks})"
        )
    parser.add_argument("--seeds", default=None, help="comma-separated seeds, e.g. 0,1,2")
    parser.add_argument("--batch-size", type=int, default=None, help="frames per step (10)")
    parser.add_argument("--memory", type=int, default=None, help="memory budget in frames (1000)")
    parser.add_argument("--hidden", default=None, help="hidden widths, e.g. 500,500")
    parser.add_argument("--train-per-task", type=int, default=None, help="training frames/task")
    parser.add_argument("--test-per-task", type=int, default=None, help="test frames per task")
    parser.add_argument("--methods", default=None, help=f"subset of {','.join(METHODS)}")
    parser.add_argument(
        "--ff-lr",
        type=float,
        default=None,
        help="FF step size (the learner's 3e-4; permuted-mnist without --quick: 1.5e-4)",
    )
    parser.add_argument(
        "--ff-readout",
        choices=("always", "asleep"),
        default=None,
        help="when the FF readout learns (StreamLearner readout_learns; asleep)",
    )
    parser.add_argument(
        "--ff-predict-with",
        choices=("readout", "goodness"),
        default=None,
        help="how FF predicts (StreamLearner predict_with; readout, full permuted-mnist: goodness)",
    )
    parser.add_argument(
        "--ff-goodness-layers",
        choices=("above-first", "all"),
        default=None,
        help="whose goodness FF sums (goodness_layers; above-first, permuted-mnist: all)",
    )
    parser.add_argument(
        "--ff-memory",
        choices=("balanced", "reservoir"),
        default=None,
        help="FF long-term memory: an equal share per class, or a reservoir (balanced)",
    )
    parser.add_argument("--sleep-every", type=int, default=None, help="FF frames between sleeps")
    parser.add_argument(
        "--ff-sleep-batch", type=int, default=None, help="FF remembered frames per sleep step (32)"
    )
    parser.add_argument(
        "--ff-long-term-share",
        type=float,
        default=None,
        help="FF share of each sleep batch from the long-term memory (0.5; permuted-mnist: 0.75)",
    )
    parser.add_argument(
        "--ff-readout-batch",
        type=int,
        default=None,
        help="FF memories per readout step in sleep (the sleep batch; split-mnist: 64)",
    )
    parser.add_argument(
        "--replay-shift",
        type=int,
        default=None,
        help="shift each replayed frame by up to N pixels, FF and backprop-replay alike (0)",
    )
    add_ema_decay_argument(parser, ContinualConfig.ff_ema_decay, "FF")
    parser.add_argument("--bp-lr", type=float, default=None, help="backprop SGD lr (0.05)")
    parser.add_argument(
        "--replay-batch",
        type=int,
        default=None,
        help="backprop-replay: buffer frames per step (10)",
    )
    parser.add_argument("--ewc-lambda", type=float, default=None, help="EWC strength (30)")
    parser.add_argument("--eval-every", type=int, default=None, help="frames per curve point")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (1)")
    parser.add_argument(
        "--iid",
        dest="iid_reference",
        action="store_true",
        default=None,
        help="also run the i.i.d. reference: the same frames shuffled across tasks",
    )


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(s) for s in text.split(",") if s.strip())


def update_config(cfg: ContinualConfig, args) -> ContinualConfig:
    """``cfg`` with the command-line overrides in ``args`` applied (validated)."""
    overrides: dict[str, Any] = {}
    for name in (
        "batch_size",
        "memory",
        "train_per_task",
        "test_per_task",
        "ff_lr",
        "ff_readout",
        "ff_predict_with",
        "ff_goodness_layers",
        "ff_memory",
        "sleep_every",
        "ff_sleep_batch",
        "ff_long_term_share",
        "ff_readout_batch",
        "replay_shift",
        "bp_lr",
        "replay_batch",
        "ewc_lambda",
        "eval_every",
        "threads",
        "device",
        "iid_reference",
    ):
        if getattr(args, name, None) is not None:
            overrides[name] = getattr(args, name)
    for name in ("seeds", "hidden"):
        if getattr(args, name, None):
            overrides[name] = _ints(getattr(args, name))
    if getattr(args, "tasks", None) is not None and hasattr(cfg, "num_tasks"):
        if args.tasks < 1:
            raise ValueError(f"--tasks must be positive, got {args.tasks}")
        overrides["num_tasks"] = args.tasks
    overrides.update(ema_decay_override(args))
    if getattr(args, "methods", None):
        overrides["methods"] = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    cfg = dataclasses.replace(cfg, **overrides)
    if cfg.batch_size < 1:
        raise ValueError(f"--batch-size must be positive, got {cfg.batch_size}")
    if cfg.memory < 2:
        raise ValueError(f"--memory must be at least 2 frames, got {cfg.memory}")
    if cfg.sleep_every < 1 or cfg.eval_every < 1 or not cfg.seeds:
        raise ValueError("--sleep-every and --eval-every must be positive; give at least 1 seed")
    if cfg.ff_sleep_batch < 1:
        raise ValueError(f"--ff-sleep-batch must be positive, got {cfg.ff_sleep_batch}")
    check_share(cfg.ff_long_term_share, "--ff-long-term-share")
    if cfg.ff_readout_batch is not None and cfg.ff_readout_batch < 1:
        raise ValueError(f"--ff-readout-batch must be positive, got {cfg.ff_readout_batch}")
    if cfg.replay_batch < 1:
        raise ValueError(f"--replay-batch must be positive, got {cfg.replay_batch}")
    check_pixel_shift(cfg.replay_shift, "--replay-shift")
    unknown = set(cfg.methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}; choose from {', '.join(METHODS)}")
    return cfg


# ---------------------------------------------------------------------------- scenarios
@dataclass
class TaskData:
    """One task: flat float frames and labels, and the classes a task-aware view restricts to."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: tuple[int, ...]

    def to(self, device: str | torch.device) -> TaskData:
        """This task with its frames and labels on ``device``."""
        move = {k: getattr(self, k).to(device) for k in ("x_train", "y_train", "x_test", "y_test")}
        return dataclasses.replace(self, **move)


@dataclass
class Scenario:
    """A task sequence and how it is scored.

    ``views`` maps a view name to whether predictions are restricted to the task's classes
    (task-incremental) or not; every view gets its own accuracy matrix from the same run.
    ``image_shape`` is the ``(height, width)`` of the flat frames when their pixels keep their
    layout (what ``replay_shift`` moves), ``None`` when they do not (Permuted-MNIST).
    """

    name: str
    tasks: list[TaskData]
    num_classes: int
    views: dict[str, bool] = field(default_factory=dict)
    image_shape: tuple[int, int] | None = None

    @property
    def in_features(self) -> int:
        return self.tasks[0].x_train.shape[1]

    def to(self, device: str | torch.device) -> Scenario:
        """This scenario with every task's tensors on ``device``."""
        return dataclasses.replace(self, tasks=[task.to(device) for task in self.tasks])

    def iid(self, seed: int) -> Scenario:
        """The i.i.d. reference: the same training frames shuffled across the tasks.

        Each task keeps its size and its test set, but trains on a random share of every
        task's frames, so the stream has no boundaries and no drift. Its last row of ``R`` is
        the single-pass joint-training accuracy, the usual upper bound of a continual method.
        Views are renamed ``"<view> (i.i.d.)"``. A method told task boundaries (EWC) is told
        where these random shares end.

        Examples
        --------
        >>> task = lambda c: TaskData(str(c), torch.full((4, 1), float(c)), torch.full((4,), c),
        ...                           torch.zeros(1, 1), torch.zeros(1, dtype=torch.long), (c,))
        >>> mixed = Scenario("toy", [task(0), task(1)], 2, {"class-incremental": False}).iid(0)
        >>> list(mixed.views), [len(t.x_train) for t in mixed.tasks]
        (['class-incremental (i.i.d.)'], [4, 4])
        >>> sorted(torch.cat([t.y_train for t in mixed.tasks]).tolist())
        [0, 0, 0, 0, 1, 1, 1, 1]
        """
        x = torch.cat([task.x_train for task in self.tasks])
        y = torch.cat([task.y_train for task in self.tasks])
        generator = torch.Generator().manual_seed(30_000 + seed)
        order = torch.randperm(len(x), generator=generator).to(x.device)
        sizes = [len(task.x_train) for task in self.tasks]
        tasks = [
            dataclasses.replace(task, x_train=xs, y_train=ys)
            for task, xs, ys in zip(self.tasks, x[order].split(sizes), y[order].split(sizes))
        ]
        views = {f"{view} (i.i.d.)": aware for view, aware in self.views.items()}
        return dataclasses.replace(self, name=f"{self.name}-iid", tasks=tasks, views=views)


def transformed_tasks(
    name: str,
    data: dict[str, tuple[torch.Tensor, torch.Tensor]],
    transforms: Sequence[tuple[str, Callable[[torch.Tensor], torch.Tensor]]],
    cfg: ContinualConfig,
    seed_offset: int,
    image_shape: tuple[int, int] | None = None,
) -> Callable[[int], Scenario]:
    """``seed -> Scenario`` with one task per ``(task_name, transform)`` of the whole dataset.

    The domain-incremental scenarios (Permuted-, Rotated-MNIST): every task has all ten classes
    under its own input transform, one 10-way head, the task unknown at test time. Each task
    trains on its own random ``train_per_task`` frames (drawn with ``seed + seed_offset``) and
    tests on the first ``test_per_task`` test frames, transformed alike. ``image_shape``: the
    frames' ``(height, width)`` if the transforms keep pixels in place (see :class:`Scenario`).
    """
    (x, y), (xt, yt) = data["train"], data["test"]
    n_train = min(cfg.train_per_task or len(x), len(x))
    n_test = min(cfg.test_per_task or len(xt), len(xt))
    classes = tuple(int(c) for c in y.unique(sorted=True))

    def scenario(seed: int) -> Scenario:
        generator = torch.Generator().manual_seed(seed_offset + seed)
        tasks = []
        for task_name, transform in transforms:
            idx = torch.randperm(len(x), generator=generator)[:n_train]
            xs, ys = transform(x[idx]), y[idx]
            tasks.append(TaskData(task_name, xs, ys, transform(xt[:n_test]), yt[:n_test], classes))
        return Scenario(name, tasks, len(classes), {"domain-incremental": False}, image_shape)

    return scenario


# ---------------------------------------------------------------------------- methods
def _replayed_shape(cfg: ContinualConfig, image_shape: tuple[int, int] | None):
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
    ):
        if cfg.ff_memory not in ("balanced", "reservoir"):
            raise ValueError(f"ff_memory must be 'balanced' or 'reservoir', got {cfg.ff_memory!r}")
        recent = min(cfg.sleep_every, cfg.memory // 2)
        extra = {} if cfg.ff_lr is None else {"lr": cfg.ff_lr}
        self.frame_shape = _replayed_shape(cfg, image_shape) or (in_features,)
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
            device=cfg.device,
            seed=seed,
            **extra,
        )

    def observe(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.learner.observe(x.view(len(x), *self.frame_shape), y).prediction

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        return self.learner.class_scores(x)

    def stored_frames(self) -> int:
        """The most frames this method can hold: long-term plus recent capacity."""
        return self.learner.memory.capacity + self.learner.recent.capacity


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
    ):
        self.name = "backprop-replay" if replay else "backprop"
        torch.manual_seed(seed)
        sizes = (in_features, *cfg.hidden)
        layers: list[torch.nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        self.model = torch.nn.Sequential(*layers, torch.nn.Linear(sizes[-1], num_classes))
        self.model.to(cfg.device)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=cfg.bp_lr)
        self.buffer = ReservoirMemory(cfg.memory) if replay else None
        self.replay_batch = cfg.replay_batch
        self.replay_shift = cfg.replay_shift if replay else 0
        self.image_shape = _replayed_shape(cfg, image_shape) if replay else None
        self.generator = torch.Generator().manual_seed(seed)

    def observe(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
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

    def __init__(self, cfg: ContinualConfig, in_features: int, num_classes: int, seed: int):
        super().__init__(cfg, in_features, num_classes, seed, replay=False)
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


def make_method(
    name: str,
    cfg: ContinualConfig,
    in_features: int,
    num_classes: int,
    seed: int,
    image_shape: tuple[int, int] | None = None,
):
    """A fresh method ``name`` (one of :data:`METHODS`); ``image_shape`` as in :class:`Scenario`."""
    if name == "ff":
        return FFMethod(cfg, in_features, num_classes, seed, image_shape)
    if name in ("backprop", "backprop-replay"):
        replay = name.endswith("replay")
        return BackpropMethod(cfg, in_features, num_classes, seed, replay, image_shape)
    if name == "backprop-ewc":
        return EWCMethod(cfg, in_features, num_classes, seed)
    raise ValueError(f"unknown method {name!r}")


@torch.no_grad()
def evaluate(method, x: torch.Tensor, y: torch.Tensor, classes: Sequence[int] | None = None):
    """Accuracy of ``method`` on ``(x, y)``; ``classes`` restricts the argmax (task-aware)."""
    right = 0
    for i in range(0, len(x), 1000):
        scores = method.scores(x[i : i + 1000]).clone()
        if classes is not None:
            keep = torch.zeros(scores.shape[1], dtype=torch.bool, device=scores.device)
            keep[list(classes)] = True
            scores[:, ~keep] = -math.inf
        right += int((scores.argmax(1) == y[i : i + 1000]).sum())
    return right / len(x)


# ---------------------------------------------------------------------------- the protocol
def run_scenario(
    method,
    scenario: Scenario,
    cfg: ContinualConfig,
    seed: int,
    on_batch: Callable[[int], None] = lambda n: None,
) -> dict[str, Any]:
    """Stream ``scenario`` through ``method`` once; accuracy matrices, curve and timing.

    Returns ``{"R": {view: T x T}, "baseline": {view: [T]}, "summary": {view: metrics},
    "curve": [...], "prequential_accuracy", "frames", "seconds", "frames_per_s",
    "stored_frames"}`` (``stored_frames``: the memory capacity, the most frames held).
    """
    tasks, views = scenario.tasks, scenario.views

    def test_row(upto: int | None = None) -> dict[str, list[float]]:
        row = {}
        for view, task_aware in views.items():
            accs = []
            for task in tasks[: upto if upto is not None else len(tasks)]:
                x, y = task.x_test, task.y_test
                if upto is not None:  # a curve point: fewer test frames
                    x, y = x[: cfg.curve_test_per_task], y[: cfg.curve_test_per_task]
                accs.append(evaluate(method, x, y, task.classes if task_aware else None))
            row[view] = accs
        return row

    baseline = test_row()
    R: dict[str, list[list[float]]] = {view: [] for view in views}
    curve: list[dict[str, Any]] = []
    frames = hits = 0
    seconds = 0.0
    generator = torch.Generator().manual_seed(seed)
    for i, task in enumerate(tasks):
        order = torch.randperm(len(task.x_train), generator=generator).to(task.x_train.device)
        x_all, y_all = task.x_train[order], task.y_train[order]
        for s in range(0, len(x_all), cfg.batch_size):
            xb, yb = x_all[s : s + cfg.batch_size], y_all[s : s + cfg.batch_size]
            start = time.perf_counter()
            prediction = method.observe(xb, yb)
            sync(xb.device)  # GPU work is asynchronous: time it to the end
            seconds += time.perf_counter() - start
            hits += int((prediction == yb).sum())
            before, frames = frames, frames + len(yb)
            on_batch(len(yb))
            if frames // cfg.eval_every > before // cfg.eval_every:
                point = {"frames": frames, "task": i}
                for view, accs in test_row(upto=i + 1).items():
                    point[view] = float(np.mean(accs))
                curve.append(point)
        if hasattr(method, "end_task"):  # only methods defined with task boundaries get them
            method.end_task()
        for view, accs in test_row().items():
            R[view].append(accs)
    return {
        "R": R,
        "baseline": baseline,
        "summary": {view: continual_summary(R[view], baseline[view]) for view in views},
        "curve": curve,
        "prequential_accuracy": hits / max(frames, 1),
        "frames": frames,
        "seconds": seconds,
        "frames_per_s": frames / seconds if seconds else None,
        "stored_frames": method.stored_frames(),
    }


def _mean_std(values: list[float | None]) -> dict[str, float | None]:
    vals = [v for v in values if v is not None]
    if not vals:
        return {"mean": None, "std": None}
    return {"mean": float(np.mean(vals)), "std": float(np.std(vals))}


def _scenarios_of_seed(
    builds: list[Callable[[int], Scenario]], cfg: ContinualConfig, seed: int
) -> Iterator[Scenario]:
    """The scenarios of ``seed`` on ``cfg.device``, each then its i.i.d. reference if asked.

    One at a time: a full Permuted-MNIST scenario holds 600,000 frames.
    """
    for build in builds:
        scenario = build(seed).to(cfg.device)
        yield scenario
        if cfg.iid_reference:
            yield scenario.iid(seed)


def run_suite(
    scenarios: list[Callable[[int], Scenario]],
    cfg: ContinualConfig,
    console: Console,
) -> list[dict[str, Any]]:
    """Every method on every scenario (built per seed by the callables) and every seed.

    Returns one entry per (scenario, method): per-seed runs, the mean accuracy matrix of each
    view and the metrics' mean and standard deviation over seeds.
    """
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    results: dict[tuple[str, str], dict[str, Any]] = {}
    progress: Progress = make_progress(console)
    with progress:
        for seed in cfg.seeds:
            for scenario in _scenarios_of_seed(scenarios, cfg, seed):
                total = sum(len(t.x_train) for t in scenario.tasks)
                for name in cfg.methods:
                    bar = progress.add_task(
                        f"{scenario.name} {name} seed {seed}", total=total, status=""
                    )
                    method = make_method(
                        name,
                        cfg,
                        scenario.in_features,
                        scenario.num_classes,
                        seed,
                        scenario.image_shape,
                    )
                    run = run_scenario(
                        method, scenario, cfg, seed, lambda n, bar=bar: progress.advance(bar, n)
                    )
                    run["seed"] = seed
                    accs = ", ".join(
                        f"{v} {s['average_accuracy']:.3f}" for v, s in run["summary"].items()
                    )
                    progress.update(bar, status=accs)
                    if not console.is_terminal:
                        console.print(f"{scenario.name} {name} seed {seed}: {accs}")
                    entry = results.setdefault(
                        (scenario.name, name),
                        {"scenario": scenario.name, "method": name, "views": {}, "runs": []},
                    )
                    entry["views"] = list(scenario.views)
                    entry["runs"].append(run)
    out = []
    for entry in results.values():
        runs = entry["runs"]
        entry["R_mean"] = {
            v: np.mean([r["R"][v] for r in runs], axis=0).tolist() for v in entry["views"]
        }
        entry["metrics"] = {
            v: {m: _mean_std([r["summary"][v][m] for r in runs]) for m in runs[0]["summary"][v]}
            for v in entry["views"]
        }
        entry["prequential_accuracy"] = _mean_std([r["prequential_accuracy"] for r in runs])
        entry["frames_per_s"] = _mean_std([r["frames_per_s"] for r in runs])
        entry["stored_frames"] = max(r["stored_frames"] for r in runs)
        out.append(entry)
    return out


def run_continual(
    suite: str,
    cfg: ContinualConfig,
    build_scenarios: Callable[[dict, Any], list[Callable[[int], Scenario]]],
    args,
    console: Console,
) -> dict[str, Any]:
    """The body of every MNIST continual suite's ``run``: load, run, tabulate, plot.

    ``build_scenarios(data, cfg)`` turns ``{"train": (x, y), "test": (x, y)}`` (flat float
    frames) into the scenario callables of :func:`run_suite`, which run on ``cfg.device``.
    """
    if cfg.threads:  # before the skeleton, which records the thread count
        torch.set_num_threads(cfg.threads)
    result = result_skeleton(suite, cfg.device, getattr(args, "quick", False), cfg)
    wall = time.perf_counter()
    data = load_frames(args.data, verify=getattr(args, "verify", True))
    entries = run_suite(build_scenarios(data, cfg), cfg, console)
    table = markdown_table(entries)
    console.print(table, highlight=False, markup=False)
    result.update(
        protocol=(
            f"online, one pass, batch {cfg.batch_size}, task boundaries not given (EWC alone "
            f"is told them); memory budget {cfg.memory} frames"
        ),
        results=entries,
        table=table,
        plots=plot_results(entries, getattr(args, "out", None), console),
        wall_seconds=time.perf_counter() - wall,
    )
    return result


# ---------------------------------------------------------------------------- report
def _fmt(stat: dict[str, float | None], pct: bool = True) -> str:
    if stat["mean"] is None:
        return "-"
    scale = 100.0 if pct else 1.0
    text = f"{scale * stat['mean']:.1f}"
    if stat["std"]:
        text += f" ± {scale * stat['std']:.1f}"
    return text


def markdown_table(entries: list[dict[str, Any]]) -> str:
    """One row per (view, method): accuracy metrics in percent, mean ± std over seeds."""
    lines = [
        "| scenario | method | avg acc % | forgetting | BWT | FWT | prequential % | frames/s |"
        " stored |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    rows = []
    for e in entries:
        for view in e["views"]:
            rows.append((view, e))
    for view, e in sorted(rows, key=lambda r: r[0]):
        m = e["metrics"][view]
        fps = e["frames_per_s"]["mean"]
        lines.append(
            f"| {view} | {e['method']} | {_fmt(m['average_accuracy'])} | "
            f"{_fmt(m['forgetting'])} | {_fmt(m['backward_transfer'])} | "
            f"{_fmt(m['forward_transfer'])} | {_fmt(e['prequential_accuracy'])} | "
            f"{fps:.0f} | {e['stored_frames']} |"
            if fps is not None
            else f"| {view} | {e['method']} | {_fmt(m['average_accuracy'])} |" + " - |" * 6
        )
    return "\n".join(lines)


def _pyplot(console: Console):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        console.print(
            "matplotlib is not installed, so no plots were written (pip install matplotlib)"
        )
        return None
    return plt


def plot_results(entries: list[dict[str, Any]], out: str | None, console: Console) -> list[str]:
    """Accuracy-matrix heat maps and accuracy along the stream, as PNGs next to ``out``."""
    if not out:
        console.print("no --out given, so no plots were written")
        return []
    plt = _pyplot(console)
    if plt is None:
        return []
    from matplotlib.ticker import EngFormatter, MaxNLocator  # _pyplot found matplotlib

    stem = Path(out).with_suffix("")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    views = sorted({v for e in entries for v in e["views"]})
    methods = list(dict.fromkeys(e["method"] for e in entries))
    by_key = {(v, e["method"]): e for e in entries for v in e["views"]}
    paths = []

    fig, axes = plt.subplots(
        len(views), len(methods), figsize=(3.2 * len(methods), 3.0 * len(views)), squeeze=False
    )
    for r, view in enumerate(views):
        for c, method in enumerate(methods):
            ax = axes[r][c]
            entry = by_key.get((view, method))
            if entry is None:
                ax.axis("off")
                continue
            R = np.asarray(entry["R_mean"][view])
            ax.imshow(R, vmin=0, vmax=1, cmap="viridis")
            if len(R) <= 10:
                for i in range(len(R)):
                    for j in range(len(R)):
                        ax.text(
                            j,
                            i,
                            f"{100 * R[i, j]:.0f}",
                            ha="center",
                            va="center",
                            fontsize=6,
                            color="w" if R[i, j] < 0.6 else "k",
                        )
            ax.set_title(f"{view}\n{method}", fontsize=8)
            ax.set_xlabel("test task j", fontsize=7)
            ax.set_ylabel("trained through task i", fontsize=7)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # task numbers, not 2.5
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    path = f"{stem}-heatmaps.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    paths.append(path)

    fig, axes = plt.subplots(1, len(views), figsize=(4.5 * len(views), 3.4), squeeze=False)
    for c, view in enumerate(views):
        ax = axes[0][c]
        for method in methods:
            entry = by_key.get((view, method))
            if entry is None or not entry["runs"][0]["curve"]:
                continue
            frames = [p["frames"] for p in entry["runs"][0]["curve"]]
            accs = np.mean([[p[view] for p in r["curve"]] for r in entry["runs"]], axis=0)
            ax.plot(frames, accs, label=method)
        ax.set_title(view, fontsize=9)
        ax.set_xlabel("frames seen")
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))  # 600k, not 600000 run together
        ax.set_ylabel("mean test accuracy, tasks so far")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = f"{stem}-stream.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    paths.append(path)
    for p in paths:
        console.print(f"wrote {p}")
    return paths
