"""The agent's own parts, each usable on its own (the rest is the core's: :mod:`ffstream.ff`).

:class:`LocalQLayer` is an FF layer with its own linear Q readout (the unit of locality: its
loss reaches only its own weights); :class:`Weighted` scales an FF objective beside the TD term;
:func:`clip_layer_grads` clips each layer's gradient on its own; :func:`track_target` moves a
target network towards its online network (a hard copy, or Polyak averaging).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from ffstream.ff import FFLinear, Goodness, rms_normalize
from ffstream.ff.objectives import Objective

__all__ = ["LocalQLayer", "Weighted", "clip_layer_grads", "track_target"]


class LocalQLayer(FFLinear):
    """An FF layer with its own linear Q readout (``head``) on its RMS-normalised activities.

    The head is a submodule, so an :class:`~ffstream.ff.FFNet` of these layers learns it in
    the layer's own optimiser group (the TD term reaches it through ``FFNet.step``'s
    ``layer_loss``). It starts at 0: every action's value is 0 at first.

    Examples
    --------
    >>> layer = LocalQLayer(4, 8, num_actions=2, generator=torch.Generator().manual_seed(0))
    >>> h = layer(torch.randn(3, 4))
    >>> h.shape, layer.q(h).abs().sum().item()
    (torch.Size([3, 8]), 0.0)
    """

    def __init__(
        self,
        in_features: int,
        width: int,
        num_actions: int,
        *,
        generator: torch.Generator | None = None,
    ):
        super().__init__(in_features, width, generator=generator)
        self.head = nn.Linear(width, num_actions)
        with torch.no_grad():
            self.head.weight.zero_()
            self.head.bias.zero_()

    def q(self, h: torch.Tensor) -> torch.Tensor:
        """The Q-values ``(batch, num_actions)`` of this layer's activities ``h``."""
        return self.head(rms_normalize(h))


class Weighted(Objective):
    """An objective's loss times a constant ``weight`` (the FF term beside the TD term).

    Examples
    --------
    >>> from ffstream.ff import Logistic
    >>> h = torch.ones(2, 3)
    >>> plain = Logistic().loss(h, None, goodness=Goodness("mean"))
    >>> bool(Weighted(Logistic(), 0.5).loss(h, None, goodness=Goodness("mean")) == plain / 2)
    True
    """

    def __init__(self, objective: Objective, weight: float):
        self.objective, self.weight = objective, weight
        self.uses_negatives = objective.uses_negatives
        self.needs_pairs = objective.needs_pairs

    def loss(self, h_pos, h_neg, *, goodness: Goodness, labels=None) -> torch.Tensor:
        return self.weight * self.objective.loss(h_pos, h_neg, goodness=goodness, labels=labels)


def clip_layer_grads(layers: Iterable[nn.Module], max_norm: float) -> list[torch.Tensor]:
    """Clip each layer's gradient to norm ``max_norm`` on its own (no layer sees another's
    norm; 0: no clipping); returns each layer's norm before clipping.

    Examples
    --------
    >>> layers = [nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False)]
    >>> for layer, g in zip(layers, (3.0, 0.5)):
    ...     layer.weight.grad = torch.tensor([[g]])
    >>> norms = clip_layer_grads(layers, 1.0)
    >>> [float(n) for n in norms], [round(float(l.weight.grad), 4) for l in layers]
    ([3.0, 0.5], [1.0, 0.5])
    """
    norms = []
    for layer in layers:
        params = [p for p in layer.parameters() if p.grad is not None]
        if max_norm:
            norms.append(nn.utils.clip_grad_norm_(params, max_norm))
        else:
            norms.append(nn.utils.get_total_norm([p.grad for p in params]))
    return norms


@torch.no_grad()
def track_target(target: nn.Module, online: nn.Module, tau: float = 1.0) -> None:
    """Move ``target``'s parameters a share ``tau`` of the way to ``online``'s (Polyak
    averaging; ``tau=1`` copies them); buffers are copied.

    Examples
    --------
    >>> online, target = nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False)
    >>> online.weight.data.fill_(1.0), target.weight.data.fill_(0.0)
    (tensor([[1.]]), tensor([[0.]]))
    >>> track_target(target, online, tau=0.25)
    >>> target.weight.data
    tensor([[0.2500]])
    """
    if tau == 1.0:
        target.load_state_dict(online.state_dict())
        return
    for t, o in zip(target.parameters(), online.parameters(), strict=True):
        t.lerp_(o, tau)
    for t, o in zip(target.buffers(), online.buffers(), strict=True):
        t.copy_(o)
