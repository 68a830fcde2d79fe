"""The river front ends' recent memories and dreams, made by the learner core's parts (internal).

River calls an estimator once per sample, and each torch call costs microseconds whatever its
size; so samples join the memory (:class:`~ffstream.stream.memory.RecentMemory`) and dreams are
made (:class:`~ffstream.stream.dreams.HybridDreams`) ``batch`` at a time, then handed out one
per sample. A dream is made from memories at most ``batch`` samples older than it would be
otherwise, a lag far below the memory's span.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from ffstream.river._features import SLEEP_EVERY
from ffstream.stream.dreams import Dreams, DreamSource
from ffstream.stream.memory import RecentMemory
from ffstream.stream.schedules import EveryN

__all__ = ["DreamSupply", "awake_sleep", "remember_labelled"]


class DreamSupply:
    """Recent standardised samples and the dreams made from them, handed out one at a time.

    Parameters
    ----------
    capacity
        Recent samples kept.
    dreams
        The dream generator (flat frames, no labels).
    seed
        Seeds its random generator (memory sampling and dreams).
    batch
        Samples remembered and dreams made per torch call.

    Examples
    --------
    >>> from ffstream.stream.dreams import HybridDreams
    >>> supply = DreamSupply(capacity=8, dreams=HybridDreams(), seed=0)
    >>> supply.next_dream() is None  # nothing remembered yet
    True
    >>> for value in (1.0, 2.0):
    ...     supply.remember(np.full(3, value, dtype=np.float32))
    >>> sorted(set(supply.next_dream().tolist())) <= [1.0, 2.0]
    True
    """

    def __init__(self, capacity: int, dreams: Dreams, seed: int, batch: int = 32):
        self.memory = RecentMemory(capacity)
        self.dreams = dreams
        self.batch = batch
        self.generator = torch.Generator().manual_seed(seed)
        self.pending: list[np.ndarray] = []  # samples not yet in the memory
        self.ready: list[np.ndarray] = []  # dreams not yet handed out

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        # A Generator does not pickle; its state as bytes does, the same bytes every time
        # (a fresh tensor would pickle its memory address, and river compares pickles).
        state["generator"] = self.generator.get_state().numpy().tobytes()
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.generator = torch.Generator()
        self.generator.set_state(torch.frombuffer(bytearray(state["generator"]), dtype=torch.uint8))

    def remember(self, u: np.ndarray) -> None:
        """Keep a (standardised) sample; it joins the memory with the next batch."""
        self.pending.append(u)
        if len(self.pending) >= self.batch:
            self._flush()

    def next_dream(self) -> np.ndarray | None:
        """The next dream, or None while fewer than two samples are remembered."""
        if not self.ready:
            self._flush()
            if len(self.memory) < 2:  # a hybrid mixes two memories
                return None
            remembered, _ = self.memory.sample(self.batch, self.generator)
            recall = functools.partial(self.memory.sample, generator=self.generator)
            source = DreamSource(
                generator=self.generator,
                frame_shape=remembered.shape[1:],
                num_classes=None,
                recall=recall,
                class_scores=None,
                goodness=None,
            )
            dreams, _ = self.dreams.generate(source, remembered, None)
            self.ready = list(dreams.numpy())
        return self.ready.pop()

    def widen(self, n: int) -> None:
        """Samples gained ``n`` features (appended, 0 in standard units): pad what is kept."""
        self._flush()
        self.memory.widen(n)
        self.ready = []  # made at the old width

    def _flush(self) -> None:
        if self.pending:
            block = torch.from_numpy(np.stack(self.pending).astype(np.float32, copy=False))
            self.memory.add(block, None, self.generator)
            self.pending = []


def awake_sleep(pending: list[tuple[np.ndarray, int]]) -> tuple[EveryN, RecentMemory]:
    """The sleep schedule of :class:`~ffstream.river.FFClassifier`'s mode ``"awake-sleep"`` and
    the memory of the samples awake since the last sleep, holding ``pending``
    ``(standardised sample, class)`` pairs.

    >>> schedule, memory = awake_sleep([(np.zeros(3), 1)])
    >>> len(memory), schedule.frames == memory.capacity
    (1, True)
    """
    schedule, memory = EveryN(frames=SLEEP_EVERY), RecentMemory(SLEEP_EVERY)
    for u, target in pending:
        remember_labelled(memory, u, target)
    schedule.load_state_dict({"since": len(pending)})
    return schedule, memory


def remember_labelled(memory: RecentMemory, u: np.ndarray, target: int) -> None:
    """Keep one standardised sample ``u`` of class ``target`` (a ring: no random slots, so no
    generator)."""
    label = torch.from_numpy(np.array([target], dtype=np.int64))  # cheaper than torch.tensor
    memory.add(torch.from_numpy(u[None]), label, None)
