"""NumPy backend of :class:`~ffstream.ff.net.FFNet`'s no-grad paths and its optimiser (internal).

On a small net at a small batch every torch op costs a few microseconds of dispatch, several times
its arithmetic. Where the closed form of :mod:`ffstream.ff._fast` applies and the work is small,
:meth:`FFNet.step <ffstream.ff.net.FFNet.step>`, ``features`` and ``goodness`` run here instead:
the same closed-form gradients and the same Adam, AdamW or SGD arithmetic as torch defines it,
in float32, through NumPy, whose calls cost a fraction of a torch op's.

The torch tensors stay the only copy of the state. The NumPy arrays are zero-copy views of the
parameters, the ``mean_activity`` buffers and the optimizer's state tensors (created here exactly
as torch creates them when missing), updated in place; so ``state_dict()``, checkpoints, weight
averages and the torch path all see every update. The views are cached per net and rebuilt when
a tensor's ``data_ptr()`` changes (``.to()``, ``param.data = ...``, a loaded optimizer state);
a cached view keeps its memory alive, so a new tensor can never reuse its address.
``tests/test_ff_numpy_backend.py`` checks that both backends compute the same thing, and
``ffstream bench speed`` measures what it buys.
"""

from __future__ import annotations

import math
import weakref

import numpy as np
import torch
from torch import nn
from torch.autograd.graph import increment_version

from ffstream.ff._fast import (
    closed_form_applies,
    fused_group_key,
    new_fused_state,
    plain_optimizer,
    run_fused,
)

__all__ = ["MAX_WORK", "features", "goodness", "step"]

#: NumPy runs a call when ``max(rows, 16) * weights`` (the multiply-adds of a forward pass,
#: with a floor for the updates whose cost does not depend on the rows) is at most this; beyond
#: it torch's kernels win over NumPy's lower cost per call (``FFNet.step`` and ``features`` timed
#: on 20-64-64, 20-256-256 and 784-500-500 nets at batches 1 to 256, one thread).
MAX_WORK = 1 << 22

#: ... and when no matrix product has more multiply-adds than this: OpenBLAS runs larger ones on
#: several threads, whose spinning workers slow a shared machine more than the product gains.
SINGLE_THREAD_WORK = 1 << 18

_EPS = 1e-8  # rms_normalize's epsilon (ffstream.ff.layers)
_PROBE = torch.zeros(1, 1)  # a CPU float32 batch, for closed_form_applies' dtype check
_PLANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_ROWS: dict[tuple[int, int], tuple[np.ndarray, ...]] = {}
_ONES: dict[int, np.ndarray] = {}
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


def _plan(net, *batches: torch.Tensor) -> _Plan | None:
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


def _array(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy() if t.requires_grad else t.numpy()


def _ones(n: int) -> np.ndarray:
    """A cached float32 vector of ``n`` ones: a matrix-vector product sums fastest."""
    ones = _ONES.get(n)
    if ones is None:
        if len(_ONES) > 256:  # a bounded cache: batch sizes vary on some streams
            _ONES.clear()
        ones = _ONES[n] = np.ones(n, dtype=np.float32)
    return ones


def _input(net, x: np.ndarray) -> np.ndarray:
    """``net._input(x)``: each frame divided by its RMS, if the net does that."""
    if not net.normalize_input:
        return x
    return x / np.sqrt(np.square(x) @ _ones(x.shape[1]) / x.shape[1] + _EPS)[:, None]


def _layers(plan: _Plan, x: np.ndarray, normalize_last: bool = True):
    """Yield each layer's ``(pre-activation, activities, sum of squares, rms-normalised)``
    for the (already normalised) input ``x`` (the top layer's last one None unless asked)."""
    last = plan.arrays[-1]
    for layer in plan.arrays:
        pre = x @ layer[0].T
        pre += layer[1]
        h = np.maximum(pre, 0.0)
        width = h.shape[1]
        sum_sq = np.square(h) @ _ones(width)
        x = (
            h / np.sqrt(sum_sq / width + _EPS)[:, None]
            if normalize_last or layer is not last
            else None
        )
        yield pre, h, sum_sq, x


def goodness(net, x: torch.Tensor) -> torch.Tensor | None:
    """``net.goodness(x)`` through NumPy, or None where it does not apply."""
    plan = _plan(net, x)
    if plan is None:
        return None
    out = np.empty((x.shape[0], len(plan.layers)), dtype=np.float32)
    for i, (_, h, sum_sq, _) in enumerate(_layers(plan, _input(net, _array(x)), False)):
        out[:, i] = sum_sq / h.shape[1] if net.goodness_fn.reduction == "mean" else sum_sq
    return torch.from_numpy(out)


def features(net, x: torch.Tensor, skip_first: bool) -> torch.Tensor | None:
    """``net.features(x, skip_first)`` through NumPy, or None where it does not apply."""
    plan = _plan(net, x)
    if plan is None:
        return None
    first = 1 if skip_first and len(plan.layers) > 1 else 0
    parts = [normed for _, _, _, normed in _layers(plan, _input(net, _array(x)))][first:]
    return torch.from_numpy(parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1))


# ---------------------------------------------------------------------------- optimizer
def _calls(net, plan: _Plan) -> tuple[bool, dict, list[np.ndarray]] | None:
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


# ---------------------------------------------------------------------------- learning
def _row_weights(n_pos: int, n_neg: int) -> tuple[np.ndarray, ...]:
    """Per row: the logit's sign (-1 positive, +1 negative), 1 / its phase's size, their
    product, and the positive rows' averaging weights."""
    rows = _ROWS.get((n_pos, n_neg))
    if rows is None:
        sign = np.array([-1.0] * n_pos + [1.0] * n_neg, dtype=np.float32)
        size = np.array([1 / max(n_pos, 1)] * n_pos + [1 / max(n_neg, 1)] * n_neg, dtype=np.float32)
        rows = (sign, size, sign * size, np.full(n_pos, 1 / max(n_pos, 1), dtype=np.float32))
        if len(_ROWS) > 256:
            _ROWS.clear()
        _ROWS[(n_pos, n_neg)] = rows
    return rows


def step(net, pos: torch.Tensor | None, neg: torch.Tensor | None):
    """``net.step(pos, neg)`` (checked) through NumPy: ``(losses, pos goodness, neg goodness)``
    as torch tensors; None, having changed nothing, where it does not apply."""
    batches = [x for x in (pos, neg) if x is not None]
    plan = _plan(net, *batches)
    update = None if plan is None else _calls(net, plan)
    if update is None:
        return None
    n_pos = 0 if pos is None else pos.shape[0]
    n_neg = 0 if neg is None else neg.shape[0]
    x = np.concatenate([_array(t) for t in batches]) if len(batches) == 2 else _array(batches[0])
    sign, size, signed, pos_mean = _row_weights(n_pos, n_neg)
    out = np.empty((n_pos + n_neg, len(plan.layers)), dtype=np.float32)
    losses = np.empty(len(plan.layers), dtype=np.float32)
    mean = net.goodness_fn.reduction == "mean"
    peer, peer_momentum = net.peer_norm, net.peer_momentum
    x = _input(net, x)
    rows = n_pos + n_neg
    for i, (pre, h, sum_sq, normed) in enumerate(_layers(plan, x, False)):
        width = h.shape[1]
        g = sum_sq / width if mean else sum_sq
        out[:, i] = g
        temperature = plan.objectives[i].temperature
        theta = net.goodness_fn.threshold_for(width)
        scale = 2.0 / temperature / (width if mean else 1)  # dL/dg's factor in dL/dpre
        if rows == 1:  # one logit: Python's float arithmetic costs less than a NumPy call
            z = (theta - float(g[0]) if n_pos else float(g[0]) - theta) / temperature
            loss = max(z, 0.0) + math.log1p(math.exp(-abs(z)))  # softplus(z)
            grad_pre = h * (math.exp(z - loss) * scale * (-1.0 if n_pos else 1.0))
        else:
            z = g - theta
            z *= sign  # theta - g on positive rows
            if temperature != 1.0:
                z /= temperature
            softplus = np.logaddexp(0.0, z)
            loss = np.dot(softplus, size)  # each phase's mean, summed
            coef = np.exp(z - softplus)  # sigmoid(z), without overflow
            coef *= signed
            coef *= scale
            grad_pre = h * coef[:, None]
        if peer and n_pos:
            mean_activity = plan.arrays[i][2]
            h_pos, pre_pos = (h, pre) if not n_neg else (h[:n_pos], pre[:n_pos])
            mean_activity *= peer_momentum
            mean_activity += (1 - peer_momentum) * (h_pos[0] if n_pos == 1 else pos_mean @ h_pos)
            push = mean_activity - mean_activity @ _ones(width) / width
            push *= peer
            loss += np.dot(push, pre_pos[0] if n_pos == 1 else pos_mean @ pre_pos)
            grad_pre[:n_pos] += push if n_pos == 1 else push / n_pos
        losses[i] = loss
        grad_weight, grad_bias = plan.grad_arrays[i]
        np.matmul(grad_pre.T, x, out=grad_weight)
        np.matmul(_ones(rows), grad_pre, out=grad_bias)
        x = normed
    if net.grad_sync is not None:  # the weights' and biases' gradients, bottom layer first
        net.grad_sync([grad for pair in plan.grads for grad in pair])
    adam, calls, steps = update
    for count in steps:
        count += 1
    run_fused(adam, calls, count_steps=False)
    increment_version(plan.tensors)  # autograd sees these in-place updates (the kernels do not)
    g_pos = torch.from_numpy(out[:n_pos]) if n_pos else None
    return torch.from_numpy(losses), g_pos, torch.from_numpy(out[n_pos:]) if n_neg else None
