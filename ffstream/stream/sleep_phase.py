"""The sleep phase of :class:`~ffstream.stream.core.LearnerCore`, and stale dream scores.

Asleep, the learner replays remembered frames as positives beside the dreams made from them.
The hard wrong label of a dream (:class:`~ffstream.stream.dreams.WrongLabelDreams`) is chosen
from the model's class scores of the remembered frame: a decision taken at the *top* of the
net. A layer pipeline (:mod:`ffstream.distributed.pipeline`) cannot wait for it, so there the
scores come from an earlier step; ``score_staleness = s`` makes the single-process core do the
same, so the two compute the same updates:

- each sleep batch is recalled ``s`` sleep steps before it is used, and scored at once, with
  the weights as they are then (before the updates of the step in which it was recalled);
- the first ``min(s, steps)`` batches of a sleep are recalled together when the sleep begins and
  scored with the weights the last awake step left; so batch ``j`` of a sleep is scored with
  the weights before sleep step ``max(0, j - s)``: ``min(j, s)`` sleep steps stale.

Only the dream's label is stale: the replayed positives, the readout's features and the
readout's own update read the weights of the step itself. ``s = 0`` (the default) is the
learner as it always was, bit for bit. Dreams that read no scores ignore the setting.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ffstream._checks import check_int
from ffstream.data.transforms import random_shift
from ffstream.stream._calls import locked

__all__ = ["Recalled", "ScoreQueue", "SleepPhase"]


@dataclass
class Recalled:
    """A sleep batch recalled from memory, and the class scores it was given (``None`` until
    the caller scores it; a pipeline may put a pending receipt there)."""

    x: torch.Tensor
    y: torch.Tensor | None
    scores: Any = None


class ScoreQueue:
    """The sleep batches of one sleep, recalled ``staleness`` steps before they are used.

    ``recall()`` makes one (varied) batch. :meth:`start` recalls the first batches (to be
    scored at once); then each step calls :meth:`next`, which recalls the batch of ``staleness``
    steps later (to be scored now, before this step's updates: the caller sets its ``scores``)
    and hands back this step's batch. At staleness 0 each step's batch is recalled when used.

    Examples
    --------
    >>> count = iter(range(10))
    >>> queue = ScoreQueue(2, 3, lambda: (torch.tensor([next(count)]), None))
    >>> [int(b.x) for b in queue.start()]  # batches 0 and 1, scored when the sleep begins
    [0, 1]
    >>> now, ahead = queue.next()  # step 0 uses batch 0 and recalls batch 2
    >>> int(now.x), int(ahead.x)
    (0, 2)
    >>> [queue.next()[1] for _ in range(2)]  # nothing left to recall ahead
    [None, None]
    """

    def __init__(self, staleness: int, steps: int, recall: Callable[[], tuple]):
        self.staleness, self.steps, self.recall = staleness, steps, recall
        self.step = 0
        self._pending: deque[Recalled] = deque()

    def _recall(self) -> Recalled:
        return Recalled(*self.recall())

    def start(self) -> list[Recalled]:
        """The first ``min(staleness, steps)`` batches, recalled now in order (score them)."""
        first = [self._recall() for _ in range(min(self.staleness, self.steps))]
        self._pending.extend(first)
        return first

    def next(self) -> tuple[Recalled, Recalled | None]:
        """``(this step's batch, the batch recalled for a later step or None)``."""
        if self.staleness == 0:
            self.step += 1
            return self._recall(), None
        ahead = None
        if self.step + self.staleness < self.steps:
            ahead = self._recall()  # before this step's dream draws: the order is the protocol
            self._pending.append(ahead)
        self.step += 1
        return self._pending.popleft(), ahead


class SleepPhase:
    """Mixin of :class:`~ffstream.stream.core.LearnerCore`: :meth:`sleep` and its parts."""

    _score_staleness = 0  # what a learner pickled before the option existed does

    @property
    def score_staleness(self) -> int:
        """Sleep steps by which the scores that choose a dream's wrong label are stale
        (module notes); 0: fresh, as always. A run-time setting, not kept in checkpoints."""
        return self._score_staleness

    @score_staleness.setter
    def score_staleness(self, steps: int) -> None:
        self._score_staleness = check_int(steps, "score_staleness", low=0, what="an int >= 0")

    def _recall_varied(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One sleep batch: ``sleep_batch`` remembered frames, as replayed."""
        x, y = self.recall(self.sleep_batch)
        return self._varied(x), y

    def _sleep_queue(self, steps: int) -> ScoreQueue:
        """This sleep's batches, recalled ahead when the dreams read stale scores."""
        stale = self.score_staleness if self.dreams.reads_scores else 0
        return ScoreQueue(stale, steps, self._recall_varied)

    @locked
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
        source = self.dream_source()
        queue = self._sleep_queue(steps)
        first = queue.start()
        if first:  # scored together, as a pipeline scores them in one message
            scores = self._latest_scores(torch.cat([b.x for b in first]))
            for batch, part in zip(first, scores.split([b.x.shape[0] for b in first])):
                batch.scores = part
        for _ in range(steps):
            now, ahead = queue.next()
            if ahead is not None:  # scored with the weights before this step's updates
                ahead.scores = self._latest_scores(ahead.x)
            x, y = now.x, now.y
            features, scores = self._readout_view(x, y)
            chosen_from = scores if now.scores is None else now.scores  # the stale ones, if any
            x_neg, y_neg = self.dreams.generate(source, x, y, scores=chosen_from)
            pos = self._encode(x, y) if self.replay else None  # each memory beside its dream
            self._readout_sleep_step(x, y, features, scores)
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

    def _readout_view(self, x: torch.Tensor, y: torch.Tensor | None):
        """Readout features and scores of replayed frames, when the readout learns from them.

        Computed once per sleep step and shared: the dreams read the scores, the readout's step
        the features (the weights do not change in between).
        """
        if y is None or self.readout is None or self.readout_learns != "always" or not self.replay:
            return None, None
        features = self._features(x)
        with torch.no_grad():
            return features, self.readout(features)

    def _readout_sleep_step(self, x, y, features=None, scores=None) -> None:
        """One readout step while asleep: on the recalled frames, or on long-term memories."""
        if y is None or self.readout is None:
            return
        if self.readout_learns == "asleep":
            x, y = self.memory.sample(self.readout_batch, self.generator)
            x = self._varied(x)
        elif not self.replay:
            return
        if features is None:
            features = self._features(x)
        self.readout.step(features, y, logits=scores)
