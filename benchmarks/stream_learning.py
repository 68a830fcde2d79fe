"""Learning ``stream-mnist``'s stream: the data, the learners, the prequential loops.

Every learner predicts each batch of frames *before* it learns from it (prequential,
test-then-train) and goes over the stream exactly once; afterwards it is scored on the test set.
The FF learners are :class:`~ffstream.stream.StreamLearner` with its own defaults, or the image
suites' settings (``--ff-settings image-suites``), and whatever the config overrides. The
baselines are an online backprop MLP of the same layer sizes plus a 10-way output, and the same
MLP with experience replay from a memory as large as FF's and FF's weight average
(:func:`replay_plan`, :func:`make_replay`); each picks its optimizer and learning rate from a
small grid by prequential accuracy on the first frames of the stream.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from benchmarks._common import IMAGE_SUITE_LEARNER
from benchmarks.continual_config import ContinualConfig
from benchmarks.continual_replay import ERMethod
from benchmarks.mnist_ff import backprop_twin
from benchmarks.stream_conditions import Condition
from ffstream.data import load_mnist, shuffled_stream, to_unit_float
from ffstream.ff._fast import fused_optimizer
from ffstream.stream import ReservoirMemory, StreamLearner
from ffstream.stream.average import GuardedAverage

__all__ = [
    "FF_SETTINGS",
    "accuracy_curve",
    "ff_settings",
    "learner_defaults",
    "learner_overrides",
    "load_stream",
    "make_backprop",
    "make_learner",
    "make_replay",
    "online_backprop",
    "parse_grid",
    "prequential",
    "replay_plan",
    "stream_ff",
    "test_accuracy",
    "tune_backprop",
]

#: ``--ff-settings``: where the FF learner's settings start, before the config's overrides.
FF_SETTINGS: dict[str, dict[str, Any]] = {"defaults": {}, "image-suites": IMAGE_SUITE_LEARNER}

OnBatch = Callable[[int, int], None]  # (frames, right) after every batch
Observe = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # predict a batch, learn from it


# ---------------------------------------------------------------------------- data
def load_stream(
    root: str | None, *, frames: int | None, test_frames: int | None, seed: int, verify: bool
) -> dict[str, torch.Tensor]:
    """The stream (the training set shuffled once with ``seed``) and the test set, on the CPU.

    Frames are flat ``float32`` in ``[0, 1]``. ``frames`` keeps the first frames of the stream.
    """
    images, labels = load_mnist(root, split="train", verify=verify)
    # One batch of the whole set is the shuffled stream itself, converted once.
    x, y = next(shuffled_stream(images, labels, batch_size=len(images), seed=seed))
    if frames is not None:
        x, y = x[:frames], y[:frames]
    test_images, test_labels = load_mnist(root, split="test", verify=verify)
    if test_frames is not None:
        test_images, test_labels = test_images[:test_frames], test_labels[:test_frames]
    return {"x": x, "y": y, "x_test": to_unit_float(test_images), "y_test": test_labels}


# ---------------------------------------------------------------------------- FF
def learner_defaults() -> dict[str, Any]:
    """StreamLearner's keyword defaults, read from its signature (the lead tunes them there)."""
    return {
        name: p.default
        for name, p in inspect.signature(StreamLearner).parameters.items()
        if p.default is not inspect.Parameter.empty and p.kind == p.KEYWORD_ONLY
    }


def ff_settings(cfg: Any) -> dict[str, Any]:
    """The FF learner's keywords: ``cfg.ff_settings``'s starting point, then what the config
    overrides (:func:`learner_overrides`); every other keyword stays the learner's default.

    >>> from benchmarks.stream_mnist import Config
    >>> ff_settings(Config(lr=0.01))
    {'lr': 0.01}
    >>> ff_settings(Config(ff_settings="image-suites"))["readout_reads_input"]
    False
    """
    return {**FF_SETTINGS[cfg.ff_settings], **learner_overrides(cfg)}


def learner_overrides(cfg: Any) -> dict[str, Any]:
    """Only what the config sets; everything else stays the learner's default."""
    names = ("hidden", "lr", "predict_with", "sleep_batch")
    overrides = {name: getattr(cfg, name) for name in names if getattr(cfg, name) is not None}
    if cfg.replay_shift:
        overrides["replay_shift"] = cfg.replay_shift
    return overrides


def make_learner(cond: Condition, cfg: Any, device: str, seed: int = 0) -> StreamLearner:
    """A fresh labelled learner for an FF condition (:func:`ff_settings`, then the condition's).

    With ``cfg.replay_shift`` its frames are 28×28 images, so sleep can shift what it replays.
    """
    options = {**ff_settings(cfg), **cond.options()}
    return StreamLearner(
        (28, 28) if cfg.replay_shift else 784,
        10,
        schedule=cond.schedule(),
        replay=cond.replay,
        device=device,
        seed=seed,
        **options,
    )


def prequential(observe: Observe, x, y, batch: int, on_batch: OnBatch) -> torch.Tensor:
    """Go over the stream ``batch`` frames at a time; ``observe(x, y)`` predicts a batch, then
    learns from it, and returns the predictions. Returns the per-frame hits (0/1)."""
    hits = torch.zeros(len(x), dtype=torch.bool)
    for i in range(0, len(x), batch):
        yb = y[i : i + batch]
        hit = (observe(x[i : i + batch], yb) == yb).cpu()
        hits[i : i + batch] = hit
        on_batch(len(hit), int(hit.sum()))
    return hits


def stream_ff(learner: StreamLearner, x, y, batch: int, on_batch: OnBatch) -> torch.Tensor:
    """Observe the stream ``batch`` frames at a time; returns the per-frame hits (0/1)."""
    frames = x.view(len(x), *learner.frame_shape)
    return prequential(lambda a, b: learner.observe(a, b).prediction, frames, y, batch, on_batch)


# ---------------------------------------------------------------------------- backprop
def online_backprop(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> Observe:
    """Online backprop as :func:`prequential`'s ``observe``: predict a batch, then one
    cross-entropy step on it."""

    def observe(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return logits.detach().argmax(1)

    return observe


def make_backprop(sizes: tuple[int, ...], optimizer: str, lr: float, seed: int, device: str):
    """The backprop MLP (``sizes`` then a 10-way output layer) and its optimizer, seeded."""
    torch.manual_seed(seed)
    model = backprop_twin(sizes).to(device)
    opt_class = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[optimizer]
    return model, fused_optimizer(opt_class, model.parameters(), lr=lr)


def parse_grid(grid: tuple[str, ...]) -> list[tuple[str, float]]:
    """``("sgd:0.01", "adam:1e-3")`` as ``[("sgd", 0.01), ("adam", 0.001)]``.

    Raises ``ValueError`` naming ``--bp-grid`` for an entry that is not ``optimizer:lr``.
    """
    out = []
    for entry in grid:
        name, _, lr = entry.partition(":")
        try:
            value = float(lr)
        except ValueError:
            value = float("nan")
        if name not in ("sgd", "adam") or not value > 0:
            raise ValueError(f"--bp-grid entries are sgd:LR or adam:LR with LR > 0, got {entry!r}")
        out.append((name, value))
    return out


def tune_backprop(
    grid, frames: int, make: Callable[[str, float], Observe], x, y, batch: int, advance
):
    """Pick the backprop (optimizer, lr) by prequential accuracy on the stream's first frames.

    ``make(optimizer, lr)`` is a fresh learner's ``observe`` (:func:`prequential`);
    ``advance(k)`` is called after every batch of ``k`` frames (progress).
    """
    n = min(frames, len(x))
    results = []
    for optimizer_name, lr in grid:
        observe = make(optimizer_name, lr)
        hits = prequential(observe, x[:n], y[:n], batch, lambda k, _r: advance(k))
        results.append(
            {
                "optimizer": optimizer_name,
                "lr": lr,
                "prequential_accuracy": float(hits.float().mean()),
            }
        )
    best = max(results, key=lambda g: g["prequential_accuracy"])
    return {"tune_frames": n, "metric": "prequential accuracy", "grid": results, "chosen": best}


# ---------------------------------------------------------------------------- replay
def replay_plan(cfg: Any) -> dict[str, Any]:
    """What the suite's FF learner keeps and replays, which ``backprop-replay`` matches.

    FF's memory is ``memory_capacity`` long-term frames plus up to ``recent_capacity`` frames
    since its last sleep; per ``observe()`` call it makes one awake step on the incoming batch
    and, since a full sleep makes as many steps as there were awake ones, on average one sleep
    step on ``sleep_batch`` replayed frames (beside as many dreams). The baseline stores as many
    frames (a reservoir, or class-balanced where FF's long-term memory is), makes as many steps
    per batch (two, each on the incoming batch and half FF's replayed frames, rounded up), and
    shifts and averages as FF does.

    Examples
    --------
    >>> from benchmarks.stream_mnist import QUICK
    >>> plan = replay_plan(QUICK)
    >>> plan["memory_frames"], plan["steps_per_batch"], plan["replayed_per_step"]
    (3000, 2, 16)
    """
    ff = {**learner_defaults(), **ff_settings(cfg)}
    steps = 2
    return {
        "memory_frames": ff["memory_capacity"] + ff["recent_capacity"],
        "memory": "class-balanced" if ff["balanced_memory"] else "reservoir",
        "steps_per_batch": steps,
        "replayed_per_step": math.ceil(ff["sleep_batch"] / steps),
        "replay_shift": ff["replay_shift"],
        "ema_decay": ff["ema_decay"],
        "ema_fallback_window": ff["ema_fallback_window"],
        "ff": {
            name: ff[name]
            for name in ("memory_capacity", "recent_capacity", "sleep_batch", "long_term_share")
        },
    }


class _StreamER(ERMethod):
    """ER of the continual suites with a tuned optimizer, if asked a reservoir memory, and FF's
    guarded weight average: the average predicts only while the weights that learn are not
    ahead on the incoming labelled frames (:class:`~ffstream.stream.average.GuardedAverage`,
    the rule of FF's ``ema_fallback_window``)."""

    def __init__(self, plan: dict[str, Any], sizes, optimizer: str, lr: float, seed, device):
        # read by _new_average, which the base class's constructor calls
        self.fallback_window = plan.get("ema_fallback_window")
        cfg = ContinualConfig(
            hidden=tuple(sizes[1:]),
            memory=plan["memory_frames"],
            replay_batch=plan["replayed_per_step"],
            bp_updates=plan["steps_per_batch"],
            replay_shift=plan["replay_shift"],
            ema_decay=plan["ema_decay"],
            bp_lr=lr,
        )
        super().__init__(cfg, sizes[0], 10, seed, image_shape=(28, 28), device=device)
        if optimizer == "adam":
            self.optimizer = fused_optimizer(torch.optim.Adam, self.model.parameters(), lr=lr)
        if plan["memory"] == "reservoir":
            self.memory = ReservoirMemory(plan["memory_frames"])

    def _new_average(self) -> GuardedAverage | None:
        if self.ema_decay is None:
            return None
        return GuardedAverage(self.model, self.ema_decay, self.fallback_window)

    def predictor(self) -> torch.nn.Module:
        """The average while it is trusted, else the weights that learn."""
        if self.averaged is None or self.averaged.trusted:
            return super().predictor()
        return self.model

    @torch.no_grad()
    def predict(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """Predict a batch; with its labels, also score the average against the weights that
        learn (as FF's learner does on every labelled batch, before learning from it)."""
        if y is None or self.averaged is None or self.averaged.window is None:
            return super().predict(x, y)  # nothing to weigh
        live, kept = self.model(x).argmax(1), self.averaged.module(x).argmax(1)
        return self.averaged.answer(live, kept, y)


def make_replay(plan: dict[str, Any], sizes, optimizer: str, lr: float, seed: int, device: str):
    """The backprop MLP (``sizes`` then a 10-way output) with experience replay as ``plan``
    (:func:`replay_plan`) says: :class:`~benchmarks.continual_replay.ERMethod`, whose every
    step is one cross-entropy over the incoming batch and ``replayed_per_step`` remembered
    frames, ``steps_per_batch`` steps per batch. ``observe(x, y)`` predicts, learns and
    remembers; ``predict(x, None)`` predicts (with the weight average while it is trusted).

    Examples
    --------
    >>> plan = {"memory_frames": 20, "memory": "reservoir", "steps_per_batch": 2,
    ...         "replayed_per_step": 4, "replay_shift": 0, "ema_decay": None}
    >>> method = make_replay(plan, (6, 8), "adam", 1e-3, seed=0, device="cpu")
    >>> _ = method.observe(torch.rand(30, 6), torch.arange(30) % 10)
    >>> len(method.memory), method.steps, method.replayed()[0].shape
    (20, 2, torch.Size([4, 6]))
    """
    return _StreamER(plan, sizes, optimizer, lr, seed, device)


# ---------------------------------------------------------------------------- scores
def accuracy_curve(hits: torch.Tensor, window: int) -> list[list[float]]:
    """``[frames seen, prequential accuracy of the last window]`` per window of ``window``
    frames (the last window may be shorter)."""
    points = []
    for i in range(0, len(hits), window):
        chunk = hits[i : i + window]
        points.append([i + len(chunk), float(chunk.float().mean())])
    return points


@torch.no_grad()
def test_accuracy(predict: Callable[[torch.Tensor], torch.Tensor], x, y, batch: int = 1000):
    """Fraction of test frames that ``predict`` gets right."""
    right = sum(
        int((predict(x[i : i + batch]).cpu() == y[i : i + batch]).sum())
        for i in range(0, len(x), batch)
    )
    return right / len(x)
