"""FF layers: a transform, a ReLU, and the normalisation that hides goodness from the next layer."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["FFLayer", "FFLinear", "FFConv2d", "rms_normalize"]

_EPS = 1e-8


def rms_normalize(h: torch.Tensor) -> torch.Tensor:
    """Divide each sample by the root-mean-square of its activities (Hinton's ``ffnormrows``).

    Goodness is the squared length of ``h``; after this step every sample has mean square 1, so
    the next layer sees only the *direction* of the activity vector and cannot read the goodness.
    No mean is subtracted.

    Examples
    --------
    >>> rms_normalize(torch.tensor([[3.0, 4.0]])).square().mean().item()
    1.0
    """
    rms = h.square().mean(dim=tuple(range(1, h.dim())), keepdim=True).add(_EPS).sqrt()
    return h / rms


class FFLayer(nn.Module):
    """One locally trained layer: ``h = norm(pool(relu(transform(x))))``.

    Also keeps the running mean activity of each unit (channel, for convolutions), which peer
    normalisation uses to keep every unit in play.

    Parameters
    ----------
    transform
        The linear map (``nn.Linear`` or ``nn.Conv2d``).
    num_units
        Units (features, or channels for convolutions) the transform produces.
    pool
        Max-pooling window applied after the ReLU (convolutions only); ``None`` for none.
    norm
        ``None`` (default): the activities are the ReLU (and pool) outputs. ``"batch"``: a
        per-unit batch normalisation with a learned scale and shift follows them, as in CwComp
        (Papachristodoulou et al., 2024: conv, ReLU, pool, BatchNorm), and goodness is computed
        on its output. The learned scale sets how far apart class-group goodness can be, apart
        from the size of the weights; without it a channel-wise competitive (CwC) layer barely
        learns. It uses batch statistics in training mode and running statistics after
        ``.eval()``, so call ``.eval()`` before inference.

    Examples
    --------
    >>> layer = FFLayer(nn.Conv2d(1, 4, 3, padding=1), 4, pool=2, norm="batch")
    >>> h = layer(torch.rand(8, 1, 6, 6))
    >>> h.shape, abs(h.mean().item()) < 1e-4  # scale 1, shift 0 at the start: zero mean
    (torch.Size([8, 4, 3, 3]), True)
    """

    def __init__(
        self,
        transform: nn.Module,
        num_units: int,
        pool: int | None = None,
        norm: Literal["batch"] | None = None,
    ):
        super().__init__()
        self.transform = transform
        self.pool = pool
        self.register_buffer("mean_activity", torch.zeros(num_units))
        if norm not in (None, "batch"):
            raise ValueError(f"norm must be None or 'batch', got {norm!r}")
        # Only registered when asked for, so existing nets keep their parameters and state dicts.
        if norm == "batch":
            conv = isinstance(transform, nn.Conv2d)
            self.norm = (nn.BatchNorm2d if conv else nn.BatchNorm1d)(num_units)
        else:
            self.norm = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activate(self.transform(x))

    def activate(self, pre: torch.Tensor) -> torch.Tensor:
        """ReLU (then max-pool, then normalisation, if set) of the pre-activation."""
        h = F.relu(pre)
        if self.pool:
            h = F.max_pool2d(h, self.pool)
        return self.norm(h) if self.norm is not None else h

    def peer_loss(
        self, pre: torch.Tensor, h: torch.Tensor, strength: float, momentum: float
    ) -> torch.Tensor:
        """Peer normalisation as in Hinton's ffcode; updates the running means in place.

        The running mean activity of each unit is pulled toward the layer's average. The pull acts
        on the unit's *pre-activation* (a linear surrogate loss), so it is not gated by the ReLU
        and can revive dead units.
        """
        push = self.peer_push(h.detach(), strength, momentum)
        return (push * _per_unit(pre)).sum()

    def peer_push(self, h: torch.Tensor, strength: float, momentum: float) -> torch.Tensor:
        """Update the running means with ``h`` (constant) and return each unit's push.

        The push is ``strength`` times the unit's running mean minus the layer's average; it is
        the gradient of :meth:`peer_loss` with respect to each unit's batch-mean pre-activation
        (the closed-form update of :mod:`ffstream.ff._fast` uses it directly).
        """
        self.mean_activity.mul_(momentum).add_(_per_unit(h), alpha=1 - momentum)
        return strength * (self.mean_activity - self.mean_activity.mean())


def _per_unit(t: torch.Tensor) -> torch.Tensor:
    """Mean over the batch (and spatial positions) for each unit or channel."""
    return t.flatten(2).mean(2).mean(0) if t.dim() > 2 else t.mean(0)


class FFLinear(FFLayer):
    """Fully-connected FF layer.

    Weights start as ``N(0, 1/in_features)`` drawn from ``generator`` (seeded, device-independent).

    Examples
    --------
    >>> layer = FFLinear(4, 3, generator=torch.Generator().manual_seed(0))
    >>> layer(torch.ones(2, 4)).shape
    torch.Size([2, 3])
    """

    def __init__(
        self, in_features: int, out_features: int, *, generator: torch.Generator | None = None
    ):
        linear = nn.Linear(in_features, out_features)
        with torch.no_grad():
            linear.weight.normal_(0.0, 1.0 / math.sqrt(in_features), generator=generator)
            linear.bias.zero_()
        super().__init__(linear, out_features)


class FFConv2d(FFLayer):
    """Convolutional FF layer with optional max-pooling after the ReLU.

    ``groups`` splits the channels into independent groups (as CwComp's class-grouped blocks do);
    ``norm="batch"`` adds CwComp's batch normalisation after the pool (see :class:`FFLayer`).

    Examples
    --------
    >>> layer = FFConv2d(1, 8, kernel_size=3, padding=1, pool=2)
    >>> layer(torch.ones(2, 1, 28, 28)).shape
    torch.Size([2, 8, 14, 14])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        padding: int = 1,
        pool: int | None = None,
        groups: int = 1,
        norm: Literal["batch"] | None = None,
        generator: torch.Generator | None = None,
    ):
        conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, groups=groups)
        fan_in = in_channels // groups * kernel_size * kernel_size
        with torch.no_grad():
            conv.weight.normal_(0.0, 1.0 / math.sqrt(fan_in), generator=generator)
            conv.bias.zero_()
        super().__init__(conv, out_channels, pool, norm)
