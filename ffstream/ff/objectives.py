"""Local objectives: the loss each FF layer minimises on its own activities.

Every objective sees one layer's activities (before normalisation) for positive frames, negative
frames, or both, and returns a scalar loss. No objective ever sees another layer.

Hinton's seed text writes the per-layer losses as ``log(1 + theta - y^2)`` and
``log(1 - theta + y^2)``. Those are garbled softplus terms: the defined losses are
``softplus(theta - g)`` for positive and ``softplus(g - theta)`` for negative data, which is what
:class:`Logistic` implements.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ffstream.ff.goodness import Goodness

__all__ = ["Objective", "Logistic", "SymBa", "ChannelwiseCompetition"]


class Objective:
    """Base class. Subclasses implement :meth:`loss`.

    Attributes
    ----------
    uses_negatives
        False for objectives that learn from labelled positives alone (CwC).
    needs_pairs
        True when positive and negative frames must arrive together in one step (SymBa), so the
        objective cannot learn from phases separated in time.
    """

    uses_negatives: bool = True
    needs_pairs: bool = False

    def loss(
        self,
        h_pos: torch.Tensor | None,
        h_neg: torch.Tensor | None,
        *,
        goodness: Goodness,
        labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        raise NotImplementedError  # abstract: every concrete objective overrides it

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class Logistic(Objective):
    """Hinton's logistic loss: ``softplus((theta - g) / T)`` on positives and
    ``softplus((g - theta) / T)`` on negatives.

    Each term is defined per sample, so positive and negative frames may arrive in different steps
    (the awake/sleep setting). The losses are averaged over the batch, and the two phases are
    summed when both are present.

    Examples
    --------
    >>> h_pos = torch.ones(4, 3, requires_grad=True)
    >>> loss = Logistic().loss(h_pos, None, goodness=Goodness("sum"))
    >>> loss.backward()
    >>> bool((h_pos.grad < 0).all())  # descending the loss raises positive goodness
    True
    """

    def __init__(self, temperature: float = 1.0):
        self.temperature = temperature

    def loss(self, h_pos, h_neg, *, goodness, labels=None):
        total = 0.0
        if h_pos is not None:
            theta = goodness.threshold_for(math.prod(h_pos.shape[1:]))
            total = total + F.softplus(self._scaled(theta - goodness(h_pos))).mean()
        if h_neg is not None:
            theta = goodness.threshold_for(math.prod(h_neg.shape[1:]))
            total = total + F.softplus(self._scaled(goodness(h_neg) - theta)).mean()
        if isinstance(total, float):
            raise ValueError("Logistic.loss needs positive or negative activities")
        return total

    def _scaled(self, logits: torch.Tensor) -> torch.Tensor:
        return logits if self.temperature == 1.0 else logits / self.temperature


class SymBa(Objective):
    """SymBa (Lee & Song, 2023): ``softplus(-alpha * (g_pos - g_neg))`` on paired frames.

    Balances the two phases exactly, but needs a positive and a negative frame in the same step.

    Examples
    --------
    >>> h_pos = torch.full((2, 4), 0.5, requires_grad=True)
    >>> h_neg = torch.full((2, 4), 0.5, requires_grad=True)
    >>> SymBa(alpha=4.0).loss(h_pos, h_neg, goodness=Goodness("mean")).item()  # softplus(0)
    0.6931...
    """

    needs_pairs = True

    def __init__(self, alpha: float = 4.0):
        self.alpha = alpha

    def loss(self, h_pos, h_neg, *, goodness, labels=None):
        if h_pos is None or h_neg is None or h_pos.shape[0] != h_neg.shape[0]:
            raise ValueError(
                "SymBa needs positive and negative frames of equal batch size together"
            )
        margin = goodness(h_pos) - goodness(h_neg)
        return F.softplus(-self.alpha * margin).mean()


class ChannelwiseCompetition(Objective):
    """CwC (Papachristodoulou et al., AAAI 2024): class groups of channels compete.

    The layer's channels (dim 1) are split into ``num_classes`` equal groups; ``g_c`` is the mean
    square of group ``c`` and the loss is the cross-entropy of ``(g_1 .. g_C)`` against the label.
    It needs no negative data and no label in the input.

    Parameters
    ----------
    num_classes
        Number of class groups; the layer's channels must divide evenly among them.
    temperature
        The logits are ``g_c / temperature``. CwComp computes ``g_c`` after a batch
        normalisation with a learned scale (``FFLayer(..., norm="batch")``), where every group
        starts near ``g_c = 1`` and the logits start close together; a temperature of 0.1 lets
        the competition act within the first epoch. On raw ReLU outputs the loss can instead
        lower a group's goodness by silencing its units, and whole class groups die.

    Examples
    --------
    >>> h = torch.zeros(1, 4, requires_grad=True)
    >>> cwc = ChannelwiseCompetition(num_classes=2)
    >>> cwc.group_goodness(torch.tensor([[1.0, 1.0, 0.0, 2.0]]))
    tensor([[1., 2.]])
    """

    uses_negatives = False

    def __init__(self, num_classes: int, temperature: float = 1.0):
        self.num_classes = num_classes
        self.temperature = temperature

    def group_goodness(self, h: torch.Tensor) -> torch.Tensor:
        """Mean square of each class group: shape ``(batch, num_classes)``."""
        channels = h.shape[1]
        if channels % self.num_classes:
            raise ValueError(
                f"CwC needs channels divisible by num_classes; got {channels} channels "
                f"for {self.num_classes} classes"
            )
        groups = h.reshape(h.shape[0], self.num_classes, -1)
        return groups.square().mean(2)

    def loss(self, h_pos, h_neg, *, goodness, labels=None):
        if h_pos is None or labels is None:
            raise ValueError("ChannelwiseCompetition needs labelled positive activities")
        return F.cross_entropy(self.group_goodness(h_pos) / self.temperature, labels)
