"""Rotated-MNIST: ten tasks, each MNIST turned by its own fixed angle, learned online in one
pass under a memory budget; domain-incremental (one 10-way head, task unknown at test time).

Task ``t`` of ``T`` turns every image counter-clockwise by ``t * max_degrees / T`` degrees
(0, 18, ..., 162 by default: the span of Lopez-Paz & Ranzato's 2017 Rotated-MNIST, in ten
evenly spaced tasks instead of their twenty random angles; :func:`ffstream.data.rotated_scenario`).
Unlike Permuted-MNIST the tasks share structure, so what one task teaches transfers partly to
its neighbours.

Methods: FF :class:`~ffstream.stream.StreamLearner` and the backprop baselines ER, ER-ACE,
DER++, GDumb, naive and EWC under the same memory budget, replay augmentation, weight average
and SGD steps per batch (see :mod:`benchmarks.continual`).

Run: ``ffstream bench rotated-mnist`` (``--quick``: 2,000 training frames per task, one seed)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from benchmarks import continual
from benchmarks.continual import QUICK_SETTINGS, ContinualConfig, columns
from benchmarks.lab import Column, Context, Page, Run
from ffstream.config import option
from ffstream.data import Scenario, angles, rotated_scenario

__all__ = [
    "DESCRIPTION",
    "FULL",
    "NAME",
    "PAGE",
    "QUICK",
    "REPORT",
    "REPORTS",
    "REPORT_TITLE",
    "Config",
    "angles",
    "build_scenarios",
    "combine",
    "report_table",
    "run_one",
    "runs",
    "table",
]

NAME = "rotated-mnist"
DESCRIPTION = (
    "Rotated-MNIST online (10 tasks, 0-162 degrees, domain-incremental), FF vs ER, "
    "ER-ACE, DER++, GDumb, naive and EWC, memory budget 1,000 frames"
)


@dataclass(frozen=True)
class Config(ContinualConfig):
    """Rotated-MNIST's own settings (see :class:`~benchmarks.continual.ContinualConfig`)."""

    num_tasks: int = option(10, "number of tasks", flag="--tasks")
    max_degrees: float = option(180.0, "rotation span: task t turns t * D / T degrees")

    def table(self) -> str:
        """This suite's entry in :data:`~benchmarks.continual_config.CHOSEN`."""
        return NAME

    def __post_init__(self):
        super().__post_init__()
        if self.num_tasks < 1:
            raise ValueError(f"--tasks must be positive, got {self.num_tasks}")
        if not math.isfinite(self.max_degrees):
            raise ValueError(f"--max-degrees must be finite, got {self.max_degrees}")


#: 60,000 training frames per task (every task sees a fresh random order), three seeds.
FULL = Config()

#: 2,000 training and 500 test frames per task, one seed.
QUICK = Config(**QUICK_SETTINGS)

#: What is reported: 6,000 training frames per task, test seeds 0-4 (seed 100 chose the
#: settings); ``ffstream bench rotated-mnist --train-per-task 6000 --seeds 0,1,2,3,4``.
REPORT = Config(train_per_task=6_000, seeds=(0, 1, 2, 3, 4))
REPORT_TITLE = "6,000 frames per task, test seeds 0-4"
REPORTS = ((REPORT, REPORT_TITLE, "report"),)  # what the page reports (benchmarks.render)

PAGE = Page(
    title="Rotated-MNIST, online, under a memory budget",
    measures=(
        "Ten tasks, MNIST turned by 0, 18, ..., 162 degrees, one pass in batches of 10, task "
        "boundaries not given (EWC and GDumb are told them), 1,000 stored frames per method; "
        "domain-incremental (one 10-way head); columns as Permuted-MNIST's."
    ),
    command="ffstream bench rotated-mnist",
    columns=columns(
        {"domain-incremental": "domain-inc."},
        extra=(
            Column("domain-incremental.backward_transfer", "BWT", scale=100),
            Column("rotated-mnist.prequential_accuracy", "prequential %", scale=100),
        ),
    ),
    notes=(
        "No published number uses this protocol (GEM's: 20 random angles, 1,000 frames per "
        "task). " + continual.REPORT_NOTE + " Baselines' step sizes: at 2,000 frames per task."
    ),
    curve_labels=("frames seen", "accuracy, tasks so far"),
)


def build_scenarios(data: dict, cfg: Config, seed: int) -> list[Scenario]:
    """One scenario: each task a random subset of the training set, turned."""
    scenario = rotated_scenario(
        data["train"],
        data["test"],
        seed=seed,
        num_tasks=cfg.num_tasks,
        max_degrees=cfg.max_degrees,
        train_per_task=cfg.train_per_task,
        test_per_task=cfg.test_per_task,
        name="rotated-mnist",
    )
    return [scenario]


runs = continual.runs
table = continual.table


def run_one(cfg: Config, run: Run, ctx: Context) -> dict[str, Any]:
    """``run.method`` on the Rotated-MNIST scenario of ``run.seed``."""
    return continual.run_continual(cfg, run, ctx, build_scenarios)


def combine(cfg: Config, records: list[dict[str, Any]], console) -> dict[str, Any]:
    """The combined JSON of before: ``results[]`` per (scenario, method), runs per seed."""
    return continual.combine(NAME, cfg, records, console)


def report_table(records: list[dict[str, Any]]) -> str:
    """The report's table on BENCHMARKS.md: domain-incremental accuracy per method."""
    return continual.report_table(records, "domain-incremental", REPORT.methods)
