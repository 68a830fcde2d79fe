"""Rotated-MNIST: ten tasks, each MNIST turned by its own fixed angle, learned online in one
pass under a memory budget; domain-incremental (one 10-way head, task unknown at test time).

Task ``t`` of ``T`` turns every image counter-clockwise by ``t * max_degrees / T`` degrees
(0, 18, ..., 162 by default: the span of Lopez-Paz & Ranzato's 2017 Rotated-MNIST, in ten
evenly spaced tasks instead of their twenty random angles). Unlike Permuted-MNIST the tasks
share structure, so what one task teaches transfers partly to its neighbours.

Methods: FF :class:`~ffstream.stream.StreamLearner`, naive online backprop, backprop with
experience replay and EWC under the same memory budget (see :mod:`benchmarks.continual`).

Run: ``ffstream bench rotated-mnist --quick --data DIR --out rotated-mnist-quick.json``
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
    add_continual_arguments,
    run_continual,
    transformed_tasks,
    update_config,
)
from ffstream.data import rotate

__all__ = [
    "DESCRIPTION",
    "FULL",
    "QUICK",
    "RotatedConfig",
    "add_arguments",
    "angles",
    "build_scenarios",
    "config_from_args",
    "run",
]

DESCRIPTION = (
    "Rotated-MNIST online (10 tasks, 0-162 degrees, domain-incremental), FF vs backprop, "
    "replay and EWC, memory budget 1,000 frames"
)


@dataclass
class RotatedConfig(ContinualConfig):
    """Rotated-MNIST hyper-parameters (everything else: :class:`ContinualConfig`)."""

    num_tasks: int = 10
    max_degrees: float = 180.0  # task t turns by t * max_degrees / num_tasks


#: 60,000 training frames per task (every task sees a fresh random order), three seeds.
FULL = RotatedConfig()

#: 2,000 training and 500 test frames per task, one seed.
QUICK = RotatedConfig(**QUICK_SETTINGS, eval_every=1_000)


def angles(num_tasks: int, max_degrees: float = 180.0) -> list[float]:
    """The rotation of each task in degrees, evenly spaced from 0 (up to ``max_degrees``).

    Examples
    --------
    >>> angles(4)
    [0.0, 45.0, 90.0, 135.0]
    """
    if num_tasks < 1 or not math.isfinite(max_degrees):
        raise ValueError(
            f"need num_tasks >= 1 and a finite max_degrees, got {num_tasks}, {max_degrees}"
        )
    return [t * max_degrees / num_tasks for t in range(num_tasks)]


def add_arguments(parser) -> None:
    """Options of ``ffstream bench rotated-mnist``."""
    add_continual_arguments(parser, num_tasks=FULL.num_tasks)
    parser.add_argument(
        "--max-degrees", type=float, default=None, help="rotation span: task t turns t*D/T (180)"
    )


def config_from_args(args) -> RotatedConfig:
    """The base configuration (full or ``--quick``) with command-line overrides applied."""
    cfg = update_config(QUICK if getattr(args, "quick", False) else FULL, args)
    if getattr(args, "max_degrees", None) is not None:
        if not math.isfinite(args.max_degrees):
            raise ValueError(f"--max-degrees must be finite, got {args.max_degrees}")
        cfg = dataclasses.replace(cfg, max_degrees=args.max_degrees)
    return cfg


def _rotation(degrees: float, side: int):
    def turn(x: torch.Tensor) -> torch.Tensor:
        return rotate(x.view(-1, side, side), degrees).reshape(len(x), side * side)

    return turn


def build_scenarios(data, cfg: RotatedConfig) -> list:
    """One callable ``seed -> Scenario``: each task a random subset of the training set, turned."""
    side = math.isqrt(data["train"][0].shape[1])
    if side * side != data["train"][0].shape[1]:
        raise ValueError(
            f"rotated-mnist needs square images, got {data['train'][0].shape[1]} pixels"
        )
    transforms = [
        (f"r{round(a)}", _rotation(a, side)) for a in angles(cfg.num_tasks, cfg.max_degrees)
    ]
    return [
        transformed_tasks(
            "rotated-mnist", data, transforms, cfg, seed_offset=30_000, image_shape=(side, side)
        )
    ]


def run(args, console: Console) -> dict[str, Any]:
    """Run every method on every seed; returns the result dict (also shown as a table)."""
    return run_continual("rotated-mnist", config_from_args(args), build_scenarios, args, console)
