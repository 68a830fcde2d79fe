"""Drifting streams from river: prequential accuracy of FF learners against river's adaptive trees.

Streams (``river.datasets.synth``), each ``samples`` long:

- ``sea``: SEA concept 0, then concept 2 (``ConceptDriftStream``, a near-abrupt drift halfway).
- ``agrawal``: Agrawal function 0, then function 2 (``ConceptDriftStream``, gradual drift).
- ``rbf``: ``RandomRBFDrift`` (4 classes, moving centroids: incremental drift all along).

``ConceptDriftStream`` evaluates ``exp(-4 (t - position) / width)``, which overflows once
``position / width`` exceeds ~177, so widths are set from the stream length (``n/100`` and
``n/20`` with the drift at ``n/2``: ratios 50 and 10).

Models, evaluated test-then-train on every sample:

- ``ff-river``: :class:`ffstream.river.FFClassifier` (interleaved local updates, numpy engine).
- ``ff-river-bins``: the same behind :class:`ffstream.river.PiecewiseLinearEncoder` (24 bins per
  feature), hidden 64, lr 0.2, label strength 4 (chosen on seeds 10 and 11, which the reported
  runs do not use, from hidden 32-128, lr 0.1-0.5, 8-32 bins, label strength 1-6).
- ``ff-stream``: :class:`ffstream.stream.StreamLearner` behind a small dict adapter (running
  standardisation of the features), awake on every sample and asleep every ``sleep_every``.
- ``hat``: ``river.tree.HoeffdingAdaptiveTreeClassifier``.
- ``arf``: ``river.forest.ARFClassifier`` (10 trees).

Both FF river models predict with the moving average of their weights (``--ff-ema-decay``,
0.99; ``none`` predicts with the latest weights, as before 2026-11-27).

Run: ``ffstream bench drift --quick --out drift-quick.json``
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console

from benchmarks._common import (
    add_ema_decay_argument,
    ema_decay_override,
    make_progress,
    result_skeleton,
)
from ffstream.eval import PrequentialAccuracy
from ffstream.stream import EveryN, StreamLearner

__all__ = [
    "DESCRIPTION",
    "FULL",
    "MODELS",
    "QUICK",
    "STREAMS",
    "DriftConfig",
    "StreamLearnerAdapter",
    "add_arguments",
    "config_from_args",
    "make_model",
    "make_stream",
    "prequential",
    "run",
]

DESCRIPTION = (
    "river drift streams (SEA, Agrawal, RandomRBFDrift): prequential accuracy of FF learners "
    "vs HoeffdingAdaptiveTree and ARF"
)

#: stream name -> number of classes
STREAMS: dict[str, int] = {"sea": 2, "agrawal": 2, "rbf": 4}
MODELS: tuple[str, ...] = ("ff-river", "ff-river-bins", "ff-stream", "hat", "arf")


@dataclass
class DriftConfig:
    """Every hyper-parameter of the suite, in one place."""

    samples: int = 20_000  # per stream
    streams: tuple[str, ...] = tuple(STREAMS)
    models: tuple[str, ...] = MODELS
    seeds: tuple[int, ...] = (0, 1, 2)
    window: int = 500  # samples per point of the windowed prequential curve
    ff_river_hidden: tuple[int, ...] = (32,)  # FFClassifier default
    ff_ema_decay: float | None = 0.99  # ff-river and ff-river-bins: the weight average predicts
    ff_bins: int = 24  # ff-river-bins: PiecewiseLinearEncoder bins per feature
    ff_bins_hidden: tuple[int, ...] = (64,)
    ff_bins_lr: float = 0.2
    ff_bins_label_strength: float = 4.0  # the one-hot label entry, in standard deviations
    ff_stream_hidden: tuple[int, ...] = (100, 100)
    ff_stream_lr: float = 1e-3
    ff_stream_memory: int = 500  # long-term reservoir, frames
    ff_stream_sleep_batch: int = 8  # as measured (the learner's default until 2026-11-27)
    sleep_every: int = 200  # frames between sleeps (= recent memory size)
    threads: int | None = 1


FULL = DriftConfig()
QUICK = DriftConfig(samples=4_000, seeds=(0,))


def add_arguments(parser) -> None:
    """Options of ``ffstream bench drift``."""
    parser.add_argument("--samples", type=int, default=None, help="samples per stream")
    parser.add_argument("--streams", default=None, help=f"subset of {','.join(STREAMS)}")
    parser.add_argument("--models", default=None, help=f"subset of {','.join(MODELS)}")
    parser.add_argument("--seeds", default=None, help="comma-separated seeds, e.g. 0,1,2")
    parser.add_argument("--window", type=int, default=None, help="samples per curve point (500)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (1)")
    add_ema_decay_argument(parser, FULL.ff_ema_decay, "ff-river and ff-river-bins")


def config_from_args(args) -> DriftConfig:
    """The base configuration (full or ``--quick``) with command-line overrides applied."""
    cfg = QUICK if getattr(args, "quick", False) else FULL
    overrides: dict[str, Any] = {}
    for name in ("samples", "window", "threads"):
        if getattr(args, name, None) is not None:
            overrides[name] = getattr(args, name)
    overrides.update(ema_decay_override(args))
    if getattr(args, "seeds", None):
        overrides["seeds"] = tuple(int(s) for s in args.seeds.split(",") if s.strip())
    for name, known in (("streams", STREAMS), ("models", MODELS)):
        if getattr(args, name, None):
            chosen = tuple(s.strip() for s in getattr(args, name).split(",") if s.strip())
            unknown = set(chosen) - set(known)
            if unknown:
                raise ValueError(f"unknown {name} {sorted(unknown)}; choose from {list(known)}")
            overrides[name] = chosen
    cfg = dataclasses.replace(cfg, **overrides)
    if cfg.samples < 2 or cfg.window < 1 or not cfg.seeds:
        raise ValueError("--samples must be >= 2, --window >= 1, and give at least one seed")
    return cfg


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
    """A :class:`StreamLearner` on river dicts: fixed feature order, running standardisation.

    Features are ordered as in the first sample; values are standardised with a running mean
    and variance (Welford) and clipped to ±5. Labels map to class indices in order of appearance.
    ``learn_predict_one`` predicts first, then learns (one ``observe`` call).
    """

    def __init__(self, num_classes: int, cfg: DriftConfig, seed: int):
        self.num_classes, self.cfg, self.seed = num_classes, cfg, seed
        self.learner: StreamLearner | None = None
        self.keys: list[Hashable] = []
        self.labels: list[Hashable] = []
        self.n = 0

    def _frame(self, x: dict) -> torch.Tensor:
        if self.learner is None:
            self.keys = list(x)
            d = len(self.keys)
            self.mean, self.m2 = np.zeros(d), np.zeros(d)
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
        v = np.array([float(x.get(k, 0.0) or 0.0) for k in self.keys])
        self.n += 1
        delta = v - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (v - self.mean)
        std = np.sqrt(self.m2 / max(self.n - 1, 1)) + 1e-8
        z = np.clip((v - self.mean) / std, -5.0, 5.0) if self.n > 1 else np.zeros_like(v)
        return torch.as_tensor(z, dtype=torch.float32).view(1, -1)

    def learn_predict_one(self, x: dict, y: Hashable) -> Hashable | None:
        frame = self._frame(x)
        if y not in self.labels:
            if len(self.labels) == self.num_classes:
                raise ValueError(f"more than {self.num_classes} classes: {y!r}")
            self.labels.append(y)
        target = torch.tensor([self.labels.index(y)])
        k = int(self.learner.observe(frame, target).prediction[0])
        return self.labels[k] if k < len(self.labels) else None


def make_model(name: str, cfg: DriftConfig, num_classes: int, seed: int):
    """A fresh model ``name`` (one of :data:`MODELS`)."""
    if name == "ff-river":
        from ffstream.river import FFClassifier

        return FFClassifier(hidden=cfg.ff_river_hidden, ema_decay=cfg.ff_ema_decay, seed=seed)
    if name == "ff-river-bins":
        from ffstream.river import FFClassifier, PiecewiseLinearEncoder

        classifier = FFClassifier(
            hidden=cfg.ff_bins_hidden,
            lr=cfg.ff_bins_lr,
            label_strength=cfg.ff_bins_label_strength,
            ema_decay=cfg.ff_ema_decay,
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


def prequential(model, stream, window: int, on_sample=lambda: None) -> dict[str, Any]:
    """Test-then-train over ``stream``: overall accuracy, windowed curve, samples/s."""
    acc = PrequentialAccuracy(window_size=window)
    curve = []
    start = time.perf_counter()
    for x, y in stream:
        if isinstance(model, StreamLearnerAdapter):
            y_pred = model.learn_predict_one(x, y)
        else:
            y_pred = model.predict_one(x)
            model.learn_one(x, y)
        acc.update([int(y_pred == y)], [1])
        if acc.n % window == 0:
            curve.append({"samples": acc.n, "accuracy": acc.windowed_accuracy})
        on_sample()
    seconds = time.perf_counter() - start
    return {
        "prequential_accuracy": acc.accuracy,
        "samples": acc.n,
        "seconds": seconds,
        "samples_per_s": acc.n / seconds if seconds else None,
        "curve": curve,
    }


# ---------------------------------------------------------------------------- report
def markdown_table(entries: list[dict[str, Any]], models: tuple[str, ...]) -> str:
    """Streams as rows, models as columns: prequential accuracy in percent (mean ± std)."""
    lines = ["| stream | " + " | ".join(models) + " |", "|---" * (len(models) + 1) + "|"]
    by = {(e["stream"], e["model"]): e for e in entries}
    for stream in dict.fromkeys(e["stream"] for e in entries):
        cells = []
        for m in models:
            e = by.get((stream, m))
            if e is None:
                cells.append("-")
                continue
            text = f"{100 * e['prequential_accuracy']['mean']:.1f}"
            if e["prequential_accuracy"]["std"]:
                text += f" ± {100 * e['prequential_accuracy']['std']:.1f}"
            cells.append(f"{text} ({e['samples_per_s']['mean']:.0f}/s)")
        lines.append(f"| {stream} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_curves(entries: list[dict[str, Any]], out: str | None, console: Console) -> list[str]:
    """Windowed prequential accuracy along each stream, one panel per stream, as a PNG."""
    if not out:
        console.print("no --out given, so no plot was written")
        return []
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        console.print(
            "matplotlib is not installed, so no plot was written (pip install matplotlib)"
        )
        return []
    streams = list(dict.fromkeys(e["stream"] for e in entries))
    fig, axes = plt.subplots(1, len(streams), figsize=(4.5 * len(streams), 3.4), squeeze=False)
    for ax, stream in zip(axes[0], streams):
        for e in entries:
            if e["stream"] != stream or not e["runs"][0]["curve"]:
                continue
            xs = [p["samples"] for p in e["runs"][0]["curve"]]
            ys = np.mean([[p["accuracy"] for p in r["curve"]] for r in e["runs"]], axis=0)
            ax.plot(xs, ys, label=e["model"])
        ax.set_title(stream)
        ax.set_xlabel("samples")
        ax.set_ylabel("windowed prequential accuracy")
        ax.legend(fontsize=7)
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    path = f"{Path(out).with_suffix('')}-stream.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    console.print(f"wrote {path}")
    return [path]


def run(args, console: Console) -> dict[str, Any]:
    """Every model on every stream and seed; returns the result dict (also shown as a table)."""
    cfg = config_from_args(args)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    # Every model here learns one sample at a time on the CPU (river's are pure Python).
    result = result_skeleton("drift", "cpu", getattr(args, "quick", False), cfg)
    if args.device != "cpu":
        console.print(f"note: the drift suite runs on the CPU (asked for {args.device})")
        result["requested_device"] = str(args.device)
    wall = time.perf_counter()
    results: dict[tuple[str, str], dict[str, Any]] = {}
    progress = make_progress(console)
    with progress:
        for seed in cfg.seeds:
            for stream_name in cfg.streams:
                for model_name in cfg.models:
                    bar = progress.add_task(
                        f"{stream_name} {model_name} seed {seed}", total=cfg.samples, status=""
                    )
                    model = make_model(model_name, cfg, STREAMS[stream_name], seed)
                    stream = make_stream(stream_name, cfg.samples, seed)
                    r = prequential(
                        model, stream, cfg.window, lambda bar=bar: progress.advance(bar)
                    )
                    r["seed"] = seed
                    progress.update(bar, status=f"{r['prequential_accuracy']:.3f}")
                    if not console.is_terminal:
                        console.print(
                            f"{stream_name} {model_name} seed {seed}: "
                            f"{r['prequential_accuracy']:.4f} ({r['samples_per_s']:.0f}/s)"
                        )
                    entry = results.setdefault(
                        (stream_name, model_name),
                        {"stream": stream_name, "model": model_name, "runs": []},
                    )
                    entry["runs"].append(r)
    entries = []
    for entry in results.values():
        for key in ("prequential_accuracy", "samples_per_s"):
            values = [r[key] for r in entry["runs"] if r[key] is not None]
            entry[key] = {"mean": float(np.mean(values)), "std": float(np.std(values))}
        entries.append(entry)
    table = markdown_table(entries, cfg.models)
    console.print(table, highlight=False, markup=False)
    result.update(
        results=entries,
        table=table,
        plots=plot_curves(entries, getattr(args, "out", None), console),
        wall_seconds=time.perf_counter() - wall,
    )
    return result
