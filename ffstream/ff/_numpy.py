"""The NumPy FF arithmetic, and the NumPy backend of :class:`~ffstream.ff.net.FFNet` (internal).

This module is the library's one NumPy engine of Forward-Forward layers: the layer pass
(:func:`layer_pass`), the logistic loss and its derivative (:func:`logistic`,
:func:`logistic_dgood`) and each layer's local gradients (:func:`pre_grad_scale`,
:func:`local_grads`). ``FFNet``'s no-grad paths below run it, and so do the river estimators'
nets (:mod:`ffstream.river._engine`: the core's ``FFLinear`` layers, stepped by SGD).

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
``ffstream bench speed`` measures what it buys. The plans (which nets and calls NumPy may run,
and the optimizer's kernel calls) are in :mod:`ffstream.ff._numpy_plan`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.autograd.graph import increment_version

from ffstream.ff._fast import run_fused
from ffstream.ff._numpy_plan import MAX_WORK, SINGLE_THREAD_WORK, optimizer_calls, plan_for

__all__ = [
    "MAX_WORK",
    "SINGLE_THREAD_WORK",
    "features",
    "goodness",
    "layer_pass",
    "local_grads",
    "logistic",
    "logistic_dgood",
    "pre_grad_scale",
    "rms_rows",
    "softmax_minus_onehot",
    "step",
    "wrong_label_belief",
]

_EPS = 1e-8  # rms_normalize's epsilon (ffstream.ff.layers)
_ROWS: dict[tuple[int, int], tuple[np.ndarray, ...]] = {}
_ONES: dict[tuple[int, type], np.ndarray] = {}


def _array(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy() if t.requires_grad else t.numpy()


def _ones(n: int, dtype=np.float32) -> np.ndarray:
    """A cached vector of ``n`` ones: a matrix-vector product sums fastest."""
    key = (n, np.dtype(dtype).type)
    ones = _ONES.get(key)
    if ones is None:
        if len(_ONES) > 256:  # a bounded cache: batch sizes vary on some streams
            _ONES.clear()
        ones = _ONES[key] = np.ones(n, dtype=dtype)
    return ones


# ---------------------------------------------------------------------------- the arithmetic
# The NumPy FF arithmetic, on plain arrays: FFNet's backend below and the river estimators'
# nets (ffstream.river._engine) both run it.
def rms_rows(x: np.ndarray) -> np.ndarray:
    """Each row of ``x`` divided by its RMS (:func:`~ffstream.ff.layers.rms_normalize`).

    Examples
    --------
    >>> rms_rows(np.array([[3.0, 4.0]])).round(4).tolist()
    [[0.8485, 1.1314]]
    """
    return x / np.sqrt(np.square(x) @ _ones(x.shape[1], x.dtype) / x.shape[1] + _EPS)[:, None]


def _input(net, x: np.ndarray) -> np.ndarray:
    """``net._input(x)``: each frame divided by its RMS, if the net does that."""
    return rms_rows(x) if net.normalize_input else x


def layer_pass(layers, x: np.ndarray, normalize_last: bool = True):
    """Yield each layer's ``(pre-activation, activities, sum of squares, rms-normalised)``
    for the (already normalised) input ``x`` (the top layer's last one None unless asked).

    ``layers`` holds each fully-connected ReLU layer's ``(weight, bias, ...)`` arrays, bottom
    first. Each layer reads the RMS-normalised activities of the one below.

    Examples
    --------
    >>> w, b = np.array([[1.0, 0.0], [0.0, -1.0]]), np.zeros(2)
    >>> [(h.tolist(), s.tolist()) for _, h, s, _ in layer_pass([(w, b)], np.array([[2.0, 1.0]]))]
    [([[2.0, 0.0]], [4.0])]
    """
    last = len(layers) - 1
    for i, layer in enumerate(layers):
        pre = x @ layer[0].T
        pre += layer[1]
        h = np.maximum(pre, 0.0)
        width = h.shape[1]
        sum_sq = np.square(h) @ _ones(width, h.dtype)
        x = h / np.sqrt(sum_sq / width + _EPS)[:, None] if normalize_last or i < last else None
        yield pre, h, sum_sq, x


def logistic(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(softplus(z), sigmoid(z))``, neither overflowing: the logistic FF loss of logits
    ``z`` and its derivative.

    Examples
    --------
    >>> loss, slope = logistic(np.array([0.0, 1000.0]))
    >>> loss.round(4).tolist(), slope.tolist()
    ([0.6931, 1000.0], [0.5, 1.0])
    """
    softplus = np.logaddexp(0.0, z)
    return softplus, np.exp(z - softplus)


def logistic_dgood(good: np.ndarray, sign, threshold: float = 1.0) -> np.ndarray:
    """``dL/dgoodness`` per row of the logistic FF loss ``softplus(sign * (good - threshold))``:
    ``sign`` is -1 on positive rows (pushed up), +1 on negative ones (pushed down).

    Summed over rows; :class:`~ffstream.ff.objectives.Logistic` averages each phase instead
    (divide by the rows of the phase).

    Examples
    --------
    >>> logistic_dgood(np.array([1.0, 1.0]), np.array([-1.0, 1.0])).tolist()
    [-0.5, 0.5]
    """
    return sign * logistic(sign * (good - threshold))[1]


def _at_labels(a: np.ndarray, labels):
    """The index of each row's label in ``a``: one row (``labels`` an int) or a batch."""
    return labels if a.ndim == 1 else (np.arange(a.shape[0]), labels)


def softmax_minus_onehot(logits: np.ndarray, labels) -> tuple[np.ndarray, np.ndarray]:
    """The cross-entropy's gradient at ``logits`` (softmax minus the label's one-hot) and the
    loss, -log p(label), per row: what :class:`~ffstream.ff.readout.LinearReadout`'s NumPy
    step and the river front ends' readout both learn from.

    ``logits`` is one row (``labels`` an int) or a batch (``labels`` an int array).

    Examples
    --------
    >>> grad, loss = softmax_minus_onehot(np.array([0.0, 0.0]), 1)
    >>> grad.tolist(), round(float(loss), 4)
    ([0.5, -0.5], 0.6931)
    """
    z = logits - logits.max(-1, keepdims=True)
    p = np.exp(z)
    total = p.sum(-1, keepdims=True)
    p /= total
    at = _at_labels(z, labels)
    # -log softmax of the label, without log(0) when its probability underflows
    loss = np.log(total[..., 0]) - z[at]
    p[at] -= 1.0
    return p, loss


def wrong_label_belief(scores: np.ndarray, labels) -> np.ndarray:
    """How plausible the model finds each wrong label: the softmax of ``scores`` over the
    labels other than the true one (which gets 0).

    :func:`~ffstream.ff.negatives.hard_wrong_labels` draws a hard negative label from this
    distribution; a learner that weighs every wrong label by it learns from their expectation.
    ``scores`` is one row (``labels`` an int) or a batch.

    Examples
    --------
    >>> wrong_label_belief(np.array([5.0, 1.0, 1.0]), 0).tolist()
    [0.0, 0.5, 0.5]
    """
    masked = np.array(scores, dtype=np.float64)
    masked[_at_labels(masked, labels)] = -math.inf
    belief = np.exp(masked - masked.max(-1, keepdims=True))
    return belief / belief.sum(-1, keepdims=True)


def pre_grad_scale(width: int, mean: bool, temperature: float = 1.0) -> float:
    """``dL/dpre = dL/dgoodness * scale * h`` for a layer of ``width`` ReLU units.

    The goodness is the sum of squares (``/ width`` for the mean), so ``dg/dpre = 2 h`` (``/
    width``), which is 0 wherever the ReLU is off; the logit's ``1 / temperature`` joins it.

    >>> pre_grad_scale(4, mean=True)
    0.5
    """
    return 2.0 / temperature / (width if mean else 1)


def local_grads(grad_pre: np.ndarray, x: np.ndarray, out: tuple | None = None):
    """A layer's ``(dL/dweight, dL/dbias)`` from ``dL/dpre`` (rows) and its input ``x``: no
    gradient crosses a layer boundary. ``out``: the two arrays to write them into.

    >>> gw, gb = local_grads(np.array([[1.0, 0.0]]), np.array([[2.0, 3.0]]))
    >>> gw.tolist(), gb.tolist()
    ([[2.0, 3.0], [0.0, 0.0]], [1.0, 0.0])
    """
    grad_weight, grad_bias = (None, None) if out is None else out
    ones = _ones(grad_pre.shape[0], grad_pre.dtype)
    return np.matmul(grad_pre.T, x, out=grad_weight), np.matmul(ones, grad_pre, out=grad_bias)


def goodness(net, x: torch.Tensor) -> torch.Tensor | None:
    """``net.goodness(x)`` through NumPy, or None where it does not apply."""
    plan = plan_for(net, x)
    if plan is None:
        return None
    out = np.empty((x.shape[0], len(plan.layers)), dtype=np.float32)
    for i, (_, h, sum_sq, _) in enumerate(layer_pass(plan.arrays, _input(net, _array(x)), False)):
        out[:, i] = sum_sq / h.shape[1] if net.goodness_fn.reduction == "mean" else sum_sq
    return torch.from_numpy(out)


def features(net, x: torch.Tensor, skip_first: bool) -> torch.Tensor | None:
    """``net.features(x, skip_first)`` through NumPy, or None where it does not apply."""
    plan = plan_for(net, x)
    if plan is None:
        return None
    first = 1 if skip_first and len(plan.layers) > 1 else 0
    parts = [normed for _, _, _, normed in layer_pass(plan.arrays, _input(net, _array(x)))][first:]
    return torch.from_numpy(parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1))


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
    plan = plan_for(net, *batches)
    update = None if plan is None else optimizer_calls(net, plan)
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
    for i, (pre, h, sum_sq, normed) in enumerate(layer_pass(plan.arrays, x, False)):
        width = h.shape[1]
        g = sum_sq / width if mean else sum_sq
        out[:, i] = g
        temperature = plan.objectives[i].temperature
        theta = net.goodness_fn.threshold_for(width)
        scale = pre_grad_scale(width, mean, temperature)  # dL/dg's factor in dL/dpre
        if rows == 1:  # one logit: Python's float arithmetic costs less than a NumPy call
            z = (theta - float(g[0]) if n_pos else float(g[0]) - theta) / temperature
            loss = max(z, 0.0) + math.log1p(math.exp(-abs(z)))  # softplus(z)
            grad_pre = h * (math.exp(z - loss) * scale * (-1.0 if n_pos else 1.0))
        else:
            z = g - theta
            z *= sign  # theta - g on positive rows
            if temperature != 1.0:
                z /= temperature
            softplus, coef = logistic(z)
            loss = np.dot(softplus, size)  # each phase's mean, summed
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
        local_grads(grad_pre, x, out=plan.grad_arrays[i])
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
