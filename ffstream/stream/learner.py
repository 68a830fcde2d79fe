"""StreamLearner: online FF learning, awake on real frames and asleep on its own dreams."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch

from ffstream._inputs import as_frames, as_labels
from ffstream.stream._learner_state import (
    apply_learner_state,
    check_learner_config,
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
from ffstream.stream.core import LearnerCore, Observation, locked
from ffstream.stream.dreams import Dreams
from ffstream.stream.schedules import Schedule

__all__ = ["StreamLearner", "Observation"]


class StreamLearner(LearnerCore):
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
        frames since the last sleep. The default 0.25 leans on the present, so that after a
        concept drift the old concept's memories do not hold the learner back for long, while
        the past still keeps a quarter of every sleep (chosen on the validation seeds of
        ``ffstream bench streams``). On a stream of changing tasks a larger share (with a
        smaller ``lr``) forgets less; the ``permuted-mnist`` suite measures it.
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
    weight_decay
        L2 weight decay of the FF layers' optimizer. On an unbounded stream the positive and
        negative updates never settle, and without a pull toward zero the weights keep growing
        until accuracy falls; the small default bounds them.
    standardize
        Put each feature into standard units before anything else sees it
        (:class:`~ffstream.stream.standardizer.InputStandardizer`): running mean and variance
        that forget with a horizon of 1,000 frames, winsorised at 3 standard deviations
        against outliers, values clipped to ±3. Sensor features come in their own units and
        offsets, which the layers' RMS normalisation cannot undo; turn it off for inputs
        already on a common scale (pixels, one-hot codes) if you prefer them as they are. ``None``
        (the default) standardises labelled streams only: an unlabelled learner scores
        novelty, and there an outlier's raw size is the signal that clipping would hide
        (``ffstream bench streams --split validation`` compares both on its sensor stream).
    readout_lr
        SGD step of the linear readout (labelled streams).
    readout_decay
        Weight decay of the readout's SGD (an L2 pull toward zero on every step). Hinton's
        ffcode uses 0.003 for epochs over a fixed set; on a stream the pull acts on every frame
        and keeps shrinking what the readout has learned, so the default is 0. It was chosen on
        the validation seeds of ``ffstream bench streams``.
    readout_reads_input
        The readout reads the (standardised) frame itself beside the layers' activities, which
        are scaled to carry as much energy as the frame: a skip connection, so the readout is
        never worse off than a linear model of the input while the layers learn what it lacks.
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
        step with this decay (0.999 by default); learning moves the weights themselves and
        never reads the average. The average smooths the jitter of constant-step updates,
        which raises accuracy wherever the stream holds still (on the streams suite's
        validation seeds most of all under label noise). It trails the weights by about
        ``1 / (1 - ema_decay)`` steps, though, so right after a change it answers as before:
        ``ema_fallback_window`` lets the weights answer until it catches up. ``None``
        predicts with the latest weights, and saves the average's forward pass per step.
    ema_fallback_window
        With ``ema_decay``, on labelled frames: the average predicts only while the weights
        that learn have not been right more often over about this many recent frames (an
        exponential average of the difference in their hits, with a tolerance of one frame);
        otherwise those weights predict, until the average catches up. So the average
        smooths where the stream holds still and steps aside after a change. ``None``: the
        average always predicts (the continual suites, which score it after each task).
        Unlabelled learners have no answers to compare: their average always scores.
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

    It is the frame front end of :class:`~ffstream.stream.core.LearnerCore`, the engine every
    stream learner shares: it checks its users' frames and labels, and saves and loads the
    whole learner. Its hyper-parameters live in :attr:`config`, a checked
    :class:`LearnerConfig` (also made directly and passed to :meth:`from_config`);
    ``learner.config["lr"]`` reads it like a dict.

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
        long_term_share: float = 0.25,
        replay: bool = True,
        sleep_batch: int = 32,
        replay_shift: int = 0,
        lr: float = 1e-3,
        weight_decay: float = 1e-3,
        standardize: bool | None = None,
        readout_lr: float = 0.001,
        readout_decay: float = 0.0,
        readout_reads_input: bool = True,
        readout_learns: Literal["always", "asleep"] = "always",
        readout_batch: int | None = None,
        optimizer: str = "adam",
        momentum: float = 0.9,
        goodness: Literal["sum", "mean"] = "sum",
        predict_with: Literal["goodness", "readout"] = "readout",
        goodness_layers: Literal["all", "above-first"] = "above-first",
        ema_decay: float | None = 0.999,
        ema_fallback_window: int | None = 500,
        device: str | torch.device | None = "auto",
        threads: int | None = 1,
        seed: int | None = 0,
    ):
        # Every argument but the objects and placements (schedule, dreams, device, threads) is a
        # hyper-parameter: LearnerConfig's.
        options = {k: v for k, v in locals().items() if k in LearnerConfig.__dataclass_fields__}
        self._from(LearnerConfig(**options), schedule, dreams, device, threads)

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
        return cls.__new__(cls)._from(config, schedule, dreams, device, threads)

    def _from(self, config, schedule, dreams, device, threads) -> StreamLearner:
        LearnerCore.__init__(
            self, config, schedule=schedule, dreams=dreams, device=device, threads=threads
        )
        return self

    # ------------------------------------------------------------------ input
    def check_frames(self, x, name: str = "x") -> torch.Tensor:
        """Validate and convert frames to a flat ``(batch, num_features)`` tensor."""
        t = as_frames(x, self.frame_shape, device=self.device, name=name)
        return t.reshape(t.shape[0], self.num_features)

    # ------------------------------------------------------------------ inference
    @locked
    def predict_proba(self, x) -> torch.Tensor:
        """Class probabilities for one frame or a batch, shape ``(batch, num_classes)``.

        The softmax of the readout's logits (``predict_with="readout"``) or of the summed goodness
        per label (``"goodness"``; sums of squares make that softmax sharp: it ranks classes but
        is calibrated only roughly).
        """
        return torch.softmax(self.class_scores(self.check_frames(x)), dim=1)

    @locked
    def predict(self, x) -> torch.Tensor:
        """Most likely class of one frame or a batch, shape ``(batch,)``."""
        return self.class_scores(self.check_frames(x)).argmax(1)

    @locked
    def score(self, x) -> torch.Tensor:
        """Novelty of each frame: ``-log p(real)`` summed over layers; higher = more unfamiliar.

        Labelled learners score a frame by its most plausible label.
        """
        return self.novelty_of(self.check_frames(x))

    # ------------------------------------------------------------------ learning
    @locked
    def observe(self, x, y=None) -> Observation:
        """Learn from one frame or a batch: predict first, then a positive update (awake).

        Remembers the frames, advances the schedule and sleeps when it is due. Bad input raises
        ``ValueError`` before anything changes. Everything that learns (hard negatives, the
        schedule's error signal) reads the weights themselves; with ``ema_decay`` the
        prediction returned is the weight average's (see ``ema_fallback_window``).
        """
        x = self.check_frames(x)
        if y is None and self.num_classes is not None:
            raise ValueError(
                f"this learner has num_classes={self.num_classes}: give the labels y with x"
            )
        if y is not None and self.num_classes is None:
            raise ValueError("got labels, but this learner has num_classes=None")
        labels = None
        if y is not None:
            labels = as_labels(y, x.shape[0], self.num_classes, device=self.device)
        return self.learn(x, labels)

    @locked
    def compile(self, mode: str | None = "reduce-overhead") -> StreamLearner:
        """Run the updates, awake and asleep, as compiled graphs: for GPUs.

        The whole tensor work of an awake step (the standardiser, the readout's features,
        scores and gradient, every layer's local gradient) becomes one compiled function, and
        each sleep update another. ``"reduce-overhead"`` (the default) records them as CUDA
        graphs, so a batch-1 :meth:`observe` replays one graph and the fused optimiser kernels
        instead of launching dozens of kernels; only host bookkeeping and the memory writes
        run around it. ``"default"`` compiles without graphs; ``None`` returns to eager
        updates. Each batch shape compiles once, in seconds. On a CPU, small nets learn faster
        uncompiled (their eager updates run closed-form in NumPy). Not saved in checkpoints
        or copies. Returns the learner.
        See :class:`~ffstream.stream.awake_graph.AwakeGraph` and
        :class:`~ffstream.ff.compiled.CompiledStep`.
        """
        from ffstream.stream.awake_graph import AwakeGraph  # torch.compile's import is slow

        graph = None if mode is None else AwakeGraph(mode)  # checks the mode first
        self.net.compile_step(mode)
        self._awake_graph = graph
        return self

    # ------------------------------------------------------------------ checkpoints
    @locked
    def state_dict(self) -> dict:
        """Everything needed to continue bit-identically, in the checkpoint schema.

        Plain data and tensors only (see :mod:`ffstream.stream.checkpoint`); :meth:`save`
        adds the checksum when it writes the file.
        """
        return envelope("StreamLearner", self.config.to_dict(), learner_state(self))

    @locked
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

    @locked
    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s output (or an ffstream 0.1.0 one) into this learner.

        Everything is checked first (config equal to this learner's, every tensor's shape and
        dtype, memories, counters, generator state): on a mismatch ``ValueError`` names it and
        the learner is left exactly as it was.
        """
        payload = as_current(state, "StreamLearner")
        check_learner_config(saved_config(payload["config"]), self.config, "StreamLearner")
        saved = check_learner_state(self, payload["state"])
        apply_learner_state(self, saved)
