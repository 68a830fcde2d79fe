"""Frames per second of each front end with its defaults, at batch 1, sleep included.

The stream a user's sensor feed looks like: ``features`` Gaussian features, ``classes`` classes,
the label the argmax of a fixed random linear map (:func:`ffstream.data.generators.linear_stream`,
the ``linear`` stream of ``ffstream bench streams``). Each front end learns ``warmup`` frames
(untimed: memories fill, the first sleeps run) and is then timed over ``frames`` more, one frame
per call, on the thread count the lab sets (``--threads``, 1 by default). Wall-clock and process
CPU time are both reported; CPU time is the steadier on a shared machine.

- ``stream-learner``: ``StreamLearner(in_features, num_classes)``, awake/sleep with its defaults.
- ``stream-interleaved``: the same with ``schedule=Interleaved()``.
- ``ff-classifier``: river front end ``FFClassifier()`` on feature dicts (``learn_one`` after
  ``predict_proba_one``, as river's progressive validation calls it).
- ``sequence-learner``: ``SequenceLearner(vocab_size=7)`` on an embedded Reber stream.

With ``--profile``, each front end's step is profiled after its timing, by cProfile over
``PROFILE_FRAMES`` frames (the timed frames again): the functions with the most cumulative time,
microseconds per frame, land in the run's details (``profile``). Profiling comes after the timing,
so it does not touch the metrics; cProfile's own cost inflates functions that make many small
calls, so read its microseconds as a ranking and an upper bound.

Run: ``ffstream bench speed`` (``--quick``: fewer frames; ``--profile``: where the time goes)
"""

from __future__ import annotations

import cProfile
import pstats
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

import ffstream
from benchmarks.lab import Column, Context, Page, Run, select
from ffstream.config import option
from ffstream.data.generators import linear_stream

__all__ = [
    "DESCRIPTION",
    "FULL",
    "NAME",
    "PAGE",
    "QUICK",
    "Config",
    "profile_step",
    "run_one",
    "runs",
]

NAME = "speed"
DESCRIPTION = "frames/s of each front end with its defaults at batch 1, sleep included"
METHODS = ("stream-learner", "stream-interleaved", "ff-classifier", "sequence-learner")

#: frames profiled per front end with ``--profile``; functions kept in the report
PROFILE_FRAMES, PROFILE_TOP = 300, 25

#: the installed package's folder: functions defined under it are the library's own
PACKAGE = str(Path(ffstream.__file__).resolve().parent) + "/"
#: this lab's folder: its functions are the harness, not what is measured
LAB = str(Path(__file__).resolve().parent) + "/"


@dataclass(frozen=True)
class Config:
    """Every setting of the suite, in one place."""

    features: int = option(16, "features per frame")
    classes: int = option(4, "classes of the stream")
    warmup: int = option(2000, "frames learned before timing (memories fill, sleeps start)")
    frames: int = option(5000, "frames timed")
    methods: tuple[str, ...] = select(METHODS, "front ends to time", choices=METHODS)
    seeds: tuple[int, ...] = select((0,), "seeds")
    # changes no metric, only adds details: not part of a run's identity, so profiling runs
    # already recorded takes --force
    profile: bool = select(
        False, f"after timing, profile each step over {PROFILE_FRAMES} frames (recorded: --force)"
    )

    def __post_init__(self):
        for name in ("features", "classes", "warmup", "frames"):
            least = 2 if name == "classes" else 1
            if getattr(self, name) < least:
                raise ValueError(f"--{name} must be at least {least}, got {getattr(self, name)}")
        if not self.seeds:
            raise ValueError("--seeds needs at least one value")


FULL = Config()
QUICK = Config(warmup=500, frames=1000)

PAGE = Page(
    title="Speed of the front ends at batch 1",
    measures=(
        "Frames per second of each front end with its default settings, one frame per call, "
        "sleep included, after a warm-up: `StreamLearner` (awake/sleep and interleaved) on a "
        "16-feature, 4-class stream, `FFClassifier` on the same stream as feature dicts, "
        "`SequenceLearner` on embedded Reber strings."
    ),
    command="ffstream bench speed",
    columns=(
        Column("frames_per_s", "frames/s (wall)", digits=0),
        Column("frames_per_cpu_s", "frames/s (CPU time)", digits=0),
    ),
    notes="Targets (issue 18): StreamLearner >= 2,000 frames/s; FFClassifier >= 14,000.",
)


def runs(cfg: Config) -> list[Run]:
    return [Run(method, seed) for method in cfg.methods for seed in cfg.seeds]


def run_one(cfg: Config, run: Run, ctx: Context) -> dict[str, Any]:
    """Warm one front end up, then time it frame by frame."""
    step = _STEPPERS[run.method](cfg, run.seed, ctx.device)
    for i in range(cfg.warmup):
        step(i)
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(cfg.warmup, cfg.warmup + cfg.frames):
        step(i)
    if ctx.device.startswith("cuda"):
        torch.cuda.synchronize()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    outcome = {
        "metrics": {"frames_per_s": cfg.frames / wall, "frames_per_cpu_s": cfg.frames / cpu},
        "timed_frames": cfg.frames,
    }
    if cfg.profile:
        # the timed frames again, wrapping around when fewer than PROFILE_FRAMES were timed
        outcome["profile"] = profile_step(
            lambda i: step(cfg.warmup + i % cfg.frames), PROFILE_FRAMES
        )
    return outcome


def profile_step(step, frames: int, top: int = PROFILE_TOP) -> dict[str, Any]:
    """Where ``step``'s time goes: cProfile over ``step(0) .. step(frames - 1)``.

    Returns plain data: ``frames``, ``us_per_frame`` (the profiled total, cProfile's own cost
    included) and ``by_cumulative``, the ``top`` functions by cumulative time, each with
    ``function`` (``ffstream/<module>:<name>`` for the library's own, the bare name for builtins
    such as torch ops, ``<folder>/<file>:<name>`` for the rest), ``line`` (0 for builtins),
    ``calls_per_frame``, ``self_us`` and ``cumulative_us`` per frame. The harness's own functions
    are left out.
    """
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(frames):
        step(i)
    profiler.disable()
    stats = pstats.Stats(profiler)
    rows = []
    # stats.stats: (file, line, name) -> (primitive calls, calls, self s, cumulative s, callers)
    for (file, line, name), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():
        real = str(Path(file).resolve()) if file.startswith("/") else file
        if real.startswith(LAB) or name == "<method 'disable' of '_lsprof.Profiler' objects>":
            continue
        if real.startswith(PACKAGE):
            where = "ffstream/" + real[len(PACKAGE) :] + ":" + name
        elif file == "~":
            where = name
        else:
            where = "/".join(file.split("/")[-2:]) + ":" + name
        rows.append(
            {
                "function": where,
                "line": line,
                "calls_per_frame": round(ncalls / frames, 3),
                "self_us": round(1e6 * tottime / frames, 2),
                "cumulative_us": round(1e6 * cumtime / frames, 2),
            }
        )
    rows.sort(key=lambda r: (-r["cumulative_us"], r["function"]))
    return {
        "frames": frames,
        "us_per_frame": round(1e6 * stats.total_tt / frames, 2),
        "by_cumulative": rows[:top],
    }


def _stream_learner(cfg: Config, seed: int, device: str, interleaved: bool = False):
    from ffstream import StreamLearner
    from ffstream.stream import Interleaved

    x, y = linear_stream(cfg.warmup + cfg.frames, seed, cfg.features, cfg.classes)
    frames, labels = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    schedule = Interleaved() if interleaved else None
    learner = StreamLearner(cfg.features, cfg.classes, schedule=schedule, seed=seed, device=device)
    return lambda i: learner.observe(frames[i : i + 1], labels[i : i + 1])


def _ff_classifier(cfg: Config, seed: int, device: str):
    from ffstream.river import FFClassifier

    x, y = linear_stream(cfg.warmup + cfg.frames, seed, cfg.features, cfg.classes)
    rows = [{f"x{j}": float(v) for j, v in enumerate(frame)} for frame in x]
    labels = y.tolist()
    model = FFClassifier(seed=seed)

    def step(i: int) -> None:
        model.predict_proba_one(rows[i])
        model.learn_one(rows[i], labels[i])

    return step


def _sequence_learner(cfg: Config, seed: int, device: str):
    from ffstream.stream import SequenceLearner, reber_strings

    symbols: list[int] = []
    strings = reber_strings(cfg.warmup + cfg.frames, seed=seed)
    for string in strings:
        symbols.extend(string.symbols)
        if len(symbols) >= cfg.warmup + cfg.frames:
            break
    learner = SequenceLearner(7, seed=seed, device=device)
    return lambda i: learner.observe(symbols[i])


_STEPPERS = {
    "stream-learner": _stream_learner,
    "stream-interleaved": lambda cfg, seed, device: _stream_learner(cfg, seed, device, True),
    "ff-classifier": _ff_classifier,
    "sequence-learner": _sequence_learner,
}
