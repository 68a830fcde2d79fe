"""Forward-Forward on symbol streams: next-character learning with the model's own text as dreams.

A frame is a window of ``context`` previous symbols plus the next symbol, all one-hot and
flattened. Real windows are positives. Negatives are the model's *own* sequences (Hinton's Aesop
experiment): a real context whose last symbol is replaced by one the model itself samples
("teacher-forced"), or windows the model rolls out from a remembered context by sampling its own
predictions ("generated"). Prediction tries every symbol in the last slot and takes the one with
the highest goodness.

The module also ships the embedded Reber grammar (:func:`reber_strings`), whose set of legal next
symbols is known at every position, so accuracy can be measured against the best achievable.
"""

from __future__ import annotations

import operator
import random
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F

from ffstream.ff import FFNet
from ffstream.stream.checkpoint import (
    as_current,
    envelope,
    read_learner_checkpoint,
    write_learner_checkpoint,
)
from ffstream.stream.memory import RecentMemory, ReservoirMemory
from ffstream.stream.state_checks import (
    check_counters,
    check_generator_state,
    check_memory_state,
    check_optimizer_state,
    check_tensors,
)

__all__ = [
    "legal_next_accuracy",
    "REBER_SYMBOLS",
    "ReberString",
    "SequenceLearner",
    "reber_strings",
]

#: The Reber alphabet; symbol ``i`` is ``REBER_SYMBOLS[i]``.
REBER_SYMBOLS = "BTPSXVE"
_B, _T, _P, _S, _X, _V, _E = range(7)

# The Reber automaton (Fahlman's drawing): state -> [(symbol, next state)]; state 5 is the end.
_REBER = {
    0: [(_T, 1), (_P, 2)],
    1: [(_S, 1), (_X, 3)],
    2: [(_T, 2), (_V, 4)],
    3: [(_X, 2), (_S, 5)],
    4: [(_P, 3), (_V, 5)],
}


class ReberString(NamedTuple):
    """One (embedded) Reber string as symbol ids, with the legal next symbols after each prefix.

    ``legal_next[i]`` is the set of symbols that may follow ``symbols[: i + 1]``; after the final
    ``E`` it is ``{B}``, the start of the next string in a stream.
    """

    symbols: tuple[int, ...]
    legal_next: tuple[frozenset[int], ...]

    def text(self) -> str:
        """The string in letters, e.g. ``'BTBTXSETE'``."""
        return "".join(REBER_SYMBOLS[s] for s in self.symbols)


def _reber_inner(rng: random.Random) -> tuple[list[int], list[frozenset[int]]]:
    """A plain Reber string ``B ... E`` and the legal next symbols after each of its prefixes."""
    symbols, legal = [_B], [frozenset({_T, _P})]
    state = 0
    while state != 5:
        symbol, state = rng.choice(_REBER[state])
        symbols.append(symbol)
        legal.append(frozenset({_E}) if state == 5 else frozenset(s for s, _ in _REBER[state]))
    symbols.append(_E)
    legal.append(frozenset({_B}))
    return symbols, legal


def reber_strings(n: int, seed: int = 0, embedded: bool = True) -> list[ReberString]:
    """``n`` random strings of the (embedded) Reber grammar, every branch taken with p = 1/2.

    The embedded grammar wraps a Reber string as ``B T <reber> T E`` or ``B P <reber> P E``: the
    second-to-last symbol repeats the second one, a dependency across the whole string.

    Examples
    --------
    >>> s = reber_strings(1, seed=0)[0]
    >>> s.text()[:2] in ("BT", "BP"), s.text()[-2] == s.text()[1], s.text()[-1]
    (True, True, 'E')
    >>> [REBER_SYMBOLS[i] for i in sorted(s.legal_next[0])]
    ['T', 'P']
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        inner, inner_legal = _reber_inner(rng)
        if not embedded:
            out.append(ReberString(tuple(inner), tuple(inner_legal)))
            continue
        branch = rng.choice((_T, _P))
        # After the inner E only the branch symbol may come; after it, E; after E, a new B.
        inner_legal[-1] = frozenset({branch})
        symbols = [_B, branch, *inner, branch, _E]
        legal = [
            frozenset({_T, _P}),
            frozenset({_B}),
            *inner_legal,
            frozenset({_E}),
            frozenset({_B}),
        ]
        out.append(ReberString(tuple(symbols), tuple(legal)))
    return out


def legal_next_accuracy(
    learner: SequenceLearner, strings: Sequence[ReberString]
) -> tuple[float, float]:
    """How often ``learner`` predicts a symbol the grammar allows next, and a uniform guesser's.

    The strings are joined into one stream; every position with a full context is scored.
    """
    symbols = [symbol for s in strings for symbol in s.symbols]
    legal = [allowed for s in strings for allowed in s.legal_next]
    positions = range(learner.context, len(symbols))
    hits = sum(
        learner.predict_next(symbols[i - learner.context : i]) in legal[i - 1] for i in positions
    )
    chance = sum(len(legal[i - 1]) / len(REBER_SYMBOLS) for i in positions)
    return hits / len(positions), chance / len(positions)


def _is_single(symbols) -> bool:
    """One symbol (a scalar), rather than a sequence of them."""
    if isinstance(symbols, torch.Tensor):
        return symbols.dim() == 0
    return not isinstance(symbols, Iterable)


def _as_symbols(symbols, vocab_size: int, name: str = "symbol") -> list[int]:
    """Validate one symbol or a sequence of symbols; ``ValueError`` names the problem."""
    if isinstance(symbols, (str, bytes)):
        raise ValueError(f"{name} must be int symbol ids, got {type(symbols).__name__}")
    items = [symbols] if _is_single(symbols) else list(symbols)
    out = []
    for s in items:
        # operator.index accepts ints (and numpy/torch integer scalars) but not floats; bools
        # are ints in Python, yet a bool symbol is almost certainly a caller's mistake.
        if isinstance(s, bool):
            raise ValueError(f"{name} must be an int, got bool {s!r}")
        try:
            value = operator.index(s)
        except TypeError:
            raise ValueError(f"{name} must be an int, got {type(s).__name__} {s!r}") from None
        if not 0 <= value < vocab_size:
            raise ValueError(f"{name} {value} is outside the vocabulary [0, {vocab_size})")
        out.append(value)
    return out


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
        Torch device.

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
        device: str | torch.device = "cpu",
    ):
        if vocab_size < 2:
            raise ValueError(f"vocab_size must be >= 2, got {vocab_size}")
        if context < 1:
            raise ValueError(f"context must be >= 1, got {context}")
        if dreams not in ("teacher_forced", "generated", "both"):
            raise ValueError(
                f"dreams must be 'teacher_forced', 'generated' or 'both', got {dreams!r}"
            )
        if schedule not in ("sleep", "interleaved"):
            raise ValueError(f"schedule must be 'sleep' or 'interleaved', got {schedule!r}")
        if sleep_every < 1 or generate_steps < 1 or sleep_batch < 1:
            raise ValueError("sleep_every, generate_steps and sleep_batch must be >= 1")
        if dream_temperature <= 0:
            raise ValueError(f"dream_temperature must be > 0, got {dream_temperature}")
        self.config = dict(
            vocab_size=int(vocab_size),
            context=int(context),
            hidden=[int(h) for h in hidden],
            sleep_every=int(sleep_every),
            memory_capacity=int(memory_capacity),
            recent_capacity=int(recent_capacity),
            dreams=dreams,
            schedule=schedule,
            generate_steps=int(generate_steps),
            sleep_batch=int(sleep_batch),
            dream_temperature=float(dream_temperature),
            lr=float(lr),
            seed=seed,
        )
        self.vocab_size = int(vocab_size)
        self.context = int(context)
        self.device = torch.device(device)
        self.sleep_every = int(sleep_every)
        self.dreams = dreams
        self.schedule = schedule
        self.generate_steps = int(generate_steps)
        self.sleep_batch = int(sleep_batch)
        self.dream_temperature = float(dream_temperature)
        self.generator = torch.Generator().manual_seed(seed if seed is not None else torch.seed())
        self.net = FFNet.mlp(
            [(self.context + 1) * self.vocab_size, *hidden], seed=seed, lr=lr, device=self.device
        )
        # Windows are stored as symbol ids (context + 1 longs), not one-hot floats: V times smaller.
        self.memory = ReservoirMemory(memory_capacity)
        self.recent = RecentMemory(recent_capacity)
        self.history: deque[int] = deque(maxlen=self.context)
        self.symbols_seen = 0
        self.since_sleep = 0
        self.awake_updates = 0  # since the last sleep: a full sleep makes as many steps
        self.sleeps = 0

    # ------------------------------------------------------------------ encoding and scores
    @property
    def window(self) -> int:
        """Symbols per frame: ``context + 1``."""
        return self.context + 1

    def encode(self, windows: torch.Tensor) -> torch.Tensor:
        """One-hot frames of ``(n, context + 1)`` symbol ids: shape ``(n, (context+1) * V)``."""
        return F.one_hot(windows, self.vocab_size).float().flatten(1)

    @torch.no_grad()
    def scores(self, contexts: torch.Tensor) -> torch.Tensor:
        """Goodness of every candidate next symbol after each context: ``(n, vocab_size)``.

        Goodness is summed over layers >= 2 (all layers if there is one): the first layer mostly
        sees input statistics, as in Hinton's label inference.
        """
        n = contexts.shape[0]
        candidates = torch.arange(self.vocab_size, device=contexts.device)
        windows = torch.cat(
            [
                contexts.repeat_interleave(self.vocab_size, 0),
                candidates.repeat(n).unsqueeze(1),
            ],
            dim=1,
        )
        goodness = self.net.goodness(self.encode(windows))
        first = 1 if goodness.shape[1] > 1 else 0
        return goodness[:, first:].sum(1).view(n, self.vocab_size)

    def _sample(self, scores: torch.Tensor, temperature: float) -> torch.Tensor:
        if temperature == 0:
            return scores.argmax(1)
        probs = torch.softmax(scores / temperature, dim=1)
        return (
            torch.multinomial(probs.cpu(), 1, generator=self.generator).squeeze(1).to(scores.device)
        )

    def _context_tensor(self, context) -> torch.Tensor:
        symbols = _as_symbols(context, self.vocab_size, "context symbol")
        if len(symbols) < self.context:
            raise ValueError(f"context needs at least {self.context} symbols, got {len(symbols)}")
        return torch.tensor([symbols[-self.context :]], device=self.device)

    # ------------------------------------------------------------------ inference
    def next_distribution(self, context: Sequence[int], temperature: float = 1.0) -> torch.Tensor:
        """Probabilities of each next symbol after ``context`` (its last ``context`` symbols).

        A softmax of goodness; goodness is a sum of squares, so it ranks well but is sharp.
        """
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        return torch.softmax(self.scores(self._context_tensor(context))[0] / temperature, dim=0)

    def predict_next(self, context: Sequence[int]) -> int:
        """The most likely next symbol after ``context``."""
        return int(self.scores(self._context_tensor(context)).argmax(1))

    def generate(self, prompt: Sequence[int], n: int, temperature: float = 1.0) -> list[int]:
        """``n`` symbols written after ``prompt`` by sampling the model (``temperature=0``: argmax).

        Does not learn and does not touch the observed context.
        """
        if n < 0 or temperature < 0:
            raise ValueError(f"n and temperature must be >= 0, got {n} and {temperature}")
        context = self._context_tensor(prompt)
        out = []
        for _ in range(n):
            symbol = self._sample(self.scores(context), temperature)
            out.append(int(symbol))
            context = torch.cat([context[:, 1:], symbol.view(1, 1)], dim=1)
        return out

    # ------------------------------------------------------------------ dreams
    def teacher_forced_dreams(self, windows: torch.Tensor) -> torch.Tensor:
        """Real windows with the last symbol replaced by the model's own sample: ``(n, context+1)``.

        The true next symbol is excluded from the sample, so every dream is a window the data
        did not contain at that place (the hard negatives of Hinton's ffcode).
        """
        scores = self.scores(windows[:, :-1])
        scores = scores.scatter(1, windows[:, -1:], float("-inf"))
        wrong = self._sample(scores, self.dream_temperature)
        return torch.cat([windows[:, :-1], wrong.unsqueeze(1)], dim=1)

    def generated_dreams(self, windows: torch.Tensor, steps: int | None = None) -> torch.Tensor:
        """Windows the model writes itself from remembered contexts: ``(n * steps, context+1)``.

        Starting from the last ``context`` symbols of each window, the model samples a symbol,
        the window it closes is a dream, and the sample joins the context for the next step.
        """
        steps = self.generate_steps if steps is None else steps
        context = windows[:, 1:]
        out = []
        for _ in range(steps):
            symbol = self._sample(self.scores(context), self.dream_temperature).unsqueeze(1)
            out.append(torch.cat([context, symbol], dim=1))
            context = torch.cat([context[:, 1:], symbol], dim=1)
        return torch.cat(out)

    def make_dreams(self, windows: torch.Tensor) -> torch.Tensor:
        """The negatives for ``windows`` of real symbols, per the ``dreams`` option."""
        parts = []
        if self.dreams in ("teacher_forced", "both"):
            parts.append(self.teacher_forced_dreams(windows))
        if self.dreams in ("generated", "both"):
            parts.append(self.generated_dreams(windows))
        return torch.cat(parts)

    # ------------------------------------------------------------------ learning
    def observe(self, symbols: int | Sequence[int]) -> int | None | list[int | None]:
        """Learn from one symbol (or a sequence of them, in order), awake.

        Returns the prediction made for each symbol before learning from it (prequential), or
        ``None`` while the context is still filling. A sequence gives a list. Sleeps when due.
        Bad input (non-int, outside the vocabulary) raises ``ValueError`` before anything changes.
        """
        single = _is_single(symbols)
        values = _as_symbols(symbols, self.vocab_size)
        predictions = [self._observe_one(s) for s in values]
        return predictions[0] if single else predictions

    def _observe_one(self, symbol: int) -> int | None:
        prediction = None
        if len(self.history) == self.context:
            window = torch.tensor([[*self.history, symbol]], device=self.device)
            scores = self.scores(window[:, :-1])
            prediction = int(scores.argmax(1))
            neg = self.make_dreams(window) if self.schedule == "interleaved" else None
            self.net.step(
                pos=self.encode(window),
                neg=None if neg is None else self.encode(neg),
                check=False,  # one-hot frames built here are valid by construction
            )
            self.awake_updates += 1
            self.memory.add(window, None, self.generator)
            self.recent.add(window, None, self.generator)
        self.history.append(symbol)
        self.symbols_seen += 1
        self.since_sleep += 1
        if self.schedule == "sleep" and self.since_sleep >= self.sleep_every:
            self.sleep()
        return prediction

    def recall(self, n: int) -> torch.Tensor:
        """``n`` remembered real windows: half recent (since the last sleep), half long-term."""
        if len(self.recent) == 0:
            return self.memory.sample(n, self.generator)[0]
        n_recent = n - n // 2
        recent = self.recent.sample(n_recent, self.generator)[0]
        return torch.cat([recent, self.memory.sample(n - n_recent, self.generator)[0]])

    def sleep(self, steps: int | None = None) -> int:
        """Sleep now: ``steps`` updates on dreams beside replayed real windows; returns the steps.

        ``None`` makes as many steps as there were awake updates since the last sleep, so the
        positive push of the awake phase is balanced (see
        :meth:`ffstream.stream.StreamLearner.sleep`). Replay matters: negatives alone would
        only push goodness down, and the real windows beside them keep the contrast.
        """
        self.since_sleep = 0
        if len(self.memory) == 0:
            return 0
        steps = self.awake_updates if steps is None else steps
        for _ in range(steps):
            windows = self.recall(self.sleep_batch)
            neg = self.make_dreams(windows)
            self.net.step(pos=self.encode(windows), neg=self.encode(neg), check=False)
        self.recent.clear()
        self.awake_updates = 0
        self.sleeps += 1
        return steps

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        """Everything needed to continue bit-identically, in the checkpoint schema.

        Plain data and tensors only (see :mod:`ffstream.stream.checkpoint`); :meth:`save`
        adds the checksum when it writes the file.
        """
        state = {
            "net": self.net.state_dict(),
            "net_optimizer": self.net.optimizer.state_dict(),
            "memory": self.memory.state_dict(),
            "recent": self.recent.state_dict(),
            "history": list(self.history),
            "generator": self.generator.get_state(),
            "counters": {name: getattr(self, name) for name in _COUNTERS},
        }
        return envelope("SequenceLearner", dict(self.config), state)

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
    def load(cls, path, *, device: str | torch.device | None = None) -> SequenceLearner:
        """Rebuild a learner from :meth:`save`'s file, or an ffstream 0.1.0 one (safely: no
        pickled code runs, and the whole file is checked before it is used).

        ``device`` is where the learner will live (default: the CPU); checkpoints are
        device-independent. Loading leaves the process-wide torch RNG as it was.
        """
        payload = read_learner_checkpoint(path, "SequenceLearner")
        try:
            with torch.random.fork_rng(devices=[]):  # seeding and layer inits touch it
                learner = cls(**payload["config"], device=device or "cpu")
        except (TypeError, ValueError) as err:
            raise ValueError(f"{path}: the checkpoint's config is not valid: {err}") from None
        learner.load_state_dict(payload)
        return learner

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s output into this learner (built with the same config).

        Everything is checked first; on a mismatch ``ValueError`` names it and the learner is
        left exactly as it was.
        """
        payload = as_current(state, "SequenceLearner")
        if payload["config"] != self.config:
            raise ValueError("the checkpoint was made by a SequenceLearner with another config")
        saved = payload["state"]
        missing = [
            k
            for k in (
                "net",
                "net_optimizer",
                "memory",
                "recent",
                "history",
                "generator",
                "counters",
            )
            if k not in saved
        ]
        if missing:
            raise ValueError(f"the checkpoint's state lacks {missing}")
        check_tensors(saved["net"], self.net.state_dict(), "net")
        check_optimizer_state(saved["net_optimizer"], self.net.optimizer, "net_optimizer")
        for name in ("memory", "recent"):
            check_memory_state(
                saved[name],
                getattr(self, name),
                row_shape=(self.window,),
                dtype=torch.long,
                num_classes=None,
                value_limit=self.vocab_size,
                name=name,
            )
        history = saved["history"]
        if not isinstance(history, list) or len(history) > self.context:
            raise ValueError(f"history: expected a list of at most {self.context} symbols")
        history = _as_symbols(history, self.vocab_size, "history symbol")
        check_generator_state(saved["generator"], self.generator, "generator")
        counters = check_counters(saved["counters"], _COUNTERS)
        # Checked: from here on nothing can fail.
        self.net.load_state_dict(saved["net"])
        self.net.optimizer.load_state_dict(saved["net_optimizer"])
        for name in ("memory", "recent"):  # copies: never share storage with the caller's state
            part = {k: v.clone() if torch.is_tensor(v) else v for k, v in saved[name].items()}
            getattr(self, name).load_state_dict(part, self.device)
        self.history = deque(history, maxlen=self.context)
        self.generator.set_state(saved["generator"])
        for name, value in counters.items():
            setattr(self, name, value)


_COUNTERS = ("symbols_seen", "since_sleep", "awake_updates", "sleeps")
