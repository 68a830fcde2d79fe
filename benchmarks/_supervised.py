"""What the offline MNIST suites (``mnist-ff``, ``mnist-cwc``) share: data settings and one run.

A run loads MNIST (checked against the official SHA-256 unless ``--no-verify``), trains a
:class:`~ffstream.ff.SupervisedFF` with :func:`benchmarks._common.train_supervised` (the ffcode
learning-rate schedule, optional validation after each epoch), reports the test error of every
inference mode the suite names, and times one FF epoch against one epoch of ordinary backprop
training of a network of the same shape (Adam, cross-entropy) on the same frames and batch size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import torch
from torch import nn

from benchmarks._common import (
    data_summary,
    error_pct,
    load_splits,
    time_backprop_epoch,
    train_supervised,
)
from benchmarks.lab import Context, Run, select
from ffstream.config import option
from ffstream.ff import SupervisedFF

__all__ = ["MnistData", "Predictors", "check_positive", "run_supervised"]

#: inference mode -> a function from frames to predicted labels
Predictors = dict[str, Callable[[torch.Tensor], torch.Tensor]]


@dataclass(frozen=True)
class MnistData:
    """The data settings of an offline MNIST suite, and the seeds it runs.

    ``data`` is not part of a run's identity (like the selection fields): the files are the
    official ones wherever they lie, as the SHA-256 check makes sure. Turning the check off does
    change the identity, so runs on other files never land among the official presets' records.
    """

    data: str | None = select(
        None, "folder holding the MNIST IDX files; none: $FFSTREAM_DATA, else ~/.cache/ffstream"
    )
    verify: bool = option(
        True,
        "check the files' SHA-256 (--no-verify: only for your own files in the IDX format)",
        flag="--verify",
    )
    val_frames: int = option(
        0, "training frames held out as a validation set (for tuning)", flag="--val"
    )
    limit: int | None = option(
        None, "use only the first N training and test frames (smoke tests; none: all)"
    )
    seeds: tuple[int, ...] = select((0,), "seeds")

    def __post_init__(self):
        if self.val_frames < 0:
            raise ValueError(f"--val must be at least 0, got {self.val_frames}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"--limit must be at least 1, got {self.limit}")


def check_positive(cfg: Any, *names: str) -> None:
    """Raise ``ValueError`` naming the flag when one of ``names`` is not above 0."""
    for name in names:
        if not getattr(cfg, name) > 0:
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} must be above 0, got {getattr(cfg, name)}")


def run_supervised(
    cfg: Any,
    run: Run,
    ctx: Context,
    *,
    image_shape: bool,
    shape: str,
    build: Callable[[int, str], SupervisedFF],
    predictors: Callable[[SupervisedFF], Predictors],
    twin: Callable[[int], nn.Module],
    twin_note: str,
    eval_batch: int = 1000,
    eval_mode: bool = False,
) -> dict[str, Any]:
    """Train, test and time one model of an offline MNIST suite with seed ``run.seed``.

    ``build(seed, device)`` makes the model, ``predictors(model)`` its inference modes and
    ``twin(seed)`` the backprop network timed beside it. With ``eval_mode`` every error is
    measured in eval mode (batch normalisation then uses its running statistics, so a frame's
    class never depends on the other frames in its batch), ``eval_batch`` frames at a time.
    Returns ``metrics`` (errors in percent, seconds) and the per-epoch history as details.
    """
    seed, device = run.seed, ctx.device
    torch.manual_seed(seed)
    data = load_splits(
        cfg.data,
        device=device,
        image_shape=image_shape,
        val_frames=cfg.val_frames,
        limit=cfg.limit,
        seed=seed,
        verify=cfg.verify,
    )
    x_train, y_train = data["train"]
    x_val, y_val = data["val"]
    x_test, y_test = data["test"]
    ctx.console.print(
        f"{shape}, {cfg.epochs} epochs, batch {cfg.batch_size}, {len(x_train)} training frames, "
        f"seed {seed}",
        highlight=False,
    )
    model = build(seed, device)
    modes = predictors(model)

    def errors(x: torch.Tensor, y: torch.Tensor) -> dict[str, float | None]:
        was_training = model.training
        if eval_mode:
            model.eval()
        try:
            return {name: error_pct(fn, x, y, eval_batch) for name, fn in modes.items()}
        finally:
            model.train(was_training)

    training = SimpleNamespace(
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        readout_lr=cfg.readout_lr,
        schedule=cfg.schedule,
        seed=seed,
    )
    history, steps_per_epoch = train_supervised(
        model,
        training,
        x_train,
        y_train,
        device=device,
        console=ctx.console,
        validate=(lambda: errors(x_val, y_val)) if len(x_val) else None,
    )
    test_error = errors(x_test, y_test)
    # Timing: the FF epoch is the median training epoch; backprop gets one epoch of its own.
    ff_epoch_s = sorted(r["seconds"] for r in history)[len(history) // 2]
    frames = steps_per_epoch * cfg.batch_size
    bp_epoch_s = time_backprop_epoch(
        twin(seed),
        x_train[:frames],
        y_train[:frames],
        batch_size=cfg.batch_size,
        lr=1e-3,
        seed=seed,
    )
    metrics: dict[str, float] = {f"test_error_{m}": e for m, e in test_error.items()}
    metrics.update(
        {f"val_error_{m}": e for m, e in (history[-1].get("val_error_pct") or {}).items()}
    )
    metrics.update(
        {
            "ff_epoch_s": ff_epoch_s,
            "backprop_epoch_s": bp_epoch_s,
            "ff_over_backprop": ff_epoch_s / bp_epoch_s,
            "train_s": sum(r["seconds"] for r in history),
        }
    )
    return {
        "metrics": metrics,
        "history": history,
        "data": data_summary(cfg.data, data),
        "timing": {"batch_size": cfg.batch_size, "frames_per_epoch": frames, "note": twin_note},
    }
