"""A channel-wise competitive (CwC) Forward-Forward CNN on MNIST: test error and epoch time.

CwComp (Papachristodoulou et al., AAAI 2024) splits every conv layer's channels into ten class
groups; a layer's local loss is the cross-entropy of the groups' mean-square goodness against
the label (:class:`~ffstream.ff.ChannelwiseCompetition`). No label enters the input and no
negative data is made. Every second layer is a *grouped* convolution (``groups = 10``, the
paper's CFSE block), so class group ``c`` of that layer only sees class group ``c`` below, and
is followed by 2x2 max-pooling.

What one run does, top to bottom (:func:`benchmarks._supervised.run_supervised`):

1. load MNIST (checked against the official SHA-256) as ``(N, 1, 28, 28)`` images in ``[0, 1]``;
2. build the CNN from :class:`~ffstream.ff.FFLayer` conv layers and train it with
   :class:`~ffstream.ff.SupervisedFF` (each layer by its own CwC loss, plus the local readout),
   lr schedule as in Hinton's ffcode (constant for half the steps, then linearly to 0);
3. report the test error of *goodness* inference (sum of class-group goodness over layers >= 2),
   of the paper's *last-layer* goodness, and of the linear *readout* on layers >= 2, all in
   eval mode;
4. time one FF epoch against one backprop epoch (Adam, cross-entropy) of a CNN of the same shape
   (same convolutions, a linear output layer on the last one) and report the ratio.

Configurations (see :data:`FULL` and :data:`QUICK`):

- full: channels 20-80-240-480 (the paper's MNIST net), Adam lr 0.01, batch 128, 20 epochs (the
  paper also trains layer by layer; here all layers train together);
- ``--quick``: channels 20-80, 1 epoch, layer 2 not grouped (convolutions are slow on a shared
  2-core CPU: one epoch of this net, FF or backprop, takes minutes there).

Both use CwComp's BatchNorm (learned scale and shift) after each ReLU and pool, with goodness
computed on its output, and temperature 0.1. With goodness on raw ReLU outputs instead, the CwC
loss barely fell and goodness inference stayed poor: the loss lowered wrong groups' goodness by
silencing their ReLU units, and whole class groups of layer 2 died. After BatchNorm the group
goodness starts near 1 for every group, so the logits start close together; dividing them by
0.1 lets the competition bite in the first epoch (on 10,000 frames for 1 epoch it clearly
lowered goodness error against temperatures 1 and 0.25, grouped or not).

Run: ``ffstream bench mnist-cwc`` (``--quick``: the CPU configuration; ``--data DIR``: the files)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from benchmarks._supervised import MnistData, check_positive, run_supervised
from benchmarks.lab import Column, Context, Page, Run
from ffstream.config import option
from ffstream.ff import ChannelwiseCompetition, FFLayer, FFNet, SupervisedFF

__all__ = [
    "DESCRIPTION",
    "FULL",
    "NAME",
    "PAGE",
    "QUICK",
    "Config",
    "backprop_twin",
    "build_model",
    "conv_stack",
    "predict_last_layer",
    "run_one",
    "runs",
]

NAME = "mnist-cwc"
DESCRIPTION = "channel-wise competitive FF CNN on MNIST (CwComp, AAAI 2024): test error and time"
NUM_CLASSES = 10


@dataclass(frozen=True)
class Config(MnistData):
    """Every setting of the suite, in one place."""

    channels: tuple[int, ...] = option((20, 80, 240, 480), "channels per conv layer (each / 10)")
    kernel_size: int = option(3, "convolution kernel size (odd)")
    grouped: bool = option(True, "layers 2, 4, ... are grouped convolutions (CwComp's CFSE)")
    epochs: int = option(20, "training epochs")
    batch_size: int = option(128, "frames per training step")
    optimizer: str = option("adam", "optimizer of the FF layers", choices=("adam", "sgd", "adamw"))
    lr: float = option(0.01, "learning rate of the FF layers (before the schedule)")
    momentum: float = option(0.9, "momentum (sgd only)")
    weight_decay: float = option(0.0, "weight decay of the FF layers")
    peer_norm: float = option(0.0, "weight of the peer-normalisation loss")
    norm: str | None = option(
        "batch", "normalisation after ReLU and pool, goodness on its output", choices=("batch",)
    )
    temperature: float = option(0.1, "the class groups' goodness is divided by it")
    readout_lr: float = option(0.01, "learning rate of the linear readout (before the schedule)")
    schedule: str = option(
        "ffcode",
        "lr schedule: ffcode (flat, then linear to 0) or constant",
        choices=("ffcode", "constant"),
    )

    def __post_init__(self):
        super().__post_init__()
        if not self.channels or any(c < 1 or c % NUM_CLASSES for c in self.channels):
            raise ValueError(f"--channels must be multiples of {NUM_CLASSES}, got {self.channels}")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"--kernel-size must be odd, got {self.kernel_size}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
        check_positive(self, "lr", "readout_lr", "temperature")


#: The paper's MNIST CNN: 20-80-240-480 channels, 20 epochs.
FULL = Config()

#: A CPU configuration: a few minutes on two cores. With only two layers the second is not
#: grouped: a grouped layer 2 sees just 2 channels of layer 1 per class group, too few to tell
#: classes apart by goodness (on 10,000 frames for 1 epoch the ungrouped layer did clearly better).
QUICK = Config(channels=(20, 80), epochs=1, grouped=False)

PAGE = Page(
    title="Channel-wise competitive Forward-Forward CNN on MNIST",
    measures=(
        "CwComp's FF CNN: each conv layer's channels form ten class groups, and the layer's local "
        "loss is the cross-entropy of the groups' goodness against the label (no label in the "
        "input, no negative data); every second layer is a grouped convolution followed by "
        "max-pooling, with BatchNorm after each ReLU and pool. Test error (%) of summed "
        "class-group goodness over layers >= 2, of the last layer's goodness (the paper's "
        "inference) and of a linear readout, and the seconds of one FF epoch against one "
        "backprop epoch of a CNN of the same shape."
    ),
    command="ffstream bench mnist-cwc",
    columns=(
        Column("test_error_goodness", "test error %, goodness", digits=2),
        Column("test_error_goodness_last_layer", "test error %, last layer", digits=2),
        Column("test_error_readout", "test error %, readout", digits=2),
        Column("ff_epoch_s", "FF epoch (s)"),
        Column("backprop_epoch_s", "backprop epoch (s)"),
        Column("ff_over_backprop", "FF / backprop"),
    ),
    anchors=(
        "Papachristodoulou, Kyrkou, Timotheou and Theocharides (2024), 'Convolutional "
        "Channel-wise Competitive Learning for the Forward-Forward Algorithm' (CwComp, AAAI 2024, "
        "arXiv:2312.12668): 0.58% test error on MNIST and 7.69% on Fashion-MNIST with "
        "the paper's CNN (CFSE blocks, layer-wise CwC loss).",
    ),
    notes=(
        "The full configuration is the paper's net and needs a GPU; the paper trains it layer by "
        "layer, here all layers train together. The quick one (channels 20-80, layer 2 not "
        "grouped, 1 epoch) is a CPU smoke run, not that model."
    ),
)


def runs(cfg: Config) -> list[Run]:
    """The CwC CNN with each seed."""
    return [Run("cwc", seed) for seed in cfg.seeds]


def conv_stack(cfg: Config, seed: int) -> list[tuple[nn.Conv2d, int | None]]:
    """The convolutions and their pooling: ``[(conv, pool), ...]``, shared by FF and backprop.

    Layer ``i`` (from 0) is grouped and max-pooled when ``i`` is odd, as in the paper.
    Weights are drawn ``N(0, 1/fan_in)`` from ``seed``, as :class:`~ffstream.ff.FFConv2d`.
    """
    generator = torch.Generator().manual_seed(seed)
    stack, in_channels = [], 1
    for i, out_channels in enumerate(cfg.channels):
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


def build_model(cfg: Config, seed: int, device: str) -> SupervisedFF:
    """The CwC CNN with its readout, as configured."""
    layers = [
        FFLayer(conv, conv.out_channels, pool, cfg.norm) for conv, pool in conv_stack(cfg, seed)
    ]
    net = FFNet(
        layers,
        objective=ChannelwiseCompetition(NUM_CLASSES, temperature=cfg.temperature),
        optimizer=cfg.optimizer,
        lr=cfg.lr,
        momentum=cfg.momentum,
        weight_decay=cfg.weight_decay,
        peer_norm=cfg.peer_norm,
    ).to(device)
    return SupervisedFF(net, None, readout_lr=cfg.readout_lr, seed=seed)


def backprop_twin(cfg: Config, seed: int) -> nn.Sequential:
    """An ordinary CNN of the same shape (same convolutions) plus a linear output layer."""
    modules: list[nn.Module] = []
    size = 28
    for conv, pool in conv_stack(cfg, seed):
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


def run_one(cfg: Config, run: Run, ctx: Context) -> dict[str, Any]:
    """Train, test and time the CwC CNN with one seed."""
    return run_supervised(
        cfg,
        run,
        ctx,
        image_shape=True,
        shape="channels " + "-".join(map(str, cfg.channels)),
        build=lambda seed, device: build_model(cfg, seed, device),
        predictors=lambda model: {
            "goodness": model.predict,
            "goodness_last_layer": lambda x: predict_last_layer(model, x),
            "readout": lambda x: model.predict(x, "readout"),
        },
        twin=lambda seed: backprop_twin(cfg, seed),
        twin_note="FF epoch = median training epoch (layers and readout); backprop epoch = Adam "
        "+ cross-entropy, same convolutions plus a 10-way linear output layer",
        eval_batch=500,
        eval_mode=True,
    )
