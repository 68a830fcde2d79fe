"""FFAnomalyDetector: Forward-Forward novelty as a river anomaly detector."""

from __future__ import annotations

import numpy as np
from river import base

from ffstream._checks import check_hidden, check_int, check_positive, check_seed
from ffstream.ff._numpy import logistic_dgood
from ffstream.river._dreaming import DreamSupply
from ffstream.river._engine import RiverFF, sigmoid
from ffstream.river._features import SLEEP_EVERY, FeatureColumns, check_features, check_mode
from ffstream.stream.dreams import HybridDreams
from ffstream.stream.schedules import EveryN

__all__ = ["FFAnomalyDetector"]

#: Goodness is a mean square per layer (threshold 1): its spread is small, so the logistic
#: p(unreal) = sigmoid(T * (1 - goodness)) is sharpened by T to use more of [0, 1].
_TEMPERATURE = 4.0

#: Share of the dreams also scaled up (see HybridDreams): they teach that too-large is unreal.
_MAGNIFY = 0.5


class FFAnomalyDetector(base.AnomalyDetector):
    """Online anomaly detector: how far a sample's FF goodness falls below the threshold.

    Each sample is standardised online by the library's standardiser (a forgetting mean and
    variance per feature, winsorised against outliers, values clipped to ``±clip``; see
    :class:`~ffstream.stream.standardizer.InputStandardizer`: an anomaly, however large, cannot
    spoil a feature's scale for the samples after it) and a constant entry
    is appended before the net's RMS normalisation, so the normalised frame still carries the
    sample's magnitude (as the share of that constant); without it, goodness would ignore how
    large a deviation is. ``score_one`` returns the mean
    over layers of ``p(unreal) = sigmoid(4 * (1 - goodness))`` (mean goodness, threshold 1): a
    score in ``[0, 1]``, as river's ``metrics.ROCAUC`` expects (it bins scores on ``[0, 1]``).

    ``learn_one`` makes one local FF update per layer with the sample as a positive. Its
    negatives are dreams, each made from two recent samples mixed feature by feature through a
    random mask (Hinton's hybrid negatives for flat frames: each value realistic, the
    correlations between features broken); half of the dreams are also scaled up 1.6 to 7.4
    times, which teaches the net that too-large frames are unreal. By default a sleep every 32
    samples pushes 32 dreams down in one update (``mode``); ``"interleaved"`` pairs each sample
    with a dream instead. Negatives as often as positives are what stop a long run of
    positive-only updates from making every input "good". The memory and the dreams are the
    learner core's (:class:`~ffstream.stream.memory.RecentMemory`,
    :class:`~ffstream.stream.dreams.HybridDreams` with ``magnify=0.5``), made 32 samples at a
    time; the layers are an :class:`~ffstream.ff.FFNet` learning through the library's NumPy
    FF engine (``ffstream.ff._numpy``; ``tests/test_river_engine_equivalence.py`` checks it
    against the torch path).

    Features that appear later get new input columns with zero weights; missing features count
    as their running mean (0 after standardisation). Bad input is refused before anything is
    learned: ``NaN``/``inf``, non-numeric values and integers too large for a float raise
    ``ValueError`` naming the feature, a sample that is not a dict raises ``TypeError``.
    Hyper-parameters are checked when the detector is made and again before the net is built
    (``ValueError`` naming the parameter).

    Parameters
    ----------
    hidden
        Widths of the FF layers.
    lr
        Step size of the local SGD updates.
    clip
        Standardised values are clipped to ``[-clip, clip]``.
    memory
        Recent samples kept for the hybrid dreams (at least 2: a dream mixes two).
    mode
        ``"awake-sleep"`` (the default): each sample makes a positive update alone, and every
        32 samples a sleep makes one negative update on 32 dreams (the same push down, in one
        step). ``"interleaved"``: each update pairs the sample with a dream. The two score
        alike on the sensor stream of ``ffstream bench streams`` (validation seeds); the
        default is the product's schedule, and the faster.
    seed
        Seeds the initial weights and the dreams.

    Examples
    --------
    >>> import random
    >>> from river import metrics
    >>> from ffstream.river import FFAnomalyDetector
    >>> rng = random.Random(0)
    >>> detector, auc = FFAnomalyDetector(seed=0), metrics.ROCAUC()
    >>> for t in range(2000):
    ...     a = rng.gauss(0, 1)
    ...     x = {"a": a, "b": a + rng.gauss(0, 0.1), "c": rng.gauss(0, 1)}
    ...     anomalous = t > 500 and t % 50 == 0
    ...     if anomalous:
    ...         x["c"] += 6.0  # a spike
    ...     auc.update(anomalous, detector.score_one(x))
    ...     detector.learn_one(x)
    >>> bool(auc.get() > 0.9)
    True
    """

    def __init__(
        self,
        hidden: tuple[int, ...] = (32,),
        lr: float = 0.1,
        clip: float = 10.0,
        memory: int = 256,
        mode: str = "awake-sleep",
        seed: int | None = 0,
    ):
        self.hidden = hidden
        self.lr = lr
        self.clip = clip
        self.memory = memory
        self.mode = mode
        self.seed = seed
        self._check_params()
        self._columns = FeatureColumns()
        self._net: RiverFF | None = None
        self._rng = np.random.default_rng(seed)
        self._supply: DreamSupply | None = None  # made with the net: `memory` may be set by hand
        self._schedule = EveryN(frames=SLEEP_EVERY)  # the sleeps of mode "awake-sleep"

    def __setstate__(self, state: dict) -> None:
        if "_memory" in state:  # pickled by ffstream 0.1: a numpy ring of recent samples
            state["_supply"] = _supply_from_ring(state)
        state.setdefault("mode", "interleaved")  # pickled before there was a choice: as it was
        if "_schedule" not in state:  # pickled with its own count of samples since a sleep
            state["_schedule"] = EveryN(frames=SLEEP_EVERY)
            state["_schedule"].load_state_dict({"since": state.pop("_awake", 0)})
        self.__dict__.update(state)
        self._columns.scaler.clip = self.clip  # a standardiser converted from 0.1 has its own

    @classmethod
    def _unit_test_params(cls):
        yield {"hidden": (16,), "seed": 42}
        yield {"hidden": (16, 16), "memory": 32, "seed": 42}
        yield {"hidden": (16,), "mode": "interleaved", "seed": 42}

    def _check_params(self) -> None:
        """Raise ``ValueError`` naming the first bad hyper-parameter; changes nothing."""
        check_hidden(self.hidden)
        check_positive(self.lr, "lr")
        check_positive(self.clip, "clip")
        check_int(self.memory, "memory", low=2)
        check_mode(self.mode)
        check_seed(self.seed)

    @property
    def _is_stochastic(self) -> bool:
        return True

    def _frame(self, u: np.ndarray) -> np.ndarray:
        """One input row: the standardised sample and the constant that keeps its magnitude."""
        z = np.empty((1, len(u) + 1))
        z[0, :-1] = u
        z[0, -1] = 1.0
        return z

    def _standardised(self, x: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        v, present, _ = self._columns.read(x)
        return v, self._columns.scaler.standardize_array(v, present), present

    def score_one(self, x: dict) -> float:
        if self._net is None:
            check_features(x)
            return 0.0
        _, u, _ = self._standardised(x)
        _, _, good = self._net.forward(self._frame(u))
        return float(sum(sigmoid(_TEMPERATURE * (1.0 - g[0])) for g in good)) / len(good)

    def learn_one(self, x: dict) -> None:
        _, _, new = self._columns.read(x)  # validates x before anything changes
        if self._net is None:
            self._check_params()  # parameters may have been set by hand since __init__
        if new:
            at = len(self._columns)
            self._columns.add(new)
            if self._net is not None:
                self._net.grow_inputs(at, len(new))
            if self._supply is not None:
                self._supply.widen(len(new))
        if self._net is None:
            self._build()
        v, u, present = self._standardised(x)
        rows = [self._frame(u)]
        dream = self._supply.next_dream() if self.mode == "interleaved" else None
        if dream is not None:
            rows.append(self._frame(dream))
        self._step(np.concatenate(rows), n_pos=1)
        self._supply.remember(u)
        self._columns.scaler.update_array(v, present)
        if self.mode == "awake-sleep" and self._schedule.after_observe(1, None) != 0:
            self._sleep()

    def _step(self, z: np.ndarray, n_pos: int) -> None:
        """One local update: the first ``n_pos`` rows pushed up, the rest down."""
        ins, acts, good = self._net.forward(z)
        sign = np.where(np.arange(len(z)) < n_pos, -1.0, 1.0)
        self._net.update(ins, acts, [logistic_dgood(g, sign) for g in good])

    def _sleep(self) -> None:
        """As many dreams as samples since the last sleep, pushed down in one update (the
        logistic loss sums over rows: the same push as that many interleaved negatives)."""
        dreams = [self._supply.next_dream() for _ in range(self._schedule.frames)]
        rows = [self._frame(d) for d in dreams if d is not None]  # none before two memories
        if rows:
            self._step(np.concatenate(rows), 0)

    def _build(self) -> None:
        seed = self.seed if self.seed is not None else int(self._rng.integers(2**31))
        self._columns.scaler.clip = self.clip
        self._net = RiverFF(len(self._columns) + 1, self.hidden, lr=self.lr, seed=seed)
        dreams = HybridDreams(magnify=_MAGNIFY)
        self._supply = DreamSupply(self.memory, dreams, seed=seed, batch=SLEEP_EVERY)


def _supply_from_ring(state: dict) -> DreamSupply:
    """The numpy ring of recent samples of an ffstream 0.1 pickle, as a DreamSupply."""
    ring, count = state.pop("_memory"), state.pop("_remembered")
    seed = int(state["_rng"].integers(2**31))
    supply = DreamSupply(state["memory"], HybridDreams(magnify=_MAGNIFY), seed=seed)
    if len(ring):
        order = np.roll(np.arange(len(ring)), -(count % len(ring)))  # oldest first
        supply.pending = list(ring[order].astype(np.float32))
    return supply
