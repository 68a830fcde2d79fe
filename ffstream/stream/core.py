"""LearnerCore: the one awake/sleep Forward-Forward engine behind every stream front end.

The core is made of small parts, each its own module: the label encoding and the FF layer stack
(:mod:`ffstream.ff`), the bounded memories (:mod:`~ffstream.stream.memory`), the sleep schedule
(:mod:`~ffstream.stream.schedules`), the dream generator (:mod:`~ffstream.stream.dreams`, which
sees the model only through a :class:`~ffstream.stream.dreams.DreamSource`) and the predictor (a
linear readout, or the goodness of every label). It works on checked tensors: a front end
(:class:`~ffstream.stream.StreamLearner` for frames, :class:`~ffstream.stream.SequenceLearner` for
symbols) turns its users' input into flat frames and labels, and the core learns from them, awake
(:meth:`LearnerCore.learn`) or asleep (:meth:`LearnerCore.sleep`).
"""

from __future__ import annotations

import math
import threading

import torch
import torch.nn.functional as F
from torch import nn

from ffstream.ff import FFNet, Goodness, LinearReadout, OneHotAppend
from ffstream.stream._calls import check_threads, cpu_threads, locked, resolve_device
from ffstream.stream.average import GuardedAverage
from ffstream.stream.config import LearnerConfig
from ffstream.stream.dreams import Dreams, DreamSource, HybridDreams, WrongLabelDreams
from ffstream.stream.memory import ClassBalancedMemory, RecentMemory, ReservoirMemory
from ffstream.stream.observation import Observation
from ffstream.stream.schedules import EveryN, Schedule
from ffstream.stream.sleep_phase import SleepPhase
from ffstream.stream.standardizer import InputStandardizer

__all__ = ["LearnerCore", "Observation", "cpu_threads", "locked"]


class LearnerCore(SleepPhase):
    """The awake/sleep FF engine, built from a checked :class:`LearnerConfig`.

    Awake, :meth:`learn` predicts each frame, makes one positive local update (labelled frames
    carry their true label), remembers the frames and asks the schedule whether to sleep. Asleep,
    :meth:`sleep` replays remembered frames as positives beside the dreams made from them
    (:mod:`~ffstream.stream.sleep_phase`, with its ``score_staleness``).

    Every public method holds the core's re-entrant lock, so threads sharing a learner take turns.
    Front ends add input checks and their own API; see :class:`~ffstream.stream.StreamLearner`
    for every setting.

    Examples
    --------
    >>> cfg = LearnerConfig(in_features=4, num_classes=2, hidden=(16,))
    >>> core = LearnerCore(cfg, device="cpu")
    >>> seen = core.learn(torch.rand(3, 4), torch.tensor([0, 1, 1]))
    >>> seen.prediction.shape, core.frames_seen
    (torch.Size([3]), 3)
    """

    def __init__(
        self,
        config: LearnerConfig,
        *,
        schedule: Schedule | None = None,
        dreams: Dreams | None = None,
        device: str | torch.device | None = "auto",
        threads: int | None = 1,
    ):
        if not isinstance(config, LearnerConfig):
            raise ValueError(f"config must be a LearnerConfig, got {type(config).__name__}")
        self._build(config, schedule, dreams, device, threads)

    def _build(self, cfg: LearnerConfig, schedule, dreams, device, threads) -> None:
        """Make every part from the (already checked) config."""
        self.threads = check_threads(threads)
        self._lock = threading.RLock()
        self.config = cfg
        self.frame_shape = cfg.in_features
        self.num_features = math.prod(self.frame_shape)
        self.num_classes = cfg.num_classes
        self.device = resolve_device(device)
        # Without a seed, a fresh one from the OS: the process-wide RNG is never read or reseeded.
        seed = cfg.seed if cfg.seed is not None else torch.Generator().seed()
        self.generator = torch.Generator()
        self.generator.manual_seed(seed)
        self._build_model(cfg, seed)
        self._build_sleep(cfg, schedule, dreams)
        self.frames_seen = 0
        self.sleeps = 0
        self.awake_updates = 0  # since the last sleep: a full sleep makes as many steps

    def _build_model(self, cfg: LearnerConfig, seed: int) -> None:
        """Encoding, layer stack, predictor, and (with ``ema_decay``) the weight average."""
        num_classes = cfg.num_classes
        label_inputs = num_classes or 0  # labels are appended to the features, never overlaid
        self.net = FFNet.mlp(
            [self.num_features + label_inputs, *cfg.hidden],
            seed=seed,
            device=self.device,
            lr=cfg.lr,
            optimizer=cfg.optimizer,
            momentum=cfg.momentum,
            weight_decay=cfg.weight_decay,
            goodness=Goodness(cfg.goodness),
        )
        self.standardizer = None
        if cfg.standardizes:
            self.standardizer = InputStandardizer(self.num_features).to(self.device)
        self.encoding = OneHotAppend(num_classes) if num_classes else None
        thresholds = [self.net.goodness_fn.threshold_for(width) for width in cfg.hidden]
        self._thresholds = torch.tensor(thresholds, device=self.device)
        self.predict_with = cfg.predict_with
        self.goodness_layers = cfg.goodness_layers
        self.readout = None  # only a readout that predicts is worth its updates
        self.readout_reads_input = cfg.readout_reads_input
        layer_width = sum(cfg.hidden[1:]) if len(cfg.hidden) > 1 else cfg.hidden[0]
        # Read beside the frame, the activities are scaled to carry as much energy as a
        # standardised frame does, so neither block drowns the other's gradient.
        self._activity_scale = math.sqrt(self.num_features / layer_width)
        if num_classes and cfg.predict_with == "readout":
            width = layer_width + (self.num_features if cfg.readout_reads_input else 0)
            self.readout = LinearReadout(
                width, num_classes, lr=cfg.readout_lr, weight_decay=cfg.readout_decay
            ).to(self.device)
        self.readout_learns = cfg.readout_learns
        self.readout_batch = cfg.readout_batch if cfg.readout_batch is not None else cfg.sleep_batch
        # What learns, as one module, and (with ema_decay) its moving average, which predicts.
        self._learning = nn.ModuleDict({"net": self.net})
        if self.readout is not None:
            self._learning["readout"] = self.readout
        self.averaged = None
        if cfg.ema_decay is not None:
            self.averaged = GuardedAverage(self._learning, cfg.ema_decay, cfg.ema_fallback_window)

    def _build_sleep(self, cfg: LearnerConfig, schedule, dreams) -> None:
        """Schedule, dreams and memories."""
        self.schedule = schedule if schedule is not None else EveryN(1000)
        if not isinstance(self.schedule, Schedule):
            raise ValueError(f"schedule must be a Schedule, got {type(self.schedule).__name__}")
        if cfg.readout_learns == "asleep" and self.schedule.interleaved:
            raise ValueError(
                "readout_learns='asleep' needs a schedule that sleeps (not Interleaved)"
            )
        labelled = bool(cfg.num_classes)
        if dreams is None:
            dreams = WrongLabelDreams() if labelled else HybridDreams()
        if not isinstance(dreams, Dreams):
            raise ValueError(f"dreams must be a Dreams, got {type(dreams).__name__}")
        if dreams.needs_labels and not labelled:
            raise ValueError(f"{type(dreams).__name__} needs num_classes")
        self.dreams = dreams
        capacity = cfg.memory_capacity
        balanced = cfg.balanced_memory
        self.memory = ClassBalancedMemory(capacity) if balanced else ReservoirMemory(capacity)
        self.recent = RecentMemory(cfg.recent_capacity)
        self.long_term_share = cfg.long_term_share
        self.replay = cfg.replay
        self.sleep_batch = cfg.sleep_batch
        self.replay_shift = cfg.replay_shift

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        del state["_lock"]  # a lock cannot be pickled or copied: each copy gets its own
        state.pop("_source", None)  # bound to this object: each copy makes its own
        state.pop("_awake_graph", None)  # compiled code belongs to this process: copies run eagerly
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ parts
    def dream_source(self) -> DreamSource:
        """What a dream generator may see of this learner: memories, scores, its generator.

        Made once per learner (its parts are the learner's own, which never change identity),
        since the interleaved schedule asks for it on every frame.
        """
        source = self.__dict__.get("_source")
        if source is None:
            source = self.__dict__["_source"] = self._new_source()
        return source

    def _new_source(self) -> DreamSource:
        return DreamSource(
            generator=self.generator,
            frame_shape=self.frame_shape,
            num_classes=self.num_classes,
            recall=self.recall,
            class_scores=self._latest_scores,
            goodness=self.goodness_of,
        )

    def _encode(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return x if y is None or self.encoding is None else self.encoding.encode(x, y)

    def goodness_of(self, x: torch.Tensor, y: torch.Tensor | None = None, grad: bool = False):
        """Per-layer goodness of flat frames ``x`` in the model's units (standardised, if the
        learner standardises), with labels ``y`` embedded, if given.

        ``grad=True`` keeps the graph with respect to ``x`` (used by Langevin dreams; the
        weights are never updated through it). These are the weights that learn, not their
        average: dreams are part of learning.
        """
        x = self._encode(x, y)
        return self.net.goodness_with_grad(x) if grad else self.net.goodness(x)

    def _predictor(self) -> tuple[FFNet, LinearReadout | None]:
        """The layers and readout that predict and score: the weight average, if kept and
        not behind the weights that learn (:class:`~ffstream.stream.average.GuardedAverage`)."""
        if self.averaged is None or not self.averaged.trusted:
            return self.net, self.readout
        return self._average()

    def _average(self) -> tuple[FFNet, LinearReadout | None]:
        modules = self.averaged.module
        return modules["net"], None if self.readout is None else modules["readout"]

    def _update_average(self) -> None:
        """After each awake or sleep step: move the weight average (if kept) toward them."""
        if self.averaged is not None:
            self.averaged.update_parameters(self._learning)

    def _features(self, x: torch.Tensor, net: FFNet | None = None) -> torch.Tensor:
        """What the readout reads of (standardised) flat frames: the layers' activities under
        the neutral label, beside the frame itself if ``readout_reads_input``."""
        activities = (net or self.net).features(self.encoding.neutral(x))
        if not self.readout_reads_input:
            return activities
        return torch.cat([x, activities * self._activity_scale], dim=1)

    def _standardized(self, x: torch.Tensor, *, learn: bool = False) -> torch.Tensor:
        """Users' flat frames in the units the model works in (``learn``: after an update)."""
        if self.standardizer is None:
            return x
        if learn:
            self.standardizer.update(x)
        return self.standardizer(x)

    def novelty(self, goodness: torch.Tensor) -> torch.Tensor:
        """``-log p(real)`` summed over layers, from per-layer goodness."""
        return F.softplus(self._thresholds - goodness).sum(1)

    @locked
    def class_scores(self, x: torch.Tensor, *, latest: bool = False) -> torch.Tensor:
        """Class scores (logits) of flat frames, shape ``(batch, num_classes)``.

        With ``ema_decay`` they come from the weight average, unless ``latest``: then from the
        weights that learn, as everything that is part of learning (dreams) needs them.
        """
        if self.encoding is None:
            raise ValueError("this learner has no classes (num_classes=None)")
        x = self._standardized(x)
        if latest:
            return self._latest_scores(x)
        return self._class_scores(x, *self._predictor())

    def _latest_scores(self, x: torch.Tensor) -> torch.Tensor:
        return self._class_scores(x, self.net, self.readout)

    @torch.no_grad()
    def _class_scores(self, x: torch.Tensor, net: FFNet, readout: LinearReadout | None):
        if self.predict_with == "readout":
            return readout(self._features(x, net))
        goodness = net.goodness(self.encoding.all_labels(x))
        first = 1 if self.goodness_layers == "above-first" and goodness.shape[1] > 1 else 0
        return goodness[:, first:].sum(1).view(self.num_classes, x.shape[0]).T

    @locked
    @torch.no_grad()
    def novelty_of(self, x: torch.Tensor) -> torch.Tensor:
        """Novelty of flat frames; labelled learners score a frame by its most plausible label."""
        x = self._standardized(x)
        net = self._predictor()[0]
        if self.encoding is None:
            return self.novelty(net.goodness(x))
        goodness = net.goodness(self.encoding.all_labels(x))
        return self.novelty(goodness).view(self.num_classes, x.shape[0]).min(0).values

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
    @locked
    def learn(self, x: torch.Tensor, labels: torch.Tensor | None) -> Observation:
        """Awake on checked flat frames (and labels): predict, update, remember, maybe sleep."""
        graph = self.__dict__.get("_awake_graph")
        step = None if graph is None else graph.step(self, x, labels)
        x, scores, goodness = self._awake_step(x, labels) if step is None else step
        self.awake_updates += 1
        prediction = scores.argmax(1) if scores is not None else None
        reported = prediction
        if prediction is not None and self.averaged is not None:  # the average before it moves
            averaged = self._class_scores(x, *self._average()).argmax(1)
            reported = self.averaged.answer(prediction, averaged, labels)
        self._update_average()

        self.memory.add(x, labels, self.generator)
        self.recent.add(x, labels, self.generator)
        self.frames_seen += x.shape[0]
        novelty = self.novelty(goodness)
        signal = None
        if self.schedule.uses_signal:
            error = None if labels is None else (prediction != labels).float().mean()
            signal = float(error if error is not None else novelty.mean())
        due = self.schedule.after_observe(x.shape[0], signal)
        if due != 0:
            self.sleep(due)
        return Observation(goodness, novelty, reported, due != 0)

    def _awake_step(self, x: torch.Tensor, labels: torch.Tensor | None):
        """The awake update, eagerly: standardise, score, update the layers and the readout.

        Returns the standardised frames, the class scores they were predicted with (None
        unlabelled) and the positive goodness of every layer.
        """
        x = self._standardized(x, learn=True)
        scores = features = None
        if labels is not None and self.readout is not None:
            features = self._features(x)
            with torch.no_grad():
                scores = self.readout(features)
        elif labels is not None:
            scores = self._latest_scores(x)
        pos = self._encode(x, labels)
        neg = None
        if self.schedule.interleaved:
            neg = self._encode(*self._interleaved_negatives(x, labels, scores))
        stats = self.net.step(pos=pos, neg=neg, check=False)  # the front end checked x
        if self.readout is not None and labels is not None and self.readout_learns == "always":
            self.readout.step(features, labels, logits=scores)  # the features it predicted with
        return x, scores, stats.pos_goodness

    def _interleaved_negatives(self, x, labels, scores):
        """The interleaved baseline's negatives: dreams of this very frame."""
        if self.dreams.needs_memory and len(self.memory) == 0:
            self.memory.add(x, labels, self.generator)  # this frame is all it knows
        return self.dreams.generate(self.dream_source(), x, labels, scores=scores)
