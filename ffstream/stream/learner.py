"""StreamLearner: online FF learning, awake on real frames and asleep on its own dreams."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ffstream._checks import (
    as_frames,
    as_labels,
    check_ema_decay,
    check_pixel_shift,
    check_share,
)
from ffstream.data.transforms import random_shift
from ffstream.ff import FFNet, Goodness, LinearReadout, OneHotAppend
from ffstream.ff.negatives import hard_wrong_labels
from ffstream.stream.checkpoint import from_spec, load_checkpoint, save_checkpoint, to_spec
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
        Hidden layer widths.
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
        hidden: Sequence[int] = (500, 500),
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
        seed: int | None = 0,
    ):
        self.frame_shape = (in_features,) if isinstance(in_features, int) else tuple(in_features)
        self.num_features = math.prod(self.frame_shape)
        if num_classes is not None and num_classes < 2:
            raise ValueError(f"num_classes must be >= 2 or None, got {num_classes}")
        if predict_with not in ("goodness", "readout"):
            raise ValueError(f"predict_with must be 'goodness' or 'readout', got {predict_with!r}")
        if goodness_layers not in ("all", "above-first"):
            raise ValueError(
                f"goodness_layers must be 'all' or 'above-first', got {goodness_layers!r}"
            )
        if balanced_memory and not num_classes:
            raise ValueError("balanced_memory needs labels: give num_classes")
        check_share(long_term_share, "long_term_share")
        if sleep_batch < 1:
            raise ValueError(f"sleep_batch must be at least 1 frame, got {sleep_batch}")
        check_pixel_shift(replay_shift, "replay_shift")
        if replay_shift and len(self.frame_shape) < 2:
            raise ValueError(
                f"replay_shift needs image frames: give in_features as (height, width) or "
                f"(channels, height, width), got {self.frame_shape}"
            )
        if readout_learns not in ("always", "asleep"):
            raise ValueError(f"readout_learns must be 'always' or 'asleep', got {readout_learns!r}")
        if readout_batch is not None and readout_batch < 1:
            raise ValueError(f"readout_batch must be at least 1 frame or None, got {readout_batch}")
        if readout_batch is not None and readout_learns != "asleep":
            raise ValueError(
                "readout_batch sets the asleep readout's batch: it needs readout_learns='asleep' "
                "(with 'always' the readout learns from the replayed sleep batch)"
            )
        check_ema_decay(ema_decay)
        self.num_classes = num_classes
        self.device = _resolve_device(device)
        self.config = dict(
            in_features=list(self.frame_shape),
            num_classes=num_classes,
            hidden=list(hidden),
            memory_capacity=memory_capacity,
            balanced_memory=balanced_memory,
            recent_capacity=recent_capacity,
            long_term_share=long_term_share,
            replay=replay,
            sleep_batch=sleep_batch,
            replay_shift=replay_shift,
            lr=lr,
            readout_lr=readout_lr,
            readout_learns=readout_learns,
            readout_batch=readout_batch,
            optimizer=optimizer,
            momentum=momentum,
            goodness=goodness,
            predict_with=predict_with,
            goodness_layers=goodness_layers,
            ema_decay=ema_decay,
            seed=seed,
        )
        self.generator = torch.Generator()
        self.generator.manual_seed(seed if seed is not None else torch.seed())
        label_inputs = num_classes or 0  # labels are appended to the features, never overlaid
        self.net = FFNet.mlp(
            [self.num_features + label_inputs, *hidden],
            seed=seed,
            device=self.device,
            lr=lr,
            optimizer=optimizer,
            momentum=momentum,
            goodness=Goodness(goodness),
        )
        self.encoding = OneHotAppend(num_classes) if num_classes else None
        self._thresholds = torch.tensor(
            [self.net.goodness_fn.threshold_for(width) for width in hidden], device=self.device
        )
        self.readout = None
        if num_classes:
            width = sum(hidden[1:]) if len(hidden) > 1 else hidden[0]
            self.readout = LinearReadout(width, num_classes, lr=readout_lr).to(self.device)
        self.schedule = schedule if schedule is not None else EveryN(1000)
        if readout_learns == "asleep" and self.schedule.interleaved:
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
        self.memory = (
            ClassBalancedMemory(memory_capacity)
            if balanced_memory
            else ReservoirMemory(memory_capacity)
        )
        self.recent = RecentMemory(recent_capacity)
        self.long_term_share = long_term_share
        self.replay = replay
        self.sleep_batch = sleep_batch
        self.replay_shift = replay_shift
        self.predict_with = predict_with
        self.goodness_layers = goodness_layers
        self.readout_learns = readout_learns
        self.readout_batch = readout_batch if readout_batch is not None else sleep_batch
        self.frames_seen = 0
        self.sleeps = 0
        self.awake_updates = 0  # since the last sleep: a full sleep makes as many steps
        # What learns, as one module, and (with ema_decay) its moving average, which predicts.
        self._learning = nn.ModuleDict({"net": self.net})
        if self.readout is not None:
            self._learning["readout"] = self.readout
        self.averaged = None
        if ema_decay is not None:
            self.averaged = AveragedModel(
                self._learning, multi_avg_fn=get_ema_multi_avg_fn(ema_decay)
            )

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

    def predict_proba(self, x) -> torch.Tensor:
        """Class probabilities for one frame or a batch, shape ``(batch, num_classes)``.

        The softmax of the readout's logits (``predict_with="readout"``) or of the summed goodness
        per label (``"goodness"``; sums of squares make that softmax sharp: it ranks classes but
        is calibrated only roughly).
        """
        return torch.softmax(self.class_scores(self.check_frames(x)), dim=1)

    def predict(self, x) -> torch.Tensor:
        """Most likely class of one frame or a batch, shape ``(batch,)``."""
        return self.class_scores(self.check_frames(x)).argmax(1)

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
    def state_dict(self) -> dict:
        """Everything needed to continue bit-identically: plain data and tensors only."""
        return {
            "config": self.config,
            "schedule": to_spec(self.schedule),
            "dreams": to_spec(self.dreams),
            "net": self.net.state_dict(),
            "net_optimizer": self.net.optimizer.state_dict(),
            "readout": None if self.readout is None else self.readout.state_dict(),
            "readout_optimizer": None
            if self.readout is None
            else self.readout.optimizer.state_dict(),
            "averaged": None if self.averaged is None else self.averaged.state_dict(),
            "memory": self.memory.state_dict(),
            "recent": self.recent.state_dict(),
            "schedule_state": self.schedule.state_dict(),
            "generator": self.generator.get_state(),
            "cpu_rng": torch.get_rng_state(),
            "counters": {
                "frames_seen": self.frames_seen,
                "sleeps": self.sleeps,
                "awake_updates": self.awake_updates,
            },
        }

    def save(self, path) -> None:
        """Write a checkpoint atomically (temporary file, then rename)."""
        save_checkpoint(path, self.state_dict())

    @classmethod
    def load(cls, path, *, device=None, schedule=None, dreams=None) -> StreamLearner:
        """Rebuild a learner from :meth:`save`'s file.

        Custom schedules or dream generators cannot live in a safe checkpoint; pass them again
        (their state is restored into them). ``device`` overrides the saved device.
        """
        state = load_checkpoint(path, map_location="cpu")
        config = dict(state["config"])
        config["in_features"] = tuple(config["in_features"])
        learner = cls(
            **config,
            schedule=schedule if schedule is not None else from_spec(state["schedule"]),
            dreams=dreams if dreams is not None else from_spec(state["dreams"]),
            device=device,
        )
        learner.load_state_dict(state)
        return learner

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict(state["net"])
        self.net.optimizer.load_state_dict(state["net_optimizer"])
        if self.readout is not None:
            self.readout.load_state_dict(state["readout"])
            self.readout.optimizer.load_state_dict(state["readout_optimizer"])
        if self.averaged is not None:
            self.averaged.load_state_dict(state["averaged"])
        self.memory.load_state_dict(state["memory"], self.device)
        self.recent.load_state_dict(state["recent"], self.device)
        self.schedule.load_state_dict(state["schedule_state"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["cpu_rng"])
        self.frames_seen = int(state["counters"]["frames_seen"])
        self.sleeps = int(state["counters"]["sleeps"])
        self.awake_updates = int(state["counters"]["awake_updates"])
