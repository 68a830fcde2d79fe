"""Hinton's supervised Forward-Forward MLP on MNIST: test error and epoch time.

What one run does, top to bottom (:func:`benchmarks._supervised.run_supervised`):

1. load MNIST (checked against the official SHA-256) as flat frames in ``[0, 1]``;
2. build an :class:`~ffstream.ff.FFNet` MLP with a :class:`~ffstream.ff.OneHotOverlay` label and
   train it with :class:`~ffstream.ff.SupervisedFF`: each step one positive pass (true label) and
   one negative pass (a *hard* wrong label drawn from the model's own belief), every layer
   updated by its own local loss, plus the local linear readout;
3. schedule the learning rate as Hinton's ffcode does (constant for half the steps, then linearly
   to 0), on the FF layers' optimizer and on the readout's;
4. report the test error of both inference modes: *goodness* (run all ten labels, sum goodness of
   layers >= 2) and *readout* (one neutral-label pass, linear softmax on layers >= 2);
5. time one FF training epoch against one backprop epoch (Adam, cross-entropy) of an MLP of the
   same shape, batch size and frames, and report the ratio.

Configurations (see :data:`FULL` and :data:`QUICK`):

- full: 784-2000-2000-2000-2000, 60 epochs, Adam lr 1e-3, as in Hinton (2022); not tuned (it
  needs a GPU), and 60 epochs of 4 x 2000 units leave more room for a smaller step;
- ``--quick``: 784-1000-1000 for 4 epochs with Adam lr 3e-3, a few minutes on a 2-core CPU.

How the quick configuration was chosen: on a validation split of 10,000 training frames
(``--val 10000``, trained on the other 50,000), never on the test set, with 784-500-500 for 3
epochs and one seed, each change tried alone against the engine defaults (Adam lr 1e-3, batch
100, ffcode schedule, readout lr 0.01, hard negatives, sum goodness with theta = width, peer
normalisation 0.03). Adam lr 3e-3 clearly lowered the validation error of both inference modes;
lr 1e-2 diverged; at lr 3e-3, a readout lr of 0.1, random instead of hard wrong labels, batch
50 and no peer normalisation were no better, and mean-of-squares goodness with theta 1 did not
learn. Width and epochs were then set by the time budget, not by validation.

Run: ``ffstream bench mnist-ff`` (``--quick``: the CPU configuration; ``--data DIR``: the files)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from benchmarks._supervised import MnistData, check_positive, run_supervised
from benchmarks.continual_baselines import mlp
from benchmarks.lab import Column, Context, Page, Run
from ffstream.config import option
from ffstream.ff import FFNet, Goodness, OneHotOverlay, SupervisedFF

__all__ = [
    "DESCRIPTION",
    "FULL",
    "NAME",
    "PAGE",
    "QUICK",
    "Config",
    "backprop_twin",
    "build_model",
    "run_one",
    "runs",
]

NAME = "mnist-ff"
DESCRIPTION = "supervised Forward-Forward MLP on MNIST (Hinton 2022): test error and epoch time"
PIXELS = 784


@dataclass(frozen=True)
class Config(MnistData):
    """Every setting of the suite, in one place."""

    sizes: tuple[int, ...] = option((PIXELS, 2000, 2000, 2000, 2000), "layer sizes, input first")
    epochs: int = option(60, "training epochs")
    batch_size: int = option(100, "frames per training step")
    optimizer: str = option("adam", "optimizer of the FF layers", choices=("adam", "sgd", "adamw"))
    lr: float = option(1e-3, "learning rate of the FF layers (before the schedule)")
    momentum: float = option(0.9, "momentum (sgd only)")
    weight_decay: float = option(0.0, "weight decay of the FF layers")
    peer_norm: float = option(0.03, "weight of the peer-normalisation loss")
    goodness: str = option("sum", "goodness: sum or mean of squares", choices=("sum", "mean"))
    threshold: float | None = option(None, "goodness threshold (none: width for sum, 1 for mean)")
    negatives: str = option("hard", "wrong labels of the negatives", choices=("hard", "random"))
    readout_lr: float = option(0.01, "learning rate of the linear readout (before the schedule)")
    schedule: str = option(
        "ffcode",
        "lr schedule: ffcode (flat, then linear to 0) or constant",
        choices=("ffcode", "constant"),
    )

    def __post_init__(self):
        super().__post_init__()
        if len(self.sizes) < 2 or self.sizes[0] != PIXELS or min(self.sizes) < 1:
            raise ValueError(f"--sizes must start with {PIXELS} and name at least one layer")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
        check_positive(self, "lr", "readout_lr")


#: Hinton's MNIST MLP: 4 x 2000 units, 60 epochs.
FULL = Config()

#: A CPU configuration: a few minutes on two cores.
QUICK = Config(sizes=(PIXELS, 1000, 1000), epochs=4, lr=3e-3)

PAGE = Page(
    title="Supervised Forward-Forward MLP on MNIST",
    measures=(
        "Hinton's supervised FF: the label is overlaid on the image, each layer learns by its own "
        "local loss from one positive pass and one negative pass (a hard wrong label drawn from "
        "the model's belief), with a local linear readout; learning rate flat for half the steps, "
        "then linear to 0. Test error (%) of goodness inference (all ten labels, summed goodness "
        "of layers >= 2) and of the readout, and the seconds of one FF epoch against one backprop "
        "epoch (Adam, cross-entropy) of an MLP of the same shape on the same frames."
    ),
    command="ffstream bench mnist-ff",
    columns=(
        Column("test_error_goodness", "test error %, goodness", digits=2),
        Column("test_error_readout", "test error %, readout", digits=2),
        Column("ff_epoch_s", "FF epoch (s)"),
        Column("backprop_epoch_s", "backprop epoch (s)"),
        Column("ff_over_backprop", "FF / backprop"),
    ),
    anchors=(
        "Hinton (2022), 'The Forward-Forward Algorithm: Some Preliminary Investigations' "
        "(arXiv:2212.13345), supervised FF with the label in the input: 4 hidden layers of 2000 "
        "ReLUs, 60 epochs, 1.36% test error on MNIST.",
    ),
    notes=(
        "The full configuration is the paper's net and needs a GPU; the quick one (784-1000-1000, "
        "4 epochs, lr 3e-3 chosen on a validation split) is a CPU smoke run, not that model."
    ),
)


def runs(cfg: Config) -> list[Run]:
    """The FF MLP with each seed."""
    return [Run("ff", seed) for seed in cfg.seeds]


def build_model(cfg: Config, seed: int, device: str) -> SupervisedFF:
    """The FF MLP with its label encoding and readout, as configured."""
    net = FFNet.mlp(
        cfg.sizes,
        seed=seed,
        device=device,
        optimizer=cfg.optimizer,
        lr=cfg.lr,
        momentum=cfg.momentum,
        weight_decay=cfg.weight_decay,
        peer_norm=cfg.peer_norm,
        goodness=Goodness(cfg.goodness, cfg.threshold),
    )
    return SupervisedFF(
        net, OneHotOverlay(10), negatives=cfg.negatives, readout_lr=cfg.readout_lr, seed=seed
    )


def backprop_twin(sizes: tuple[int, ...], num_classes: int = 10) -> nn.Sequential:
    """An ordinary MLP of the same shape (ReLU hidden layers) plus a linear output layer: the
    continual baselines' :func:`~benchmarks.continual_baselines.mlp`."""
    return mlp(sizes[0], tuple(sizes[1:]), num_classes)


def run_one(cfg: Config, run: Run, ctx: Context) -> dict[str, Any]:
    """Train, test and time the FF MLP with one seed."""
    return run_supervised(
        cfg,
        run,
        ctx,
        image_shape=False,
        shape="-".join(map(str, cfg.sizes)),
        build=lambda seed, device: build_model(cfg, seed, device),
        predictors=lambda model: {
            "goodness": model.predict,
            "readout": lambda x: model.predict(x, "readout"),
        },
        twin=lambda seed: backprop_twin(cfg.sizes),
        twin_note="FF epoch = median training epoch (layers, hard negatives, readout); "
        "backprop epoch = Adam + cross-entropy, same shape plus a 10-way output layer",
    )
