"""Split-MNIST: five tasks of two digits, learned online in one pass under a memory budget.

van de Ven & Tolias's (2019) three scenarios, each its own training run per method and seed
(scenario names in the JSON in brackets):

- **class-incremental** (``split-mnist``): one 10-way head; the task is unknown at test time.
  The same run is also scored **task-masked**: the task given at test time only, the argmax
  restricted to its two classes of the single head (what was reported as task-incremental
  before; the head was trained as one softmax over every class);
- **task-incremental** (``split-mnist-task``): one output head per task, the task given while
  training and testing; each frame's loss and each prediction use its task's head alone
  (:mod:`benchmarks.continual_heads`; for FF one readout per task on the shared layers).
  ``--no-multi-head`` skips this run;
- **domain-incremental** (``split-mnist-domain``): labels mapped to 0/1 within each task (one
  2-way head), task unknown (``--no-domain`` skips this run).

Methods: FF :class:`~ffstream.stream.StreamLearner` and the backprop baselines ER, ER-ACE,
DER++, GDumb, naive and EWC under the same memory budget, replay augmentation, weight average
and SGD steps per batch (see :mod:`benchmarks.continual`). FF's
readout takes 64 long-term memories per sleep step here (``--ff-readout-batch``), twice its
sleep batch: new classes arrive task by task. Kept on the validation split (seed 100) against
32, as was the long-term share 0.5 against 0.75 (``FF_SCANS`` in
:mod:`benchmarks.continual_config`).

Run: ``ffstream bench split-mnist`` (``--quick``: 2,000 training frames per task, one seed)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchmarks import continual
from benchmarks.continual import QUICK_SETTINGS, ContinualConfig, columns
from benchmarks.continual_heads import multi_head
from benchmarks.lab import Column, Context, Page, Run
from ffstream.config import option
from ffstream.data import Scenario, split_scenario

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
    "build_scenarios",
    "combine",
    "report_table",
    "run_one",
    "runs",
    "table",
]

NAME = "split-mnist"
DESCRIPTION = (
    "Split-MNIST online (class-, task- and domain-incremental), FF vs ER, ER-ACE, DER++, "
    "GDumb, naive and EWC, memory budget 1,000 frames"
)


@dataclass(frozen=True)
class Config(ContinualConfig):
    """Split-MNIST's own settings (see :class:`~benchmarks.continual.ContinualConfig`)."""

    classes_per_task: int = option(2, "digits per task")
    ff_readout_batch: int | None = option(
        64, "FF memories per readout step in sleep ('none': the sleep batch)"
    )
    domain_incremental: bool = option(
        True, "also the 0/1-label run, domain-incremental (a second training run)", flag="--domain"
    )
    multi_head: bool = option(
        True,
        "also the task-incremental run, one output head per task (another training run)",
        flag="--multi-head",
    )

    def __post_init__(self):
        super().__post_init__()
        if self.classes_per_task < 1:
            raise ValueError(f"--classes-per-task must be positive, got {self.classes_per_task}")


#: All training frames (about 12,000 per task) and test frames, three seeds.
FULL = Config()

#: 2,000 training and 500 test frames per task, one seed: a few minutes on a busy CPU.
QUICK = Config(**QUICK_SETTINGS)

#: What is reported: the class-incremental run on every training frame, test seeds 0-4 (seed
#: 100 chose the settings); ``ffstream bench split-mnist --no-domain --no-multi-head --seeds
#: 0,1,2,3,4``.
REPORT = Config(domain_incremental=False, multi_head=False, seeds=(0, 1, 2, 3, 4))
REPORT_TITLE = "class-incremental, test seeds 0-4"
REPORTS = ((REPORT, REPORT_TITLE, "report"),)  # what the page reports (benchmarks.render)

PAGE = Page(
    title="Split-MNIST, online, under a memory budget",
    measures=(
        "Five tasks of two digits, one pass in batches of 10, task boundaries not given (EWC and "
        "GDumb are told them), 1,000 stored frames per method. van de Ven & Tolias's scenarios: "
        "class-incremental (one 10-way head), task-incremental (a head per task; FF: a readout "
        "per task), domain-incremental (one 2-way head); task-masked: the 10-way head's argmax "
        "over the task's digits. Average accuracy after the last task; anytime: the mean over 20 "
        "points; forgetting: best minus last. Baselines: an MLP of FF's widths, 2 SGD steps per "
        "batch (FF: one awake, one asleep), a weight average."
    ),
    command="ffstream bench split-mnist",
    columns=columns(
        {"class-incremental": "class-inc.", "task-incremental": "task-inc."},
        extra=(
            Column("task-masked.average_accuracy", "task-masked avg acc %", scale=100),
            Column("domain-incremental.average_accuracy", "domain-inc. avg acc %", scale=100),
            Column("domain-incremental.forgetting", "domain-inc. forgetting", scale=100),
        ),
    ),
    anchors=(
        "Class-incremental, naive, EWC and SI: about 20% (van de Ven & Tolias 2019, 'Three "
        "scenarios for continual learning').",
        "Online ER (batch 10, class-balanced 1,000, 10 replayed per step): 0.92 class-incremental "
        "(Avalanche continual-learning-baselines); `er` here at that setting, seeds 0-2: "
        "89.7 ± 1.1.",
        "Task-incremental, 2,000 iterations of 128 frames per task (not online): fine-tuning "
        "about 87%, EWC about 99% (van de Ven & Tolias 2019).",
    ),
    notes=("The plot: class-incremental accuracy on the tasks so far. " + continual.REPORT_NOTE),
    curve_labels=("frames seen", "class-incremental accuracy, tasks so far"),
)


def build_scenarios(data: dict, cfg: Config, seed: int) -> list[Scenario]:
    """The 10-way run (class-incremental and task-masked views) and, if asked, the multi-head
    run (task-incremental) and the 0/1-label run (domain-incremental)."""
    common = dict(
        seed=seed,
        classes_per_task=cfg.classes_per_task,
        train_per_task=cfg.train_per_task,
        test_per_task=cfg.test_per_task,
    )
    # its views: class-incremental and task-masked (a masked argmax, not task-incremental)
    single = split_scenario(data["train"], data["test"], name="split-mnist", **common)
    out = [single]
    if cfg.multi_head:
        out.append(multi_head(single, "split-mnist-task"))
    if cfg.domain_incremental:
        out.append(
            split_scenario(
                data["train"], data["test"], name="split-mnist-domain", domain=True, **common
            )
        )
    return out


runs = continual.runs
table = continual.table


def run_one(cfg: Config, run: Run, ctx: Context) -> dict[str, Any]:
    """``run.method`` on every Split-MNIST scenario of ``run.seed``."""
    return continual.run_continual(cfg, run, ctx, build_scenarios)


def combine(cfg: Config, records: list[dict[str, Any]], console) -> dict[str, Any]:
    """The combined JSON of before: ``results[]`` per (scenario, method), runs per seed."""
    return continual.combine(NAME, cfg, records, console)


def report_table(records: list[dict[str, Any]]) -> str:
    """The report's table on BENCHMARKS.md: class-incremental accuracy per method."""
    return continual.report_table(records, "class-incremental", REPORT.methods)
