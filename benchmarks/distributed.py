"""Data-parallel streams: frames/s and accuracy of N gloo ranks against one process.

One stream (a generated stream of ``ffstream bench streams``, or MNIST as one pass) is learned by
a default ``StreamLearner(features, classes)``, test-then-train, at ``batch`` frames per
``observe`` call:

- ``1-process``: one learner over the whole stream;
- ``1-process-total-batch``: the same at ``nproc * batch`` frames per call, the update that
  ``allreduce`` makes (the two differ only by peer normalisation and the per-rank replays);
- ``allreduce``: ``nproc`` ranks (:class:`~ffstream.distributed.DataParallelLearner`, spawned
  on this machine with gloo, one torch thread each), batch k of the stream going to rank
  ``k % nproc``; every local update is averaged over the ranks before it is applied;
- ``average``: the same ranks, each learning alone and averaging weights every ``every`` of
  its frames;
- ``pipeline``: a layer pipeline (:class:`~ffstream.distributed.PipelineLearner`, its
  defaults) of a ``StreamLearner`` with :data:`PIPELINE_LAYERS` hidden layers of the default
  width, spread over ``nproc`` ranks, rank 0 taking the whole stream; its dreams' wrong labels
  come from scores ``nproc`` × 16 sleep steps old (the pipeline's default staleness);
- ``pipeline-1-process``: the same learner in one process, with the same ``score_staleness``:
  the updates the pipeline makes, and its speed-up's baseline;
- ``pipeline-1-process-fresh``: the same at staleness 0 (the learner as always): what the
  staleness costs.

All see the same total frames. ``frames_per_s`` is the stream's frames over the slowest rank's
time from a barrier to its last frame (starting the processes is not counted), the median of
``repeats`` runs, and ``frames_per_cpu_s`` the frames over the CPU time all ranks spent (less
sensitive to other work on a shared machine; time a rank spends waiting for the others' data is
not CPU time); ``prequential_accuracy`` is every rank's test-then-train hits over all frames
(from the first repeat: the runs are seeded and repeat exactly); ``test_accuracy`` is the final
model's (rank 0's, after a last average) on ``test_frames`` frames that follow the stream (or
MNIST's test set).

Run: ``ffstream bench distributed`` (``--nproc N``; ``--quick``: a short stream)
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from benchmarks.lab import Column, Context, Page, Run, select
from ffstream.config import option
from ffstream.data.generators import NUM_CLASSES, STREAM_KINDS
from ffstream.distributed import DataParallelLearner, PipelineLearner, shard, spawn
from ffstream.stream import StreamLearner
from ffstream.stream.config import default_hidden

__all__ = ["DESCRIPTION", "FULL", "NAME", "PAGE", "QUICK", "Config", "run_one", "runs"]

NAME = "distributed"
DESCRIPTION = "frames/s and accuracy of data-parallel ranks (gloo) against one process"
DEVICE = "cpu"
METHODS = (
    "1-process",
    "1-process-total-batch",
    "allreduce",
    "average",
    "pipeline-1-process",
    "pipeline",
    "pipeline-1-process-fresh",
)
SINGLE = ("1-process", "1-process-total-batch", "pipeline-1-process", "pipeline-1-process-fresh")
PIPELINE = ("pipeline-1-process", "pipeline", "pipeline-1-process-fresh")
#: hidden layers of the pipelined learner (each of the default width for the stream)
PIPELINE_LAYERS = 4
#: messages per send of the pipeline (PipelineLearner's default)
PIPELINE_GROUP = 16
TASKS = ("linear", "mnist")
#: how the ranks are started: fresh interpreters, safe whatever the parent holds (tests fork)
START_METHOD = "spawn"


@dataclass(frozen=True)
class Config:
    """Every setting of the suite, in one place."""

    frames: int = option(20_000, "frames of the stream, all ranks together")
    mnist_frames: int = option(6_000, "frames of the MNIST stream")
    test_frames: int = option(2_000, "frames after the stream (or of MNIST's test set) tested")
    batch: int = option(8, "frames per observe call, per rank")
    nproc: int = option(2, "ranks of the data-parallel runs")
    every: int = option(100, "frames per rank between weight averages (average mode)")
    repeats: int = option(3, "timed repeats of each run (the median is kept)")
    tasks: tuple[str, ...] = select(TASKS, "streams", choices=TASKS)
    methods: tuple[str, ...] = select(METHODS, "methods", choices=METHODS)
    seeds: tuple[int, ...] = select((100,), "seeds (report seeds of the streams suite)")
    data: str | None = select(None, "MNIST folder (default: $FFSTREAM_DATA)")

    def __post_init__(self):
        for name in ("frames", "mnist_frames", "test_frames", "batch", "nproc", "every", "repeats"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")


FULL = Config()
QUICK = Config(frames=2_000, mnist_frames=1_000, test_frames=500, repeats=1)

PAGE = Page(
    title=(
        "Data-parallel streams and a layer pipeline: ranks on torch.distributed (gloo) "
        "against one process"
    ),
    measures=(
        "A default `StreamLearner` on one stream, test-then-train, in one process or in `nproc` "
        "gloo ranks that take its batches in turn (docs/distributed.md): `allreduce` averages "
        "every update, `average` the weights every `every` frames per rank. `pipeline`: a "
        "4-layer learner's layers over `nproc` ranks, against `pipeline-1-process`, the same "
        "learner in one process with the same staleness of its dreams' scores. frames/s: "
        "median of 3, on 2 shared CPU cores (noisy)."
    ),
    command="ffstream bench distributed",
    columns=(
        Column("frames_per_s", "frames/s", digits=0),
        Column("speedup", "× 1 process", digits=2),
        Column("frames_per_cpu_s", "frames per CPU s", digits=0),
        Column("prequential_accuracy", "prequential accuracy %", scale=100, digits=2),
        Column("test_accuracy", "test accuracy %", scale=100, digits=2),
    ),
)


def runs(cfg: Config) -> list[Run]:
    """Every method on every task and seed, one process first (the speed-ups need it)."""
    return [Run(m, seed, task=t) for t in cfg.tasks for seed in cfg.seeds for m in cfg.methods]


def _stream(spec: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The stream and its test frames, on the CPU, as every rank and the parent load them."""
    if spec["task"] == "mnist":
        from benchmarks.stream_learning import load_stream

        return load_stream(
            spec["data"],
            frames=spec["mnist_frames"],
            test_frames=spec["test_frames"],
            seed=spec["seed"],
            verify=False,
        )
    n = spec["frames"]
    x, y = STREAM_KINDS[spec["task"]](n + spec["test_frames"], spec["seed"])
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    return {"x": x[:n], "y": y[:n], "x_test": x[n:], "y_test": y[n:]}


def _learner(data: dict[str, torch.Tensor], spec: dict[str, Any]) -> StreamLearner:
    classes = 10 if spec["task"] == "mnist" else NUM_CLASSES[spec["task"]]
    features = data["x"].shape[1]
    if spec["mode"] not in PIPELINE:
        return StreamLearner(features, classes, device="cpu", seed=spec["seed"])
    hidden = default_hidden(features)[:1] * PIPELINE_LAYERS
    learner = StreamLearner(  # a pipeline cannot keep the weight average (pipeline_refusals)
        features, classes, hidden=hidden, ema_decay=None, device="cpu", seed=spec["seed"]
    )
    if spec["mode"] != "pipeline-1-process-fresh":  # the pipeline's default staleness
        learner.score_staleness = spec["nproc"] * PIPELINE_GROUP
    return learner


def _learn(learner, data, batches) -> dict[str, Any]:
    """Hits, frames, wall and CPU seconds of a test-then-train pass over ``batches``."""
    x, y = data["x"], data["y"]
    hits = frames = 0
    start, cpu = time.perf_counter(), time.process_time()
    for s in batches:
        guess = learner.observe(x[s], y[s]).prediction
        hits += int((guess == y[s]).sum())
        frames += guess.shape[0]
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    return {"hits": hits, "frames": frames, "seconds": seconds, "cpu_seconds": cpu_seconds}


def _test(learner: StreamLearner, data) -> float:
    return float((learner.predict(data["x_test"]) == data["y_test"]).float().mean())


def _rank_job(rank: int, world: int, spec: dict[str, Any]) -> dict[str, Any]:
    """One rank of a data-parallel run (module level: spawned processes import it)."""
    data = _stream(spec)
    parallel = DataParallelLearner(_learner(data, spec), mode=spec["mode"], every=spec["every"])
    batches = shard(data["x"].shape[0], spec["batch"], rank, world)
    dist.barrier()
    out = _learn(parallel, data, batches)
    if spec["mode"] == "average":  # the last average is part of the run
        start, cpu = time.perf_counter(), time.process_time()
        parallel.sync()
        out["seconds"] += time.perf_counter() - start
        out["cpu_seconds"] += time.process_time() - cpu
    out["divergence"] = parallel.max_divergence()
    out["sleeps"] = parallel.learner.sleeps
    if rank == 0:
        out["test_accuracy"] = _test(parallel.learner, data)
    return out


def _pipeline_job(rank: int, world: int, spec: dict[str, Any]) -> dict[str, Any]:
    """One stage of a pipeline run: rank 0 feeds the whole stream, the top counts the hits."""
    data = _stream(spec)
    staleness = spec["nproc"] * PIPELINE_GROUP  # the default, as pipeline-1-process has it
    pipeline = PipelineLearner(_learner(data, spec), staleness=staleness, group=PIPELINE_GROUP)
    x, y = data["x"], data["y"]
    hits = []
    dist.barrier()
    start, cpu = time.perf_counter(), time.process_time()
    if rank == 0:
        for s in shard(x.shape[0], spec["batch"], 0, 1):
            pipeline.observe(x[s], y[s])
        pipeline.close()
    else:
        pipeline.serve(lambda seen, labels: hits.append(int((seen.prediction == labels).sum())))
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    learner = pipeline.collect()
    frames = pipeline.frames if rank == world - 1 else 0  # each frame counted once, at the top
    out = {"hits": sum(hits), "frames": frames, "seconds": seconds, "cpu_seconds": cpu_seconds}
    if rank == 0:
        out.update(test_accuracy=_test(learner, data), sleeps=learner.sleeps)
    return out


def _one_process(spec: dict[str, Any], data) -> dict[str, Any]:
    learner = _learner(data, spec)
    n, b = data["x"].shape[0], spec["batch"]
    if spec["mode"] == "1-process-total-batch":
        b *= spec["nproc"]
    out = _learn(learner, data, shard(n, b, 0, 1))
    return {**out, "test_accuracy": _test(learner, data), "sleeps": learner.sleeps}


def run_one(cfg: Config, run: Run, ctx: Context) -> dict[str, Any]:
    """One method on one stream, ``repeats`` times; speed-up against the one-process run."""
    spec = {
        "task": run.task,
        "seed": run.seed,
        "frames": cfg.frames,
        "mnist_frames": cfg.mnist_frames,
        "test_frames": cfg.test_frames,
        "batch": cfg.batch,
        "every": cfg.every,
        "mode": run.method,
        "nproc": cfg.nproc,
        "data": cfg.data,
    }
    torch.set_num_threads(1)
    repeats, load = [], [os.getloadavg()[0]]
    for _ in range(cfg.repeats):
        if run.method in SINGLE:
            data = ctx.cached(f"stream-{run.task}-{run.seed}", lambda: _stream(spec))
            repeats.append([_one_process(spec, data)])
        else:
            job = _pipeline_job if run.method == "pipeline" else _rank_job
            repeats.append(spawn(job, cfg.nproc, spec, timeout=120.0, start_method=START_METHOD))
    per_repeat = [
        sum(r["frames"] for r in ranks) / max(r["seconds"] for r in ranks) for ranks in repeats
    ]
    load.append(os.getloadavg()[0])
    per_cpu = [
        sum(r["frames"] for r in ranks) / sum(r["cpu_seconds"] for r in ranks) for ranks in repeats
    ]
    first = repeats[0]
    metrics = {
        "frames_per_s": statistics.median(per_repeat),
        "prequential_accuracy": sum(r["hits"] for r in first) / sum(r["frames"] for r in first),
        "test_accuracy": first[0]["test_accuracy"],
        "frames_per_cpu_s": statistics.median(per_cpu),
        "ranks": 1 if run.method in SINGLE else cfg.nproc,
        "sleeps_per_rank": first[0]["sleeps"],
    }
    if run.method == "pipeline":  # how the work splits over the stages (first repeat)
        metrics["cpu_seconds_per_rank"] = [r["cpu_seconds"] for r in first]
    if run.method in PIPELINE:
        fresh = run.method == "pipeline-1-process-fresh"
        metrics.update(
            layers=PIPELINE_LAYERS, score_staleness=0 if fresh else cfg.nproc * PIPELINE_GROUP
        )
    elif run.method not in SINGLE:
        metrics["max_divergence"] = max(r["divergence"] for r in first)
    # the pipeline's speed-up is against one process with its learner and staleness
    key = f"fps-{'pipeline-' if run.method in PIPELINE else ''}{run.task}-{run.seed}"
    if run.method in ("1-process", "pipeline-1-process"):  # (fresh: against the stale one)
        ctx.cache[key] = metrics["frames_per_s"]
    if key in ctx.cache:  # the 1-process run comes first in the same invocation
        metrics["speedup"] = metrics["frames_per_s"] / ctx.cache[key]
    # the machine is shared: its load (1-minute average) before and after, beside the timings
    return {"metrics": metrics, "frames_per_s_repeats": per_repeat, "load_average": load}
