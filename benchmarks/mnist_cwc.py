"""``ffstream bench mnist-cwc``: a channel-wise competitive (CwC) Forward-Forward CNN on MNIST.

CwComp (Papachristodoulou et al., AAAI 2024) splits every conv layer's channels into ten class
groups; a layer's local loss is the cross-entropy of the groups' mean-square goodness against
the label (:class:`~ffstream.ff.ChannelwiseCompetition`). No label enters the input and no
negative data is made. Every second layer is a *grouped* convolution (``groups = 10``, the
paper's CFSE block), so class group ``c`` of that layer only sees class group ``c`` below, and
is followed by 2x2 max-pooling.

What it does, top to bottom:

1. load MNIST (checked against the official SHA-256) as ``(N, 1, 28, 28)`` images in ``[0, 1]``;
2. build the CNN from :class:`~ffstream.ff.FFLayer` conv layers and train it with
   :class:`~ffstream.ff.SupervisedFF` (each layer by its own CwC loss, plus the local readout),
   lr schedule as in Hinton's ffcode (constant for half the steps, then linearly to 0);
3. report the test error of *goodness* inference (sum of class-group goodness over layers >= 2),
   of the paper's *last-layer* goodness, and of the linear *readout* on layers >= 2;
4. time one FF epoch against one backprop epoch (Adam, cross-entropy) of a CNN of the same shape
   (same convolutions, a linear output layer on the last one) and report the ratio.

Configurations (see :data:`FULL` and :data:`QUICK`):

- full: channels 20-80-240-480 (the paper's MNIST net), Adam lr 0.01, batch 128, 20 epochs
  (published: 0.58% test error; the paper also trains layer by layer, here all layers train
  together);
- ``--quick``: channels 20-80, 1 epoch, layer 2 not grouped (convolutions are slow on a shared
  2-core CPU: one epoch of this net, FF or backprop, takes minutes there).

Both use CwComp's BatchNorm (learned scale and shift) after each ReLU and pool, with goodness
computed on its output, and temperature 0.1. With goodness on raw ReLU outputs instead, the CwC
loss barely fell (2.30 to about 1.9) and goodness inference stayed at 55.8% test error
(``--quick``): the loss lowered wrong groups' goodness by silencing their ReLU units, and whole
class groups of layer 2 died. With the normalisation, ``--quick`` reached 5.28% (goodness) and
1.55% (readout) test error on 2026-11-26 (AMD EPYC, 2 cores, 1 thread).

Examples
--------
``ffstream bench mnist-cwc --quick --data /path/to/data --out mnist-cwc-quick.json``
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Any, Literal

import torch
from rich.console import Console
from rich.table import Table
from torch import nn

from benchmarks._common import (
    add_data_arguments,
    apply_threads,
    data_summary,
    error_pct,
    load_splits,
    result_skeleton,
    time_backprop_epoch,
    train_supervised,
)
from ffstream.ff import ChannelwiseCompetition, FFLayer, FFNet, SupervisedFF

__all__ = ["DESCRIPTION", "CwCConfig", "FULL", "QUICK", "add_arguments", "build_model", "run"]

DESCRIPTION = "channel-wise competitive FF CNN on MNIST (CwComp, AAAI 2024): test error and time"

#: Published reference: CwComp MNIST CNN (Papachristodoulou et al., 2024).
PUBLISHED_ERROR_PCT = 0.58

NUM_CLASSES = 10


@dataclass
class CwCConfig:
    """Every hyper-parameter of the suite, in one place."""

    channels: tuple[int, ...] = (20, 80, 240, 480)
    kernel_size: int = 3
    grouped: bool = True  # CFSE: layers 2, 4, ... are grouped convolutions (groups = classes)
    epochs: int = 20
    batch_size: int = 128
    optimizer: Literal["adam", "sgd", "adamw"] = "adam"
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0
    peer_norm: float = 0.0
    # CwComp's BatchNorm (learned scale) after ReLU and pool; goodness is computed on its output.
    # Without it the CwC loss barely moves (goodness inference stays near 77% error).
    norm: Literal["batch"] | None = "batch"
    # Group goodness starts near 1 after BatchNorm, so the logits (g_1 .. g_C) start close
    # together; dividing by 0.1 lets the competition bite in the first epoch (tuned on 10,000
    # frames, 1 epoch: 59% -> 36% goodness error with grouped layers, 29% -> 15% without).
    temperature: float = 0.1
    readout_lr: float = 0.01
    schedule: Literal["ffcode", "constant"] = "ffcode"
    val_frames: int = 0  # training frames held out for validation (tuning only)
    seed: int = 0


#: The paper's MNIST CNN: 20-80-240-480 channels, 20 epochs.
FULL = CwCConfig()

#: A CPU configuration: a few minutes on two cores. With only two layers the second is not
#: grouped: a grouped layer 2 sees just 2 channels of layer 1 per class group, too little to tell
#: classes apart by goodness (10,000 frames, 1 epoch: 36% against 15% goodness error).
QUICK = CwCConfig(channels=(20, 80), epochs=1, grouped=False)


def add_arguments(parser) -> None:
    """Options of ``ffstream bench mnist-cwc``."""
    add_data_arguments(parser)
    parser.add_argument("--epochs", type=int, default=None, help="override the epochs")
    parser.add_argument("--seed", type=int, default=None, help="override the seed")
    parser.add_argument("--batch-size", type=int, default=None, help="override the batch size")
    parser.add_argument("--lr", type=float, default=None, help="override the FF learning rate")
    parser.add_argument(
        "--channels", default=None, help="override the channels per layer, e.g. 20,80"
    )


def config_from_args(args) -> CwCConfig:
    """The base configuration (full or ``--quick``) with command-line overrides applied."""
    cfg = QUICK if getattr(args, "quick", False) else FULL
    overrides: dict[str, Any] = {}
    for name in ("epochs", "seed", "batch_size", "lr"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    if getattr(args, "val", None) is not None:
        overrides["val_frames"] = args.val
    if getattr(args, "channels", None):
        overrides["channels"] = tuple(int(c) for c in args.channels.split(","))
    return dataclasses.replace(cfg, **overrides)


def conv_stack(cfg: CwCConfig) -> list[tuple[nn.Conv2d, int | None]]:
    """The convolutions and their pooling: ``[(conv, pool), ...]``, shared by FF and backprop.

    Layer ``i`` (from 0) is grouped and max-pooled when ``i`` is odd, as in the paper.
    Weights are drawn ``N(0, 1/fan_in)`` from ``cfg.seed``, as :class:`~ffstream.ff.FFConv2d`.
    """
    generator = torch.Generator().manual_seed(cfg.seed)
    stack, in_channels = [], 1
    for i, out_channels in enumerate(cfg.channels):
        if out_channels % NUM_CLASSES:
            raise ValueError(f"CwC needs channels divisible by {NUM_CLASSES}, got {out_channels}")
        odd = i % 2 == 1
        groups = NUM_CLASSES if odd and cfg.grouped and in_channels % NUM_CLASSES == 0 else 1
        conv = nn.Conv2d(
            in_channels, out_channels, cfg.kernel_size, padding=cfg.kernel_size // 2, groups=groups
        )
        fan_in = (in_channels // groups) * cfg.kernel_size**2
        with torch.no_grad():
            conv.weight.normal_(0.0, 1.0 / math.sqrt(fan_in), generator=generator)
            conv.bias.zero_()
        stack.append((conv, 2 if odd else None))
        in_channels = out_channels
    return stack


def build_model(cfg: CwCConfig, device: str) -> SupervisedFF:
    """The CwC CNN with its readout, as configured."""
    layers = [FFLayer(conv, conv.out_channels, pool, cfg.norm) for conv, pool in conv_stack(cfg)]
    net = FFNet(
        layers,
        objective=ChannelwiseCompetition(NUM_CLASSES, temperature=cfg.temperature),
        optimizer=cfg.optimizer,
        lr=cfg.lr,
        momentum=cfg.momentum,
        weight_decay=cfg.weight_decay,
        peer_norm=cfg.peer_norm,
    ).to(device)
    return SupervisedFF(net, None, readout_lr=cfg.readout_lr, seed=cfg.seed)


def backprop_twin(cfg: CwCConfig) -> nn.Sequential:
    """An ordinary CNN of the same shape (same convolutions) plus a linear output layer."""
    modules: list[nn.Module] = []
    size = 28
    for conv, pool in conv_stack(cfg):
        modules += [conv, nn.ReLU()]
        if pool:
            modules.append(nn.MaxPool2d(pool))
            size //= pool
        if cfg.norm == "batch":
            modules.append(nn.BatchNorm2d(conv.out_channels))
    features = cfg.channels[-1] * size * size
    return nn.Sequential(*modules, nn.Flatten(), nn.Linear(features, NUM_CLASSES))


@torch.no_grad()
def predict_last_layer(model: SupervisedFF, x: torch.Tensor) -> torch.Tensor:
    """The paper's inference: the class group with the highest goodness in the last layer."""
    h = model.net.activities(x)[-1]
    return model.net.objectives[-1].group_goodness(h).argmax(1)


def evaluate(model: SupervisedFF, predict, x: torch.Tensor, y: torch.Tensor) -> float | None:
    """Error (%) of ``predict`` in eval mode: batch normalisation then uses its running
    statistics, so a frame's class never depends on the other frames in its batch."""
    was_training = model.training
    model.eval()
    try:
        return error_pct(predict, x, y, 500)
    finally:
        model.train(was_training)


def run(args, console: Console) -> dict[str, Any]:
    """Train, evaluate and time the CwC CNN; returns the result dict (also shown as a table)."""
    cfg = config_from_args(args)
    device = args.device
    apply_threads(args)
    torch.manual_seed(cfg.seed)
    result = result_skeleton("mnist-cwc", device, getattr(args, "quick", False), cfg)
    wall_start = time.perf_counter()

    data = load_splits(
        args.data,
        device=device,
        image_shape=True,
        val_frames=cfg.val_frames,
        limit=getattr(args, "limit", None),
        seed=cfg.seed,
        verify=getattr(args, "verify", True),
    )
    x_train, y_train = data["train"]
    x_val, y_val = data["val"]
    x_test, y_test = data["test"]
    result["data"] = data_summary(args.data, data)
    console.print(
        f"mnist-cwc: channels {'-'.join(map(str, cfg.channels))}, {cfg.epochs} epochs, "
        f"batch {cfg.batch_size}, {len(x_train)} training frames on {result['device_name']}"
    )

    model = build_model(cfg, device)
    predictors = {
        "goodness": model.predict,
        "goodness_last_layer": lambda x: predict_last_layer(model, x),
        "readout": lambda x: model.predict(x, "readout"),
    }
    history, steps_per_epoch = train_supervised(
        model,
        cfg,
        x_train,
        y_train,
        device=device,
        console=console,
        validate=(
            (lambda: {name: evaluate(model, fn, x_val, y_val) for name, fn in predictors.items()})
            if len(x_val)
            else None
        ),
    )
    train_s = sum(r["seconds"] for r in history)

    test_error = {name: evaluate(model, fn, x_test, y_test) for name, fn in predictors.items()}
    # Timing: FF epoch (median of the training epochs) against one backprop epoch.
    ff_epoch_s = sorted(r["seconds"] for r in history)[len(history) // 2]
    bp_epoch_s = time_backprop_epoch(
        backprop_twin(cfg),
        x_train[: steps_per_epoch * cfg.batch_size],
        y_train[: steps_per_epoch * cfg.batch_size],
        batch_size=cfg.batch_size,
        lr=1e-3,
        seed=cfg.seed,
    )
    result.update(
        {
            "test_error_pct": test_error,
            "val_error_pct": history[-1].get("val_error_pct"),
            "published_error_pct": PUBLISHED_ERROR_PCT,
            "history": history,
            "train_s": train_s,
            "timing": {
                "batch_size": cfg.batch_size,
                "frames_per_epoch": steps_per_epoch * cfg.batch_size,
                "ff_epoch_s": ff_epoch_s,
                "bp_epoch_s": bp_epoch_s,
                "ff_over_bp": ff_epoch_s / bp_epoch_s,
                "note": "FF epoch = median training epoch (layers and readout); BP epoch = Adam "
                "+ cross-entropy, same convolutions plus a 10-way linear output layer",
            },
            "wall_s": time.perf_counter() - wall_start,
        }
    )
    console.print(_table(result))
    return result


def _table(result: dict[str, Any]) -> Table:
    cfg, timing = result["config"], result["timing"]
    channels = "-".join(map(str, cfg["channels"]))
    table = Table(title=f"mnist-cwc (channels {channels}, {cfg['epochs']} epochs)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for mode, err in result["test_error_pct"].items():
        table.add_row(f"test error, {mode}", f"{err:.2f}%")
    if result["val_error_pct"]:
        for mode, err in result["val_error_pct"].items():
            table.add_row(f"validation error, {mode}", f"{err:.2f}%")
    table.add_row("published (CwComp, 20-80-240-480)", f"{result['published_error_pct']:.2f}%")
    table.add_row("FF epoch", f"{timing['ff_epoch_s']:.2f} s")
    table.add_row("backprop epoch, same shape", f"{timing['bp_epoch_s']:.2f} s")
    table.add_row("FF / backprop", f"{timing['ff_over_bp']:.1f}x")
    table.add_row("wall time", f"{result['wall_s']:.1f} s")
    table.add_row("device", result["device_name"])
    return table
