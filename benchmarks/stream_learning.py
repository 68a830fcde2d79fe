"""Learning ``stream-mnist``'s stream: the data, the learners, the prequential loops.

Every learner predicts each batch of frames *before* it learns from it (prequential,
test-then-train) and goes over the stream exactly once; afterwards it is scored on the test set.
The FF learners are :class:`~ffstream.stream.StreamLearner` with its own defaults unless the
config overrides them; the baseline is an online backprop MLP of the same layer sizes plus a
10-way output, one step per batch, its optimizer and learning rate picked from a small grid by
prequential accuracy on the first frames of the stream.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from benchmarks._common import IMAGE_SUITE_LEARNER
from benchmarks.mnist_ff import backprop_twin
from benchmarks.stream_conditions import Condition
from ffstream.data import load_mnist, shuffled_stream, to_unit_float
from ffstream.stream import StreamLearner

__all__ = [
    "accuracy_curve",
    "learner_defaults",
    "learner_overrides",
    "load_stream",
    "make_backprop",
    "make_learner",
    "parse_grid",
    "stream_backprop",
    "stream_ff",
    "test_accuracy",
    "tune_backprop",
]

OnBatch = Callable[[int, int], None]  # (frames, right) after every batch


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


def learner_overrides(cfg: Any) -> dict[str, Any]:
    """Only what the config sets; everything else stays the learner's default."""
    names = ("hidden", "lr", "predict_with", "sleep_batch")
    overrides = {name: getattr(cfg, name) for name in names if getattr(cfg, name) is not None}
    if cfg.replay_shift:
        overrides["replay_shift"] = cfg.replay_shift
    return overrides


def make_learner(cond: Condition, cfg: Any, device: str, seed: int = 0) -> StreamLearner:
    """A fresh labelled learner for an FF condition (the image suites' settings unless overridden).

    With ``cfg.replay_shift`` its frames are 28×28 images, so sleep can shift what it replays.
    """
    options = {**IMAGE_SUITE_LEARNER, **learner_overrides(cfg), **cond.options()}
    return StreamLearner(
        (28, 28) if cfg.replay_shift else 784,
        10,
        schedule=cond.schedule(),
        replay=cond.replay,
        device=device,
        seed=seed,
        **options,
    )


def stream_ff(learner: StreamLearner, x, y, batch: int, on_batch: OnBatch) -> torch.Tensor:
    """Observe the stream ``batch`` frames at a time; returns the per-frame hits (0/1)."""
    hits = torch.zeros(len(x), dtype=torch.bool)
    x = x.view(len(x), *learner.frame_shape)
    for i in range(0, len(x), batch):
        out = learner.observe(x[i : i + batch], y[i : i + batch])
        hit = (out.prediction == y[i : i + batch]).cpu()
        hits[i : i + batch] = hit
        on_batch(len(hit), int(hit.sum()))
    return hits


# ---------------------------------------------------------------------------- backprop
def stream_backprop(model, optimizer, x, y, batch: int, on_batch: OnBatch) -> torch.Tensor:
    """Online backprop: predict a batch (prequential), then one cross-entropy step on it."""
    hits = torch.zeros(len(x), dtype=torch.bool)
    for i in range(0, len(x), batch):
        xb, yb = x[i : i + batch], y[i : i + batch]
        logits = model(xb)
        hit = (logits.detach().argmax(1) == yb).cpu()
        hits[i : i + batch] = hit
        loss = F.cross_entropy(logits, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        on_batch(len(hit), int(hit.sum()))
    return hits


def make_backprop(sizes: tuple[int, ...], optimizer: str, lr: float, seed: int, device: str):
    """The backprop MLP (``sizes`` then a 10-way output layer) and its optimizer, seeded."""
    torch.manual_seed(seed)
    model = backprop_twin(sizes).to(device)
    opt_class = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[optimizer]
    return model, opt_class(model.parameters(), lr=lr)


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


def tune_backprop(grid, frames: int, sizes, x, y, batch: int, seed: int, device: str, advance):
    """Pick the backprop (optimizer, lr) by prequential accuracy on the stream's first frames.

    ``advance(k)`` is called after every batch of ``k`` frames (progress).
    """
    n = min(frames, len(x))
    results = []
    for optimizer_name, lr in grid:
        model, optimizer = make_backprop(sizes, optimizer_name, lr, seed, device)
        hits = stream_backprop(model, optimizer, x[:n], y[:n], batch, lambda k, _r: advance(k))
        results.append(
            {
                "optimizer": optimizer_name,
                "lr": lr,
                "prequential_accuracy": float(hits.float().mean()),
            }
        )
    best = max(results, key=lambda g: g["prequential_accuracy"])
    return {"tune_frames": n, "metric": "prequential accuracy", "grid": results, "chosen": best}


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
