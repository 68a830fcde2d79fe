"""The cached structure and optimizer calls of :mod:`ffstream.ff._numpy`'s FFNet backend (internal).

A plan holds one net's layers and zero-copy NumPy views of its parameters, checked before every
call and rebuilt when anything it assumes changes; :func:`optimizer_calls` turns the net's
optimizer into the fused kernel calls that apply the gradients NumPy computed.
"""

from __future__ import annotations

import weakref

import numpy as np
import torch
from torch import nn

from ffstream.ff._fast import (
    closed_form_applies,
    fused_group_key,
    new_fused_state,
    plain_optimizer,
)

__all__ = ["MAX_WORK", "SINGLE_THREAD_WORK", "optimizer_calls", "plan_for"]

#: NumPy runs a call when ``max(rows, 16) * weights`` (the multiply-adds of a forward pass,
#: with a floor for the updates whose cost does not depend on the rows) is at most this; beyond
#: it torch's kernels win over NumPy's lower cost per call (``FFNet.step`` and ``features`` timed
#: on 20-64-64, 20-256-256 and 784-500-500 nets at batches 1 to 256, one thread).
MAX_WORK = 1 << 22

#: ... and when no matrix product has more multiply-adds than this: OpenBLAS runs larger ones on
#: several threads, whose spinning workers slow a shared machine more than the product gains.
SINGLE_THREAD_WORK = 1 << 18

_PROBE = torch.zeros(1, 1)  # a CPU float32 batch, for closed_form_applies' dtype check
_PLANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# what NumPy computes in place of these: a subclass that overrides one keeps torch
_OVERRIDABLE = ("_input", "forward", "activities", "goodness_with_grad", "step", "features")


class _Plan:
    """One net's structure and NumPy views, as cached (rebuilt when any of it changes)."""

    def __init__(self, net, layers: tuple, linears: tuple):
        self.layers, self.linears = layers, linears
        self.objectives, self.goodness = tuple(net.objectives), net.goodness_fn
        self.params = tuple((lin.weight, lin.bias) for lin in linears)
        self.means = tuple(layer.mean_activity for layer in layers)
        self.tensors = [t for pair in self.params for t in pair] + list(self.means)
        self.ptrs = [t.data_ptr() for t in self.tensors]
        self.arrays = tuple(
            (w.detach().numpy(), b.detach().numpy(), m.numpy())
            for (w, b), m in zip(self.params, self.means)
        )
        self.in_features = linears[0].in_features
        self.weights = sum(lin.in_features * lin.out_features for lin in linears)
        self.largest = max(w.numel() for w, _ in self.params)  # one matrix product's size
        # the gradients, written here by NumPy and read by the fused optimizer kernels
        self.grads = tuple((torch.empty_like(w), torch.empty_like(b)) for w, b in self.params)
        self.grad_arrays = tuple((w.numpy(), b.numpy()) for w, b in self.grads)
        # aliases that the kernels may update in place without torch.no_grad()
        self.detached = tuple((w.detach(), b.detach()) for w, b in self.params)
        self.steps: dict[int, tuple] = {}  # id(Adam step tensor) -> (tensor, its NumPy view)


def _build(net) -> _Plan | None:
    """A fresh plan for ``net``, or None where NumPy must not run its layers."""
    from ffstream.ff.net import FFNet

    kind = type(net)
    if (
        not isinstance(net, FFNet)
        or any(getattr(kind, name) is not getattr(FFNet, name) for name in _OVERRIDABLE)
        or not closed_form_applies(net, _PROBE)
    ):
        return None
    layers = tuple(net.layers)
    linears = tuple(layer.transform for layer in layers)
    width = linears[0].in_features
    for layer, linear in zip(layers, linears):
        if linear.in_features != width or layer.mean_activity.shape != (linear.out_features,):
            return None  # a broken chain: torch raises its own error
        for t in (linear.weight, linear.bias, layer.mean_activity):
            if not t.is_cpu or t.dtype != torch.float32 or t.is_neg():
                return None
        width = linear.out_features
    return _Plan(net, layers, linears)


def plan_for(net, *batches: torch.Tensor) -> _Plan | None:
    """The valid cached plan for ``net`` and these batches, or None: then torch runs them."""
    rows = 0
    for x in batches:
        if not (x.is_cpu and x.dtype is torch.float32 and x.dim() == 2 and x.shape[0]):
            return None
        rows += x.shape[0]
    hooks = nn.modules.module
    if hooks._global_forward_hooks or hooks._global_forward_pre_hooks:
        return None
    plan = _PLANS.get(net)
    if plan is None or not _still_valid(plan, net):
        plan = _build(net)
        if plan is None:
            _PLANS.pop(net, None)
            return None
        _PLANS[net] = plan
    if max(rows, 16) * plan.weights > MAX_WORK or rows * plan.largest > SINGLE_THREAD_WORK:
        return None
    for x in batches:
        if x.shape[1] != plan.in_features:
            return None
    return plan


def _still_valid(plan: _Plan, net) -> bool:
    """Whether nothing the plan assumes has changed: modules, objectives, hooks, tensors."""
    if net.goodness_fn is not plan.goodness or tuple(net.objectives) != plan.objectives:
        return False
    if tuple(net._modules["layers"]._modules.values()) != plan.layers:
        return False
    for layer, linear, (weight, bias), mean in zip(
        plan.layers, plan.linears, plan.params, plan.means
    ):
        if (
            layer._modules["transform"] is not linear
            or layer._buffers["mean_activity"] is not mean
            or layer.pool
            or linear._forward_hooks
            or linear._forward_pre_hooks
            or linear._parameters["weight"] is not weight
            or linear._parameters["bias"] is not bias
        ):
            return False
        for p in (weight, bias):
            if (
                not p.requires_grad
                or p._backward_hooks
                or getattr(p, "_post_accumulate_grad_hooks", None)
            ):
                return False
    return [t.data_ptr() for t in plan.tensors] == plan.ptrs


# ---------------------------------------------------------------------------- optimizer
def optimizer_calls(net, plan: _Plan) -> tuple[bool, dict, list[np.ndarray]] | None:
    """This step's fused optimizer calls: ``(adam, calls, views of Adam's step counts)``, the
    calls as :func:`~ffstream.ff._fast.run_fused` takes them (with the plan's gradient buffers).

    Makes any state torch would make on this step. None, having changed nothing, where torch
    must update (the cases :func:`~ffstream.ff._fast.fused_update` declines, or groups that are
    not one per layer as :func:`~ffstream.ff.net.make_optimizer` builds them).
    """
    optimizer = net.optimizer
    if not plain_optimizer(optimizer) or len(optimizer.param_groups) != len(plan.layers):
        return None
    kind = type(optimizer)
    adam = kind is not torch.optim.SGD
    calls: dict[tuple, list[list]] = {}
    missing = []
    for group, params, grads, aliases in zip(
        optimizer.param_groups, plan.params, plan.grads, plan.detached
    ):
        plain = fused_group_key(kind, group)
        if plain is None or len(group["params"]) != 2:
            return None
        if group["params"][0] is not params[0] or group["params"][1] is not params[1]:
            return None
        key, names = plain
        states = [optimizer.state.get(p) for p in params]
        if names and not adam:  # SGD's first step makes the buffers and copies the gradients
            fresh = [not state or state.get(names[0]) is None for state in states]
            if fresh[0] != fresh[1]:
                return None
            key += (fresh[0],)
        lists = calls.setdefault(key, [[] for _ in range(2 + len(names))])
        for p, alias, grad, state in zip(params, aliases, grads, states):
            lists[0].append(alias)
            lists[1].append(grad)
            for i, name in enumerate(names):
                tensor = state.get(name) if state else None
                if tensor is None and adam and state:
                    return None  # a partial state: torch raises its own error
                if tensor is None:
                    missing.append((lists[2 + i], len(lists[2 + i]), p, name))
                lists[2 + i].append(tensor)
    for slots, index, p, name in missing:
        slots[index] = new_fused_state(optimizer, p, name, adam)
    return (
        adam,
        calls,
        [_step_view(plan, t) for lists in calls.values() for t in lists[4]] if adam else [],
    )


def _step_view(plan: _Plan, step: torch.Tensor) -> np.ndarray:
    """A cached NumPy view of an Adam step count (counting there costs less than in torch)."""
    cached = plan.steps.get(id(step))
    if cached is None or cached[0] is not step:
        if len(plan.steps) > 8 * len(plan.layers):
            plan.steps.clear()  # views of replaced states
        cached = plan.steps[id(step)] = (step, step.numpy())
    return cached[1]
