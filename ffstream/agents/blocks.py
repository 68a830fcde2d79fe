"""The parts :class:`~ffstream.agents.FFQAgent` is built from, each usable on its own.

:class:`LocalQLayer` is one FF layer with its own linear Q readout (the unit of locality: its
loss reaches only its own weights); :class:`RunningNorm` normalises observations with running
statistics before the first layer sees them; :func:`track_target` moves a target network
towards its online network (a hard copy, or Polyak averaging).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ffstream.ff import FFLinear, rms_normalize

__all__ = ["LocalQLayer", "RunningNorm", "track_target"]


class LocalQLayer(nn.Module):
    """An FF layer with its own linear Q readout on its RMS-normalised activities.

    Examples
    --------
    >>> layer = LocalQLayer(4, 8, num_actions=2, generator=torch.Generator().manual_seed(0))
    >>> h, q = layer(torch.randn(3, 4))
    >>> h.shape, q.shape
    (torch.Size([3, 8]), torch.Size([3, 2]))
    """

    def __init__(
        self,
        in_features: int,
        width: int,
        num_actions: int,
        *,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        self.ff = FFLinear(in_features, width, generator=generator)
        self.head = nn.Linear(width, num_actions)
        with torch.no_grad():  # Q starts at 0 for every action
            self.head.weight.zero_()
            self.head.bias.zero_()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.ff(x)
        return h, self.head(rms_normalize(h))


class RunningNorm:
    """Running mean and variance of observation features (batched Welford/Chan update).

    Examples
    --------
    >>> norm = RunningNorm(2)
    >>> norm.update(torch.tensor([[0.0, 10.0], [2.0, 30.0]]))
    >>> norm(torch.tensor([[1.0, 20.0]]))
    tensor([[0., 0.]])
    """

    def __init__(self, num_features: int, clip: float = 5.0, device: str | torch.device = "cpu"):
        self.clip = clip
        self.count = 0
        self.mean = torch.zeros(num_features, dtype=torch.float64, device=device)
        self.m2 = torch.zeros(num_features, dtype=torch.float64, device=device)

    def update(self, x: torch.Tensor) -> None:
        # Replaces mean and m2, never writes into them: a state_dict taken earlier stays a
        # snapshot (AgentLoop restores one when an env step fails).
        x = x.to(torch.float64)
        n = x.shape[0]
        if n == 0:
            return
        mean = x.mean(0)
        m2 = (x - mean).square().sum(0)
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + delta.square() * (self.count * n / total)
        self.count = total

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.count < 2:
            return x.clamp(-self.clip, self.clip)
        std = (self.m2 / (self.count - 1)).sqrt().clamp_min(1e-4)
        z = (x - self.mean.to(x.dtype)) / std.to(x.dtype)
        return z.clamp(-self.clip, self.clip)

    def state_dict(self) -> dict[str, Any]:
        return {"count": self.count, "mean": self.mean, "m2": self.m2}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.count = int(state["count"])
        self.mean = state["mean"].to(self.mean.device)
        self.m2 = state["m2"].to(self.m2.device)


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
