"""SupervisedFF: an FF net, a label encoding and both of Hinton's inference modes."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from ffstream.ff.labels import LabelEncoding
from ffstream.ff.negatives import hard_wrong_labels, random_wrong_labels
from ffstream.ff.net import FFNet, StepStats
from ffstream.ff.objectives import ChannelwiseCompetition
from ffstream.ff.readout import LinearReadout

__all__ = ["SupervisedFF"]

InferenceMode = Literal["goodness", "readout"]


class SupervisedFF(nn.Module):
    """Supervised FF training and inference around an :class:`~ffstream.ff.net.FFNet`.

    Training: a positive pass with the true label embedded and a negative pass with a wrong
    label — ``"hard"`` (sampled from the model's own belief, Hinton's ffcode) or ``"random"``.
    With a :class:`~ffstream.ff.objectives.ChannelwiseCompetition` objective no label is embedded
    and no negatives are made; class groups of channels compete instead.

    Inference:

    - ``"goodness"``: run every candidate label, sum goodness over layers >= 2 (all layers for a
      one-layer net), pick the best (mode A). For CwC: sum of class-group goodness.
    - ``"readout"``: one pass with the neutral label, a linear softmax on the normalised
      activities of layers >= 2, trained locally on detached features (mode B).

    Examples
    --------
    >>> from ffstream.ff import FFNet, OneHotOverlay
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.rand(64, 12, generator=g)
    >>> y = (x[:, 5] > x[:, 6]).long()  # a separable toy rule
    >>> model = SupervisedFF(FFNet.mlp([12, 32, 32], seed=0, lr=0.01), OneHotOverlay(2), seed=0)
    >>> for _ in range(200):
    ...     _ = model.train_step(x, y)
    >>> bool((model.predict(x) == y).float().mean() > 0.9)
    True
    """

    def __init__(
        self,
        net: FFNet,
        encoding: LabelEncoding | None,
        *,
        num_classes: int | None = None,
        negatives: Literal["hard", "random"] = "hard",
        readout: bool = True,
        readout_lr: float = 0.01,
        skip_first: bool = True,
        seed: int | None = None,
    ):
        super().__init__()
        self.net = net
        self.encoding = encoding
        self.cwc = all(isinstance(o, ChannelwiseCompetition) for o in net.objectives)
        if encoding is None and not self.cwc:
            raise ValueError("a label encoding is needed unless every layer uses CwC")
        self.num_classes = num_classes or (
            encoding.num_classes if encoding else net.objectives[0].num_classes
        )
        if negatives not in ("hard", "random"):
            raise ValueError(f"negatives must be 'hard' or 'random', got {negatives!r}")
        self.negatives = negatives
        self.skip_first = skip_first and len(net.layers) > 1
        self.readout_lr = readout_lr
        self.readout: LinearReadout | None = None
        self._wants_readout = readout
        self.generator = torch.Generator().manual_seed(seed) if seed is not None else None

    # ------------------------------------------------------------------ helpers
    def _neutral(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.cwc else self.encoding.neutral(x)

    def _ensure_readout(self, features: torch.Tensor) -> LinearReadout:
        if self.readout is None:
            self.readout = LinearReadout(
                features.shape[1], self.num_classes, lr=self.readout_lr
            ).to(features.device)
        return self.readout

    @torch.no_grad()
    def scores(self, x: torch.Tensor, mode: InferenceMode = "goodness") -> torch.Tensor:
        """Class scores of shape ``(batch, num_classes)``; higher is more likely."""
        if mode == "readout":
            if self.readout is None:
                raise RuntimeError("the readout has not been trained yet; train first")
            return self.readout(self.net.features(self._neutral(x), self.skip_first))
        if mode != "goodness":
            raise ValueError(f"mode must be 'goodness' or 'readout', got {mode!r}")
        first = 1 if self.skip_first else 0
        if self.cwc:
            acts = self.net.activities(x)[first:]
            objectives = self.net.objectives[first:]
            return sum(o.group_goodness(h) for o, h in zip(objectives, acts))
        goodness = self.net.goodness(self.encoding.all_labels(x))[:, first:].sum(1)
        return goodness.view(self.num_classes, x.shape[0]).T

    def predict(self, x: torch.Tensor, mode: InferenceMode = "goodness") -> torch.Tensor:
        """Most likely class of each frame."""
        return self.scores(x, mode).argmax(1)

    def wrong_labels(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Negative labels for a batch, following the ``negatives`` setting."""
        if self.negatives == "random":
            return random_wrong_labels(y, self.num_classes, self.generator)
        mode: InferenceMode = "readout" if self.readout is not None else "goodness"
        return hard_wrong_labels(self.scores(x, mode), y, self.generator)

    # ------------------------------------------------------------------ learning
    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> StepStats:
        """One local update of every layer (and of the readout)."""
        if self.cwc:
            stats = self.net.step(pos=x, labels=y)
        else:
            y_neg = self.wrong_labels(x, y)
            stats = self.net.step(
                pos=self.encoding.encode(x, y), neg=self.encoding.encode(x, y_neg)
            )
        if self._wants_readout:
            features = self.net.features(self._neutral(x), self.skip_first)
            self._ensure_readout(features).step(features, y)
        return stats
