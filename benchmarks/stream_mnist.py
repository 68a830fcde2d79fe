"""``ffstream bench stream-mnist``: MNIST as one pass of a stream, learned frame by frame.

The training set, shuffled once with the run's seed, is *the stream*: the same for every
condition and batch size. Each run is one condition (:mod:`benchmarks.stream_conditions`) at one
batch size (frames per :meth:`~ffstream.stream.StreamLearner.observe` call, the run's task): it
goes over the stream exactly once, predicting every frame *before* learning from it
(prequential, test-then-train, :mod:`benchmarks.stream_learning`), then is scored on the test set.

- ``ff-interleaved``: a positive and a negative (hard wrong label) update on every frame;
- ``ff-sleep-N``: awake/sleep FF, positive updates only while awake, a full sleep every ``N``
  frames (:class:`~ffstream.stream.EveryN`; replayed memories as positives beside dreams as
  negatives);
- ``ff-sleep-N-no-replay``: the naive separated-phase ablation, sleeping on dream negatives only;
- ``backprop-mlp``: an online backprop MLP of the same layer sizes plus a 10-way output, its
  optimizer and learning rate picked from ``bp_grid`` on the first frames of the stream
  (prequential accuracy on the first ``bp_tune_frames``), one step per batch;
- ``backprop-replay``: the same MLP, tuned the same way, with what FF gets
  (:func:`~benchmarks.stream_learning.replay_plan`): experience replay
  (:class:`~benchmarks.continual_replay.ERMethod`) from a memory of as many frames as FF's
  long-term and recent memories hold together (3,000 by default; a reservoir, as FF's long-term
  memory), FF's replay shift and weight average when it has them, and FF's two steps per batch
  (one awake, one asleep on average), each a cross-entropy over the incoming batch and half
  FF's sleep batch of replayed frames (16 of 32 by default), so it replays as many frames per
  batch as FF; its record's ``replay`` says what it stored, replayed and stepped;
- ``--ablation`` selects instead one lever of the design at a time around the default learner.

Each run's ``frames_per_s`` is the speed of its whole pass, prediction included; the front
ends' own speed is measured by :mod:`benchmarks.speed` (``ffstream bench speed``).

The FF learners use :class:`~ffstream.stream.StreamLearner`'s own defaults (``--ff-settings
image-suites``: the settings the image suites were measured with, ``IMAGE_SUITE_LEARNER``)
unless ``--lr``, ``--hidden``, ``--predict-with``, ``--sleep-batch`` or ``--replay-shift``
override them; the records say what was used (the defaults won on validation seed 100:
:data:`FF_SETTINGS_SCAN`). The quick config streams the first 2,000 frames at batch 1 only:
``ff-sleep-10000`` never sleeps there, so it doubles as the awake-only control.

:data:`REPORT` is what the page reports: the default learner (``ff-sleep-1000``) against both
backprop conditions on the first 10,000 frames at batch 1, test seeds 0-4.

Run: ``ffstream bench stream-mnist --data DIR`` (``--quick``: 2,000 frames, batch 1;
``--ablation``: the levers)
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

import torch
from rich.console import Console

from benchmarks._common import make_progress, sync
from benchmarks.lab import Column, Context, Page, Run, config_identity, preset_of, select
from benchmarks.report_tables import prequential_table
from benchmarks.stream_conditions import Condition, condition_named, selected_conditions
from benchmarks.stream_learning import (
    FF_SETTINGS,
    accuracy_curve,
    learner_defaults,
    learner_overrides,
    load_stream,
    make_backprop,
    make_learner,
    make_replay,
    online_backprop,
    parse_grid,
    prequential,
    replay_plan,
    stream_ff,
    test_accuracy,
    tune_backprop,
)
from ffstream._checks import check_choice, check_pixel_shift
from ffstream.config import option
from ffstream.stream.config import default_hidden

__all__ = [
    "DESCRIPTION",
    "FF_SETTINGS_SCAN",
    "FULL",
    "NAME",
    "PAGE",
    "QUICK",
    "REPORT",
    "REPORTS",
    "Config",
    "combine",
    "report_table",
    "run_one",
    "runs",
]

NAME = "stream-mnist"
DESCRIPTION = (
    "MNIST as one pass of a stream: prequential and test accuracy of interleaved, awake/sleep "
    "and backprop learners"
)
BP_GRID = ("sgd:0.01", "sgd:0.03", "sgd:0.1", "adam:1e-4", "adam:3e-4", "adam:1e-3")


def source(default: Any, help: str, **kwargs: Any) -> Any:
    """A field that says where the data comes from: it does not change a run's numbers, so it
    stays out of the run's identity (the lab's selection fields are the ones left out)."""
    return select(default, help, **kwargs)


@dataclass(frozen=True)
class Config:
    """Every setting of the suite, in one place.

    ``none`` for ``hidden``, ``lr``, ``predict_with`` and ``sleep_batch`` means "the
    StreamLearner default".
    """

    frames: int | None = option(None, "stream length (none: the whole training set)")
    test_frames: int | None = option(None, "test frames scored (none: the whole test set)")
    window: int = option(1_000, "frames per point of the prequential accuracy curve")
    hidden: tuple[int, ...] | None = option(None, "FF widths, e.g. 500,500")
    lr: float | None = option(None, "FF learning rate")
    predict_with: str | None = option(None, "FF inference mode", choices=("goodness", "readout"))
    sleep_batch: int | None = option(None, "FF remembered frames per sleep step")
    replay_shift: int = option(
        0, "FF: frames become 28x28 images; shift each one replayed in sleep by up to N pixels"
    )
    ff_settings: str = option(
        "defaults",
        "where FF's settings start: StreamLearner's defaults, or the settings the image suites "
        "were measured with; --lr and the others above override either",
        choices=tuple(FF_SETTINGS),
    )
    ablation_sleep_every: int = option(
        1_000, "frames between sleeps of the no-replay condition and of every ablation lever"
    )
    bp_grid: tuple[str, ...] = option(BP_GRID, "backprop optimizer:lr grid to tune on")
    bp_tune_frames: int = option(5_000, "first frames of the stream the backprop grid is tuned on")
    batch_sizes: tuple[int, ...] = select((1, 10), "frames per observe() call (the runs' tasks)")
    sleep_every: tuple[int, ...] = select(
        (100, 1_000, 10_000), "awake/sleep conditions: a full sleep every N frames"
    )
    ablation: bool = select(
        False, "instead of the suite's conditions: one lever at a time around the default learner"
    )
    only: tuple[str, ...] | None = select(
        None, "run only these conditions (exact names, comma-separated; none: all)"
    )
    seeds: tuple[int, ...] = select((0,), "seeds: stream order and initial weights")
    data: str | None = source(
        None, "folder holding the MNIST IDX files (none: $FFSTREAM_DATA, else ~/.cache/ffstream)"
    )
    verify: bool = source(
        True, "check the files' SHA-256 (--no-verify: only for your own files in the IDX format)"
    )

    def __post_init__(self):
        for name in ("batch_sizes", "sleep_every", "seeds"):
            if not getattr(self, name):
                raise ValueError(f"--{name.replace('_', '-')} needs at least one value")
        positive = [("batch_sizes", b) for b in self.batch_sizes]
        positive += [("sleep_every", n) for n in self.sleep_every]
        for name in ("window", "ablation_sleep_every", "bp_tune_frames"):
            positive.append((name, getattr(self, name)))
        for name in ("frames", "test_frames", "sleep_batch"):
            if getattr(self, name) is not None:
                positive.append((name, getattr(self, name)))
        for name, value in positive:
            if value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be positive, got {value}")
        check_pixel_shift(self.replay_shift, "--replay-shift")
        check_choice(self.ff_settings, "--ff-settings", tuple(FF_SETTINGS))
        parse_grid(self.bp_grid)
        selected_conditions(self)  # an unknown --only name fails here, before any data is read


#: All 60,000 training frames, batch 1 and micro-batches of 10.
FULL = Config()

#: A CPU configuration: the first 2,000 frames of the stream, batch 1 only.
QUICK = Config(frames=2_000, batch_sizes=(1,), bp_tune_frames=1_000)

#: What the page reports: the default learner against backprop with replay (equal memory,
#: updates and weight average) and without, first 10,000 frames at batch 1, test seeds 0-4.
REPORT = Config(
    frames=10_000,
    batch_sizes=(1,),
    bp_tune_frames=1_000,
    only=("ff-sleep-1000", "backprop-replay", "backprop-mlp"),
    seeds=(0, 1, 2, 3, 4),
)
REPORTS = ((REPORT, "batch 1, the first 10,000 frames, test seeds 0-4", "report"),)

#: ``--ff-settings`` on validation seed 100: prequential, ff-sleep-1000, REPORT's stream (script)
FF_SETTINGS_SCAN = {"defaults": 0.882, "image-suites": 0.7687}

PAGE = Page(
    title="Awake/sleep FF on a one-pass MNIST stream",
    measures=(
        "The MNIST training set, shuffled once per seed, is one stream each learner sees once, "
        "`batch` frames per `observe()`, predicting every frame before learning from it. "
        "Prequential: the share of those predictions that were right; test: test-set accuracy "
        "afterwards. `ff-interleaved` makes a positive and a negative update on every frame; "
        "`ff-sleep-N` learns positives awake and sleeps every N frames on replayed memories "
        "beside dreams (`-no-replay`: dreams only); `backprop-mlp` is an online MLP of the same "
        "sizes, `backprop-replay` the same MLP with FF's memory size, updates per frame and "
        "weight average. FF runs `StreamLearner`'s defaults, chosen over the image suites' "
        "settings on validation seed 100."
    ),
    command="ffstream bench stream-mnist",
    columns=(
        Column("prequential_accuracy", "prequential", digits=3),
        Column("test_accuracy", "test", digits=3),
        Column("test_goodness", "test, goodness", digits=3),
        Column("test_readout", "test, readout", digits=3),
        Column("sleeps", "sleeps", digits=0),
        Column("frames_per_s", "frames/s", digits=0),
    ),
    anchors=(
        "Hinton (2022), The Forward-Forward Algorithm: separating the positive and negative "
        'phases in time, with sum-of-squares goodness, "only works if the learning rate is '
        "very low and the momentum is extremely high\" (the ablation's `sgd-lr1e-5-m0.99`).",
        "Lică & Dinucu-Jianu (2023), MNIST: 97.7% interleaved, 89% alternating positive and "
        "negative batches 1:1, 35% at 16 batches per phase.",
        "Hinton (2022): 1.36% test error for a 4x2000 FF MLP on MNIST after 60 epochs "
        "(offline training, not one pass).",
    ),
    notes=(
        "`--ablation` runs the levers around `ff-sleep-1000` instead: dreams (`dreams-uniform`, "
        "`dreams-hybrid`, `dreams-langevin`), fixed 32-step sleeps, optimiser settings "
        "(`adam-*`, `sgd-*`) and mean-of-squares goodness."
    ),
    curve_labels=("frames seen", "prequential accuracy (window)"),
)


def runs(cfg: Config) -> list[Run]:
    """Each selected condition at each batch size, per seed."""
    out = []
    for seed in cfg.seeds:
        for batch in cfg.batch_sizes:
            out += [Run(c.name, seed, f"batch {batch}") for c in selected_conditions(cfg)]
    return out


def _hidden(cfg: Config) -> tuple[int, ...]:
    return tuple(cfg.hidden or default_hidden(28 * 28))


def _stream(cfg: Config, seed: int, ctx: Context) -> dict[str, torch.Tensor]:
    def make():
        data = load_stream(
            cfg.data, frames=cfg.frames, test_frames=cfg.test_frames, seed=seed, verify=cfg.verify
        )
        return {k: v.to(ctx.device) for k, v in data.items()}

    return ctx.cached(f"stream-{seed}", make)


def run_one(cfg: Config, run: Run, ctx: Context) -> dict[str, Any]:
    """One condition over the stream at one batch size."""
    data = _stream(cfg, run.seed, ctx)
    batch = int(run.task.split()[-1])
    sizes = {"stream_frames": len(data["x"]), "test_frames": len(data["x_test"])}
    cond = condition_named(cfg, run.method)
    with make_progress(ctx.console) as progress:
        task = progress.add_task(run.label(), total=len(data["x"]), status="")
        seen = [0, 0]

        def on_batch(n: int, right: int) -> None:
            seen[0] += n
            seen[1] += right
            progress.update(task, advance=n, status=f"acc {seen[1] / seen[0]:.3f}")

        learn = _learn_ff if cond.kind == "ff" else _learn_backprop
        outcome = learn(cond, cfg, run.seed, batch, data, ctx.device, progress, on_batch)
    hits = outcome.pop("hits")
    metrics = outcome.pop("metrics")
    metrics["prequential_accuracy"] = float(hits.float().mean())
    metrics["frames_per_s"] = len(hits) / outcome["stream_s"]
    return {
        "metrics": metrics,
        "kind": cond.kind,
        "batch_size": batch,
        **outcome,
        **sizes,
        "curve": accuracy_curve(hits, cfg.window),
    }


def _learn_ff(cond: Condition, cfg, seed, batch, data, device, progress, on_batch):
    start = time.perf_counter()
    learner = make_learner(cond, cfg, device, seed)
    hits = stream_ff(learner, data["x"], data["y"], batch, on_batch)
    sync(device)
    stream_s = time.perf_counter() - start
    configured, by_mode = learner.predict_with, {}
    for mode in ("goodness", "readout"):  # both, whichever the learner uses
        learner.predict_with = mode
        by_mode[mode] = test_accuracy(
            lambda t: learner.predict(t.view(len(t), *learner.frame_shape)),
            data["x_test"],
            data["y_test"],
        )
    learner.predict_with = configured
    return {
        "hits": hits,
        "metrics": {
            "test_accuracy": by_mode[configured],
            "test_goodness": by_mode["goodness"],
            "test_readout": by_mode["readout"],
            "sleeps": learner.sleeps,
        },
        "stream_s": stream_s,
        "schedule": repr(learner.schedule),
        "learner": {**learner.config, "dreams": repr(learner.dreams)},
        "learner_overrides": learner_overrides(cfg),
        "predict_with": configured,
    }


def _learn_backprop(cond: Condition, cfg, seed, batch, data, device, progress, on_batch):
    x, y = data["x"], data["y"]
    sizes = (784, *_hidden(cfg))
    plan = replay_plan(cfg) if cond.replay else None

    def make(optimizer: str, lr: float):
        """A fresh learner: its ``observe``, how it predicts the test set, what it recorded."""
        if plan is None:
            model, opt = make_backprop(sizes, optimizer, lr, seed, device)
            return online_backprop(model, opt), lambda t: model(t).argmax(1), dict
        method = make_replay(plan, sizes, optimizer, lr, seed, device)

        def replay() -> dict[str, Any]:  # what it kept and replayed, and the steps it made
            return {
                **plan,
                "frames_per_step": batch + plan["replayed_per_step"],  # once it remembers any
                "replayed_per_batch": plan["steps_per_batch"] * plan["replayed_per_step"],
                "stored_frames": len(method.memory),
                "steps": method.steps,
                "steps_per_frame": method.steps / len(x),
            }

        return method.observe, lambda t: method.predict(t, None), lambda: {"replay": replay()}

    grid = parse_grid(cfg.bp_grid)
    n = min(cfg.bp_tune_frames, len(x))
    task = progress.add_task(f"tune {cond.name} b{batch}", total=n * len(grid), status="")
    tuning = tune_backprop(
        grid, n, lambda o, lr: make(o, lr)[0], x, y, batch, lambda k: progress.advance(task, k)
    )
    chosen = tuning["chosen"]
    progress.update(task, status=f"{chosen['optimizer']} lr {chosen['lr']:g}")
    start = time.perf_counter()
    observe, predict, recorded = make(chosen["optimizer"], chosen["lr"])
    hits = prequential(observe, x, y, batch, on_batch)
    sync(device)
    stream_s = time.perf_counter() - start
    accuracy = test_accuracy(predict, data["x_test"], data["y_test"])
    return {
        "hits": hits,
        "metrics": {"test_accuracy": accuracy, "tuned_lr": chosen["lr"]},
        "stream_s": stream_s,
        "tuning": tuning,
        "sizes": [*sizes, 10],
        **recorded(),
    }


def report_table(records: list[dict[str, Any]]) -> str:
    """The report's table (:func:`benchmarks.report_tables.prequential_table`)."""
    return prequential_table(records, REPORT.only or ())


# ---------------------------------------------------------------------------- combined JSON
def _plain(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str | list | tuple)


def combine(cfg: Config, records: list[dict[str, Any]], console: Console) -> dict[str, Any]:
    """The suite's ``--out`` JSON in its earlier layout: ``runs`` (one per condition and batch
    size, with ``condition``, ``batch_size``, the metrics and details)."""
    del console
    defaults = learner_defaults()
    flat = [
        {"condition": r["method"], "seed": r["seed"], **r["metrics"], **r["details"]}
        for r in records
    ]
    return {
        "suite": NAME,
        "preset": preset_of(sys.modules[__name__], cfg),
        "config": config_identity(cfg),
        "learner_defaults": {k: v if _plain(v) else repr(v) for k, v in defaults.items()},
        "learner_overrides": learner_overrides(cfg),
        "data": {
            "root": cfg.data,
            "stream_frames": flat[0]["stream_frames"],
            "test_frames": flat[0]["test_frames"],
        },
        "runs": flat,
    }
