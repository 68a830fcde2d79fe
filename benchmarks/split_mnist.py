"""Split-MNIST: five tasks of two digits, learned online in one pass under a memory budget.

Three settings (van de Ven & Tolias 2019), from two training runs per method and seed:

- **class-incremental**: one 10-way head; the task is unknown at test time.
- **task-incremental**: the same run, but at test time the task is given, so the prediction is
  the better of that task's two classes.
- **domain-incremental**: labels mapped to 0/1 within each task (a 2-way head), task unknown.

Methods: FF :class:`~ffstream.stream.StreamLearner`, naive online backprop, backprop with
experience replay and EWC under the same memory budget (see :mod:`benchmarks.continual`).

Run: ``ffstream bench split-mnist --quick --data DIR --out split-mnist-quick.json``
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
from rich.console import Console

from benchmarks.continual import (
    QUICK_SETTINGS,
    ContinualConfig,
    Scenario,
    TaskData,
    add_continual_arguments,
    run_continual,
    update_config,
)
from ffstream.data import split_tasks

__all__ = [
    "DESCRIPTION",
    "FULL",
    "QUICK",
    "SplitConfig",
    "add_arguments",
    "build_scenarios",
    "config_from_args",
    "run",
]

DESCRIPTION = (
    "Split-MNIST online (class-, task- and domain-incremental), FF vs backprop, replay and EWC, "
    "memory budget 1,000 frames"
)


@dataclass
class SplitConfig(ContinualConfig):
    """Split-MNIST hyper-parameters (everything else: :class:`ContinualConfig`)."""

    classes_per_task: int = 2
    ff_readout_batch: int | None = 64  # +0.7 pp class-incremental with shifted replay
    domain_incremental: bool = True  # also the 0/1-label run (a second training run)


#: All training frames (~12,000 per task) and test frames, three seeds.
FULL = SplitConfig()

#: 2,000 training and 500 test frames per task, one seed: a few minutes on a busy CPU.
QUICK = SplitConfig(**QUICK_SETTINGS, eval_every=500)


def add_arguments(parser) -> None:
    """Options of ``ffstream bench split-mnist``."""
    add_continual_arguments(parser)
    parser.add_argument("--no-domain", action="store_true", help="skip the domain-incremental run")


def config_from_args(args) -> SplitConfig:
    """The base configuration (full or ``--quick``) with command-line overrides applied."""
    cfg = update_config(QUICK if getattr(args, "quick", False) else FULL, args)
    if getattr(args, "no_domain", False):
        cfg = dataclasses.replace(cfg, domain_incremental=False)
    return cfg


def build_scenarios(data, cfg: SplitConfig) -> list:
    """Callables ``seed -> Scenario``: the 10-way run (two views) and the 0/1-label run."""
    (x, y), (xt, yt) = data["train"], data["test"]
    train_tasks = split_tasks(y, cfg.classes_per_task)
    test_tasks = split_tasks(yt, cfg.classes_per_task)
    side = math.isqrt(x.shape[1])
    image_shape = (side, side) if side * side == x.shape[1] else None  # MNIST-family: 28 x 28

    def tasks(seed: int, domain: bool) -> list[TaskData]:
        generator = torch.Generator().manual_seed(10_000 + seed)
        out = []
        for tr, te in zip(train_tasks, test_tasks):
            idx = tr.indices[torch.randperm(len(tr.indices), generator=generator)]
            idx = idx[: cfg.train_per_task]
            tidx = te.indices[: cfg.test_per_task]
            ytr, yte = y[idx], yt[tidx]
            classes = tr.classes
            if domain:  # the position of the label within its task
                lookup = torch.zeros(10, dtype=torch.long)
                lookup[list(tr.classes)] = torch.arange(len(tr.classes))
                ytr, yte, classes = lookup[ytr], lookup[yte], tuple(range(len(tr.classes)))
            name = "".join(str(c) for c in tr.classes)
            out.append(TaskData(name, x[idx], ytr, xt[tidx], yte, classes))
        return out

    def incremental(seed: int) -> Scenario:
        views = {"class-incremental": False, "task-incremental": True}
        return Scenario("split-mnist", tasks(seed, False), 10, views, image_shape)

    def domain(seed: int) -> Scenario:
        views = {"domain-incremental": False}
        classes = cfg.classes_per_task
        return Scenario("split-mnist-domain", tasks(seed, True), classes, views, image_shape)

    return [incremental, domain] if cfg.domain_incremental else [incremental]


def run(args, console: Console) -> dict[str, Any]:
    """Run every method on every setting and seed; returns the result dict (also a table)."""
    return run_continual("split-mnist", config_from_args(args), build_scenarios, args, console)
