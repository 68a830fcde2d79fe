"""The continual-learning protocol: stream a scenario through a method once and score it.

Online, single pass. A scenario (:class:`ffstream.data.Scenario`) is a sequence of tasks, each
with training and test frames. A method sees every training frame exactly once,
``batch_size`` frames at a time, task after task; it is never told where one task ends and the
next begins (EWC, defined with task boundaries, is the one exception). After the last batch of
task ``i`` it is tested on every task's test set: ``R[i, j]`` is the accuracy on task ``j``.
Before any training the untrained method is tested too: that row is the baseline ``b`` of
forward transfer. Along the stream the mean accuracy over the tasks seen so far is measured
every ``eval_every`` frames (the "accuracy along the stream" curve), and the prequential
accuracy (predict each batch, then learn from it) is counted. Each view of the scenario
(class-, task- or domain-incremental) gets its own matrix from the same run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from benchmarks._common import sync
from benchmarks.continual_baselines import BackpropMethod, EWCMethod
from benchmarks.continual_config import ContinualConfig
from benchmarks.continual_ff import FFMethod
from ffstream.data import Scenario
from ffstream.eval import continual_summary

__all__ = ["evaluate", "make_method", "run_scenario"]


def make_method(
    name: str,
    cfg: ContinualConfig,
    in_features: int,
    num_classes: int,
    seed: int,
    image_shape: tuple[int, int] | None = None,
    device: str | torch.device = "cpu",
):
    """A fresh method ``name`` (one of ``METHODS``) on ``device``; ``image_shape`` as in
    :class:`~ffstream.data.Scenario`."""
    if name == "ff":
        return FFMethod(cfg, in_features, num_classes, seed, image_shape, device)
    if name in ("backprop", "backprop-replay"):
        replay = name.endswith("replay")
        return BackpropMethod(cfg, in_features, num_classes, seed, replay, image_shape, device)
    if name == "backprop-ewc":
        return EWCMethod(cfg, in_features, num_classes, seed, device)
    raise ValueError(f"unknown method {name!r}")


@torch.no_grad()
def evaluate(method, x: torch.Tensor, y: torch.Tensor, classes: Sequence[int] | None = None):
    """Accuracy of ``method`` on ``(x, y)``; ``classes`` restricts the argmax (task-aware)."""
    right = 0
    for i in range(0, len(x), 1000):
        scores = method.scores(x[i : i + 1000]).clone()
        if classes is not None:
            keep = torch.zeros(scores.shape[1], dtype=torch.bool, device=scores.device)
            keep[list(classes)] = True
            scores[:, ~keep] = -math.inf
        right += int((scores.argmax(1) == y[i : i + 1000]).sum())
    return right / len(x)


def run_scenario(
    method,
    scenario: Scenario,
    cfg: ContinualConfig,
    seed: int,
    on_batch: Callable[[int], None] = lambda n: None,
) -> dict[str, Any]:
    """Stream ``scenario`` through ``method`` once; accuracy matrices, curve and timing.

    Returns ``{"R": {view: T x T}, "baseline": {view: [T]}, "summary": {view: metrics},
    "curve": [...], "prequential_accuracy", "frames", "seconds", "frames_per_s",
    "stored_frames"}`` (``stored_frames``: the memory capacity, the most frames held).
    """
    tasks, views = scenario.tasks, scenario.views

    def test_row(upto: int | None = None) -> dict[str, list[float]]:
        row = {}
        for view, task_aware in views.items():
            accs = []
            for task in tasks[: upto if upto is not None else len(tasks)]:
                x, y = task.x_test, task.y_test
                if upto is not None:  # a curve point: fewer test frames
                    x, y = x[: cfg.curve_test_per_task], y[: cfg.curve_test_per_task]
                accs.append(evaluate(method, x, y, task.classes if task_aware else None))
            row[view] = accs
        return row

    baseline = test_row()
    R: dict[str, list[list[float]]] = {view: [] for view in views}
    curve: list[dict[str, Any]] = []
    frames = hits = 0
    seconds = 0.0
    generator = torch.Generator().manual_seed(seed)
    for i, task in enumerate(tasks):
        order = torch.randperm(len(task.x_train), generator=generator).to(task.x_train.device)
        x_all, y_all = task.x_train[order], task.y_train[order]
        for s in range(0, len(x_all), cfg.batch_size):
            xb, yb = x_all[s : s + cfg.batch_size], y_all[s : s + cfg.batch_size]
            start = time.perf_counter()
            prediction = method.observe(xb, yb)
            sync(xb.device)  # GPU work is asynchronous: time it to the end
            seconds += time.perf_counter() - start
            hits += int((prediction == yb).sum())
            before, frames = frames, frames + len(yb)
            on_batch(len(yb))
            if frames // cfg.eval_every > before // cfg.eval_every:
                point = {"frames": frames, "task": i}
                for view, accs in test_row(upto=i + 1).items():
                    point[view] = float(np.mean(accs))
                curve.append(point)
        if hasattr(method, "end_task"):  # only methods defined with task boundaries get them
            method.end_task()
        for view, accs in test_row().items():
            R[view].append(accs)
    return {
        "R": R,
        "baseline": baseline,
        "summary": {view: continual_summary(R[view], baseline[view]) for view in views},
        "curve": curve,
        "prequential_accuracy": hits / max(frames, 1),
        "frames": frames,
        "seconds": seconds,
        "frames_per_s": frames / seconds if seconds else None,
        "stored_frames": method.stored_frames(),
    }
