"""Forward-Forward on symbol streams: next-symbol learning with the model's own text as dreams.

A frame is a window of ``context`` previous symbols (one-hot, flattened) and its label is the
next symbol. Real windows are positives. Negatives are the model's *own* sequences (Hinton's
Aesop experiment, :class:`~ffstream.stream.own_text.OwnTextDreams`). Prediction tries every
symbol in the last slot and takes the one with the highest goodness. The learning itself is the
one learner core's (:class:`~ffstream.stream.core.LearnerCore`).

The embedded Reber grammar (:mod:`ffstream.stream.reber`), whose set of legal next symbols is
known at every position, measures accuracy against the best achievable.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F

from ffstream.stream._learner_state import (
    apply_learner_state,
    check_learner_state,
    learner_state,
)
from ffstream.stream._sequence_state import check_sequence_state, current_sequence_state
from ffstream.stream._symbols import as_symbols, is_single
from ffstream.stream.checkpoint import (
    as_current,
    envelope,
    read_learner_checkpoint,
    write_learner_checkpoint,
)
from ffstream.stream.core import LearnerCore, locked
from ffstream.stream.own_text import sample_symbols
from ffstream.stream.reber import REBER_SYMBOLS, ReberString, legal_next_accuracy, reber_strings
from ffstream.stream.sequence_config import SequenceConfig

__all__ = [
    "legal_next_accuracy",
    "REBER_SYMBOLS",
    "ReberString",
    "SequenceConfig",
    "SequenceLearner",
    "reber_strings",
]


class SequenceLearner:
    """Online next-symbol learning with Forward-Forward, asleep on its own generated text.

    Awake, :meth:`observe` takes symbols one at a time. Once ``context`` symbols are known, each
    new symbol closes a real window ``(context, next)``: the learner first predicts the next
    symbol, then makes one positive local update on the window and remembers it (bounded memory).
    Every ``sleep_every`` symbols it sleeps: as many steps as awake updates since the last sleep,
    each replaying remembered real windows as positives beside negatives that are the model's
    own sequences (see ``dreams``).

    Parameters
    ----------
    vocab_size
        Number of distinct symbols (ids ``0 .. vocab_size - 1``).
    context
        Symbols of context before the predicted one.
    hidden
        Hidden layer widths of the FF net; its input is ``(context + 1) * vocab_size`` wide.
    sleep_every
        Symbols between sleeps (``schedule="sleep"``).
    memory_capacity
        Long-term memory of real windows (reservoir sampling).
    recent_capacity
        Short-term memory of the windows since the last sleep; sleep draws half its replay here.
    dreams
        ``"teacher_forced"`` (a remembered context with its last symbol replaced by the model's
        own sample, never the true one), ``"generated"`` (windows the model writes itself,
        ``generate_steps`` symbols on from a remembered context) or ``"both"``.
    schedule
        ``"sleep"`` (separated awake and sleep phases) or ``"interleaved"`` (a positive and a
        negative update on every symbol: the ablation baseline).
    generate_steps
        Symbols rolled out per remembered context by ``"generated"`` dreams.
    sleep_batch
        Remembered windows per sleep step.
    dream_temperature
        Temperature of the softmax over goodness that the dreams sample from.
    lr
        Adam learning rate of the local updates.
    seed
        Seeds the weights and every random choice.
    device
        Torch device (the CPU by default; ``"auto"``: CUDA when there is one).
    threads
        CPU threads torch may use inside each call (see
        :class:`~ffstream.stream.StreamLearner`); ``None`` leaves torch's setting alone.

    Notes
    -----
    It is the symbol front end of :class:`~ffstream.stream.core.LearnerCore`, the engine every
    stream learner shares: a frame is the one-hot context, its label the next symbol, and the
    prediction is the symbol whose window has the highest goodness. Its settings live in
    :attr:`config`, a checked :class:`~ffstream.stream.sequence_config.SequenceConfig`. Calls
    hold the learner's lock, so threads sharing one learner take turns.

    Examples
    --------
    >>> learner = SequenceLearner(vocab_size=3, context=2, hidden=(16, 16), sleep_every=10)
    >>> learner.observe([0, 1])          # context not full yet: nothing to predict
    [None, None]
    >>> prediction = learner.observe(2)  # prediction made before learning from (0, 1) -> 2
    >>> prediction in (0, 1, 2)
    True
    >>> learner.next_distribution([1, 2]).shape
    torch.Size([3])
    >>> len(learner.generate([0, 1], n=5))
    5
    """

    def __init__(
        self,
        vocab_size: int,
        context: int = 8,
        hidden: Sequence[int] = (256, 256),
        *,
        sleep_every: int = 200,
        memory_capacity: int = 2000,
        recent_capacity: int = 1000,
        dreams: Literal["teacher_forced", "generated", "both"] = "both",
        schedule: Literal["sleep", "interleaved"] = "sleep",
        generate_steps: int = 4,
        sleep_batch: int = 8,
        dream_temperature: float = 1.0,
        lr: float = 1e-3,
        seed: int | None = 0,
        device: str | torch.device | None = "cpu",
        threads: int | None = 1,
    ):
        options = {k: v for k, v in locals().items() if k in SequenceConfig.__dataclass_fields__}
        self._setup(SequenceConfig(**options), device, threads)

    @classmethod
    def from_config(
        cls, config: SequenceConfig, *, device="cpu", threads: int | None = 1
    ) -> SequenceLearner:
        """A learner with the hyper-parameters of ``config`` (a :class:`SequenceConfig`)."""
        if not isinstance(config, SequenceConfig):
            raise ValueError(f"config must be a SequenceConfig, got {type(config).__name__}")
        learner = cls.__new__(cls)
        learner._setup(config, device, threads)
        return learner

    def _setup(self, cfg: SequenceConfig, device, threads) -> None:
        self.config = cfg
        schedule, dreams = cfg.parts()
        self.core = LearnerCore(
            cfg.learner_config(), schedule=schedule, dreams=dreams, device=device, threads=threads
        )
        # One lock per learner: the core's (re-entrant), which its own calls take again.
        self._lock, self.threads, self.device = self.core._lock, self.core.threads, self.core.device
        self.vocab_size, self.context = cfg.vocab_size, cfg.context
        self.history: deque[int] = deque(maxlen=self.context)
        self.symbols_seen = 0

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = self.core._lock  # the core made itself a new lock: share it again

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    # ------------------------------------------------------------------ the core's parts
    @property
    def net(self):
        """The FF layer stack (the core's)."""
        return self.core.net

    @property
    def memory(self):
        """Long-term memory of real windows (the core's)."""
        return self.core.memory

    @property
    def recent(self):
        """Windows since the last sleep (the core's)."""
        return self.core.recent

    @property
    def generator(self) -> torch.Generator:
        """The generator of every random choice (the core's)."""
        return self.core.generator

    @property
    def sleeps(self) -> int:
        """Sleep phases so far."""
        return self.core.sleeps

    @property
    def awake_updates(self) -> int:
        """Awake updates since the last sleep."""
        return self.core.awake_updates

    @property
    def window(self) -> int:
        """Symbols per window: ``context + 1``."""
        return self.context + 1

    # ------------------------------------------------------------------ encoding and scores
    def encode(self, contexts: torch.Tensor) -> torch.Tensor:
        """Frames of ``(n, context)`` symbol ids: the one-hot context, ``(n, context * V)``."""
        return F.one_hot(contexts, self.vocab_size).float().flatten(1)

    def scores(self, contexts: torch.Tensor) -> torch.Tensor:
        """Goodness of every candidate next symbol after each context: ``(n, vocab_size)``.

        Goodness is summed over layers >= 2 (all layers if there is one): the first layer mostly
        sees input statistics, as in Hinton's label inference.
        """
        return self.core.class_scores(self.encode(contexts))

    def _context_tensor(self, context) -> torch.Tensor:
        symbols = as_symbols(context, self.vocab_size, "context symbol")
        if len(symbols) < self.context:
            raise ValueError(f"context needs at least {self.context} symbols, got {len(symbols)}")
        return torch.tensor([symbols[-self.context :]], device=self.device)

    # ------------------------------------------------------------------ inference
    @locked
    def next_distribution(self, context: Sequence[int], temperature: float = 1.0) -> torch.Tensor:
        """Probabilities of each next symbol after ``context`` (its last ``context`` symbols).

        A softmax of goodness; goodness is a sum of squares, so it ranks well but is sharp.
        """
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        return torch.softmax(self.scores(self._context_tensor(context))[0] / temperature, dim=0)

    @locked
    def predict_next(self, context: Sequence[int]) -> int:
        """The most likely next symbol after ``context``."""
        return int(self.scores(self._context_tensor(context)).argmax(1))

    @locked
    def generate(self, prompt: Sequence[int], n: int, temperature: float = 1.0) -> list[int]:
        """``n`` symbols written after ``prompt`` by sampling the model (``temperature=0``: argmax).

        Does not learn and does not touch the observed context.
        """
        if n < 0 or not temperature >= 0:
            raise ValueError(f"n and temperature must be >= 0, got {n} and {temperature}")
        context = self._context_tensor(prompt)
        out = []
        for _ in range(n):
            symbol = sample_symbols(self.scores(context), temperature, self.generator)
            out.append(int(symbol))
            context = torch.cat([context[:, 1:], symbol.view(1, 1)], dim=1)
        return out

    @locked
    def make_dreams(self, windows: torch.Tensor) -> torch.Tensor:
        """The negatives for ``(n, context + 1)`` windows of real symbols, as windows of ids."""
        contexts, nexts = windows[:, :-1], windows[:, -1]
        frames, labels = self.core.dreams.generate(
            self.core.dream_source(), self.encode(contexts), nexts
        )
        ids = frames.view(frames.shape[0], self.context, self.vocab_size).argmax(2)
        return torch.cat([ids, labels.unsqueeze(1)], dim=1)

    # ------------------------------------------------------------------ learning
    @locked
    def observe(self, symbols: int | Sequence[int]) -> int | None | list[int | None]:
        """Learn from one symbol (or a sequence of them, in order), awake.

        Returns the prediction made for each symbol before learning from it (prequential), or
        ``None`` while the context is still filling. A sequence gives a list. Sleeps when due.
        Bad input (non-int, outside the vocabulary) raises ``ValueError`` before anything changes.
        """
        single = is_single(symbols)
        values = as_symbols(symbols, self.vocab_size)
        predictions = [self._observe_one(s) for s in values]
        return predictions[0] if single else predictions

    def _observe_one(self, symbol: int) -> int | None:
        prediction = None
        if len(self.history) == self.context:
            context = torch.tensor([list(self.history)], device=self.device)
            label = torch.tensor([symbol], device=self.device)
            prediction = int(self.core.learn(self.encode(context), label).prediction)
        else:  # symbols before the first full context count toward the next sleep too
            self.core.schedule.after_observe(1, None)  # nothing remembered: nothing to sleep on
        self.history.append(symbol)
        self.symbols_seen += 1
        return prediction

    @locked
    def sleep(self, steps: int | None = None) -> int:
        """Sleep now: ``steps`` updates on dreams beside replayed real windows; returns the steps.

        ``None`` makes as many steps as there were awake updates since the last sleep, so the
        positive push of the awake phase is balanced (see
        :meth:`ffstream.stream.StreamLearner.sleep`). Replay matters: negatives alone would
        only push goodness down, and the real windows beside them keep the contrast.
        """
        return self.core.sleep(steps)

    # ------------------------------------------------------------------ checkpoints
    @locked
    def state_dict(self) -> dict:
        """Everything needed to continue bit-identically, in the checkpoint schema.

        Plain data and tensors only (see :mod:`ffstream.stream.checkpoint`); :meth:`save`
        adds the checksum when it writes the file.
        """
        state = learner_state(self.core)
        state["history"] = list(self.history)
        state["symbols_seen"] = self.symbols_seen
        return envelope("SequenceLearner", self.config.to_dict(), state)

    @locked
    def save(self, path) -> None:
        """Write a checkpoint atomically (temporary file, then rename), with its checksum.

        Examples
        --------
        >>> import pathlib, tempfile
        >>> learner = SequenceLearner(vocab_size=3, context=2, hidden=(8,), sleep_every=4)
        >>> _ = learner.observe([0, 1, 2, 0, 1, 2])
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "sequence.ckpt"
        >>> learner.save(path)
        >>> resumed = SequenceLearner.load(path)
        >>> resumed.observe(0) == learner.observe(0), resumed.symbols_seen
        (True, 7)
        """
        write_learner_checkpoint(path, self.state_dict())

    @classmethod
    def load(cls, path, *, device=None, threads: int | None = 1) -> SequenceLearner:
        """Rebuild a learner from :meth:`save`'s file, or an ffstream 0.1.0 one (safely: no
        pickled code runs, and the whole file is checked before it is used).

        ``device`` is where the learner will live (default: the CPU); checkpoints are
        device-independent. Loading leaves the process-wide torch RNG as it was.
        """
        payload = read_learner_checkpoint(path, "SequenceLearner")
        config = _saved_config(payload["config"])
        with torch.random.fork_rng(devices=[]):  # torch's default layer inits draw globally
            learner = cls.from_config(config, device=device or "cpu", threads=threads)
        learner.load_state_dict(payload)
        return learner

    @locked
    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s output into this learner (built with the same config).

        Everything is checked first; on a mismatch ``ValueError`` names it and the learner is
        left exactly as it was.
        """
        payload = as_current(state, "SequenceLearner")
        if _saved_config(payload["config"]) != self.config:
            raise ValueError("the checkpoint was made by a SequenceLearner with another config")
        saved = current_sequence_state(payload["state"], self.config)
        core_state = check_learner_state(self.core, saved)
        history, symbols_seen = check_sequence_state(saved, self.config)
        history = as_symbols(history, self.vocab_size, "history symbol")
        # Checked: from here on nothing can fail.
        apply_learner_state(self.core, core_state)
        self.history = deque(history, maxlen=self.context)
        self.symbols_seen = symbols_seen


def _saved_config(data) -> SequenceConfig:
    try:
        return SequenceConfig.from_dict(data)
    except (TypeError, ValueError) as err:
        raise ValueError(f"the checkpoint's config is not valid: {err}") from None
