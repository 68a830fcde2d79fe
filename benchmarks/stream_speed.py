"""``observe()`` against the bare loop doing the same work: frames/s of both, and their ratio.

One case is a learner kind (labelled with ``predict_with="readout"``, or unlabelled: the
positive update only) at one batch size. Both sides start from the same weights
(:func:`~benchmarks.bare_ff.bare_learner`) and run on the same frames in many short alternating
rounds of the same process, so both see the same machine load; the ratio is the median of the
per-round ratios, which stays meaningful on a busy machine. Below the target ratio (or with
``profile``) ``observe`` is profiled (:func:`~benchmarks.profile_observe.profile_observe`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch

from benchmarks._common import sync
from benchmarks.bare_ff import bare_learner, bare_observe, equivalence_check, speed_learner
from benchmarks.profile_observe import profile_observe

__all__ = ["NOTE", "SPEED_KINDS", "measure_case", "median", "speed_run", "time_calls"]

SPEED_KINDS = ("unlabelled", "labelled")

NOTE = (
    "observe() against a bare loop of the same arithmetic on the same initial weights "
    "(labelled: neutral-label forward + readout prediction, positive FF update of each "
    "layer with detach and the learner's optimizer and peer normalisation, readout SGD "
    "step on the features it predicted with, by autograd in the bare loop and in closed "
    "form in observe(); unlabelled: the positive update only). "
    "Short alternating rounds in one process: frames/s from the median round of each "
    "side, ratio = median of the per-round ratios (wall clock; ratio_cpu_time uses "
    "process CPU time, steadier on a shared machine)."
)


def time_calls(fn: Callable[[int], Any], start: int, iters: int, device: str):
    """Wall-clock and process CPU seconds of ``iters`` calls ``fn(start) .. fn(start+iters-1)``.

    CPU time counts only this process, so on a shared machine it is steadier than wall time.
    """
    sync(device)
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(start, start + iters):
        fn(i)
    sync(device)
    return time.perf_counter() - wall, time.process_time() - cpu


def median(values: list[float]) -> float:
    """The median (the mean of the middle two for an even count)."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def measure_case(
    cfg: Any, x, y, *, labelled: bool, batch: int, hidden, device: str, seed: int
) -> dict[str, Any]:
    """frames/s of ``observe`` and of the bare loop for one learner kind and batch size.

    Rounds last about ``cfg.speed_round_seconds`` per side, between ``cfg.speed_min_rounds``
    and ``cfg.speed_max_rounds`` of them, about ``cfg.speed_seconds`` per side in all.
    """
    n = len(x)
    index = torch.arange(batch)
    # a few different batches of the stream (wrapping around), ready on the device
    sample = [
        (x[(index + i * batch) % n].to(device), y[(index + i * batch) % n].to(device))
        for i in range(min(64, max(4, 8192 // batch)))
    ]
    learner = speed_learner(labelled, hidden, cfg.lr, device, seed)
    bare = bare_learner(learner)

    def run_learner(i):
        xb, yb = sample[i % len(sample)]
        learner.observe(xb, yb if labelled else None)

    def run_bare(i):
        xb, yb = sample[i % len(sample)]
        bare_observe(bare, xb, yb if labelled else None)

    # warm up both sides, then size rounds and their number from the cost of a call
    warm = 10 if batch < 64 else 1
    per_call = (
        max(time_calls(run_learner, 0, warm, device)[0], time_calls(run_bare, 0, warm, device)[0])
        / warm
    )
    round_s = min(cfg.speed_round_seconds, cfg.speed_seconds / cfg.speed_min_rounds)
    iters = max(1, math.ceil(round_s / per_call))
    rounds = min(
        cfg.speed_max_rounds,
        max(cfg.speed_min_rounds, int(cfg.speed_seconds / (iters * per_call))),
    )
    learner_t, bare_t = [], []
    for r in range(rounds):
        learner_t.append(time_calls(run_learner, r * iters, iters, device))
        bare_t.append(time_calls(run_bare, r * iters, iters, device))
    wall_ratios = [b[0] / a[0] for a, b in zip(learner_t, bare_t)]
    cpu_ratios = [b[1] / a[1] if a[1] > 0 else float("nan") for a, b in zip(learner_t, bare_t)]
    learner_s = median([t[0] for t in learner_t])
    bare_s = median([t[0] for t in bare_t])
    record = {
        "learner": "labelled, predict_with=readout" if labelled else "unlabelled",
        "labelled": labelled,
        "batch_size": batch,
        "iters_per_round": iters,
        "rounds": rounds,
        "observe_frames_per_s": batch * iters / learner_s,
        "bare_frames_per_s": batch * iters / bare_s,
        "ratio": median(wall_ratios),
        "ratio_cpu_time": median(cpu_ratios),
        "ratio_per_round": wall_ratios,
        "observe_us_per_call": 1e6 * learner_s / iters,
        "bare_us_per_call": 1e6 * bare_s / iters,
        "observe_cpu_us_per_call": 1e6 * median([t[1] for t in learner_t]) / iters,
        "bare_cpu_us_per_call": 1e6 * median([t[1] for t in bare_t]) / iters,
    }
    record["overhead_us_per_call"] = record["observe_us_per_call"] - record["bare_us_per_call"]
    if record["ratio"] < cfg.speed_ratio_target or cfg.profile:
        fresh = speed_learner(labelled, hidden, cfg.lr, device, seed)
        record["profile"] = profile_observe(
            fresh, bare_learner(fresh), sample, labelled, iters=max(3, min(iters, 200))
        )
    return record


def speed_run(cfg: Any, kind: str, batch: int, data, hidden, seed: int, ctx) -> dict[str, Any]:
    """One speed case as a run's outcome (``{"metrics": ..., **details}``), after checking once
    per seed (cached in ``ctx``) that both sides compute the same weights."""
    x, y = data["x"], data["y"]
    same = ctx.cached(
        f"equivalence-{seed}",
        lambda: {
            k: equivalence_check(k == "labelled", hidden, cfg.lr, x, y, ctx.device, seed)
            for k in SPEED_KINDS
        },
    )
    case = measure_case(
        cfg,
        x,
        y,
        labelled=kind == "labelled",
        batch=batch,
        hidden=hidden,
        device=ctx.device,
        seed=seed,
    )
    metrics = {
        "frames_per_s": case["observe_frames_per_s"],
        "bare_frames_per_s": case["bare_frames_per_s"],
        "ratio": case["ratio"],
        "ratio_cpu_time": case["ratio_cpu_time"],
        "overhead_us_per_call": case["overhead_us_per_call"],
        "equivalence_max_weight_diff": same[kind],
    }
    return {"metrics": metrics, **case}
