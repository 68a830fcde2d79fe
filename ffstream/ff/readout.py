"""A linear softmax readout trained on detached FF features (Hinton's one-pass inference)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LinearReadout"]


class LinearReadout(nn.Module):
    """Linear softmax classifier with its own SGD optimizer.

    It learns from features it is given as constants, so no gradient reaches the FF layers.
    Defaults follow Hinton's ffcode (lr 0.1 is for his batch-sum convention; here losses are
    batch means, so the default lr is 0.01 with momentum 0.9, weight decay 0.003).

    Examples
    --------
    >>> torch.manual_seed(0)
    <torch._C.Generator object at ...>
    >>> readout = LinearReadout(2, 2, lr=0.5)
    >>> x = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> for _ in range(50):
    ...     _ = readout.step(x, torch.tensor([0, 1]))
    >>> readout(x).argmax(1).tolist()
    [0, 1]
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        *,
        lr: float = 0.01,
        momentum: float = 0.9,
        weight_decay: float = 0.003,
    ):
        super().__init__()
        self.linear = nn.Linear(in_features, num_classes)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)
        self.optimizer = torch.optim.SGD(
            self.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(features)

    def step(self, features: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One SGD step of cross-entropy on detached ``features``; returns the loss."""
        loss = F.cross_entropy(self(features.detach()), y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()
