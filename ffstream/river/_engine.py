"""The lean per-frame FF engine behind the river estimators (internal).

River calls an estimator once per sample, so every microsecond of per-call overhead counts:
torch's eager dispatch costs ~4-5 µs per operation on a CPU, which alone caps a batch-1 FF update
at a few thousand samples per second. :class:`LeanFF` therefore keeps its parameters as torch
tensors (the source of truth, what :meth:`to_ffnet` exports) and runs the per-sample arithmetic on
zero-copy numpy views of the same memory, with the closed-form local gradients of the logistic
FF loss instead of autograd. The arithmetic is the one of :class:`ffstream.ff.FFNet` with
``goodness="mean"`` (threshold 1 per layer): each layer sees the RMS-normalised, constant
activities of the layer below and learns only from its own loss. It can also keep an exponential
moving average of its weights (Polyak averaging) to predict with.

Samples are standardised by the library's one standardiser,
:class:`~ffstream.stream.standardizer.InputStandardizer`, through
:class:`~ffstream.river._features.FeatureColumns`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from ffstream._checks import check_ema_decay

__all__ = ["LeanFF", "LeanReadout", "RunningStandardizer", "logistic_dgood", "sigmoid"]

_EPS = 1e-8


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function (``exp`` overflows harmlessly to 0 for very negative ``z``)."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def logistic_dgood(good: np.ndarray, sign) -> np.ndarray:
    """``dL/dgoodness`` of ``softplus(sign * (good - 1))`` summed over rows: ``sign`` is -1 for
    positive rows, +1 for negative ones (``ffstream.ff.Logistic`` averages each phase instead:
    divide by the rows of the phase)."""
    return sign * sigmoid(sign * (good - 1.0))


class LeanFF:
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

    Examples
    --------
    >>> net = LeanFF(4, (8,), lr=0.5, seed=0)
    >>> z = np.array([[1.0, -0.5, 0.3, 0.0]])
    >>> before = net.forward(z)[2][0][0]
    >>> for _ in range(20):
    ...     ins, acts, good = net.forward(z)
    ...     net.update(ins, acts, [logistic_dgood(g, -1.0) for g in good])  # positive updates
    >>> bool(net.forward(z)[2][0][0] > before)
    True

    The average trails the weights it follows:

    >>> net = LeanFF(4, (8,), lr=0.5, seed=0, ema_decay=0.9)
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
        self.weights = [
            torch.randn(b, a, generator=generator, dtype=torch.float64) / math.sqrt(a)
            for a, b in zip(sizes[:-1], sizes[1:])
        ]
        self.biases = [torch.zeros(b, dtype=torch.float64) for b in sizes[1:]]
        self.lr = float(lr)
        self.normalize_input = normalize_input
        self.ema_decay = ema_decay
        self.max_step = max_step
        self.steps = 0
        keep = ema_decay is not None
        self.avg_weights = [w.clone() for w in self.weights] if keep else None
        self.avg_biases = [b.clone() for b in self.biases] if keep else None
        self._make_views()

    # numpy views share memory with the torch tensors; they are rebuilt, never pickled.
    _VIEWS = ("_w", "_b", "_aw", "_ab")

    def _make_views(self) -> None:
        self._w = [w.numpy() for w in self.weights]
        self._b = [b.numpy() for b in self.biases]
        keep = self.avg_weights is not None
        self._aw = [w.numpy() for w in self.avg_weights] if keep else None
        self._ab = [b.numpy() for b in self.avg_biases] if keep else None

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in self._VIEWS}

    def __setstate__(self, state: dict) -> None:
        # Nets pickled before weight averaging existed keep none.
        old = {"ema_decay": None, "steps": 0, "avg_weights": None, "avg_biases": None}
        state = {**old, "max_step": None, **state}
        self.__dict__.update(state)
        self._make_views()

    @property
    def in_features(self) -> int:
        return self.weights[0].shape[1]

    def forward(self, z: np.ndarray, scale: float | None = None, averaged: bool = False):
        """Inputs, activities and mean goodness of every layer for rows ``z`` (``(rows, in)``).

        Returns ``(inputs, activities, goodness)``: per-layer lists; ``goodness[l]`` has shape
        ``(rows,)``. ``scale`` is ``1 / RMS`` of every row when the caller knows it is the same
        for all rows (it skips that computation). ``averaged`` runs the moving average of the
        weights instead (it needs ``ema_decay``). Nothing is learned.
        """
        if averaged and self._aw is None:
            raise ValueError("this net keeps no weight average: give it an ema_decay")
        weights, biases = (self._aw, self._ab) if averaged else (self._w, self._b)
        if scale is not None:
            a = z * scale
        elif self.normalize_input:
            a = z * (1.0 / np.sqrt(np.einsum("ij,ij->i", z, z) / z.shape[1] + _EPS))[:, None]
        else:
            a = z
        ins, acts, good = [], [], []
        for w, b in zip(weights, biases):
            ins.append(a)
            h = a @ w.T
            h += b
            np.maximum(h, 0.0, out=h)
            g = (h * h).sum(1)
            g *= 1.0 / h.shape[1]
            acts.append(h)
            good.append(g)
            a = h * (1.0 / np.sqrt(g + _EPS))[:, None]  # mean goodness = mean square: RMS norm
        return ins, acts, good

    def update(self, ins, acts, dgood) -> None:
        """One local SGD step per layer, given ``dL/dgoodness`` per row for every layer.

        ``goodness = mean(h ** 2)`` so ``dL/dpre = dL/dg * 2 h / width`` (zero where the ReLU is
        off); no gradient crosses a layer boundary. The step of each layer is ``lr``, capped
        by ``max_step``.
        """
        if not all(np.isfinite(h).all() for h in acts):
            raise FloatingPointError(
                f"the FF net diverged (its activities overflowed) with lr={self.lr}: use a "
                "smaller lr. This update was not applied."
            )
        for w, b, a, h, dg in zip(self._w, self._b, ins, acts, dgood):
            lr = self.lr
            if self.max_step is not None:
                lr = min(lr, self.max_step * h.shape[1] / (2.0 * a.shape[1]))
            dpre = h * (dg * (2.0 * lr / h.shape[1]))[:, None]  # lr * dL/dpre
            w -= dpre.T @ a
            b -= dpre.sum(0)
        self.steps += 1
        if self._aw is not None:
            self._average()

    def _average(self) -> None:
        """Move the weight average towards the weights just updated."""
        decay = min(self.ema_decay, (1.0 + self.steps) / (10.0 + self.steps))
        for avg, new in zip(self._aw + self._ab, self._w + self._b):
            avg *= decay
            avg += (1.0 - decay) * new

    def grow_inputs(self, at: int, n: int, init: np.ndarray | None = None) -> None:
        """Insert ``n`` input columns before column ``at``, with zero weights (or ``init``).

        A new input with zero weights leaves every pre-activation unchanged (up to the RMS
        normalisation of the input row, which it enters); it starts learning at the next update.
        """
        w = self.weights[0]
        new = torch.zeros(w.shape[0], n, dtype=w.dtype)
        if init is not None:
            new.copy_(torch.as_tensor(init, dtype=w.dtype))
        self.weights[0] = _insert_columns(w, at, new)
        if self.avg_weights is not None:  # the average starts the new columns where they start
            self.avg_weights[0] = _insert_columns(self.avg_weights[0], at, new)
        self._make_views()

    def to_ffnet(self, averaged: bool | None = None, **options):
        """The weights as a :class:`ffstream.ff.FFNet` (``goodness="mean"``), in float32.

        ``averaged`` exports the moving average; ``None`` (the default) exports it when the net
        keeps one, since it is what predicts. ``options`` go to ``FFNet.mlp``: with
        ``optimizer="sgd", lr=net.lr, momentum=0.0, peer_norm=0.0`` its ``step`` is :meth:`update`.
        """
        from ffstream.ff import FFNet, Goodness

        if averaged is None:
            averaged = self.avg_weights is not None
        if averaged and self.avg_weights is None:
            raise ValueError("this net keeps no weight average: give it an ema_decay")
        weights, biases = (
            (self.avg_weights, self.avg_biases) if averaged else (self.weights, self.biases)
        )
        sizes = [self.in_features, *(w.shape[0] for w in weights)]
        options = {"goodness": Goodness("mean"), "normalize_input": self.normalize_input, **options}
        net = FFNet.mlp(sizes, seed=0, **options)
        with torch.no_grad():
            for layer, w, b in zip(net.layers, weights, biases):
                layer.transform.weight.copy_(w)
                layer.transform.bias.copy_(b)
        return net


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
        p = np.exp(logits - logits.max())
        p /= p.sum()
        p[target] -= 1.0
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
