"""What the split-, permuted- and rotated-MNIST suites share: their runs and how one run goes.

A run is one method with one seed (:class:`~benchmarks.lab.Run`); it streams every scenario of
its suite for that seed (and, with ``--iid``, each scenario's i.i.d. reference) through a fresh
instance of the method, under the protocol of :mod:`benchmarks.continual_protocol`. Its record
holds flat metrics (``"class-incremental.average_accuracy"``: a view, then a metric of
:func:`ffstream.eval.continual_summary`; ``"split-mnist.prequential_accuracy"``: a scenario,
then a per-stream number) and, as details, each scenario's accuracy matrices, baseline row and
curve. The suites' combined ``--out`` JSON keeps the layout of before (see
:mod:`benchmarks.continual_report`).

The pieces: :mod:`benchmarks.continual_config` (the shared settings),
:mod:`benchmarks.continual_ff` (FF), :mod:`benchmarks.continual_baselines` (naive, EWC and what
every backprop baseline shares), :mod:`benchmarks.continual_replay` (ER, ER-ACE, DER++, GDumb),
:mod:`benchmarks.continual_split` (the validation split), :mod:`benchmarks.continual_protocol`
(the runner), :mod:`benchmarks.continual_heads` (multi-head task-incremental learning: each
method of a :class:`~benchmarks.continual_heads.MultiHeadScenario` is built with one output
head per task), :mod:`benchmarks.continual_report` (combined JSON, table, plots),
:mod:`benchmarks.continual_choose` (settings chosen on the validation split); the task
builders live in :mod:`ffstream.data.scenarios`.

Methods, all with the same hidden widths, the same memory budget in stored frames, the same
replay augmentation (``--replay-shift``) and the same weight average (``--ema-decay``): ``ff``
(the StreamLearner: per incoming batch one awake step and on average one sleep step), and the
backprop baselines, each making ``--bp-updates`` (2) SGD steps per incoming batch: ``er``,
``er-ace``, ``der++``, ``gdumb`` (class-balanced memory), ``naive`` and ``ewc`` (no memory;
EWC and GDumb are told task boundaries). What each step sees is in their modules.

Where evaluations fall: every row of the accuracy matrix and every anytime point is measured at
a place fixed by the stream (a task end, or an even share of the batches), and FF's sleep
schedule starts at a random phase drawn from the seed, so no evaluation sits at a fixed place
in FF's sleep cycle (with the schedule starting with the stream, task lengths that are
multiples of the sleep period would put every row right after a sleep).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from benchmarks._common import dataset_name, load_frames, make_progress
from benchmarks.continual_config import METHODS, QUICK_SETTINGS, ContinualConfig
from benchmarks.continual_heads import MultiHeadScenario, TaskHeads
from benchmarks.continual_protocol import evaluate, make_method, run_scenario
from benchmarks.continual_report import combine, markdown_table, plot_results, report_table
from benchmarks.continual_split import validation_scenario
from benchmarks.lab import Column, Context, Page, Run, is_number
from ffstream.data import Scenario

__all__ = [
    "METHODS",
    "QUICK_SETTINGS",
    "REPORT_NOTE",
    "ContinualConfig",
    "Builder",
    "columns",
    "combine",
    "evaluate",
    "make_method",
    "markdown_table",
    "plot_results",
    "report_table",
    "run_continual",
    "run_scenario",
    "runs",
    "scenarios_of_seed",
    "table",
]

#: ``(data, cfg, seed) -> scenarios``: a suite's scenarios of one seed, on the CPU, where
#: ``data`` is ``{"train": (x, y), "test": (x, y)}`` with flat float frames
Builder = Callable[[dict, Any, int], list[Scenario]]

#: Said under every continual suite's reports.
REPORT_NOTE = (
    "Settings scanned on validation seed 100 (`FF_SCANS`, `CHOSEN` in "
    "benchmarks/continual_config.py, with those not yet scanned). FF sleeps at a random phase "
    "per seed."
)

#: the per-stream numbers recorded for each scenario besides the per-view summaries
STREAM_METRICS = ("prequential_accuracy", "frames_per_s", "stored_frames", "sleep_phase")


def runs(cfg: ContinualConfig) -> list[Run]:
    """Every method with every seed, seed by seed: the runs of one seed share its scenarios,
    which are built once and dropped before the next seed's (a full Permuted-MNIST scenario
    holds 600,000 frames)."""
    return [Run(method, seed) for seed in cfg.seeds for method in cfg.methods]


def columns(views: dict[str, str], extra: tuple[Column, ...] = ()) -> tuple[Column, ...]:
    """Average accuracy and forgetting (in percent) of each view (name -> short label), and the
    anytime accuracy of the first view."""
    out = []
    for k, (view, label) in enumerate(views.items()):
        out.append(Column(f"{view}.average_accuracy", f"{label} avg acc %", scale=100))
        if k == 0:
            out.append(Column(f"{view}.anytime_accuracy", f"{label} anytime %", scale=100))
        out.append(Column(f"{view}.forgetting", f"{label} forgetting", scale=100))
    return (*out, *extra)


def table(page: Page, records: list[dict[str, Any]], order: list[Run]) -> str:
    """A preset's table on BENCHMARKS.md: :func:`benchmarks.render.summary_table` without the
    columns none of ``records`` measured (records of the earlier protocol lack some)."""
    from benchmarks.render import summary_table  # the renderer imports the suites

    kept = tuple(
        c for c in page.columns if any(is_number(r["metrics"].get(c.metric)) for r in records)
    )
    return summary_table(dataclasses.replace(page, columns=kept), records, order)


def scenarios_of_seed(cfg: ContinualConfig, seed: int, ctx: Context, build: Builder):
    """The scenarios of ``seed`` on the run's device, each followed by its i.i.d. reference
    when ``cfg.iid_reference``; with ``--split val`` each task's test set is its held-out
    training frames (:func:`~benchmarks.continual_split.validation_scenario`). Built once per
    seed and invocation (other seeds' are dropped)."""
    key = f"continual-scenarios-seed{seed}"
    for old in [k for k in ctx.cache if k.startswith("continual-scenarios-") and k != key]:
        del ctx.cache[old]

    def make() -> list[Scenario]:
        data = ctx.cached("continual-data", lambda: _load(cfg))
        out = []
        for scenario in build(data, cfg, seed):
            if cfg.split == "val":  # before anything else: the test frames are never read
                scenario = validation_scenario(scenario, cfg.val_share)
            scenario = scenario.to(ctx.device)
            out.append(scenario)
            if cfg.iid_reference:
                out.append(scenario.iid(seed))
        return out

    return ctx.cached(key, make)


def _load(cfg: ContinualConfig) -> dict:
    """The ``--data`` files, checked to be ``--dataset`` (``custom``: not checked)."""
    custom = cfg.dataset == "custom"
    dataset = "mnist" if custom else cfg.dataset
    return load_frames(cfg.data, dataset=dataset, verify=cfg.verify and not custom)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def run_continual(cfg: ContinualConfig, run: Run, ctx: Context, build: Builder) -> dict[str, Any]:
    """One run of a continual suite: ``run.method`` on every scenario of ``run.seed``.

    Returns ``{"metrics": {...}, "scenarios": {name: {"views", "R", "baseline", "summary",
    "curve", ...}}, "curve": [[frames, accuracy], ...]}``; the top-level curve is the first
    view of the first scenario (mean accuracy on the tasks seen so far).
    """
    scenarios = scenarios_of_seed(cfg, run.seed, ctx, build)
    metrics: dict[str, float] = {}
    details: dict[str, dict[str, Any]] = {}
    with make_progress(ctx.console) as progress:
        for scenario in scenarios:
            total = sum(len(t.x_train) for t in scenario.tasks)
            bar = progress.add_task(
                f"{scenario.name} {run.method} seed {run.seed}", total=total, status=""
            )
            method = make_method(
                run.method,
                cfg,
                scenario.in_features,
                scenario.num_classes,
                run.seed,
                scenario.image_shape,
                ctx.device,
                heads=TaskHeads.of(scenario) if isinstance(scenario, MultiHeadScenario) else None,
            )
            result = run_scenario(
                method, scenario, cfg, run.seed, lambda n, bar=bar: progress.advance(bar, n)
            )
            for view, summary in result["summary"].items():
                for name, value in summary.items():
                    if _number(value):
                        metrics[f"{view}.{name}"] = float(value)
            for name in STREAM_METRICS:
                if _number(result.get(name)):
                    metrics[f"{scenario.name}.{name}"] = result[name]
            if hasattr(method, "settings"):  # what 'none' resolved to: the suite's tables
                result["settings"] = method.settings()
            details[scenario.name] = {"views": list(scenario.views), **result}
    first = details[scenarios[0].name]
    view = first["views"][0]
    curve = [[point["frames"], point[view]] for point in first["curve"]]
    dataset = ctx.cached("continual-dataset", lambda: dataset_name(cfg.data))
    return {"metrics": metrics, "scenarios": details, "curve": curve, "dataset": dataset}
