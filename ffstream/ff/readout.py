"""A linear softmax readout trained on detached FF features (Hinton's one-pass inference)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.autograd.graph import increment_version

from ffstream.ff._fast import (
    fused_group_key,
    fused_optimizer,
    fused_update,
    new_fused_state,
    plain_optimizer,
    run_fused,
)
from ffstream.ff._numpy import softmax_minus_onehot

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
        self.optimizer = fused_optimizer(
            torch.optim.SGD, self.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay
        )

    #: Called, if set, with the gradients of the weight and the bias before :meth:`step`
    #: applies them; it may change them in place (:mod:`ffstream.distributed` averages them
    #: over ranks). Both backends of :meth:`step` call it.
    grad_sync: Callable[[list[torch.Tensor]], None] | None = None

    #: If set, the head (an int) of each class, shape ``(num_classes,)``: each frame's softmax in
    #: :meth:`step` then spans only the classes of its label's head, so every head learns as a
    #: readout of its own (a multi-head readout: one head per task, the task known from the
    #: label) and no frame sends a gradient to another head's rows (their momentum still decays
    #: as any weight's does). :meth:`forward` is unchanged: a prediction for one head takes the
    #: argmax over that head's classes.
    heads: torch.Tensor | None = None

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
        if self.heads is not None:
            logits = _within_heads(
                self.linear(features) if logits is None else logits, y, self.heads
            )
        loss = _numpy_step(self, features, y, logits)
        if loss is not None:
            return loss
        loss = self.write_grads(features, y, logits)
        self.apply_grads()
        return loss

    @torch.no_grad()
    def write_grads(
        self, features: torch.Tensor, y: torch.Tensor, logits: torch.Tensor | None = None
    ) -> torch.Tensor:
        """:meth:`step`'s gradient alone, in torch, into ``.grad``; returns the loss.

        Pure tensor work, so a compiled awake step can hold it; :meth:`apply_grads` then
        makes the update.
        """
        if self.heads is not None:  # masking twice changes nothing
            logits = _within_heads(
                self.linear(features) if logits is None else logits, y, self.heads
            )
        elif logits is None:
            logits = self.linear(features)
        log_p = torch.log_softmax(logits, dim=1)
        target = y.view(-1, 1)
        loss = -log_p.gather(1, target).mean()
        grad = log_p.exp_()  # softmax, in place: log_p is not needed any more
        grad.scatter_add_(1, target, grad.new_full(target.shape, -1.0))
        grad /= features.shape[0]  # the loss is a batch mean
        self.linear.weight.grad = grad.T @ features
        self.linear.bias.grad = grad.sum(0)
        return loss

    def apply_grads(self) -> None:
        """Update from the gradients in ``.grad`` (after :attr:`grad_sync`)."""
        if self.grad_sync is not None:
            self.grad_sync([self.linear.weight.grad, self.linear.bias.grad])
        if not fused_update(self.optimizer):  # the same kernel, without Optimizer.step's Python
            self.optimizer.step()


def _within_heads(logits: torch.Tensor, y: torch.Tensor, heads: torch.Tensor) -> torch.Tensor:
    """``logits`` with every class outside the head of each frame's label at ``-inf``."""
    heads = heads.to(logits.device)
    return logits.masked_fill(heads.view(1, -1) != heads[y].view(-1, 1), -math.inf)


#: Largest ``rows * features`` a readout step runs in numpy: above it torch's kernels win.
_NUMPY_WORK = 2**16


def _numpy_step(readout: LinearReadout, features, y, logits) -> torch.Tensor | None:
    """:meth:`LinearReadout.step` with the gradient in numpy and torch's fused SGD kernel.

    On a few rows torch's per-operation dispatch costs several times the arithmetic of the
    gradient; the update itself is the kernel ``optimizer.step()`` would launch, on the same
    tensors and state (:func:`~ffstream.ff._fast.run_fused`, as the FF layers' numpy backend
    does). None when it does not apply (not CPU float32, a large batch, an optimizer that is
    not the plain fused SGD it was made with); the caller then runs the torch path.
    """
    weight, bias = readout.linear.weight, readout.linear.bias
    optimizer = readout.optimizer
    if (
        features.device.type != "cpu"
        or features.dtype != torch.float32
        or weight.dtype != torch.float32
        or features.shape[0] * features.shape[1] > _NUMPY_WORK
        or type(optimizer) is not torch.optim.SGD
        or not plain_optimizer(optimizer)
        or len(optimizer.param_groups) != 1
    ):
        return None
    plain = fused_group_key(torch.optim.SGD, optimizer.param_groups[0])
    if plain is None:
        return None
    key, names = plain
    f = features.detach().numpy()
    labels = y.detach().numpy()
    z = logits.detach().numpy() if logits is not None else f @ weight.detach().numpy().T
    if logits is None:
        z = z + bias.detach().numpy()
    p, loss = softmax_minus_onehot(z, labels)
    loss = loss.sum() / f.shape[0]
    p /= f.shape[0]  # the loss is a batch mean
    params = [weight, bias]
    lists = [params, [torch.from_numpy(p.T @ f), torch.from_numpy(p.sum(0))]]
    if readout.grad_sync is not None:
        readout.grad_sync(lists[1])
    if names:  # SGD's first step makes the momentum buffers and copies the gradients in
        states = [optimizer.state.get(param) for param in params]
        first = [not state or state.get(names[0]) is None for state in states]
        if first[0] != first[1]:
            return None
        key += (first[0],)
        if first[0]:
            buffers = [new_fused_state(optimizer, param, names[0], False) for param in params]
        else:
            buffers = [state[names[0]] for state in states]
        lists.append(buffers)
    run_fused(False, {key: lists})
    increment_version(params)  # autograd sees these in-place updates (the kernel does not)
    return torch.from_numpy(np.asarray(loss, dtype=np.float32))
