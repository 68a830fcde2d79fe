"""Replicas: what keeps N ranks' copies of one model one, whatever learns with it.

The two sync modes of :mod:`ffstream.distributed` in one place: ``"allreduce"`` (each local
update averaged before it is applied, through hooks a subclass installs) and ``"average"``
(every rank learns alone and the models are averaged every ``every`` frames or env steps per
rank). A subclass names its model's tensors (:meth:`Replicas.model_tensors`) and the counters
that must agree across ranks (:meth:`Replicas.position`); every exchange carries them, so ranks
that drift out of step fail with :class:`~ffstream.distributed.collectives.RanksDisagree`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
import torch.distributed as dist

from ffstream.distributed.collectives import average, broadcast, max_difference

__all__ = ["MODES", "Replicas"]

#: the two ways of keeping the ranks' models one
MODES = ("allreduce", "average")


class Replicas(ABC):
    """Base of the data-parallel wrappers: the sync mode, the exchanges and the averages.

    Subclasses call :meth:`_join` once their model exists, :meth:`_begin` at the start of each
    collective call, :meth:`_advanced` after it with the frames (or env steps) it learned from,
    and :meth:`_exchange` from their gradient hooks.
    """

    def __init__(self, *, mode: str, every: int, group=None):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive int, got {every!r}")
        if not dist.is_initialized():
            raise ValueError("torch.distributed has no process group: initialise one first")
        self.mode, self.every, self.group = mode, every, group
        self.rank = dist.get_rank(group)
        self.world_size = dist.get_world_size(group)
        self.syncs = 0  # weight averages made
        self._exchanges = 0  # exchanges within the current collective call
        self._since_sync = 0

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(rank={self.rank}, world_size={self.world_size}, "
            f"mode={self.mode!r}, every={self.every})"
        )

    # ------------------------------------------------------------------ what subclasses name
    @abstractmethod
    def model_tensors(self) -> list[torch.Tensor]:
        """Every floating-point tensor the ranks must agree on, in a fixed order."""

    @abstractmethod
    def position(self) -> tuple[int, ...]:
        """Counters that are equal on every rank at every exchange when ranks are in step."""

    # ------------------------------------------------------------------ exchanges
    def _join(self) -> None:
        """Start from rank 0's model on every rank (collective)."""
        broadcast(self.model_tensors(), group=self.group)
        self._changed_in_place()

    def _begin(self) -> None:
        self._exchanges = 0

    def _exchange(self, tensors: list[torch.Tensor], what: str) -> None:
        average(tensors, (*self.position(), self._exchanges), what=what, group=self.group)
        self._exchanges += 1
        self._changed_in_place()

    @abstractmethod
    def _changed_in_place(self) -> None:
        """After a collective wrote into the model's tensors: what caches values derived
        from them derives them again."""

    def _advanced(self, frames: int) -> None:
        """``"average"`` mode averages once ``every`` frames have passed since the last."""
        if self.mode == "average":
            self._since_sync += frames
            if self._since_sync >= self.every:
                self.sync()

    def sync(self) -> None:
        """Average every rank's model now (collective); ``"average"`` mode does it every
        ``every`` frames by itself."""
        self._begin()
        self._exchange(self.model_tensors(), "weight average")
        self._since_sync = 0
        self.syncs += 1

    def max_divergence(self) -> float:
        """The largest difference of any model element between ranks (collective): 0.0 when
        the ranks hold one model."""
        return max_difference(self.model_tensors(), group=self.group)
