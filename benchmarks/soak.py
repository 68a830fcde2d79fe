"""Soak: does a default ``StreamLearner`` hold its accuracy and memory on a long, unchanging stream?

Each stationary stream of ``ffstream bench streams`` (:data:`STATIONARY`) runs ``frames`` long
(200,000 by default; ``linear`` also 1,000,000 as the ``ff-stream-long`` method) through
``StreamLearner(features, classes)`` with its defaults, one frame at a time, test-then-train.
After every 10% of the stream the run notes that window's prequential accuracy, the largest
absolute FF weight, the norms of the FF layers' and the readout's weights, and the process's
resident memory (RSS, from ``/proc/self/statm``).

The metrics are what a learner for unbounded streams promises: ``last_minus_best_pp``, the last
window's accuracy minus the best earlier window's (percentage points; the target is no lower
than -0.5), and ``rss_growth_pct``, the RSS after the last window against the RSS after the
second (the first includes the memories filling up; the target is within 5%), or, for a run
that was resumed, after the first window of the process that finished it.

Long runs resume: after each window the learner's checkpoint and the windows so far are written
under ``--progress-dir`` (atomically), and a run that finds them continues from there.

Run: ``ffstream bench soak`` (``--quick``: 20,000 frames)
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks._memory import rss_mb
from benchmarks.lab import Column, Context, Page, Run, select
from ffstream._io import write_json
from ffstream.config import option
from ffstream.data.generators import NUM_CLASSES, STREAM_KINDS
from ffstream.stream import StreamLearner

__all__ = [
    "DESCRIPTION",
    "FULL",
    "NAME",
    "PAGE",
    "QUICK",
    "STATIONARY",
    "Config",
    "run_one",
    "runs",
    "window_report",
]

NAME = "soak"
DESCRIPTION = "accuracy, weight norms and memory of a default StreamLearner over 200k-1M frames"
DEVICE = "cpu"  # one frame at a time

#: the streams of the streams suite whose concept never changes
STATIONARY = ("linear", "nonlinear", "low-dim", "high-dim", "mixed-scale", "label-noise")
WINDOWS = 10
METHODS = ("ff-stream", "ff-stream-long")


@dataclass(frozen=True)
class Config:
    """Every setting of the soak, in one place."""

    frames: int = option(200_000, "frames per stream of the ff-stream runs")
    long_frames: int = option(1_000_000, "frames of the ff-stream-long runs")
    streams: tuple[str, ...] = select(STATIONARY, "streams to soak", choices=STATIONARY)
    long_streams: tuple[str, ...] = select(
        ("linear",), "streams that also run long_frames", choices=STATIONARY
    )
    seeds: tuple[int, ...] = select((100,), "seeds (report seeds of the streams suite)")
    progress_dir: str = select(
        str(Path.home() / ".cache" / "ffstream" / "soak"), "where unfinished runs keep progress"
    )

    def __post_init__(self):
        for name in ("frames", "long_frames"):
            if getattr(self, name) < 10 * WINDOWS:
                raise ValueError(f"--{name.replace('_', '-')} must be at least {10 * WINDOWS}")


FULL = Config()
QUICK = Config(frames=20_000, long_frames=40_000)

PAGE = Page(
    title="Soak: a default StreamLearner on long stationary streams",
    measures=(
        "Each stationary stream of the streams suite for 200,000 frames, and the linear one for "
        "1,000,000 (`ff-stream-long`), through `StreamLearner(features, classes)` with its "
        "defaults, test-then-train. The last 10% window minus the best earlier one (pp; -0.5 "
        "or above: no decline), RSS growth from the second window to the last, and the "
        "largest FF weight at the end."
    ),
    command="ffstream bench soak",
    columns=(
        Column("last_window_accuracy", "last 10% accuracy %", scale=100, digits=1),
        Column("last_minus_best_pp", "last minus best earlier window, pp", digits=2),
        Column("rss_growth_pct", "RSS growth %", digits=1),
        Column("max_abs_weight", "max abs weight", digits=2),
        Column("frames_per_s", "frames/s", digits=0),
    ),
    notes=(
        "One seed per stream (100, a report seed of the streams suite); one CPU thread. "
        "Records older than commit f3a3b71 predate the default weight average."
    ),
    curve_labels=("frames", "accuracy in each 10% of the stream"),
)


def runs(cfg: Config) -> list[Run]:
    """``ff-stream`` on every chosen stream, then ``ff-stream-long`` on the long ones."""
    seeds = cfg.seeds
    out = [Run("ff-stream", seed, task=s) for s in cfg.streams for seed in seeds]
    return out + [Run("ff-stream-long", seed, task=s) for s in cfg.long_streams for seed in seeds]


def _weights(learner: StreamLearner) -> dict[str, float]:
    with torch.no_grad():
        layers = list(learner.net.parameters())
        out = {
            "max_abs_weight": max(float(p.abs().max()) for p in layers),
            "ff_weight_norm": float(torch.sqrt(sum(p.square().sum() for p in layers))),
        }
        if learner.readout is not None:
            out["readout_weight_norm"] = float(learner.readout.linear.weight.norm())
    return out


def window_report(windows: list[dict[str, Any]]) -> dict[str, float]:
    """The soak's metrics from its per-window notes (accuracy, rss_mb, weights).

    Examples
    --------
    >>> w = [{"accuracy": a, "rss_mb": 100.0, "max_abs_weight": 1.0} for a in (0.5, 0.9, 0.88)]
    >>> report = window_report(w)
    >>> round(report["last_minus_best_pp"], 6), report["rss_growth_pct"]
    (-2.0, 0.0)
    """
    accuracy = [w["accuracy"] for w in windows]
    # RSS from the second window on (the first fills the memories), within the last process:
    # a resumed run starts with full memories, so its first window is the base
    last = [w for w in windows if w.get("process") == windows[-1].get("process")]
    rss_base = (last[1] if len(last) == len(windows) and len(last) > 1 else last[0])["rss_mb"]
    return {
        "last_window_accuracy": accuracy[-1],
        "best_earlier_window_accuracy": max(accuracy[:-1]),
        "last_minus_best_pp": 100.0 * (accuracy[-1] - max(accuracy[:-1])),
        "rss_growth_pct": 100.0 * (windows[-1]["rss_mb"] / rss_base - 1.0),
        "max_abs_weight": windows[-1]["max_abs_weight"],
    }


def _notes_path(cfg: Config, run: Run, frames: int, learner: StreamLearner) -> Path:
    """Where a run keeps its progress: named by the learner's whole config too, so a run
    stopped before the defaults changed is never finished with the old ones."""
    config = json.dumps(learner.config.to_dict(), sort_keys=True).encode()
    digest = hashlib.sha256(config).hexdigest()[:12]
    stem = f"{run.method}--{run.task}--seed{run.seed}--{frames}--{digest}"
    return Path(cfg.progress_dir) / f"{stem}.json"


def _checkpoint_path(notes: Path, windows: int) -> Path:
    return notes.with_name(f"{notes.stem}--window{windows}.ckpt")


def _resume(notes: Path) -> tuple[list[dict], float, StreamLearner] | None:
    """The windows, seconds and learner of an unfinished run, if its notes say where."""
    if not notes.exists():
        return None
    try:
        saved = json.loads(notes.read_text())
        checkpoint = _checkpoint_path(notes, len(saved["windows"]))
        learner = StreamLearner.load(checkpoint, device="cpu")
    except (OSError, ValueError, KeyError, TypeError):
        return None  # damaged progress: the run starts again rather than failing
    return saved["windows"], saved["seconds"], learner


def _keep_progress(notes: Path, learner: StreamLearner, windows: list, seconds: float) -> None:
    """Checkpoint, then the notes that point at it, then drop the previous checkpoint: the
    notes are the commit point, so a stop at any moment leaves a consistent pair."""
    learner.save(_checkpoint_path(notes, len(windows)))
    write_json(notes, {"windows": windows, "seconds": seconds})
    _checkpoint_path(notes, len(windows) - 1).unlink(missing_ok=True)


def run_one(cfg: Config, run: Run, ctx: Context) -> dict[str, Any]:
    """One soak run, window by window, resuming from its progress files if they exist."""
    frames = cfg.long_frames if run.method == "ff-stream-long" else cfg.frames
    x, y = STREAM_KINDS[run.task](frames, run.seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    learner = StreamLearner(x.shape[1], NUM_CLASSES[run.task], device="cpu", seed=run.seed)
    notes = _notes_path(cfg, run, frames, learner)
    resumed = _resume(notes)
    if resumed is None:
        windows, seconds = [], 0.0
    else:
        windows, seconds, learner = resumed
        ctx.console.print(f"  resuming {run.label()} after {len(windows)} windows")
    bounds = np.linspace(0, frames, WINDOWS + 1).round().astype(int)
    for a, b in zip(bounds[len(windows) : -1], bounds[len(windows) + 1 :]):
        hits = 0
        start = time.perf_counter()
        for i in range(a, b):
            guess = learner.observe(xt[i : i + 1], yt[i : i + 1]).prediction
            hits += int(guess[0]) == int(y[i])
        seconds += time.perf_counter() - start
        windows.append({"end": int(b), "accuracy": hits / (b - a), "rss_mb": rss_mb()})
        windows[-1]["process"] = os.getpid()  # RSS compares only within one process
        windows[-1].update(_weights(learner))
        _keep_progress(notes, learner, windows, seconds)
        ctx.console.print(  # a line per window: a long run shows it is alive, piped or not
            f"  {run.label()}: {b:,} of {frames:,} frames, window accuracy "
            f"{windows[-1]['accuracy']:.4f}, RSS {windows[-1]['rss_mb']:.0f} MiB",
            highlight=False,
        )
    notes.unlink(missing_ok=True)
    _checkpoint_path(notes, len(windows)).unlink(missing_ok=True)
    metrics = {**window_report(windows), "frames_per_s": frames / seconds}
    curve = [[w["end"], w["accuracy"]] for w in windows]
    return {"metrics": metrics, "frames": frames, "windows": windows, "curve": curve}
