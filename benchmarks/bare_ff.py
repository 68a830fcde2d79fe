"""A hand-written FF loop doing what ``StreamLearner.observe`` does, for a fair speed check.

The same arithmetic as :meth:`~ffstream.stream.StreamLearner.observe`, written straight: no
validation, no memory, no schedule, no novelty. Weights, optimizer settings, peer normalisation
and the label encoding are copied from a learner (:func:`bare_learner`), so both sides start
from the same net and do the same work. :func:`equivalence_check` confirms that they compute
the same weights; ``stream-mnist``'s speed runs (:mod:`benchmarks.stream_speed`) then time both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from ffstream.stream import Manual, StreamLearner

__all__ = ["BareFF", "bare_learner", "bare_observe", "equivalence_check", "speed_learner"]


@dataclass
class BareFF:
    """Plain tensors and optimizers: what a hand-written FF training loop would hold."""

    weights: list[torch.Tensor]
    biases: list[torch.Tensor]
    mean_activity: list[torch.Tensor]
    thetas: list[float]
    optimizer: torch.optim.Optimizer
    peer_norm: float
    peer_momentum: float
    goodness_sum: bool
    num_classes: int | None = None
    append_labels: bool = True  # OneHotAppend (else OneHotOverlay)
    label_strength: float = 1.0
    readout_w: torch.Tensor | None = None
    readout_b: torch.Tensor | None = None
    readout_optimizer: torch.optim.Optimizer | None = None


def _copy_optimizer(source: torch.optim.Optimizer, params: list[torch.Tensor]):
    """An optimizer of the same class and settings as ``source`` over ``params``."""
    optimizer = type(source)(params)
    settings = {k: v for k, v in source.param_groups[0].items() if k != "params"}
    optimizer.param_groups[0].update(settings)
    return optimizer


def bare_learner(learner: StreamLearner) -> BareFF:
    """The bare-loop twin of a freshly made ``learner``: same weights and settings.

    Raises ``ValueError`` for learner features the bare loop does not reproduce.
    """
    net = learner.net
    if net.bf16 or not net.normalize_input:
        raise ValueError("the bare loop covers bf16=False, normalize_input=True")
    weights = [layer.transform.weight.detach().clone().requires_grad_() for layer in net.layers]
    biases = [layer.transform.bias.detach().clone().requires_grad_() for layer in net.layers]
    params = [p for pair in zip(weights, biases) for p in pair]
    bare = BareFF(
        weights=weights,
        biases=biases,
        mean_activity=[layer.mean_activity.clone() for layer in net.layers],
        thetas=[net.goodness_fn.threshold_for(w.shape[0]) for w in weights],
        optimizer=_copy_optimizer(net.optimizer, params),
        peer_norm=net.peer_norm,
        peer_momentum=net.peer_momentum,
        goodness_sum=net.goodness_fn.reduction == "sum",
        num_classes=learner.num_classes,
    )
    if learner.encoding is not None:
        name = type(learner.encoding).__name__
        if name not in ("OneHotAppend", "OneHotOverlay"):
            raise ValueError(f"the bare loop does not reproduce the {name} label encoding")
        bare.append_labels = name == "OneHotAppend"
        bare.label_strength = learner.encoding.strength
        linear = learner.readout.linear
        bare.readout_w = linear.weight.detach().clone().requires_grad_()
        bare.readout_b = linear.bias.detach().clone().requires_grad_()
        bare.readout_optimizer = _copy_optimizer(
            learner.readout.optimizer, [bare.readout_w, bare.readout_b]
        )
    return bare


def _rms(h: torch.Tensor) -> torch.Tensor:
    return h / h.square().mean(1).add(1e-8).sqrt().view(-1, 1)


def _encode(bare: BareFF, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """One-hot label (``y``) or the neutral label (``y=None``), appended or overlaid."""
    c, s = bare.num_classes, bare.label_strength
    if bare.append_labels:
        neutral = y is None
        label = x.new_full((x.shape[0], c), s / c) if neutral else F.one_hot(y, c).to(x) * s
        return torch.cat([x, label], dim=1)
    out = x.clone()
    if y is None:
        out[:, :c] = s / c
    else:
        out[:, :c] = 0.0
        out[torch.arange(x.shape[0]), y] = s
    return out


@torch.no_grad()
def _bare_features(bare: BareFF, x: torch.Tensor) -> torch.Tensor:
    """Normalised activities of layers >= 2 (of the only layer, if one): readout features."""
    h, feats = _rms(x), []
    for w, b in zip(bare.weights, bare.biases):
        h = _rms(F.relu(F.linear(h, w, b)))
        feats.append(h)
    return torch.cat(feats[1:] if len(feats) > 1 else feats, dim=1)


def _bare_positive_update(bare: BareFF, x: torch.Tensor) -> torch.Tensor:
    """One local positive update of every layer (Adam, peer norm); returns per-layer goodness."""
    h_in = _rms(x)
    total = x.new_zeros(())
    goodness = []
    for w, b, mean, theta in zip(bare.weights, bare.biases, bare.mean_activity, bare.thetas):
        pre = F.linear(h_in, w, b)
        h = F.relu(pre)
        g = h.square().sum(1) if bare.goodness_sum else h.square().mean(1)
        loss = F.softplus(theta - g).mean()
        if bare.peer_norm:
            mean.mul_(bare.peer_momentum).add_(h.detach().mean(0), alpha=1 - bare.peer_momentum)
            push = bare.peer_norm * (mean - mean.mean())
            loss = loss + (push * pre.mean(0)).sum()
        total = total + loss
        goodness.append(g.detach())
        h_in = _rms(h).detach()  # the locality boundary
    bare.optimizer.zero_grad(set_to_none=True)
    total.backward()
    bare.optimizer.step()
    return torch.stack(goodness, dim=1)


def bare_observe(bare: BareFF, x: torch.Tensor, y: torch.Tensor | None = None):
    """What ``observe`` computes: predict (readout), positive update, readout update."""
    if y is None:
        return _bare_positive_update(bare, x), None
    with torch.no_grad():
        features = _bare_features(bare, _encode(bare, x, None))
    prediction = F.linear(features, bare.readout_w, bare.readout_b).argmax(1)
    goodness = _bare_positive_update(bare, _encode(bare, x, y))
    # as StreamLearner does: the readout learns from the features it predicted with
    logits = F.linear(features, bare.readout_w, bare.readout_b)
    loss = F.cross_entropy(logits, y)
    bare.readout_optimizer.zero_grad(set_to_none=True)
    loss.backward()
    bare.readout_optimizer.step()
    return goodness, prediction


# ---------------------------------------------------------------------------- the check
def speed_learner(labelled: bool, hidden, lr, device: str, seed: int) -> StreamLearner:
    """The learner that speed runs time: labelled (``predict_with="readout"``) or not, never
    sleeping (:class:`~ffstream.stream.Manual`), so every call is one awake update."""
    kwargs: dict[str, Any] = dict(hidden=hidden, schedule=Manual(), device=device, seed=seed)
    if lr is not None:
        kwargs["lr"] = lr
    if labelled:
        return StreamLearner(784, 10, predict_with="readout", **kwargs)
    return StreamLearner(784, None, **kwargs)


def equivalence_check(labelled: bool, hidden, lr, x, y, device: str, seed: int, steps: int = 3):
    """Largest weight difference between ``observe`` and the bare loop after ``steps`` frames.

    Near 0 means the bare loop really does the learner's arithmetic (a fair comparison).
    """
    learner = speed_learner(labelled, hidden, lr, device, seed)
    bare = bare_learner(learner)
    for i in range(steps):
        yb = y[i : i + 1] if labelled else None
        learner.observe(x[i : i + 1], yb)
        bare_observe(bare, x[i : i + 1], yb)
    diffs = [
        (layer.transform.weight - w).abs().max().item()
        for layer, w in zip(learner.net.layers, bare.weights)
    ]
    if labelled:
        diffs.append((learner.readout.linear.weight - bare.readout_w).abs().max().item())
    return max(diffs)
