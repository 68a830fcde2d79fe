"""The river estimators' FF net: the core's layers, learning through its NumPy engine (internal).

River calls an estimator once per sample, so every microsecond of per-call overhead counts:
torch's eager dispatch costs ~4-5 µs per operation on a CPU, and even ``FFNet.step``'s NumPy
backend (its plan checks, the fused optimizer kernel) costs about twice a river update here.
:class:`RiverFF` therefore holds the core's layers (float64
:class:`~ffstream.ff.FFLinear`, whose parameters are the only copy of the weights) and runs
:class:`~ffstream.ff.FFNet`'s arithmetic (``goodness="mean"``, threshold 1, SGD without
momentum) on zero-copy NumPy views of them through :mod:`ffstream.ff._numpy`, the library's one
NumPy FF engine, which ``FFNet`` itself runs on small batches. What river needs besides: a weight
per row of the loss (the classifier weighs wrong labels), a forward pass that ``learn`` reuses
from ``predict``, inputs that grow as features and classes appear, a cap on each layer's step,
and an exponential moving average of the weights to predict with (Polyak averaging). It makes
no torch optimizer: the first one a process makes imports ``torch._dynamo``, which takes seconds.
``tests/test_river_engine_equivalence.py`` checks it against ``FFNet``'s torch path.

Samples are standardised by the library's one standardiser,
:class:`~ffstream.stream.standardizer.InputStandardizer`, through
:class:`~ffstream.river._features.FeatureColumns`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ffstream._checks import check_ema_decay
from ffstream.ff import FFLinear, FFNet, Goodness
from ffstream.ff._numpy import (
    layer_pass,
    local_grads,
    logistic,
    pre_grad_scale,
    rms_rows,
    softmax_minus_onehot,
)

__all__ = ["LeanReadout", "RiverFF", "RunningStandardizer", "sigmoid"]


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function, without overflow (:func:`ffstream.ff._numpy.logistic`).

    >>> sigmoid(np.array([0.0])).tolist()
    [0.5]
    """
    return logistic(z)[1]


class RiverFF:
    """A small fully-connected FF net with closed-form local updates on a few rows at a time.

    Parameters
    ----------
    in_features
        Inputs per row.
    hidden
        Hidden layer widths.
    lr
        SGD step size of the local updates.
    seed
        Seeds the initial weights, ``N(0, 1 / fan_in)`` like :class:`ffstream.ff.FFLinear`.
    normalize_input
        Divide each input row by its RMS before the first layer (as ``FFNet`` does).
    ema_decay
        Also keep an exponential moving average of the weights, updated after every step with
        this decay (warmed up as ``min(ema_decay, (1 + t) / (10 + t))`` after ``t`` steps, so
        that it does not remember the random initialisation); ``forward(..., averaged=True)``
        uses it. ``None`` keeps no average.
    max_step
        Caps each layer's step size at ``max_step * width / (2 * fan_in)``; ``None`` never caps.
        Why: the inputs of every layer are RMS-normalised, so an update of step ``lr`` changes
        a row's pre-activations by about ``2 * lr * fan_in / width`` times its activities. When
        the fan-in grows (a classifier's one-hot label columns, one per class) that factor
        grows with it, and past about 2 a single update overshoots: activities blow up or die.
        The cap bounds the factor by ``max_step`` and leaves smaller steps as they are.

    Attributes
    ----------
    layers
        The float64 :class:`~ffstream.ff.FFLinear` layers that hold the weights, bottom first.
    step_sizes
        Each layer's SGD step: ``lr``, capped by ``max_step``.

    Examples
    --------
    >>> from ffstream.ff._numpy import logistic_dgood
    >>> net = RiverFF(4, (8,), lr=0.5, seed=0)
    >>> z = np.array([[1.0, -0.5, 0.3, 0.0]])
    >>> before = net.forward(z)[2][0][0]
    >>> for _ in range(20):
    ...     ins, acts, good = net.forward(z)
    ...     net.update(ins, acts, [logistic_dgood(g, -1.0) for g in good])  # positive updates
    >>> bool(net.forward(z)[2][0][0] > before)
    True

    The average trails the weights it follows:

    >>> net = RiverFF(4, (8,), lr=0.5, seed=0, ema_decay=0.9)
    >>> start = net.forward(z)[2][0][0]
    >>> for _ in range(20):
    ...     ins, acts, good = net.forward(z)
    ...     net.update(ins, acts, [logistic_dgood(g, -1.0) for g in good])
    >>> bool(start < net.forward(z, averaged=True)[2][0][0] < net.forward(z)[2][0][0])
    True
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int],
        *,
        lr: float,
        seed: int | None,
        normalize_input: bool = True,
        ema_decay: float | None = None,
        max_step: float | None = None,
    ):
        check_ema_decay(ema_decay)
        generator = torch.Generator().manual_seed(seed if seed is not None else torch.seed())
        sizes = [int(in_features), *map(int, hidden)]
        weights = [
            torch.randn(b, a, generator=generator, dtype=torch.float64) / math.sqrt(a)
            for a, b in zip(sizes[:-1], sizes[1:])
        ]
        biases = [torch.zeros(b, dtype=torch.float64) for b in sizes[1:]]
        self._setup(weights, biases, float(lr), normalize_input, ema_decay, max_step)

    def _setup(self, weights, biases, lr, normalize_input, ema_decay, max_step, steps=0, avg=None):
        """Hold ``weights`` and ``biases`` (bottom first) in fresh float64 ``FFLinear`` layers."""
        with torch.random.fork_rng(devices=[]):  # nn.Linear's own init draws from the global
            layers = [FFLinear(w.shape[1], w.shape[0]) for w in weights]  # generator: restored
        self.layers = nn.ModuleList(layers).to(torch.float64)
        with torch.no_grad():
            for layer, w, b in zip(self.layers, weights, biases):
                layer.transform.weight.copy_(w)
                layer.transform.bias.copy_(b)
        self.lr, self.normalize_input, self.ema_decay = lr, normalize_input, ema_decay
        self.max_step, self.steps = max_step, steps
        if ema_decay is not None and avg is None:  # the average starts at the weights
            avg = [(w.detach().clone(), b.detach().clone()) for w, b in self._parameters()]
        self.average = avg
        self._set_step_sizes()

    def _parameters(self) -> list[tuple[nn.Parameter, nn.Parameter]]:
        return [(layer.transform.weight, layer.transform.bias) for layer in self.layers]

    # numpy views share memory with the torch tensors; they are rebuilt, never pickled.
    _VIEWS = ("_params", "_avg")

    def _make_views(self) -> None:
        self._params = [(w.detach().numpy(), b.detach().numpy()) for w, b in self._parameters()]
        keep = self.average is not None
        self._avg = [(w.numpy(), b.numpy()) for w, b in self.average] if keep else None

    def _set_step_sizes(self) -> None:
        """Each layer's SGD step: ``lr``, capped by ``max_step``."""
        self.step_sizes = [
            self.lr
            if self.max_step is None
            else min(self.lr, self.max_step * w.shape[0] / (2.0 * w.shape[1]))
            for w, _ in self._parameters()
        ]
        self._make_views()

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in self._VIEWS}

    def __setstate__(self, state: dict) -> None:
        if "weights" in state:  # a LeanFF: pickled before the layers were the core's FFLinear
            old = {"ema_decay": None, "steps": 0, "avg_weights": None, "max_step": None, **state}
            avg = old["avg_weights"] and list(zip(old["avg_weights"], old["avg_biases"]))
            options = (old["normalize_input"], old["ema_decay"], old["max_step"], old["steps"])
            self._setup(state["weights"], state["biases"], state["lr"], *options, avg=avg)
            return
        self.__dict__.update(state)
        self._make_views()

    @property
    def in_features(self) -> int:
        return self._params[0][0].shape[1]

    @property
    def widths(self) -> list[int]:
        """Units of every layer, bottom first."""
        return [w.shape[0] for w, _ in self._params]

    def forward(self, z: np.ndarray, scale: float | None = None, averaged: bool = False):
        """Inputs, activities and mean goodness of every layer for rows ``z`` (``(rows, in)``).

        Returns ``(inputs, activities, goodness)``: per-layer lists; ``goodness[l]`` has shape
        ``(rows,)``. ``scale`` is ``1 / RMS`` of every row when the caller knows it is the same
        for all rows (it skips that computation). ``averaged`` runs the moving average of the
        weights instead (it needs ``ema_decay``). Nothing is learned.
        """
        if averaged and self._avg is None:
            raise ValueError("this net keeps no weight average: give it an ema_decay")
        if scale is not None:
            x = z * scale
        elif self.normalize_input:
            x = rms_rows(z)
        else:
            x = z
        ins, acts, good = [], [], []
        for _, h, sum_sq, normed in layer_pass(self._avg if averaged else self._params, x, False):
            ins.append(x)
            acts.append(h)
            good.append(sum_sq / h.shape[1])
            x = normed
        return ins, acts, good

    def update(self, ins, acts, dgood) -> None:
        """One local SGD step per layer, given ``dL/dgoodness`` per row for every layer.

        The gradients are ``FFNet``'s closed form (:func:`~ffstream.ff._numpy.local_grads`),
        each layer's step its entry of :attr:`step_sizes`, folded into ``dL/dpre``. Nothing
        crosses a layer boundary.
        """
        if not all(np.isfinite(h).all() for h in acts):
            raise FloatingPointError(
                f"the FF net diverged (its activities overflowed) with lr={self.lr}: use a "
                "smaller lr. This update was not applied."
            )
        for (w, b), x, h, dg, lr in zip(self._params, ins, acts, dgood, self.step_sizes):
            grad_pre = h * (dg * (lr * pre_grad_scale(h.shape[1], mean=True)))[:, None]
            grad_w, grad_b = local_grads(grad_pre, x)
            w -= grad_w
            b -= grad_b
        self.steps += 1
        if self._avg is not None:
            self._average()

    def _average(self) -> None:
        """Move the weight average towards the weights just updated."""
        decay = min(self.ema_decay, (1.0 + self.steps) / (10.0 + self.steps))
        for avg, new in zip(self._avg, self._params):
            for a, n in zip(avg, new):
                a *= decay
                a += (1.0 - decay) * n

    def grow_inputs(self, at: int, n: int, init: np.ndarray | None = None) -> None:
        """Insert ``n`` input columns before column ``at``, with zero weights (or ``init``).

        A new input with zero weights leaves every pre-activation unchanged (up to the RMS
        normalisation of the input row, which it enters); it starts learning at the next update.
        """
        linear = self.layers[0].transform
        new = torch.zeros(linear.out_features, n, dtype=torch.float64)
        if init is not None:
            new.copy_(torch.as_tensor(init, dtype=torch.float64))
        linear.weight = nn.Parameter(_insert_columns(linear.weight.detach(), at, new))
        linear.in_features += n
        if self.average is not None:  # the average starts the new columns where they start
            w, b = self.average[0]
            self.average[0] = (_insert_columns(w, at, new), b)
        self._set_step_sizes()

    def to_ffnet(self, averaged: bool | None = None, **options) -> FFNet:
        """The weights as a float32 :class:`ffstream.ff.FFNet` (``goodness="mean"``).

        ``averaged`` exports the moving average; ``None`` (the default) exports it when the net
        keeps one, since it is what predicts. ``options`` go to ``FFNet.mlp``: with
        ``optimizer="sgd", lr=net.lr, momentum=0.0, peer_norm=0.0`` its ``step`` is
        :meth:`update` (below the step cap).
        """
        if averaged is None:
            averaged = self.average is not None
        if averaged and self.average is None:
            raise ValueError("this net keeps no weight average: give it an ema_decay")
        pairs = self.average if averaged else self._parameters()
        options = {"goodness": Goodness("mean"), "normalize_input": self.normalize_input,
                   **options}  # fmt: skip
        net = FFNet.mlp([self.in_features, *self.widths], seed=0, **options)
        with torch.no_grad():
            for layer, (w, b) in zip(net.layers, pairs):
                layer.transform.weight.copy_(w)
                layer.transform.bias.copy_(b)
        return net


#: What river models pickled before :class:`RiverFF` hold (unpickled as a RiverFF).
LeanFF = RiverFF


class LeanReadout:
    """A linear softmax readout learning by plain SGD, one row at a time, in NumPy.

    The arithmetic of :class:`ffstream.ff.LinearReadout`'s ``step`` with momentum 0 and no
    weight decay (``tests/test_river_engine_equivalence.py`` checks both compute the same),
    with inputs and classes that can be added later (zero weights: nothing learned changes).

    Examples
    --------
    >>> readout = LeanReadout(2, 2, lr=0.5)
    >>> f = np.array([1.0, -1.0])
    >>> for _ in range(20):
    ...     readout.step(f, 1, readout(f))
    >>> int(readout(f).argmax())
    1
    """

    def __init__(self, in_features: int, num_classes: int, lr: float):
        self.lr = lr
        self.weight = np.zeros((num_classes, in_features))
        self.bias = np.zeros(num_classes)

    def __call__(self, f: np.ndarray) -> np.ndarray:
        """Logits of one feature vector."""
        return self.weight @ f + self.bias

    def step(self, f: np.ndarray, target: int, logits: np.ndarray) -> None:
        """One SGD step of cross-entropy at ``logits`` (softmax minus one-hot, times ``f``)."""
        p, _ = softmax_minus_onehot(logits, target)
        p *= self.lr
        self.weight -= np.outer(p, f)
        self.bias -= p

    def grow_inputs(self, at: int, n: int) -> None:
        """Insert ``n`` zero input columns before column ``at``."""
        self.weight = np.insert(self.weight, [at] * n, 0.0, axis=1)

    def grow_classes(self, n: int) -> None:
        """Append ``n`` classes with zero weights."""
        self.weight = np.concatenate([self.weight, np.zeros((n, self.weight.shape[1]))])
        self.bias = np.concatenate([self.bias, np.zeros(n)])


def _insert_columns(w: torch.Tensor, at: int, new: torch.Tensor) -> torch.Tensor:
    return torch.cat([w[:, :at], new, w[:, at:]], dim=1).contiguous()


class RunningStandardizer:
    """What river models pickled by ffstream 0.1 hold as their standardiser: unpickled as its
    saved state, which :class:`~ffstream.river._features.FeatureColumns` turns into the
    library's :class:`~ffstream.stream.standardizer.InputStandardizer`. Not used otherwise."""

    def __setstate__(self, state: dict) -> None:
        self.state = state
