"""FFClassifier: a Forward-Forward classifier with river's ``learn_one`` / ``predict_proba_one``."""

from __future__ import annotations

import math
from collections.abc import Hashable

import numpy as np
from river import base

from ffstream._checks import (
    check_ema_decay,
    check_fallback_window,
    check_hidden,
    check_positive,
    check_seed,
)
from ffstream.ff._numpy import logistic_dgood, wrong_label_belief
from ffstream.river._dreaming import awake_sleep, remember_labelled
from ffstream.river._engine import LeanReadout, RiverFF
from ffstream.river._features import (
    FeatureColumns,
    check_features,
    check_label,
    check_mode,
)
from ffstream.stream.average import lead_after, trusts

__all__ = ["FFClassifier"]

#: Largest factor by which one update may change a row's pre-activations relative to its
#: activities (``RiverFF``'s ``max_step``): above about 2 a positive update overshoots.
_MAX_STEP = 2.0


class FFClassifier(base.Classifier):
    """Online Forward-Forward classifier for river feature dicts.

    Each sample is standardised online by the library's standardiser (a forgetting mean and
    variance per feature, winsorised against outliers, values clipped to ``±clip``; see
    :class:`~ffstream.stream.standardizer.InputStandardizer`: one wild value cannot spoil a
    feature for good), and every known class is written into its own copy
    of the frame as a one-hot overlay (Hinton 2022). The net scores each copy by its goodness
    (mean square of each layer's ReLU activities, threshold 1): the most "good" label is the
    prediction and the softmax of the goodness over labels is ``predict_proba_one``.

    ``learn_one`` makes one local FF update of every layer, interleaved as in Hinton's recipe:
    the copy with the true label is pushed up (positive), the copies with wrong labels are pushed
    down (negatives), each weighted by how plausible the model finds that wrong label (the
    expectation of ffcode's hard negatives). No gradient crosses a layer boundary.

    A linear softmax readout corrects that prediction: it reads the standardised sample and
    adds its logits to the goodness of every label, learning by SGD from each labelled sample
    the part of the concept the goodness misses. The goodness alone is strong on concepts the
    layers carve out (non-linear, few features, mixed scales), a linear model of the sample on
    linear and drifting ones; the sum learns either. ``readout_lr=None`` predicts with the
    goodness alone. The default, and a readout of the sample alone rather than of the sample and
    the layer's activities, were chosen on the validation seeds of ``ffstream bench streams``
    (``--split validation``; see BENCHMARKS.md).

    Predictions use an exponential moving average of the weights (Polyak averaging, decay
    ``ema_decay`` per update), while learning moves the weights themselves. Why: with a constant
    step size the weights keep jittering around the current concept, and their average sits
    nearer its centre; the default 0.999 averages over about the last 1,000 updates (the
    readout, which is not averaged, follows at once). After the stream changes, such an average
    answers as before for about as long; so, as in :class:`~ffstream.stream.StreamLearner`
    (:class:`~ffstream.stream.average.GuardedAverage`), it predicts only while the weights that
    learn have not been right more often over about the last ``ema_fallback_window`` samples;
    otherwise they predict until it catches up. Both defaults were chosen on the validation
    seeds of ``ffstream bench streams``: with the fallback, 0.999 beat the former 0.995
    (without one) on all 11 labelled streams, and 0.998 and a window of 200 did no better;
    0.9995 scored a little higher still, but 0.999 keeps both front ends alike. On the
    choosing seeds of ``ffstream bench drift`` it stays level on a concept that never stops
    moving (RandomRBFDrift), where 0.999 without the fallback had lost. Averaging the readout
    too was tried and lost on the validation seeds.

    Streams change: a feature seen for the first time gets a new input column with zero weights
    (predictions are unchanged until it is learned from); a missing feature (absent or ``None``)
    counts as its running mean, i.e. 0 after standardisation. A class seen for the first time gets
    a new one-hot column with fresh random weights, which only the new class's copy of the frame
    reads, so what was learned for the other classes is kept. Each class adds an input column,
    so the step of the first layer is capped to keep one update from overshooting when there
    are many classes (``max_step`` of ``RiverFF``); with few classes the cap is above ``lr``.

    Parameters
    ----------
    hidden
        Widths of the FF layers.
    lr
        Step size of the local SGD updates (capped per layer as above).
    label_strength
        Value of the one-hot label entry (inputs are standardised, so 1 is one standard deviation).
    clip
        Standardised values are clipped to ``[-clip, clip]``.
    ema_decay
        Decay of the weight average that predicts, in ``[0, 1)``; ``None`` predicts with the
        latest weights.
    ema_fallback_window
        Samples (roughly) over which the weight average must be right as often as the weights
        that learn, or they predict instead; ``None``: the average always predicts.
    readout_lr
        SGD step of the readout that corrects the goodness prediction; ``None``: no readout.
    mode
        ``"interleaved"`` (the default): each update pushes the true label's copy up and the
        wrong labels' down. ``"awake-sleep"``: each sample pushes its true label's copy up
        alone, and every 32 samples a sleep pushes down the wrong labels of those samples in
        one update (the learner core's :class:`~ffstream.stream.schedules.EveryN` schedule;
        the samples wait in its :class:`~ffstream.stream.memory.RecentMemory`). On the
        validation seeds of ``ffstream bench streams`` awake-sleep won on most streams but
        lost badly on the non-linear concept, so interleaved is the default.
    seed
        Seeds the initial weights (and the weights of classes that appear later).

    Examples
    --------
    >>> from river import datasets, evaluate, metrics
    >>> from ffstream.river import FFClassifier
    >>> model = FFClassifier(seed=0)
    >>> metric = evaluate.progressive_val_score(datasets.Phishing(), model, metrics.Accuracy())
    >>> bool(metric.get() > 0.87)
    True
    >>> model.predict_proba_one({"long_url": 1.0, "https": 0.0})  # doctest: +SKIP
    {False: 0.6..., True: 0.3...}

    Notes
    -----
    The layers are the core's (:class:`~ffstream.ff.FFLinear`) and learn through the
    library's NumPy FF engine (``ffstream.ff._numpy``, which :class:`~ffstream.ff.FFNet` runs
    on small batches too) on views of their weights, with closed-form local gradients (see
    ``ffstream.river._engine``): torch's per-operation dispatch would cost more than the whole
    update of a net this small. ``tests/test_river_engine_equivalence.py`` checks that it
    computes what ``FFNet``'s torch path computes.

    Bad input is refused before anything is learned: ``NaN``/``inf``, non-numeric values and
    integers too large for a float raise ``ValueError`` naming the feature; a sample that is not
    a dict raises ``TypeError``; a missing label (``None`` or ``NaN``) raises ``ValueError``.
    Hyper-parameters are checked when the estimator is made and again before the net is built
    (``ValueError`` naming the parameter). Activities that overflow anyway raise
    ``FloatingPointError`` before that update is applied.

    See Also
    --------
    PiecewiseLinearEncoder : put it in front (``PiecewiseLinearEncoder() |
        FFClassifier(readout_lr=None)``) when the concept is made of thresholds on single
        features, as trees learn them. There the goodness alone predicts better (measured on
        the choosing seeds of ``ffstream bench drift``).
    """

    _multiclass = True

    def __init__(
        self,
        hidden: tuple[int, ...] = (32,),
        lr: float = 1.0,
        label_strength: float = 1.0,
        clip: float = 5.0,
        ema_decay: float | None = 0.999,
        ema_fallback_window: int | None = 500,
        readout_lr: float | None = 0.01,
        mode: str = "interleaved",
        seed: int | None = 0,
    ):
        self.hidden = hidden
        self.lr = lr
        self.label_strength = label_strength
        self.clip = clip
        self.ema_decay = ema_decay
        self.ema_fallback_window = ema_fallback_window
        self.readout_lr = readout_lr
        self.mode = mode
        self.seed = seed
        self._check_params()
        self._columns = FeatureColumns()
        self._classes: list[Hashable] = []
        self._class_index: dict[Hashable, int] = {}
        self._net: RiverFF | None = None
        self._readout: LeanReadout | None = None
        self._rows: np.ndarray | None = None  # (classes, features + classes) input rows
        self._rng = np.random.default_rng(seed)
        self._cache: tuple | None = None  # forward pass of predict_proba_one, for learn_one
        self._live_lead = 0.0  # how much more often the weights that learn were right lately
        # mode "awake-sleep": the core's schedule, and the samples awake since the last sleep
        self._schedule, self._awake = awake_sleep([])

    @classmethod
    def _unit_test_params(cls):
        yield {"hidden": (16,), "seed": 42}
        yield {"hidden": (16, 16), "lr": 0.5, "seed": 42}
        yield {"hidden": (16,), "ema_decay": None, "seed": 42}
        yield {"hidden": (16,), "ema_fallback_window": None, "seed": 42}
        yield {"hidden": (16,), "readout_lr": None, "seed": 42}
        yield {"hidden": (16,), "mode": "awake-sleep", "seed": 42}

    @property
    def _is_stochastic(self) -> bool:
        return True

    def _check_params(self) -> None:
        """Raise ``ValueError`` naming the first bad hyper-parameter; changes nothing."""
        check_hidden(self.hidden)
        for name in ("lr", "label_strength", "clip"):
            check_positive(getattr(self, name), name)
        check_ema_decay(self.ema_decay)
        check_fallback_window(self.ema_fallback_window)
        if self.readout_lr is not None:
            check_positive(self.readout_lr, "readout_lr")
        check_mode(self.mode)
        check_seed(self.seed)

    # ------------------------------------------------------------------ state
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_cache"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        if "readout_lr" not in state:  # pickled before the readout: it predicts as it did
            state.update(readout_lr=None, _readout=None)
        state.setdefault("mode", "interleaved")  # pickled before there was a choice
        # pickled before the average could step aside: it always predicts, as it did
        state.setdefault("ema_fallback_window", None)
        state.setdefault("_live_lead", 0.0)
        if "_schedule" not in state:  # pickled with its own list of awake samples
            state["_schedule"], state["_awake"] = awake_sleep(state.pop("_pending", []))
        self.__dict__.update(state)
        self._columns.scaler.clip = self.clip  # a standardiser converted from 0.1 has its own

    def _build(self) -> None:
        self._columns.scaler.clip = self.clip
        self._net = RiverFF(
            len(self._columns) + len(self._classes),
            self.hidden,
            lr=self.lr,
            seed=self.seed if self.seed is not None else int(self._rng.integers(2**31)),
            ema_decay=self.ema_decay,
            max_step=_MAX_STEP,
        )
        if self.readout_lr is not None:
            self._readout = LeanReadout(len(self._columns), len(self._classes), self.readout_lr)
        self._make_rows()

    def _make_rows(self) -> None:
        d, c = len(self._columns), len(self._classes)
        self._rows = np.zeros((c, d + c))
        self._rows[:, d:] = self.label_strength * np.eye(c)
        self._signs = 1.0 - 2.0 * np.eye(c)  # row k: -1 for the true label k, +1 for the others

    def _add_features(self, names: list[Hashable]) -> None:
        at = len(self._columns)
        self._columns.add(names)
        if self._net is not None:
            self._net.grow_inputs(at, len(names))
            self._make_rows()
        if self._readout is not None:
            self._readout.grow_inputs(at, len(names))
        self._awake.widen(len(names))  # appended: 0 (the running mean) in the awake samples

    def _add_class(self, label: Hashable) -> None:
        self._class_index[label] = len(self._classes)
        self._classes.append(label)
        if self._net is not None:
            fan_in = self._net.in_features
            init = self._rng.standard_normal((self._net.widths[0], 1)) / np.sqrt(fan_in + 1)
            self._net.grow_inputs(fan_in, 1, init=init)
            self._make_rows()
        if self._readout is not None:
            self._readout.grow_classes(1)

    # ------------------------------------------------------------------ inference
    def _forward(self, x: dict, averaged: bool = False):
        """Standardised values, the forward pass of every label's copy of them through the
        weights that learn, and (``averaged``) the goodness under the weight average."""
        v, present, _ = self._columns.read(x)
        u = self._columns.scaler.standardize_array(v, present)
        rows = self._rows
        rows[:, : len(u)] = u
        # Every row holds u and one label entry, so all rows share one RMS: compute it once.
        mean_square = (float(u @ u) + self.label_strength**2) / rows.shape[1]
        scale = 1.0 / math.sqrt(mean_square + 1e-8)
        ins, acts, good = self._net.forward(rows, scale=scale)
        avg_good = self._net.forward(rows, scale=scale, averaged=True)[2] if averaged else None
        return v, present, ins, acts, good, avg_good, u

    def _scores(self, out) -> tuple[np.ndarray, np.ndarray | None]:
        """Class logits of a forward pass under the weights that learn and under their average
        (``None`` without one): the goodness of every label, plus the readout's correction from
        the standardised sample."""
        correction = 0.0 if self._readout is None else self._readout(out[6])
        live = sum(out[4]) + correction
        return live, None if out[5] is None else sum(out[5]) + correction

    def _predicting(self, scores: tuple[np.ndarray, np.ndarray | None]) -> np.ndarray:
        """The logits that predict: the average's, unless the weights that learn have been
        right more often lately (:func:`~ffstream.stream.average.trusts`)."""
        live, averaged = scores
        if averaged is None or not trusts(self._live_lead, self.ema_fallback_window):
            return live
        return averaged

    def _keep_score(self, scores: tuple[np.ndarray, np.ndarray | None], target: int) -> None:
        """Count which of the two was right on a labelled sample (the learner core's rule,
        :func:`~ffstream.stream.average.lead_after`)."""
        live, averaged = scores
        if averaged is None or self.ema_fallback_window is None:
            return
        gap = float(live.argmax() == target) - float(averaged.argmax() == target)
        self._live_lead = lead_after(self._live_lead, gap, 1, self.ema_fallback_window)

    def predict_proba_one(self, x: dict) -> dict[Hashable, float]:
        if self._net is None:
            check_features(x)
            return {c: 1.0 / len(self._classes) for c in self._classes}
        out = self._forward(x, averaged=self.ema_decay is not None)
        scores = self._scores(out)
        logits = self._predicting(scores)
        p = np.exp(logits - logits.max())
        p /= p.sum()
        # learn_one's pass, if x follows
        self._cache = (out[0], out[1], len(self._classes), out, scores)
        return dict(zip(self._classes, p.tolist()))

    # ------------------------------------------------------------------ learning
    def learn_one(self, x: dict, y: Hashable) -> None:
        v, present, new = self._columns.read(x)  # validates x before anything changes
        check_label(y)
        if self._net is None:
            self._check_params()  # parameters may have been set by hand since __init__
        if y not in self._class_index:
            self._add_class(y)
        if new:
            self._add_features(new)
            self._cache = None
        if self._net is None:
            self._build()
        cache, self._cache = self._cache, None
        if (
            cache is not None
            and cache[2] == len(self._classes)
            and (cache[1] is None) == (present is None)
            and cache[0].tobytes() == v.tobytes()
        ):
            out, scores = cache[3:]
        else:
            out = self._forward(x, averaged=self.ema_decay is not None)
            scores = self._scores(out)
        v, present, ins, acts, good, _, u = out
        target = self._class_index[y]
        if self._readout is not None:  # from what it read before the layers learn, at the
            self._readout.step(u, target, self._predicting(scores))  # logits it predicted with
        self._keep_score(scores, target)
        weights = self._row_weights(good, target)
        asleep_later = self.mode == "awake-sleep"
        if asleep_later:
            weights *= self._signs[target] < 0  # awake: the true label's row alone
            remember_labelled(self._awake, u, target)
        self._net.update(ins, acts, self._dgood(good, target, weights))
        self._columns.scaler.update_array(v, present)
        if asleep_later and self._schedule.after_observe(1, None) != 0:
            self._sleep()

    def _row_weights(self, good: list[np.ndarray], target: int) -> np.ndarray:
        """How much each label's row counts: 1 for the true label; each wrong label weighted
        by how plausible the model finds it (hard negatives in expectation; 1 when there is
        only one wrong label)."""
        if len(self._classes) <= 2:
            return np.ones(len(self._classes))
        weights = wrong_label_belief(sum(good), target)
        weights[target] = 1.0
        return weights

    def _dgood(self, good: list[np.ndarray], target: int, weights: np.ndarray) -> list:
        """dL/dgoodness of the logistic FF loss, row by row: softplus(1 - g) pushes the true
        label's row up, softplus(g - 1) the wrong labels' rows down, summed over rows."""
        sign = self._signs[target]
        return [logistic_dgood(g, sign) * weights for g in good]

    def _sleep(self) -> None:
        """Mode ``"awake-sleep"``: the wrong labels of the samples since the last sleep, pushed
        down in one update (the loss sums over rows: the push of their interleaved negatives)."""
        n = len(self._awake)
        frames, targets = self._awake.frames[:n].numpy(), self._awake.labels[:n].tolist()
        self._awake.clear()
        c, d = len(self._classes), len(self._columns)
        rows = np.zeros((n * c, d + c))
        rows[:, :d] = np.repeat(frames, c, axis=0)
        rows[:, d:] = np.tile(self.label_strength * np.eye(c), (n, 1))
        ins, acts, good = self._net.forward(rows)
        dgood = [np.empty(len(rows)) for _ in good]
        for i, target in enumerate(targets):
            part = slice(i * c, (i + 1) * c)
            mine = [g[part] for g in good]
            weights = self._row_weights(mine, target) * (self._signs[target] > 0)
            for out, dg in zip(dgood, self._dgood(mine, target, weights)):
                out[part] = dg
        self._net.update(ins, acts, dgood)
