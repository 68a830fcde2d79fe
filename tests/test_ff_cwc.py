"""Channel-wise competitive (CwC) FF: class-group goodness must classify, not only the readout.

The problem is generated, so the test needs no data files: 16x16 noisy images holding two short
bars, one in the left half and one in the right, in two different orientations out of five; the
unordered pair of orientations is the class (10 classes, like MNIST). Local orientation features
summed over space solve it, which is what a conv layer's class-group goodness (a spatial mean of
squares) can express.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from ffstream.ff import ChannelwiseCompetition, FFLayer, FFNet, SupervisedFF

PAIRS = torch.tensor(list(itertools.combinations(range(5), 2)))
NUM_CLASSES = len(PAIRS)
SIZE = 16
STEPS = torch.tensor([(0, 1), (1, 0), (1, 1), (1, -1), (2, 1)])  # -, |, \, /, steep


def bar_pairs(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images of two 3-pixel bars; the pair of their orientations is the label."""
    y = torch.randint(0, NUM_CLASSES, (n,), generator=generator)
    x = 0.2 * torch.rand(n, 1, SIZE, SIZE, generator=generator)
    rows = torch.arange(n)
    for side, (lo, hi) in enumerate([(2, 7), (9, 14)]):
        start = torch.stack(
            [
                torch.randint(3, SIZE - 3, (n,), generator=generator),
                torch.randint(lo, hi, (n,), generator=generator),
            ],
            1,
        )
        step = STEPS[PAIRS[y, side]]
        for k in (-1, 0, 1):
            pos = start + k * step
            x[rows, 0, pos[:, 0], pos[:, 1]] = 1.0
    return x, y


def train_cwc(norm, temperature: float, steps: int = 120, seed: int = 0) -> float:
    """Goodness-inference accuracy of a small two-layer CwC CNN on 1,000 fresh frames."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    layers = [
        FFLayer(nn.Conv2d(1, 20, 3, padding=1), 20, norm=norm),
        FFLayer(nn.Conv2d(20, 40, 3, padding=1), 40, pool=2, norm=norm),
    ]
    net = FFNet(
        layers,
        objective=ChannelwiseCompetition(NUM_CLASSES, temperature=temperature),
        lr=0.01,
        peer_norm=0.0,
    )
    model = SupervisedFF(net, None, readout=False, seed=seed)
    for _ in range(steps):
        model.train_step(*bar_pairs(64, generator))
    model.eval()  # batch normalisation uses its running statistics from here on
    x, y = bar_pairs(1000, generator)
    return float((model.predict(x) == y).float().mean())


def test_group_goodness_classifies_with_batch_norm():
    # Chance is 10%; CwComp's normalisation (learned scale after ReLU and pool) and a low
    # temperature let the class groups' goodness separate the classes within 120 steps.
    assert train_cwc("batch", temperature=0.1) > 0.9


def test_raw_relu_goodness_is_much_worse():
    # The old behaviour (goodness on raw ReLU outputs, temperature 1) stays far below: about
    # 50% here (and 70% on other seeds); whole class groups of ReLU units die.
    assert train_cwc(None, temperature=1.0) < 0.8


def test_batch_norm_layer_uses_running_statistics_in_eval():
    layer = FFLayer(nn.Conv2d(1, 4, 3, padding=1), 4, norm="batch")
    x = torch.rand(16, 1, 6, 6)
    layer(x)  # training mode: batch statistics, and the running ones move
    layer.eval()
    one = layer(x[:1])
    assert torch.allclose(one, layer(x)[:1])  # no dependence on the rest of the batch


def test_unknown_norm_is_rejected():
    with pytest.raises(ValueError, match="norm"):
        FFLayer(nn.Linear(3, 4), 4, norm="layer")


def test_group_goodness_shape():
    cwc = ChannelwiseCompetition(num_classes=2)
    assert cwc.group_goodness(torch.ones(3, 4, 5, 5)).shape == (3, 2)
