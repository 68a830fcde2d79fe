"""Streams of every kind: does a learner with its defaults learn well on any of them?

Streams (:data:`ffstream.data.generators.STREAM_KINDS`, ``frames`` long, the seed seeds the
stream and the models): ``linear`` (16 Gaussian features, 4 classes, argmax of a random linear
map), ``nonlinear`` (river's RandomRBF), ``low-dim`` (river's SEA, 3 raw features),
``high-dim`` (200 features, 10 informative), ``mixed-scale`` (river's Agrawal, raw loan
features), ``abrupt`` / ``gradual`` / ``recurring`` (the linear concept replaced by another
halfway, over a window, or taking turns), ``class-incremental`` (10 classes arriving two at a
time), ``label-noise`` (20% of the labels flipped), ``outlier-bursts`` (bursts of values up to
±1,000 on a few features) and ``sensor`` (unlabelled, faults marked for scoring only).

Methods (:mod:`benchmarks._streams_methods`), all with their defaults, seeded:

- labelled streams: ``ff-stream`` (``StreamLearner(features, classes)``), ``ff-stream-interleaved``
  (the same with ``schedule=Interleaved()``), ``ff-river`` (``FFClassifier()``), ``logreg``
  (``StandardScaler | OneVsRestClassifier(LogisticRegression)``), ``hat``
  (``HoeffdingAdaptiveTreeClassifier``), ``arf`` (``ARFClassifier``), ``knn``
  (``StandardScaler | KNNClassifier``) and ``mlp`` (an online backprop MLP of the learner's
  default widths, one Adam step per frame on standardised inputs);
- ``sensor``: ``ff-stream`` and ``ff-stream-interleaved`` unlabelled (score: the novelty of
  ``observe``), ``ff-anomaly`` (``FFAnomalyDetector()``) and ``hst``
  (``MinMaxScaler | HalfSpaceTrees``), scored by the exact ROC-AUC of scores taken before
  learning each frame.

Seeds come in two disjoint sets: :data:`VALIDATION_SEEDS` choose defaults (``--split
validation``), :data:`REPORT_SEEDS` give the reported numbers (``--split report``, the default).
The split is part of a run's identity, so validation runs never land in the reported table.
:data:`VALIDATION_SCANS` holds what the validation seeds said about the settings of
``StreamLearner`` and ``FFClassifier``, and what was chosen.

With ``--memory`` (on in the full preset) each run goes to its own Python process, whose peak
resident memory (``ru_maxrss``) is the run's ``peak_rss_mb``: it includes the interpreter,
torch, river and the stream, the same for every method (``baseline_rss_mb`` in the details).
Without it the runs share this process and no memory is reported (a tracemalloc peak would
slow river's pure-Python models and skew frames/s).

Run: ``ffstream bench streams`` (``--quick``: 2,000 frames, one seed; ``--split validation``)
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from benchmarks._streams_methods import CLASSIFIERS, DETECTORS, make_stream, run_method
from benchmarks._streams_scans import VALIDATION_SCANS
from benchmarks._streams_table import table
from benchmarks.lab import Column, Context, Page, Run, select
from ffstream.config import option
from ffstream.data.generators import NUM_CLASSES, STREAM_KINDS
from ffstream.stream.config import LearnerConfig

__all__ = [
    "DESCRIPTION",
    "DEVICE",
    "FULL",
    "METHODS",
    "NAME",
    "PAGE",
    "QUICK",
    "REPORT_SEEDS",
    "SPLITS",
    "STREAMS",
    "VALIDATION_SCANS",
    "VALIDATION_SEEDS",
    "Config",
    "check_splits",
    "run_one",
    "runs",
    "split_seeds",
    "table",
]

NAME = "streams"
DEVICE = "cpu"  # one frame at a time; river's models are pure Python
DESCRIPTION = (
    "stream kinds (stationary, drifting, class-incremental, noisy, unlabelled): FF learners' "
    "defaults against river's baselines and an online MLP"
)

#: seeds that choose defaults, and seeds whose runs are reported: never the same
VALIDATION_SEEDS: tuple[int, ...] = (0, 1, 2)
REPORT_SEEDS: tuple[int, ...] = (100, 101, 102, 103, 104)
SPLITS: dict[str, tuple[int, ...]] = {"validation": VALIDATION_SEEDS, "report": REPORT_SEEDS}


STREAMS: tuple[str, ...] = tuple(STREAM_KINDS)
METHODS: tuple[str, ...] = tuple(dict.fromkeys(CLASSIFIERS + DETECTORS))
ROOT = Path(__file__).resolve().parents[1]


def check_splits(splits: dict[str, tuple[int, ...]] = SPLITS) -> None:
    """Refuse seed sets that share a seed: a default chosen on a seed must not be reported on it."""
    seen: dict[int, str] = {}
    for name, seeds in splits.items():
        for seed in seeds:
            if seed in seen and seen[seed] != name:
                raise ValueError(f"seed {seed} is both a {seen[seed]} and a {name} seed")
            seen[seed] = name


check_splits()


@dataclass(frozen=True)
class Config:
    """Every setting of the suite, in one place."""

    frames: int = option(20_000, "frames per stream")
    split: str = option(
        "report",
        f"seed set: validation {VALIDATION_SEEDS} chooses defaults, report {REPORT_SEEDS} is "
        "reported",
        choices=tuple(SPLITS),
    )
    streams: tuple[str, ...] = select(STREAMS, "streams to run", choices=STREAMS)
    methods: tuple[str, ...] = select(METHODS, "methods to run", choices=METHODS)
    seeds: tuple[int, ...] | None = select(
        None, "seeds to run, all of the split's set ('none': the split's seeds)"
    )
    seed_count: int | None = select(
        None, "without --seeds, only the first N of the split's seeds ('none': all)"
    )
    memory: bool = select(False, "one process per run, to record its peak memory")
    ff_lr: float | None = option(None, "StreamLearner's lr, to compare settings ('none': default)")
    ff_weight_decay: float | None = option(
        None, "StreamLearner's weight_decay, to compare settings ('none': its default)"
    )
    ff_readout_lr: float | None = option(
        None, "StreamLearner's readout_lr, to compare settings ('none': its default)"
    )
    ff_readout_decay: float | None = option(
        None, "StreamLearner's readout_decay, to compare settings ('none': its default)"
    )
    ff_standardize: bool | None = option(
        None, "StreamLearner's standardize, to compare settings ('none': its default)"
    )
    ff_long_term_share: float | None = option(
        None, "StreamLearner's long_term_share, to compare settings ('none': its default)"
    )
    ff_readout_reads_input: bool | None = option(
        None, "StreamLearner's readout_reads_input, to compare settings ('none': its default)"
    )
    ff_ema_decay: float | None = option(
        None,
        "StreamLearner's ema_decay (a predicting weight average), to compare settings "
        "('none': its default; 0: an average that is the live weights, i.e. none)",
    )
    ff_ema_fallback_window: int | None = option(
        None,
        "StreamLearner's ema_fallback_window, to compare settings ('none': its default)",
    )

    def learner_options(self) -> dict[str, Any]:
        """Settings of ``StreamLearner`` that differ from its defaults in this config."""
        prefix = "ff_"
        options = {
            name[len(prefix) :]: getattr(self, name)
            for name in self.__dataclass_fields__
            if name.startswith(prefix)
        }
        return {name: value for name, value in options.items() if value is not None}

    def __post_init__(self):
        if self.frames < 100:  # ten windows of the curve, each of at least ten frames
            raise ValueError(f"--frames must be at least 100, got {self.frames}")
        if self.split not in SPLITS:
            raise ValueError(f"--split must be one of {', '.join(SPLITS)}, got {self.split!r}")
        if self.seed_count is not None and self.seed_count < 1:
            raise ValueError(f"--seed-count must be at least 1, got {self.seed_count}")
        allowed = SPLITS[self.split]
        for seed in self.seeds or ():
            if seed not in allowed:
                other = next(name for name in SPLITS if name != self.split)
                raise ValueError(
                    f"seed {seed} is not a {self.split} seed ({self.split} seeds: "
                    f"{', '.join(map(str, allowed))}; {other} seeds are never mixed in)"
                )
        try:  # the learner's own checks, before any run starts rather than halfway through
            LearnerConfig(in_features=1, **self.learner_options())
        except ValueError as err:
            raise ValueError(f"an --ff-* setting: {err}") from None


FULL = Config(memory=True)
QUICK = Config(frames=2_000, seed_count=1)

PAGE = Page(
    title="Streams of every kind: defaults against river's baselines",
    measures=(
        "Twelve generated streams (`ffstream.data.generators`): stationary, drifting, "
        "class-incremental, noisy, and an unlabelled sensor feed with faults. Each method "
        "learns one frame at a time with its defaults: `StreamLearner` (awake/sleep, "
        "`Interleaved`), `FFClassifier` (`ff-river`), river's scaled logistic regression, "
        "Hoeffding adaptive tree, adaptive random forest and scaled kNN, and an online MLP of "
        "the learner's widths. On the sensor stream, ROC-AUC (`FFAnomalyDetector`, "
        "`HalfSpaceTrees`)."
    ),
    command="ffstream bench streams",
    columns=(
        Column("prequential_accuracy", "prequential accuracy %", scale=100, digits=1),
        Column("last_10pct_accuracy", "last 10% accuracy %", scale=100, digits=1),
        Column("roc_auc", "ROC-AUC", digits=3),
        Column("frames_per_s", "frames/s", digits=0),
        Column("peak_rss_mb", "peak memory MiB", digits=0),
    ),
    notes=(
        "Report seeds 100-104; defaults chosen on validation seeds 0-2 (`--split validation`, "
        "never in these tables). Peak memory includes the interpreter, torch, river and the "
        "stream. FF's sensor rows predate the weight average, which leaves novelty scores alone."
    ),
    curve_labels=("frames", "accuracy in each 10% of the stream"),
)


def split_seeds(cfg: Config) -> tuple[int, ...]:
    """The seeds ``cfg`` runs: ``--seeds``, else the first ``seed_count`` of its split's set."""
    if cfg.seeds is not None:
        return cfg.seeds
    return SPLITS[cfg.split][: cfg.seed_count]


def runs(cfg: Config) -> list[Run]:
    """Each stream, seed and method that applies to it (classifiers, or detectors on sensor)."""
    out = []
    for stream in cfg.streams:
        kind = DETECTORS if NUM_CLASSES[stream] is None else CLASSIFIERS
        methods = [m for m in cfg.methods if m in kind]
        out += [Run(m, seed, task=stream) for seed in split_seeds(cfg) for m in methods]
    return out


def _in_child(cfg: Config, run: Run) -> dict[str, Any]:
    job = {"stream": run.task, "method": run.method, "frames": cfg.frames, "seed": run.seed}
    job["learner_options"] = cfg.learner_options()
    job["threads"] = torch.get_num_threads()
    command = [sys.executable, "-m", "benchmarks._streams_methods", json.dumps(job)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{run.label()} failed in its process:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_one(cfg: Config, run: Run, ctx: Context) -> dict[str, Any]:
    """One fresh method on one stream: in its own process with ``memory``, else here."""
    if cfg.memory:
        outcome = _in_child(cfg, run)
    else:
        key = (run.task, cfg.frames, run.seed)
        if ctx.cache.get("stream-key") != key:  # one stream held at a time
            ctx.cache["stream"] = make_stream(run.task, cfg.frames, run.seed)
            ctx.cache["stream-key"] = key
        x, y = ctx.cache["stream"]
        outcome = run_method(run.method, run.task, x, y, run.seed, cfg.learner_options())
    outcome["split"] = cfg.split
    return outcome
