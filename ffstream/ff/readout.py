"""A linear softmax readout trained on detached FF features (Hinton's one-pass inference)."""

from __future__ import annotations

import torch
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

    @torch.no_grad()
    def step(
        self, features: torch.Tensor, y: torch.Tensor, logits: torch.Tensor | None = None
    ) -> torch.Tensor:
        """One SGD step of cross-entropy on constant ``features``; returns the loss.

        The gradient is written in closed form (softmax minus one-hot), which on a single frame
        costs a fraction of an autograd pass. ``logits`` may hand over ``self(features)`` when
        the caller has just computed it (to predict before learning).

        Examples
        --------
        >>> readout = LinearReadout(3, 2)
        >>> x, y = torch.randn(4, 3), torch.tensor([0, 1, 1, 0])
        >>> loss = readout.step(x, y)
        >>> bool(torch.isclose(loss, torch.nn.functional.cross_entropy(torch.zeros(4, 2), y)))
        True
        """
        if logits is None:
            logits = self.linear(features)
        log_p = torch.log_softmax(logits, dim=1)
        target = y.view(-1, 1)
        loss = -log_p.gather(1, target).mean()
        grad = log_p.exp_()  # softmax, in place: log_p is not needed any more
        grad.scatter_add_(1, target, grad.new_full(target.shape, -1.0))
        grad /= features.shape[0]  # the loss is a batch mean
        self.linear.weight.grad = grad.T @ features
        self.linear.bias.grad = grad.sum(0)
        self.optimizer.step()
        return loss
