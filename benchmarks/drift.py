"""Drifting streams from river: prequential accuracy of FF learners against river's adaptive trees.

Streams (``river.datasets.synth``), each ``samples`` long:

- ``sea``: SEA concept 0, then concept 2 (``ConceptDriftStream``, a near-abrupt drift halfway).
- ``agrawal``: Agrawal function 0, then function 2 (``ConceptDriftStream``, gradual drift).
- ``rbf``: ``RandomRBFDrift`` (4 classes, moving centroids: incremental drift all along).

``ConceptDriftStream`` evaluates ``exp(-4 (t - position) / width)``, which overflows once
``position / width`` exceeds ~177, so widths are set from the stream length (``n/100`` and
``n/20`` with the drift at ``n/2``: ratios 50 and 10).

Models, each scored test-then-train on every sample by :func:`ffstream.eval.prequential`:

- ``ff-river``: :class:`ffstream.river.FFClassifier` (interleaved local updates, numpy engine).
- ``ff-river-bins``: the same behind :class:`ffstream.river.PiecewiseLinearEncoder` (24 bins per
  feature), hidden 64, lr 0.2, label strength 4, no readout (chosen on seeds 10 and 11, which the
  reported runs do not use, from hidden 32-128, lr 0.1-0.5, 8-32 bins, label strength 1-6, and
  readout_lr none, 0.01 or 0.001).
- ``ff-stream``: :class:`ffstream.stream.StreamLearner` behind :class:`StreamLearnerAdapter`
  (running standardisation of the features), awake on every sample and asleep every
  ``sleep_every``.
- ``hat``: ``river.tree.HoeffdingAdaptiveTreeClassifier``.
- ``arf``: ``river.forest.ARFClassifier`` (10 trees).

Both FF river models predict with the moving average of their weights (``--ff-ema-decay``,
0.99; ``none`` predicts with the latest weights, as before 2026-11-27), and the average always
predicts (``ema_fallback_window=None``: the suite was measured before FFClassifier had one).
Every model learns one sample at a time on the CPU (river's are pure Python), whatever
``--device`` says.

Run: ``ffstream bench drift`` (``--quick``: 4,000 samples per stream, one seed)
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterable
from dataclasses import asdict, dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from rich.console import Console

from benchmarks.lab import Column, Context, Page, Run, select
from ffstream._checks import check_ema_decay
from ffstream.config import option
from ffstream.eval import prequential
from ffstream.stream import EveryN, StreamLearner

__all__ = [
    "DESCRIPTION",
    "DEVICE",
    "FULL",
    "MODELS",
    "NAME",
    "PAGE",
    "QUICK",
    "STREAMS",
    "Config",
    "StreamLearnerAdapter",
    "combine",
    "make_model",
    "make_stream",
    "run_one",
    "runs",
]

NAME = "drift"
DEVICE = "cpu"  # river's models and the adapter learn one sample at a time on the CPU
DESCRIPTION = (
    "river drift streams (SEA, Agrawal, RandomRBFDrift): prequential accuracy of FF learners "
    "vs HoeffdingAdaptiveTree and ARF"
)

#: stream name -> number of classes
STREAMS: dict[str, int] = {"sea": 2, "agrawal": 2, "rbf": 4}
MODELS: tuple[str, ...] = ("ff-river", "ff-river-bins", "ff-stream", "hat", "arf")


@dataclass(frozen=True)
class Config:
    """Every setting of the suite, in one place."""

    samples: int = option(20_000, "samples per stream")
    streams: tuple[str, ...] = select(tuple(STREAMS), "streams to run", choices=tuple(STREAMS))
    models: tuple[str, ...] = select(MODELS, "models to run", choices=MODELS)
    seeds: tuple[int, ...] = select((0, 1, 2), "seeds of the streams and models")
    window: int = option(500, "samples per point of the windowed prequential curve")
    ff_river_hidden: tuple[int, ...] = option((32,), "ff-river: hidden widths")
    ff_ema_decay: float | None = option(
        0.99,
        "ff-river and ff-river-bins: decay of the weight average that predicts, in [0, 1) "
        "('none': the latest weights predict)",
    )
    ff_bins: int = option(24, "ff-river-bins: PiecewiseLinearEncoder bins per feature")
    ff_bins_hidden: tuple[int, ...] = option((64,), "ff-river-bins: hidden widths")
    ff_bins_lr: float = option(0.2, "ff-river-bins: step size")
    ff_bins_label_strength: float = option(
        4.0, "ff-river-bins: the one-hot label entry, in standard deviations"
    )
    ff_stream_hidden: tuple[int, ...] = option((100, 100), "ff-stream: hidden widths")
    ff_stream_lr: float = option(1e-3, "ff-stream: step size")
    ff_stream_memory: int = option(500, "ff-stream: long-term reservoir, frames")
    ff_stream_sleep_batch: int = option(8, "ff-stream: frames per sleep step")
    sleep_every: int = option(200, "ff-stream: frames between sleeps (= recent memory size)")

    def __post_init__(self):
        if self.samples < 2:
            raise ValueError(f"--samples must be at least 2, got {self.samples}")
        for name in ("window", "ff_bins", "ff_stream_memory", "ff_stream_sleep_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
        if self.sleep_every < 1:
            raise ValueError("--sleep-every must be at least 1")
        try:
            check_ema_decay(self.ff_ema_decay)
        except ValueError:
            raise ValueError(
                f"--ff-ema-decay must be in [0, 1) or none, got {self.ff_ema_decay}"
            ) from None


FULL = Config()
QUICK = Config(samples=4_000, seeds=(0,))

PAGE = Page(
    title="Drifting streams: FF learners against adaptive trees",
    measures=(
        "Prequential accuracy on three of river's drift streams: SEA (a near-abrupt change "
        "halfway), Agrawal (a gradual one) and RandomRBFDrift (centroids moving all along). FF "
        "learners (`FFClassifier` on raw features, behind `PiecewiseLinearEncoder`, and a "
        "sleeping `StreamLearner`) against river's Hoeffding adaptive tree (`hat`) and adaptive "
        "random forest (`arf`), one CPU thread. The plot: accuracy over the last `window` "
        "samples."
    ),
    command="ffstream bench drift",
    columns=(
        Column("prequential_accuracy", "prequential accuracy %", scale=100, digits=1),
        Column("samples_per_s", "samples/s", digits=0),
    ),
    notes=(
        "`ff-river`: `FFClassifier` (hidden 32); `ff-river-bins`: "
        "`PiecewiseLinearEncoder(bins=24) | FFClassifier` (hidden 64, lr 0.2, label strength 4, "
        "no readout; chosen on seeds 10 and 11); `ff-stream`: `StreamLearner` (100-100, a sleep "
        "every 200 samples). Both river models predict with a weight average of decay 0.99 "
        "(`--ff-ema-decay`), never handed back."
    ),
    curve_labels=("samples", "windowed prequential accuracy"),
)


def runs(cfg: Config) -> list[Run]:
    """Each seed, stream and model (in that order, as before the lab)."""
    return [
        Run(model, seed, task=stream)
        for seed in cfg.seeds
        for stream in cfg.streams
        for model in cfg.models
    ]


# ---------------------------------------------------------------------------- streams
def make_stream(name: str, samples: int, seed: int) -> Iterable[tuple[dict, Hashable]]:
    """The first ``samples`` samples of stream ``name`` (see the module notes)."""
    from river.datasets import synth

    half = samples // 2
    if name == "sea":
        stream = synth.ConceptDriftStream(
            synth.SEA(variant=0, seed=seed),
            synth.SEA(variant=2, seed=seed + 1),
            position=half,
            width=max(1, samples // 100),
            seed=seed,
        )
    elif name == "agrawal":
        stream = synth.ConceptDriftStream(
            synth.Agrawal(classification_function=0, seed=seed),
            synth.Agrawal(classification_function=2, seed=seed + 1),
            position=half,
            width=max(1, samples // 20),
            seed=seed,
        )
    elif name == "rbf":
        stream = synth.RandomRBFDrift(
            seed_model=seed,
            seed_sample=seed,
            n_classes=STREAMS["rbf"],
            n_features=10,
            n_centroids=50,
            change_speed=0.001,
            n_drift_centroids=25,
        )
    else:
        raise ValueError(f"unknown stream {name!r}; choose from {', '.join(STREAMS)}")
    return itertools.islice(stream, samples)


# ---------------------------------------------------------------------------- models
class StreamLearnerAdapter:
    """A :class:`StreamLearner` on river dicts: fixed feature order, values as they come.

    Features are ordered as in the first sample (a missing one reads 0); the learner
    standardises them itself. Labels map to class indices in order of appearance.
    ``observe`` predicts first, then learns (one :meth:`StreamLearner.observe` call), so
    :func:`ffstream.eval.prequential` scores it like the learner itself.
    """

    def __init__(self, num_classes: int, cfg: Config, seed: int):
        self.num_classes, self.cfg, self.seed = num_classes, cfg, seed
        self.learner: StreamLearner | None = None
        self.keys: list[Hashable] = []
        self.labels: list[Hashable] = []

    def _frame(self, x: dict) -> torch.Tensor:
        if self.learner is None:
            self.keys = list(x)
            d = len(self.keys)
            recent = self.cfg.sleep_every
            self.learner = StreamLearner(
                d,
                self.num_classes,
                hidden=self.cfg.ff_stream_hidden,
                lr=self.cfg.ff_stream_lr,
                schedule=EveryN(recent),
                memory_capacity=self.cfg.ff_stream_memory,
                sleep_batch=self.cfg.ff_stream_sleep_batch,
                recent_capacity=recent,
                device="cpu",
                seed=self.seed,
            )
        v = [float(x.get(k, 0.0) or 0.0) for k in self.keys]
        return torch.tensor(v, dtype=torch.float32).view(1, -1)

    def observe(self, x: dict, y: Hashable) -> SimpleNamespace:
        """Predict ``x``'s label, then learn from ``(x, y)``: ``.prediction`` is the label."""
        frame = self._frame(x)
        if y not in self.labels:
            if len(self.labels) == self.num_classes:
                raise ValueError(f"more than {self.num_classes} classes: {y!r}")
            self.labels.append(y)
        target = torch.tensor([self.labels.index(y)])
        k = int(self.learner.observe(frame, target).prediction[0])
        return SimpleNamespace(prediction=self.labels[k] if k < len(self.labels) else None)


def make_model(name: str, cfg: Config, num_classes: int, seed: int):
    """A fresh model ``name`` (one of :data:`MODELS`)."""
    if name == "ff-river":
        from ffstream.river import FFClassifier

        # the suite's average always predicts (its records predate FFClassifier's fallback)
        return FFClassifier(
            hidden=cfg.ff_river_hidden,
            ema_decay=cfg.ff_ema_decay,
            ema_fallback_window=None,
            seed=seed,
        )
    if name == "ff-river-bins":
        from ffstream.river import FFClassifier, PiecewiseLinearEncoder

        classifier = FFClassifier(
            hidden=cfg.ff_bins_hidden,
            lr=cfg.ff_bins_lr,
            label_strength=cfg.ff_bins_label_strength,
            ema_decay=cfg.ff_ema_decay,
            ema_fallback_window=None,
            # goodness alone: on seeds 10 and 11 a readout (0.01, 0.001) cost every stream
            readout_lr=None,
            seed=seed,
        )
        return PiecewiseLinearEncoder(bins=cfg.ff_bins) | classifier
    if name == "ff-stream":
        return StreamLearnerAdapter(num_classes, cfg, seed)
    if name == "hat":
        from river import tree

        return tree.HoeffdingAdaptiveTreeClassifier(seed=seed)
    if name == "arf":
        from river import forest

        return forest.ARFClassifier(seed=seed)
    raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")


def run_one(cfg: Config, run: Run, ctx: Context) -> dict[str, Any]:
    """Score one fresh model test-then-train on one stream."""
    model = make_model(run.method, cfg, STREAMS[run.task], run.seed)
    result = prequential(model, make_stream(run.task, cfg.samples, run.seed), cfg.window)
    return {
        "metrics": {
            "prequential_accuracy": result.accuracy,
            "samples_per_s": result.samples_per_s,
        },
        "samples": result.samples,
        "seconds": result.seconds,
        "curve": [[n, accuracy] for n, accuracy in result.curve],
    }


def combine(cfg: Config, records: list[dict[str, Any]], console: Console) -> dict[str, Any]:
    """The combined ``--out`` JSON, in the layout of the suite before the lab.

    ``results[]``: one entry per (stream, model) with its ``runs`` (seed, accuracy, samples/s,
    curve as ``{"samples", "accuracy"}`` points) and the mean and population std over seeds.
    """
    entries: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        details, metrics = record["details"], record["metrics"]
        entry = entries.setdefault(
            (record["task"], record["method"]),
            {"stream": record["task"], "model": record["method"], "runs": []},
        )
        entry["runs"].append(
            {
                "seed": record["seed"],
                "prequential_accuracy": metrics["prequential_accuracy"],
                "samples": details["samples"],
                "seconds": details["seconds"],
                "samples_per_s": metrics["samples_per_s"],
                "curve": [{"samples": n, "accuracy": a} for n, a in details["curve"]],
            }
        )
    for entry in entries.values():
        for key in ("prequential_accuracy", "samples_per_s"):
            values = [r[key] for r in entry["runs"]]
            entry[key] = {"mean": float(np.mean(values)), "std": float(np.std(values))}
    result = {
        "suite": NAME,
        "preset": records[0]["preset"],
        "device": "cpu",
        "config": asdict(cfg),
        "results": list(entries.values()),
    }
    return result
