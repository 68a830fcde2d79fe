"""The continual-learning protocol: stream a scenario through a method once and score it.

Online, single pass. A scenario (:class:`ffstream.data.Scenario`) is a sequence of tasks, each
with training and test frames (with ``--split val``, held-out training frames instead:
:mod:`benchmarks.continual_split`). A method sees every training frame exactly once,
``batch_size`` frames at a time, task after task; it is never told where one task ends and the
next begins (EWC and GDumb, defined with task boundaries, are the exceptions). After the last
batch of task ``i`` it is tested on every task's test set: ``R[i, j]`` is the accuracy on task
``j``. Before any training the untrained method is tested too: that row is the baseline ``b``
of forward transfer, which is reported only where every task has the same classes
(domain-incremental); where tasks bring new classes (class- and task-incremental) a task not
yet trained on is never predicted, and the number would mean nothing.

Anytime accuracy: at ``eval_points`` points spread evenly through the stream (after batches
``round(k * B / eval_points)``, ``k = 1..eval_points``, of the ``B`` batches) the method is
tested on a fixed subset of each seen task's test set (its first ``curve_test_per_task``
frames); a point's accuracy is the mean over the tasks seen so far, and the anytime accuracy
the mean over the points (:func:`ffstream.eval.anytime_accuracy`). The points, like the task
ends, depend on the stream alone; FF's sleep schedule starts at a random phase per seed
(:mod:`benchmarks.continual_ff`), so no evaluation sits at a fixed place in its cycle. The
prequential accuracy (predict each batch, then learn from it) is counted too. Each view of the
scenario (class-, task- or domain-incremental) gets its own matrix from the same run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from benchmarks._common import sync
from benchmarks.continual_baselines import EWCMethod, MLPMethod
from benchmarks.continual_config import ContinualConfig
from benchmarks.continual_ff import FFMethod
from benchmarks.continual_heads import TaskHeads
from benchmarks.continual_replay import DERPlusPlusMethod, ERACEMethod, ERMethod, GDumbMethod
from ffstream.data import Scenario
from ffstream.eval import anytime_accuracy, continual_summary

__all__ = ["CLASSES", "eval_batches", "evaluate", "make_method", "run_scenario"]

#: each method's class, by its name in ``--methods`` and the JSON
CLASSES = {
    "ff": FFMethod,
    "er": ERMethod,
    "er-ace": ERACEMethod,
    "der++": DERPlusPlusMethod,
    "gdumb": GDumbMethod,
    "naive": MLPMethod,
    "ewc": EWCMethod,
}


def make_method(
    name: str,
    cfg: ContinualConfig,
    in_features: int,
    num_classes: int,
    seed: int,
    image_shape: tuple[int, int] | None = None,
    device: str | torch.device = "cpu",
    heads: TaskHeads | None = None,
):
    """A fresh method ``name`` (one of ``METHODS``) on ``device``; ``image_shape`` as in
    :class:`~ffstream.data.Scenario`; ``heads``: one output head per task (multi-head,
    :mod:`benchmarks.continual_heads`), else one head for every class."""
    if name not in CLASSES:
        raise ValueError(f"unknown method {name!r}; choose from {', '.join(CLASSES)}")
    return CLASSES[name](cfg, in_features, num_classes, seed, image_shape, device, heads=heads)


def eval_batches(total_batches: int, points: int) -> list[int]:
    """The batches (1-based counts) after which an anytime point is measured: ``points``
    evenly spread, the last at the stream's end (fewer when there are fewer batches).

    Examples
    --------
    >>> eval_batches(100, 4), eval_batches(3, 5)
    ([25, 50, 75, 100], [1, 2, 3])
    """
    marks = {max(1, round(k * total_batches / points)) for k in range(1, points + 1)}
    return sorted(marks)


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
    "stored_frames"}`` (``stored_frames``: the memory capacity, the most frames held), and
    ``sleep_phase`` for FF. Each curve point holds ``frames``, ``task``, each view's mean
    accuracy over the tasks seen so far and, under ``"tasks"``, each view's per-task
    accuracies.
    """
    tasks, views = scenario.tasks, scenario.views
    # forward transfer only where every task has the same classes (see the module notes)
    same_classes = len({tuple(task.classes) for task in tasks}) == 1

    def test_row(upto: int | None = None) -> dict[str, list[float]]:
        row = {}
        for view, task_aware in views.items():
            accs = []
            for task in tasks[: upto if upto is not None else len(tasks)]:
                x, y = task.x_test, task.y_test
                if upto is not None:  # an anytime point: the fixed test subset
                    x, y = x[: cfg.curve_test_per_task], y[: cfg.curve_test_per_task]
                accs.append(evaluate(method, x, y, task.classes if task_aware else None))
            row[view] = accs
        return row

    baseline = test_row()
    R: dict[str, list[list[float]]] = {view: [] for view in views}
    curve: list[dict[str, Any]] = []
    frames = hits = batches = 0
    seconds = 0.0
    total = sum(math.ceil(len(task.x_train) / cfg.batch_size) for task in tasks)
    marks = set(eval_batches(total, cfg.eval_points))
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
            frames += len(yb)
            batches += 1
            on_batch(len(yb))
            if batches in marks and not (batches == total and hasattr(method, "end_task")):
                curve.append(_point(test_row(upto=i + 1), frames, i))
        if hasattr(method, "end_task"):  # only methods defined with task boundaries get them
            start = time.perf_counter()
            method.end_task()  # timed: GDumb learns here
            sync(task.x_train.device)
            seconds += time.perf_counter() - start
            if i == len(tasks) - 1 and total in marks:  # the last point, after the retraining
                curve.append(_point(test_row(upto=i + 1), frames, i))
        for view, accs in test_row().items():
            R[view].append(accs)
    summary = {}
    for view in views:
        summary[view] = continual_summary(R[view], baseline[view] if same_classes else None)
        summary[view]["anytime_accuracy"] = anytime_accuracy([p["tasks"][view] for p in curve])
    out = {
        "R": R,
        "baseline": baseline,
        "summary": summary,
        "curve": curve,
        "prequential_accuracy": hits / max(frames, 1),
        "frames": frames,
        "seconds": seconds,
        "frames_per_s": frames / seconds if seconds else None,
        "stored_frames": method.stored_frames(),
    }
    if hasattr(method, "phase"):
        out["sleep_phase"] = method.phase
    return out


def _point(row: dict[str, list[float]], frames: int, task: int) -> dict[str, Any]:
    """An anytime point: each view's mean over the tasks seen so far, and the per-task list."""
    point: dict[str, Any] = {"frames": frames, "task": task}
    for view, accs in row.items():
        point[view] = float(np.mean(accs))
    point["tasks"] = row
    return point
