"""Closed-form local gradients for :meth:`FFNet.step <ffstream.ff.net.FFNet.step>` (internal).

On small nets and small batches an FF update is dominated by per-operation overhead: building an
autograd graph, walking it backwards, and torch's dispatch of every elementwise op. For the common
case (fully-connected ReLU layers, the logistic objective, sum- or mean-of-squares goodness, with
or without peer normalisation) each layer's gradient has a short closed form, computed here
without a graph; ``tests/test_ff_fast_step.py`` checks that it equals autograd's update.

For one layer with input ``x`` (constant), ``pre = x W^T + b``, ``h = relu(pre)`` and goodness
``g = sum(h^2)`` (``/ width`` for the mean), the logistic losses are batch means of
``softplus((theta - g) / T)`` on positives and ``softplus((g - theta) / T)`` on negatives, so

* ``dL/dg = -sigmoid((theta - g) / T) / (T n_pos)`` on a positive row and
  ``+sigmoid((g - theta) / T) / (T n_neg)`` on a negative row;
* ``dL/dpre = dL/dg * 2 h`` (``/ width`` for the mean); ``2 h`` is already 0 wherever the ReLU
  is, so it carries the ReLU's gate;
* peer normalisation's surrogate ``(push * pre_pos.mean(0)).sum()`` adds ``push / n_pos`` to
  every positive row of ``dL/dpre``, *not* gated by the ReLU;
* ``dL/dW = (dL/dpre)^T x`` and ``dL/db = sum over rows of dL/dpre``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim import optimizer as _optimizer_module

from ffstream.ff.goodness import Goodness
from ffstream.ff.layers import FFLayer, rms_normalize
from ffstream.ff.objectives import Logistic

__all__ = [
    "closed_form_applies",
    "closed_form_grads",
    "fused_optimizer",
    "fused_group_key",
    "fused_update",
    "new_fused_state",
    "plain_optimizer",
    "run_fused",
]


def closed_form_applies(net, x: torch.Tensor, *, bf16: bool = False) -> bool:
    """Whether ``net``'s update of batch ``x`` has the closed form of :func:`closed_form_grads`.

    Every layer a plain fully-connected ReLU layer (no pool, no norm, float32 weights that all
    learn, no parameters besides them), every objective exactly
    :class:`~ffstream.ff.objectives.Logistic`, the goodness exactly
    :class:`~ffstream.ff.goodness.Goodness`, and no bfloat16 autocast unless ``bf16`` (the
    caller runs the closed form under the net's autocast). Subclasses are refused: they may
    override what the closed form assumes. So are transforms or parameters
    with hooks, which only the autograd path calls.
    """
    if type(net.goodness_fn) is not Goodness or x.dtype != torch.float32:
        return False
    if net.bf16 and x.device.type == "cuda" and not bf16:
        return False
    if nn.modules.module._global_forward_hooks or nn.modules.module._global_forward_pre_hooks:
        return False
    for layer, objective in zip(net.layers, net.objectives, strict=True):
        if type(objective) is not Logistic or not isinstance(layer, FFLayer):
            return False
        linear = layer.transform
        if (
            type(linear) is not nn.Linear
            or _parameter_count(layer) != 2  # a head of its own: the closed form misses it
            or layer.pool
            or layer.norm is not None
            or type(layer).activate is not FFLayer.activate
            or type(layer).peer_push is not FFLayer.peer_push
            or linear.bias is None
            or linear.weight.dtype != torch.float32
            or not (linear.weight.requires_grad and linear.bias.requires_grad)
            or linear._forward_hooks
            or linear._forward_pre_hooks
            or _has_grad_hooks(linear.weight)
            or _has_grad_hooks(linear.bias)
        ):
            return False
    return True


def _parameter_count(module: nn.Module) -> int:
    return sum(1 for _ in module.parameters())


def _has_grad_hooks(p: torch.Tensor) -> bool:
    """Whether autograd would call hooks registered on ``p`` (the closed form calls none)."""
    return bool(getattr(p, "_backward_hooks", None)) or bool(
        getattr(p, "_post_accumulate_grad_hooks", None)
    )


@torch.no_grad()
def closed_form_grads(
    net, x: torch.Tensor, n_pos: int, has_pos: bool, has_neg: bool
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Write every layer's gradient into ``.grad``; return the per-layer losses and goodness.

    ``x`` is the (already normalised) input batch, positives first. The losses are the values
    the autograd path would backpropagate (peer term included), the goodness that of every row
    before the update. Peer normalisation's running means move exactly as
    :meth:`~ffstream.ff.layers.FFLayer.peer_loss` moves them.
    """
    goodness_fn = net.goodness_fn
    mean = goodness_fn.reduction == "mean"
    n_neg = x.shape[0] - n_pos
    both = has_pos and has_neg
    losses, goodness = [], []
    last = len(net.layers) - 1
    for i, (layer, objective) in enumerate(zip(net.layers, net.objectives)):
        linear = layer.transform
        weight, bias = linear.weight, linear.bias
        pre = F.linear(x, weight, bias)
        h = F.relu(pre).float()  # under bfloat16 autocast: goodness and losses in float32
        g = goodness_fn(h)
        goodness.append(g)
        width = h.shape[1]
        theta = goodness_fn.threshold_for(width)
        temperature = objective.temperature
        # d(goodness)/dh = 2h (/ width); the 1/T of the scaled logit joins the same factor.
        scale = 2.0 / temperature / (width if mean else 1)
        loss = None
        parts = []
        if has_pos:
            z = theta - (g[:n_pos] if both else g)
            z = objective._scaled(z)
            loss = F.softplus(z).mean()
            parts.append(torch.sigmoid(z).mul_(-scale / n_pos))
        if has_neg:
            z = (g[n_pos:] if both else g) - theta
            z = objective._scaled(z)
            loss_neg = F.softplus(z).mean()
            loss = loss_neg if loss is None else loss + loss_neg
            parts.append(torch.sigmoid(z).mul_(scale / n_neg))
        coef = torch.cat(parts) if both else parts[0]
        dpre = h * coef.unsqueeze(1)
        if net.peer_norm and has_pos:
            h_pos = h[:n_pos] if both else h
            pre_pos = pre[:n_pos] if both else pre
            push = layer.peer_push(h_pos, net.peer_norm, net.peer_momentum)
            loss = loss + torch.dot(push, pre_pos.mean(0).float())
            (dpre[:n_pos] if both else dpre).add_(push if n_pos == 1 else push / n_pos)
        losses.append(loss)
        weight.grad = dpre.t().mm(x).to(weight.dtype)  # autocast's matmul may give bfloat16
        bias.grad = dpre.sum(0)
        if i < last:
            x = rms_normalize(h)
    return losses, goodness


def fused_optimizer(kind: type[torch.optim.Optimizer], params, **settings):
    """``kind(params, fused=True, **settings)``, or with ``foreach=True`` where torch has no
    fused kernel for the parameters' device (torch before 2.4 on a CPU).

    Fused and multi-tensor kernels do the same arithmetic up to float rounding; the fused one
    also lets :func:`fused_update` skip ``Optimizer.step``'s per-call Python.
    """
    try:
        return kind(params, fused=True, **settings)
    except RuntimeError:
        return kind(params, foreach=True, **settings)


def fused_update(optimizer: torch.optim.Optimizer) -> bool:
    """Run ``optimizer``'s fused kernel on all its parameters at once; False if it cannot.

    For a ``fused=True`` :class:`~torch.optim.Adam`, :class:`~torch.optim.AdamW` or
    :class:`~torch.optim.SGD` this makes the same kernel call with the same arguments as
    ``optimizer.step()`` (so the weights and the state are bit-identical), minus the per-call
    Python of ``Optimizer.step``: the profiler record, the hook lookups, and one setup per
    parameter group, which on a small net cost several times the arithmetic. Groups with equal
    settings share one call (the kernels are elementwise per tensor).

    It returns False and changes nothing whenever the plain case does not hold: another class
    (or a subclass), step hooks, a patched ``step`` (an LR scheduler wraps it), gradient
    scaling, a group that is not fused or uses ``amsgrad``, ``maximize``, ``capturable``,
    ``differentiable`` or a tensor ``lr``, a parameter without a gradient or without its state
    yet (the first step makes it), or tensors of different devices or dtypes. The caller then calls
    ``optimizer.step()``.
    """
    if not plain_optimizer(optimizer):
        return False
    kind = type(optimizer)
    adam = kind is not torch.optim.SGD
    calls: dict[tuple, list[list[torch.Tensor]]] = {}
    first = None
    for group in optimizer.param_groups:
        plain = fused_group_key(kind, group)
        if plain is None:
            return False
        key, names = plain
        lists = calls.setdefault(key, [[] for _ in range(2 + len(names))])
        for p in group["params"]:
            grad, state = p.grad, optimizer.state.get(p, {})
            first = p if first is None else first
            if (
                grad is None
                or grad.is_sparse
                or p.device != first.device
                or p.dtype != first.dtype
                or any(state.get(name) is None for name in names)
            ):
                return False
            lists[0].append(p)
            lists[1].append(grad)
            for i, name in enumerate(names):
                lists[2 + i].append(state[name])
    with torch.no_grad():  # in place on leaves that require grad, as Optimizer.step does
        run_fused(adam, calls)
    return True


def fused_group_key(kind: type, group: dict) -> tuple[tuple, tuple[str, ...]] | None:
    """The settings key of a plain fused group of an Adam, AdamW or SGD optimizer (as
    :func:`run_fused` takes it) and the names of its per-parameter state; None if not plain."""
    if (
        group.get("fused") is not True
        or group.get("maximize", True)
        or group.get("capturable", False)
        or group.get("differentiable", False)
        or isinstance(group["lr"], torch.Tensor)
    ):
        return None
    if kind is torch.optim.SGD:
        momentum = group["momentum"]
        key = (group["lr"], momentum, group["weight_decay"], group["dampening"], group["nesterov"])
        return key, (("momentum_buffer",) if momentum != 0 else ())
    if group.get("amsgrad", True) or any(torch.is_tensor(b) for b in group["betas"]):
        return None
    decoupled = group.get("decoupled_weight_decay", kind is torch.optim.AdamW)
    key = (group["lr"], *group["betas"], group["weight_decay"], group["eps"], decoupled)
    return key, ("exp_avg", "exp_avg_sq", "step")


def plain_optimizer(optimizer: torch.optim.Optimizer) -> bool:
    """Whether ``optimizer`` is exactly Adam, AdamW or SGD with no hooks, patched ``step`` or
    gradient scaling: what :func:`fused_update` needs before it looks at the groups."""
    kind = type(optimizer)
    return (
        kind in (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD)
        and not optimizer._optimizer_step_pre_hooks
        and not optimizer._optimizer_step_post_hooks
        and not getattr(_optimizer_module, "_global_optimizer_pre_hooks", True)
        and not getattr(_optimizer_module, "_global_optimizer_post_hooks", True)
        and "step" not in vars(optimizer)
        and getattr(optimizer, "grad_scale", None) is None
        and getattr(optimizer, "found_inf", None) is None
    )


def run_fused(
    adam: bool, calls: dict[tuple, list[list[torch.Tensor]]], count_steps: bool = True
) -> None:
    """Launch the fused kernels of :func:`fused_update`'s ``calls``: settings key -> tensor lists.

    In place, so under ``torch.no_grad()`` for parameters that require grad. Adam's step counts
    go up by one first, unless ``count_steps`` is False (the caller counted them).

    Adam keys are ``(lr, beta1, beta2, weight_decay, eps, decoupled)`` with lists ``params,
    grads, exp_avgs, exp_avg_sqs, steps``; SGD keys ``(lr, momentum, weight_decay, dampening,
    nesterov[, is_first_step])`` with lists ``params, grads[, momentum_buffers]``.
    """
    for key, lists in calls.items():
        if adam:
            params, grads, exp_avgs, exp_avg_sqs, steps = lists
            lr, beta1, beta2, weight_decay, eps, decoupled = key
            if count_steps:
                torch._foreach_add_(steps, 1)
            kernel = torch._fused_adamw_ if decoupled else torch._fused_adam_
            kernel(
                params, grads, exp_avgs, exp_avg_sqs, [], steps,
                lr=lr, beta1=beta1, beta2=beta2, weight_decay=weight_decay, eps=eps,
                amsgrad=False, maximize=False, grad_scale=None, found_inf=None,
            )  # fmt: skip
        else:
            lr, momentum, weight_decay, dampening, nesterov = key[:5]
            torch._fused_sgd_(
                lists[0], lists[1], lists[2] if momentum != 0 else [],
                weight_decay=weight_decay, momentum=momentum, lr=lr, dampening=dampening,
                nesterov=nesterov, maximize=False, is_first_step=key[5:] == (True,),
                grad_scale=None, found_inf=None,
            )  # fmt: skip


def new_fused_state(optimizer, p: torch.Tensor, name: str, adam: bool) -> torch.Tensor:
    """``p``'s state ``name``, made as torch's fused optimizer makes it on its first step."""
    state = optimizer.state[p]
    if adam and not state:  # torch makes all three at once, in this order
        scalar = _optimizer_module._get_scalar_dtype(is_fused=True)
        state["step"] = torch.zeros((), dtype=scalar, device=p.device)
        state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
    elif not adam:  # filled with the gradient by the first step's kernel
        state[name] = torch.empty_like(p, memory_format=torch.preserve_format)
    return state[name]
