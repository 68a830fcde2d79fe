"""Permuted-MNIST: ten tasks, each MNIST under its own fixed pixel permutation (task 0 keeps
the identity), learned online in one pass under a memory budget; domain-incremental (one 10-way
head, task unknown at test time).

Methods: FF :class:`~ffstream.stream.StreamLearner` and the backprop baselines ER, ER-ACE,
DER++, GDumb, naive and EWC under the same memory budget, replay augmentation, weight average
and SGD steps per batch (see :mod:`benchmarks.continual`).

FF's settings here are the continual suites' own (it predicts with its readout, at the
learner's step size, recalling half of each sleep batch from its long-term memory), chosen on
this suite's validation split at 6,000 frames per task, seed 100, one flag at a time
(``FF_SCANS`` in :mod:`benchmarks.continual_config`). They replaced settings first chosen on
test accuracy (goodness prediction over all layers, ``--ff-lr 1.5e-4``,
``--ff-long-term-share 0.75``), each of which scored lower there.

GEM's protocol beside ours (``--protocol gem``, :data:`GEM_PROTOCOL`): Lopez-Paz & Ranzato's
(2017) Permuted-MNIST as A-GEM (Chaudhry et al. 2019) also ran it: 20 tasks of 1,000 training
frames, one pass in batches of 10, a 2x100 MLP for the backprop baselines and FF at the same
widths, 256 stored frames per task, every test frame. Published average accuracy: GEM 0.83,
A-GEM 0.81 (neither method is written here; ER, ER-ACE, DER++ and GDumb are). Its own settings
were chosen on its validation split (:mod:`benchmarks.continual_config`).

Run: ``ffstream bench permuted-mnist`` (``--quick``: 2,000 training frames per task, one seed)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from benchmarks import continual
from benchmarks.continual import QUICK_SETTINGS, ContinualConfig, columns
from benchmarks.lab import Column, Context, Page, Run
from ffstream.config import option
from ffstream.data import Scenario, permuted_scenario

__all__ = [
    "DESCRIPTION",
    "FULL",
    "GEM_REPORT",
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

NAME = "permuted-mnist"
DESCRIPTION = (
    "Permuted-MNIST online (10 tasks, domain-incremental), FF vs ER, ER-ACE, DER++, "
    "GDumb, naive and EWC, memory budget 1,000 frames"
)


#: GEM's protocol (Lopez-Paz & Ranzato 2017, as used by A-GEM, Chaudhry et al. 2019): 20 tasks
#: of 1,000 training frames each, one pass in batches of 10, a 2x100 MLP, 256 stored frames per
#: task (5,120), every test frame of each task. ``--protocol gem`` sets the first three always
#: (they are the protocol) and the widths and memory where they are at this suite's defaults.
GEM_PROTOCOL: dict[str, Any] = dict(
    num_tasks=20, train_per_task=1_000, batch_size=10, hidden=(100, 100), memory=5_120
)
_GEM_FIXED = ("num_tasks", "train_per_task", "batch_size")

#: The settings of GEM's protocol chosen on its validation split (seed 100, ``--split val``,
#: every method at GEM_BP_LR of :mod:`benchmarks.continual_config`; scored by average
#: accuracy), set like the widths where they are at this suite's defaults:
#:
#: - ``ema_decay`` 0.99, one for every method: from none / 0.99 / 0.995, best for er (83.5 /
#:   84.5 / 84.1), er-ace (81.2 / 82.2 / 81.4) and gdumb, and over the mean of the six baselines
#:   (64.7 / 65.7 / 65.5); 0.995 averages over more steps than a task of 1,000 frames makes.
#:   ``python -m benchmarks.continual_choose permuted-mnist --flag ema-decay --values
#:   none,0.99,0.995 -- --protocol gem --seeds 100``;
#: - FF predicts with its readout at the image suites' step (3e-4): goodness prediction at
#:   1.5e-4 (this suite's former settings) scored 29.8; with the readout, ff-lr 3e-4 /
#:   1e-3 / 3e-3: 40.5 / 27.9 / 14.1 (``--flag ff-lr ... --methods ff --ff-predict-with
#:   readout``); its readout learning asleep beat always (40.5 / 35.0, ``--flag ff-readout``);
#:   it recalls three quarters of each sleep batch from its long-term memory: 29.2 / 32.7 /
#:   40.5 at ``--ff-long-term-share`` 0.25 / 0.5 / 0.75.
GEM_CHOSEN: dict[str, Any] = dict(
    ema_decay=0.99, ff_predict_with="readout", ff_lr=None, ff_long_term_share=0.75
)


@dataclass(frozen=True)
class Config(ContinualConfig):
    """Permuted-MNIST's own settings (see :class:`~benchmarks.continual.ContinualConfig`).

    ``protocol="gem"`` turns it into GEM's protocol (:data:`GEM_PROTOCOL`), with the settings
    chosen on its validation split (:data:`GEM_CHOSEN`); each backprop
    baseline then takes its step size chosen on GEM's protocol (``GEM_BP_LR`` in
    :mod:`benchmarks.continual_config`).

    Examples
    --------
    >>> gem = Config(protocol="gem")
    >>> gem.num_tasks, gem.train_per_task, gem.batch_size, gem.hidden, gem.memory
    (20, 1000, 10, (100, 100), 5120)
    >>> Config(protocol="gem", hidden=(400, 400)).hidden  # a width of your own is kept
    (400, 400)
    """

    protocol: str = option(
        "ours",
        "'ours' (the settings below) or 'gem': GEM's Permuted-MNIST (20 tasks x 1,000 frames, "
        "batch 10, one pass), with 2x100 widths, 5,120 stored frames, weight average 0.99 and FF "
        "recalling 3/4 of each sleep batch from memory, each where its flag is at this suite's "
        "default",
        choices=("ours", "gem"),
    )
    num_tasks: int = option(10, "number of tasks", flag="--tasks")
    permutation_seed: int = option(0, "seed of the permutations (fixed across seeds)")
    ff_goodness_layers: str = option(
        "all",
        "whose goodness FF sums when it predicts by goodness (goodness_layers); all here, an "
        "earlier choice not scanned on validation",
        choices=("above-first", "all"),
    )

    def __post_init__(self):
        if self.protocol not in ("ours", "gem"):
            raise ValueError(f"--protocol must be ours or gem, got {self.protocol!r}")
        if self.protocol == "gem":  # before the checks, which then see GEM's values
            for name, value in {**GEM_PROTOCOL, **GEM_CHOSEN}.items():
                ours = next(f.default for f in dataclasses.fields(self) if f.name == name)
                if name in _GEM_FIXED or getattr(self, name) == ours:
                    object.__setattr__(self, name, value)  # frozen: set once, while made
        super().__post_init__()
        if self.num_tasks < 1:
            raise ValueError(f"--tasks must be positive, got {self.num_tasks}")
        if self.replay_shift:
            raise ValueError("--replay-shift: permuted frames have no pixel layout to shift")

    def table(self) -> str:
        """This suite's entry in :data:`~benchmarks.continual_config.CHOSEN`; GEM's protocol
        has its own."""
        return NAME + ("-gem" if self.protocol == "gem" else "")


#: 60,000 training frames per task (every task sees a fresh random order), three seeds.
FULL = Config()

#: 2,000 training and 500 test frames per task, one seed.
QUICK = Config(**QUICK_SETTINGS)

#: What is reported: 6,000 training frames per task, test seeds 0-4 (seed 100 chose the
#: settings); ``ffstream bench permuted-mnist --train-per-task 6000 --seeds 0,1,2,3,4``.
REPORT = Config(train_per_task=6_000, seeds=(0, 1, 2, 3, 4))
REPORT_TITLE = "6,000 frames per task, test seeds 0-4"

#: GEM's protocol as reported, on the same test seeds (its settings chosen on seed 100):
#: ``ffstream bench permuted-mnist --protocol gem --seeds 0,1,2,3,4``.
GEM_REPORT = Config(protocol="gem", seeds=(0, 1, 2, 3, 4))

#: what the page reports (:mod:`benchmarks.render`): ``(config, title, plot name)``
REPORTS = (
    (REPORT, REPORT_TITLE, "report"),
    (GEM_REPORT, "GEM's protocol, 20 tasks of 1,000 frames, 2x100, test seeds 0-4", "report-gem"),
)

PAGE = Page(
    title="Permuted-MNIST, online, under a memory budget",
    measures=(
        "Ten tasks, each MNIST under its own pixel permutation, one pass in batches of 10, task "
        "boundaries not given (EWC and GDumb are told them), 1,000 stored frames per method; "
        "domain-incremental (one 10-way head). BWT: each earlier task's change from just after "
        "it to the end; prequential: each batch scored before it is learned."
    ),
    command="ffstream bench permuted-mnist",
    columns=columns(
        {"domain-incremental": "domain-inc."},
        extra=(
            Column("domain-incremental.backward_transfer", "BWT", scale=100),
            Column("permuted-mnist.prequential_accuracy", "prequential %", scale=100),
        ),
    ),
    anchors=(
        "GEM's protocol (`--protocol gem`: 20 tasks of 1,000 frames, one pass, 2x100): GEM 0.83, "
        "A-GEM 0.81 average accuracy (Lopez-Paz & Ranzato 2017; Chaudhry et al. 2019).",
    ),
    notes=continual.REPORT_NOTE
    + " Baselines' step sizes: at 2,000 frames per task (GEM's: on its protocol).",
    curve_labels=("frames seen", "accuracy, tasks so far"),
)


def build_scenarios(data: dict, cfg: Config, seed: int) -> list[Scenario]:
    """One scenario: each task a random subset of the training set, permuted."""
    scenario = permuted_scenario(
        data["train"],
        data["test"],
        seed=seed,
        num_tasks=cfg.num_tasks,
        permutation_seed=cfg.permutation_seed,
        train_per_task=cfg.train_per_task,
        test_per_task=cfg.test_per_task,
        name="permuted-mnist",
    )
    return [scenario]


runs = continual.runs
table = continual.table


def run_one(cfg: Config, run: Run, ctx: Context) -> dict[str, Any]:
    """``run.method`` on the Permuted-MNIST scenario of ``run.seed``."""
    return continual.run_continual(cfg, run, ctx, build_scenarios)


def combine(cfg: Config, records: list[dict[str, Any]], console) -> dict[str, Any]:
    """The combined JSON of before: ``results[]`` per (scenario, method), runs per seed."""
    return continual.combine(NAME, cfg, records, console)


def report_table(records: list[dict[str, Any]]) -> str:
    """The report's table on BENCHMARKS.md: domain-incremental accuracy per method."""
    return continual.report_table(records, "domain-incremental", REPORT.methods)
