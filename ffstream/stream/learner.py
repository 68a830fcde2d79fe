"""StreamLearner: online FF learning, awake on real frames and asleep on its own dreams."""

from __future__ import annotations

import contextlib
import functools
import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ffstream._checks import as_frames, as_labels
from ffstream.data.transforms import random_shift
from ffstream.ff import FFNet, Goodness, LinearReadout, OneHotAppend
from ffstream.ff.negatives import hard_wrong_labels
from ffstream.stream._learner_state import (
    apply_learner_state,
    check_learner_state,
    learner_state,
    saved_config,
)
from ffstream.stream.checkpoint import (
    as_current,
    envelope,
    from_spec,
    read_learner_checkpoint,
    write_learner_checkpoint,
)
from ffstream.stream.config import LearnerConfig
from ffstream.stream.dreams import Dreams, HybridDreams, WrongLabelDreams
from ffstream.stream.memory import ClassBalancedMemory, RecentMemory, ReservoirMemory
from ffstream.stream.schedules import EveryN, Schedule

__all__ = ["StreamLearner", "Observation"]


@dataclass(frozen=True)
class Observation:
    """What :meth:`StreamLearner.observe` saw, for each frame of the batch.

    Attributes
    ----------
    goodness
        Per-layer goodness, shape ``(batch, num_layers)``, before learning from the frame.
    novelty
        ``-log p(real)`` summed over layers (higher = more unfamiliar), shape ``(batch,)``.
    prediction
        Predicted class before learning from the frame (prequential), or None without classes.
        With ``ema_decay`` it is the weight average's prediction.
    slept
        Whether a sleep phase ran after this batch.
    """

    goodness: torch.Tensor
    novelty: torch.Tensor
    prediction: torch.Tensor | None
    slept: bool


def _locked(method):
    """Run ``method`` holding the learner's lock, so concurrent calls take turns, with torch
    limited to the learner's CPU threads for the call."""

    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._lock, cpu_threads(self.threads if self.device.type == "cpu" else None):
            return method(self, *args, **kwargs)

    return locked


@contextlib.contextmanager
def cpu_threads(threads: int | None) -> Iterator[None]:
    """Let torch use ``threads`` CPU threads inside the block, then restore the setting.

    ``None`` leaves torch's setting alone. Setting it costs well under a microsecond, so a
    learner can scope every call.
    """
    before = torch.get_num_threads()
    if threads is None or threads == before:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _check_threads(threads: int | None) -> int | None:
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ValueError(f"threads must be None or an int >= 1, got {threads!r}")
    return threads


def _resolve_device(device: str | torch.device | None) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class StreamLearner:
    """An online Forward-Forward learner for unbounded streams.

    Awake, every observed frame gets a *positive* local update (labelled frames carry their true
    label) and goes into a bounded memory. When the ``schedule`` says so the learner sleeps:
    it replays remembered frames as positives beside *dreams* it generates itself as negatives
    (wrong labels it finds plausible, hybrids of memories, or its own goodness-ascent samples).

    Parameters
    ----------
    in_features
        Features per frame, or a frame shape such as ``(28, 28)`` (frames are flattened).
    num_classes
        Number of classes for labelled streams; ``None`` for unlabelled sensor streams.
    hidden
        Hidden layer widths. ``None`` (the default) sizes two layers from the input
        (:func:`~ffstream.stream.config.default_hidden`: 4 units per feature, within [32, 500]).
    schedule
        When to sleep (default: :class:`~ffstream.stream.schedules.EveryN` 1,000 frames).
    dreams
        Dream generator (default: hard wrong labels when labelled, hybrids otherwise).
    memory_capacity
        Long-term memory in frames.
    balanced_memory
        Keep an equal share of the long-term memory per class seen
        (:class:`~ffstream.stream.memory.ClassBalancedMemory`; labelled streams) instead of a
        uniform reservoir sample of the stream, so classes that appear late get their share at
        once.
    recent_capacity
        Short-term memory of frames since the last sleep, replayed during sleep.
    long_term_share
        Share of each sleep batch recalled from the long-term memory; the rest comes from the
        frames since the last sleep. The default 0.5 weighs the present and the past alike. On
        a stream of changing tasks a larger share (with a smaller ``lr``) forgets less; the
        ``permuted-mnist`` suite measures it (``ffstream bench permuted-mnist``).
    replay
        Replay remembered frames as positives beside the dream negatives while asleep.
    sleep_batch
        Remembered frames per sleep step (each beside its dream). More frames per step cost a
        little time and learn more from the memory (``ffstream bench stream-mnist
        --sleep-batch N`` measures it).
    replay_shift
        Move each frame replayed in sleep by a fresh random offset of up to this many pixels
        along each axis (:func:`~ffstream.data.random_shift`); the memory keeps the original.
        Needs image frames (``in_features`` given as ``(height, width)`` or ``(channels,
        height, width)``). Small shifts help class-incremental image streams forget less
        (``ffstream bench split-mnist --replay-shift 1``); 0 (the default) replays frames as
        stored.
    lr, optimizer, momentum
        Local optimizer of the FF layers (``"adam"``, ``"adamw"`` or ``"sgd"``); ``momentum``
        is SGD's momentum or Adam's first-moment decay (beta 1).
    readout_lr
        SGD step of the linear readout (labelled streams).
    readout_learns
        When the readout learns. ``"always"`` (default): from every labelled frame as it
        arrives, and from replayed memories while asleep. ``"asleep"``: only while asleep, from
        the long-term memory (a sample of the whole stream so far), so a long run of frames from
        a few classes cannot tilt it toward them. For class-incremental streams use it with
        ``balanced_memory=True``, so new classes are learned from their share of the memory
        at the first sleep (``ffstream bench split-mnist`` measures it). The readout learns
        nothing before the first sleep, so it needs a schedule that sleeps (not
        :class:`~ffstream.stream.schedules.Interleaved`).
    readout_batch
        Long-term memories per readout step while asleep, with ``readout_learns="asleep"``
        (``None``: ``sleep_batch``). The readout learns only from the memory then, so it gains
        from seeing more of it per step (``ffstream bench split-mnist --ff-readout-batch N``).
    goodness
        ``"sum"`` of squares with threshold = width (Hinton's convention) or ``"mean"``.
    predict_with
        ``"readout"`` (one pass with the neutral label and a linear softmax on the normalised
        activities, trained locally; the default: it is C times cheaper and, on streams, it is
        right long before the goodness of every label is) or ``"goodness"`` (try every label;
        on long streams it can overtake the readout, see ``goodness_layers``).
    goodness_layers
        Whose goodness ``predict_with="goodness"`` sums per label: ``"above-first"`` (every
        layer but the first, Hinton's convention, the default) or ``"all"``. On long streams
        of changing tasks the first layer's goodness can carry much of the label, so ``"all"``
        helps there (``ffstream bench permuted-mnist --ff-goodness-layers all``); on short
        streams it can cost a little.
    ema_decay
        Predict and score with an exponential moving average of the weights (layers and
        readout; ``torch.optim.swa_utils.AveragedModel``), updated after every awake and sleep
        step with this decay; learning moves the weights themselves and never reads the
        average. The average smooths the jitter of constant-step updates, which raises final
        accuracy on the continual suites (``--ff-ema-decay``). It trails the weights by about
        ``1 / (1 - ema_decay)`` steps, though, so right after an abrupt change it answers as
        before, and prequential accuracy (the answers given while the stream runs) falls.
        ``None`` (the default) predicts with the latest weights.
    device
        ``"cpu"``, ``"cuda"``, ... or ``"auto"``.
    threads
        CPU threads torch may use inside each of this learner's calls (on the CPU; restored
        after each call). 1 by default: small nets at small batches run fastest on one thread,
        and more threads on a shared machine mostly wait for each other. Give more for wide
        nets or large batches, or ``None`` to leave torch's process-wide setting as it is.
        The setting is process-wide while a call runs, so other threads' torch work shares it.
    seed
        Seeds weights and every random choice; a seeded learner is reproducible on CPU.

    Notes
    -----
    FF with positive and negative phases separated in time has been reported to fail (Hinton
    2022, section 5; Lică & Dinucu-Jianu 2023). Three choices make it work here, each measured
    in BENCHMARKS.md: sleep *replays* remembered frames as positives beside the dreams; a full
    sleep makes as many steps as there were awake updates since the last one, so neither phase
    outweighs the other; and each dream is made from the very memory it is contrasted with (the
    same frame with a wrong label), so the contrast is as small as the change the dream made.

    One learner may be shared by threads: :meth:`observe`, :meth:`sleep`, :meth:`predict`,
    :meth:`predict_proba`, :meth:`score`, :meth:`class_scores`, :meth:`state_dict`,
    :meth:`save` and :meth:`load_state_dict` hold the learner's re-entrant lock, so concurrent
    calls take turns (they are serialised, not run in parallel).

    Its hyper-parameters live in :attr:`config`, a checked :class:`LearnerConfig` (also made
    directly and passed to :meth:`from_config`); ``learner.config["lr"]`` reads it like a dict.

    Examples
    --------
    >>> learner = StreamLearner(in_features=4, num_classes=2, hidden=(16, 16), seed=0)
    >>> out = learner.observe([0.1, 0.9, 0.2, 0.4], y=1)
    >>> out.goodness.shape, out.prediction.shape, out.slept
    (torch.Size([1, 2]), torch.Size([1]), False)
    >>> learner.predict_proba([[0.1, 0.9, 0.2, 0.4]]).shape
    torch.Size([1, 2])
    """

    def __init__(
        self,
        in_features: int | Sequence[int],
        num_classes: int | None = None,
        *,
        hidden: Sequence[int] | None = None,
        schedule: Schedule | None = None,
        dreams: Dreams | None = None,
        memory_capacity: int = 2000,
        balanced_memory: bool = False,
        recent_capacity: int = 1000,
        long_term_share: float = 0.5,
        replay: bool = True,
        sleep_batch: int = 32,
        replay_shift: int = 0,
        lr: float = 3e-4,
        readout_lr: float = 0.01,
        readout_learns: Literal["always", "asleep"] = "always",
        readout_batch: int | None = None,
        optimizer: str = "adam",
        momentum: float = 0.9,
        goodness: Literal["sum", "mean"] = "sum",
        predict_with: Literal["goodness", "readout"] = "readout",
        goodness_layers: Literal["all", "above-first"] = "above-first",
        ema_decay: float | None = None,
        device: str | torch.device | None = "auto",
        threads: int | None = 1,
        seed: int | None = 0,
    ):
        # Every argument but the objects and placements (schedule, dreams, device, threads) is a
        # hyper-parameter: LearnerConfig's.
        options = {k: v for k, v in locals().items() if k in LearnerConfig.__dataclass_fields__}
        self._build(LearnerConfig(**options), schedule, dreams, device, threads)

    @classmethod
    def from_config(
        cls,
        config: LearnerConfig,
        *,
        schedule: Schedule | None = None,
        dreams: Dreams | None = None,
        device: str | torch.device | None = "auto",
        threads: int | None = 1,
    ) -> StreamLearner:
        """A learner with the hyper-parameters of ``config`` (a :class:`LearnerConfig`).

        Examples
        --------
        >>> cfg = LearnerConfig(in_features=4, num_classes=2, hidden=(16,))
        >>> StreamLearner.from_config(cfg, device="cpu").config == cfg
        True
        """
        if not isinstance(config, LearnerConfig):
            raise ValueError(f"config must be a LearnerConfig, got {type(config).__name__}")
        learner = cls.__new__(cls)
        learner._build(config, schedule, dreams, device, threads)
        return learner

    def _build(self, cfg: LearnerConfig, schedule, dreams, device, threads) -> None:
        """Make every part from the (already checked) config."""
        self.threads = _check_threads(threads)
        self._lock = threading.RLock()
        self.config = cfg
        self.frame_shape = cfg.in_features
        self.num_features = math.prod(self.frame_shape)
        self.num_classes = num_classes = cfg.num_classes
        self.device = _resolve_device(device)
        # Without a seed, a fresh one from the OS: the process-wide RNG is never read or reseeded.
        seed = cfg.seed if cfg.seed is not None else torch.Generator().seed()
        self.generator = torch.Generator()
        self.generator.manual_seed(seed)
        label_inputs = num_classes or 0  # labels are appended to the features, never overlaid
        self.net = FFNet.mlp(
            [self.num_features + label_inputs, *cfg.hidden],
            seed=seed,
            device=self.device,
            lr=cfg.lr,
            optimizer=cfg.optimizer,
            momentum=cfg.momentum,
            goodness=Goodness(cfg.goodness),
        )
        self.encoding = OneHotAppend(num_classes) if num_classes else None
        self._thresholds = torch.tensor(
            [self.net.goodness_fn.threshold_for(width) for width in cfg.hidden], device=self.device
        )
        self.readout = None
        if num_classes:
            hidden = cfg.hidden
            width = sum(hidden[1:]) if len(hidden) > 1 else hidden[0]
            self.readout = LinearReadout(width, num_classes, lr=cfg.readout_lr).to(self.device)
        self.schedule = schedule if schedule is not None else EveryN(1000)
        if cfg.readout_learns == "asleep" and self.schedule.interleaved:
            raise ValueError(
                "readout_learns='asleep' needs a schedule that sleeps (not Interleaved)"
            )
        self.dreams = (
            dreams
            if dreams is not None
            else (WrongLabelDreams() if num_classes else HybridDreams())
        )
        if self.dreams.needs_labels and not num_classes:
            raise ValueError(f"{type(self.dreams).__name__} needs num_classes")
        capacity = cfg.memory_capacity
        balanced = cfg.balanced_memory
        self.memory = ClassBalancedMemory(capacity) if balanced else ReservoirMemory(capacity)
        self.recent = RecentMemory(cfg.recent_capacity)
        self.long_term_share = cfg.long_term_share
        self.replay = cfg.replay
        self.sleep_batch = cfg.sleep_batch
        self.replay_shift = cfg.replay_shift
        self.predict_with = cfg.predict_with
        self.goodness_layers = cfg.goodness_layers
        self.readout_learns = cfg.readout_learns
        self.readout_batch = cfg.readout_batch if cfg.readout_batch is not None else cfg.sleep_batch
        self.frames_seen = 0
        self.sleeps = 0
        self.awake_updates = 0  # since the last sleep: a full sleep makes as many steps
        # What learns, as one module, and (with ema_decay) its moving average, which predicts.
        self._learning = nn.ModuleDict({"net": self.net})
        if self.readout is not None:
            self._learning["readout"] = self.readout
        self.averaged = None
        if cfg.ema_decay is not None:
            self.averaged = AveragedModel(
                self._learning, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay)
            )

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        del state["_lock"]  # a lock cannot be pickled or copied: each copy gets its own
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ input
    def check_frames(self, x, name: str = "x") -> torch.Tensor:
        """Validate and convert frames to a flat ``(batch, num_features)`` tensor."""
        t = as_frames(x, self.frame_shape, device=self.device, name=name)
        return t.reshape(t.shape[0], self.num_features)

    def _encode(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return x if y is None or self.encoding is None else self.encoding.encode(x, y)

    # ------------------------------------------------------------------ inference
    def goodness_of(self, x: torch.Tensor, y: torch.Tensor | None = None, grad: bool = False):
        """Per-layer goodness of flat frames ``x`` (with labels ``y`` embedded, if given).

        ``grad=True`` keeps the graph with respect to ``x`` (used by Langevin dreams; the
        weights are never updated through it). These are the weights that learn, not their
        average: dreams are part of learning.
        """
        x = self._encode(x, y)
        return self.net.goodness_with_grad(x) if grad else self.net.goodness(x)

    def _predictor(self) -> tuple[FFNet, LinearReadout | None]:
        """The layers and readout that predict and score: the weight average, if kept."""
        if self.averaged is None:
            return self.net, self.readout
        modules = self.averaged.module
        return modules["net"], None if self.readout is None else modules["readout"]

    def _update_average(self) -> None:
        """After each awake or sleep step: move the weight average (if kept) toward them."""
        if self.averaged is not None:
            self.averaged.update_parameters(self._learning)

    def _novelty(self, goodness: torch.Tensor) -> torch.Tensor:
        return F.softplus(self._thresholds - goodness).sum(1)

    @_locked
    def class_scores(self, x: torch.Tensor, *, latest: bool = False) -> torch.Tensor:
        """Class scores (logits) of flat frames, shape ``(batch, num_classes)``.

        With ``ema_decay`` they come from the weight average, unless ``latest``: then from the
        weights that learn, as everything that is part of learning (dreams) needs them.
        """
        if self.encoding is None:
            raise ValueError("this learner has no classes (num_classes=None)")
        if latest:
            return self._class_scores(x, self.net, self.readout)
        return self._class_scores(x, *self._predictor())

    @torch.no_grad()
    def _class_scores(self, x: torch.Tensor, net: FFNet, readout: LinearReadout | None):
        if self.predict_with == "readout":
            return readout(net.features(self.encoding.neutral(x)))
        goodness = net.goodness(self.encoding.all_labels(x))
        first = 1 if self.goodness_layers == "above-first" and goodness.shape[1] > 1 else 0
        return goodness[:, first:].sum(1).view(self.num_classes, x.shape[0]).T

    @_locked
    def predict_proba(self, x) -> torch.Tensor:
        """Class probabilities for one frame or a batch, shape ``(batch, num_classes)``.

        The softmax of the readout's logits (``predict_with="readout"``) or of the summed goodness
        per label (``"goodness"``; sums of squares make that softmax sharp: it ranks classes but
        is calibrated only roughly).
        """
        return torch.softmax(self.class_scores(self.check_frames(x)), dim=1)

    @_locked
    def predict(self, x) -> torch.Tensor:
        """Most likely class of one frame or a batch, shape ``(batch,)``."""
        return self.class_scores(self.check_frames(x)).argmax(1)

    @_locked
    @torch.no_grad()
    def score(self, x) -> torch.Tensor:
        """Novelty of each frame: ``-log p(real)`` summed over layers; higher = more unfamiliar.

        Labelled learners score a frame by its most plausible label.
        """
        x = self.check_frames(x)
        net = self._predictor()[0]
        if self.encoding is None:
            return self._novelty(net.goodness(x))
        goodness = net.goodness(self.encoding.all_labels(x))
        novelty = self._novelty(goodness).view(self.num_classes, x.shape[0])
        return novelty.min(0).values

    # ------------------------------------------------------------------ memory
    def recall(self, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``n`` remembered frames: ``long_term_share`` of them long-term, the rest recent.

        Falls back on whichever memory has frames when the other is empty.
        """
        n_old = math.floor(n * self.long_term_share) if len(self.memory) else 0
        if len(self.recent) == 0 or n_old == n:
            return self.memory.sample(n, self.generator)
        x, y = self.recent.sample(n - n_old, self.generator)
        if n_old == 0:
            return x, y
        x_old, y_old = self.memory.sample(n_old, self.generator)
        labels = None if y is None or y_old is None else torch.cat([y, y_old])
        return torch.cat([x, x_old]), labels

    # ------------------------------------------------------------------ learning
    @_locked
    def observe(self, x, y=None) -> Observation:
        """Learn from one frame or a batch: predict first, then a positive update (awake).

        Remembers the frames, advances the schedule and sleeps when it is due. Bad input raises
        ``ValueError`` before anything changes. Everything that learns (hard negatives, the
        schedule's error signal) reads the weights themselves; with ``ema_decay`` the
        prediction returned is the weight average's.
        """
        x = self.check_frames(x)
        labels = None
        if y is None and self.num_classes is not None:
            raise ValueError(
                f"this learner has num_classes={self.num_classes}: give the labels y with x"
            )
        if y is not None:
            if self.num_classes is None:
                raise ValueError("got labels, but this learner has num_classes=None")
            labels = as_labels(y, x.shape[0], self.num_classes, device=self.device)
        scores = features = None
        if labels is not None and self.predict_with == "readout":
            features = self.net.features(self.encoding.neutral(x))
            with torch.no_grad():
                scores = self.readout(features)
        elif labels is not None:
            scores = self.class_scores(x, latest=True)
        prediction = scores.argmax(1) if scores is not None else None
        reported = prediction
        if prediction is not None and self.averaged is not None:
            reported = self.class_scores(x).argmax(1)

        pos = self._encode(x, labels)
        neg = None
        if self.schedule.interleaved:
            neg = self._encode(*self._interleaved_negatives(x, labels, scores))
        stats = self.net.step(pos=pos, neg=neg, check=False)  # x was validated above
        self.awake_updates += 1
        if labels is not None and self.readout_learns == "always":
            # The readout learns from the features it just predicted with (no second pass).
            if features is None:
                features = self.net.features(self.encoding.neutral(x))
            self.readout.step(features, labels, logits=scores)
        self._update_average()

        self.memory.add(x, labels, self.generator)
        self.recent.add(x, labels, self.generator)
        self.frames_seen += x.shape[0]
        novelty = self._novelty(stats.pos_goodness)
        signal = None
        if self.schedule.uses_signal:
            error = None if labels is None else (prediction != labels).float().mean()
            signal = float(error if error is not None else novelty.mean())
        due = self.schedule.after_observe(x.shape[0], signal)
        slept = due != 0
        if slept:
            self.sleep(due)
        return Observation(stats.pos_goodness, novelty, reported, slept)

    def _interleaved_negatives(self, x, labels, scores):
        """The interleaved baseline's negatives: dreams of this very frame."""
        if scores is not None and isinstance(self.dreams, WrongLabelDreams) and self.dreams.hard:
            return x, hard_wrong_labels(scores, labels, self.generator)  # scores already known
        if len(self.memory) == 0:  # hybrids need a second memory: this frame is all we know
            self.memory.add(x, labels, self.generator)
        return self.dreams.generate(self, x, labels)

    @_locked
    def sleep(self, steps: int | None = None) -> int:
        """Run a sleep phase now: ``steps`` negative updates on dreams. Returns the steps made.

        ``None`` (a full sleep) makes as many sleep steps as there were awake updates since the
        last sleep. Each local step moves the weights by a similar amount whatever its batch
        size (the losses are batch means, and Adam normalises step sizes), so this balance is
        what keeps separated phases from drifting: fewer sleep steps than awake steps leave
        a net push toward "everything is good".
        """
        if len(self.memory) == 0:
            return 0
        if steps is None:
            steps = max(1, self.awake_updates)
        for _ in range(steps):
            x, y = self.recall(self.sleep_batch)
            x = self._varied(x)
            x_neg, y_neg = self.dreams.generate(self, x, y)
            pos = self._encode(x, y) if self.replay else None  # each memory beside its dream
            self._readout_sleep_step(x, y)
            self.net.step(pos=pos, neg=self._encode(x_neg, y_neg), check=False)
            self._update_average()
        self.recent.clear()
        self.awake_updates = 0
        self.sleeps += 1
        return steps

    def _varied(self, x: torch.Tensor) -> torch.Tensor:
        """Remembered flat frames as replayed: each shifted afresh if ``replay_shift``."""
        if not self.replay_shift:
            return x
        images = x.view(x.shape[0], *self.frame_shape)
        return random_shift(images, self.replay_shift, self.generator).view_as(x)

    def _readout_sleep_step(self, x: torch.Tensor, y: torch.Tensor | None) -> None:
        """One readout step while asleep: on the recalled frames, or on long-term memories."""
        if y is None or self.readout is None:
            return
        if self.readout_learns == "asleep":
            x, y = self.memory.sample(self.readout_batch, self.generator)
            x = self._varied(x)
        elif not self.replay:
            return
        self.readout.step(self.net.features(self.encoding.neutral(x)), y)

    # ------------------------------------------------------------------ checkpoints
    @_locked
    def state_dict(self) -> dict:
        """Everything needed to continue bit-identically, in the checkpoint schema.

        Plain data and tensors only (see :mod:`ffstream.stream.checkpoint`); :meth:`save`
        adds the checksum when it writes the file.
        """
        return envelope("StreamLearner", self.config.to_dict(), learner_state(self))

    @_locked
    def save(self, path) -> None:
        """Write a checkpoint atomically (temporary file, then rename), with its checksum."""
        write_learner_checkpoint(path, self.state_dict())

    @classmethod
    def load(cls, path, *, device=None, threads=1, schedule=None, dreams=None) -> StreamLearner:
        """Rebuild a learner from :meth:`save`'s file (or an ffstream 0.1.0 one).

        Custom schedules or dream generators cannot live in a safe checkpoint; pass them again
        (their state is restored into them). ``device`` overrides the saved device; ``threads`` is
        the constructor's. The file is
        checked whole (checksum, config, every shape) before it is used; ``ValueError`` names
        what is wrong. Loading leaves the process-wide torch RNG as it was.
        """
        payload = read_learner_checkpoint(path, "StreamLearner")
        config = saved_config(payload["config"])
        state = payload["state"]
        schedule = schedule if schedule is not None else from_spec(state.get("schedule"))
        dreams = dreams if dreams is not None else from_spec(state.get("dreams"))
        with torch.random.fork_rng(devices=[]):  # torch's default layer inits draw globally
            learner = cls.from_config(
                config, schedule=schedule, dreams=dreams, device=device, threads=threads
            )
        learner.load_state_dict(payload)
        return learner

    @_locked
    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s output (or an ffstream 0.1.0 one) into this learner.

        Everything is checked first (config equal to this learner's, every tensor's shape and
        dtype, memories, counters, generator state): on a mismatch ``ValueError`` names it and
        the learner is left exactly as it was.
        """
        saved = check_learner_state(self, as_current(state, "StreamLearner"))
        apply_learner_state(self, saved)
