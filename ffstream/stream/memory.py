"""Bounded, device-resident memories of past frames."""

from __future__ import annotations

import bisect

import torch

from ffstream._device import from_host

__all__ = ["Memory", "ReservoirMemory", "RecentMemory", "ClassBalancedMemory"]

#: Up to this many frames per call, slots are computed with Python ints (cheaper at batch 1).
_SMALL_BATCH = 64


class Memory:
    """Fixed-capacity storage of frames (and optional labels) as preallocated tensors.

    Storage is allocated once, on first use (``capacity`` rows plus one spare row that absorbs
    the writes of frames not kept), so memory use is ``O(capacity)`` however long the stream
    runs. Subclasses decide which slot a new frame goes to (or whether it is kept).
    """

    def __init__(self, capacity: int):
        if capacity <= 0:
            raise ValueError(f"memory capacity must be positive, got {capacity}")
        self.capacity = int(capacity)
        self.frames: torch.Tensor | None = None
        self.labels: torch.Tensor | None = None
        self.size = 0
        self.seen = 0
        self.labelled = False

    def __len__(self) -> int:
        return self.size

    def _allocate(self, x: torch.Tensor) -> None:
        # One spare row at the end takes the writes of frames that are not kept.
        self.frames = x.new_zeros((self.capacity + 1, *x.shape[1:]))
        self.labels = torch.full((self.capacity + 1,), -1, dtype=torch.long, device=x.device)

    def add(self, x: torch.Tensor, y: torch.Tensor | None, generator: torch.Generator) -> None:
        """Offer a batch of frames; ``y`` may be ``None`` for unlabelled streams."""
        if self.frames is None:
            self._allocate(x)
            self.labelled = y is not None
        elif self.labelled != (y is not None):
            raise ValueError("a memory holds either labelled or unlabelled frames, not both")
        # Dropped frames get slot `capacity`, the spare row past the end: no mask, no sync.
        slots = self._slots(x.shape[0], y, generator)
        self.frames.index_copy_(0, slots, x)
        if y is not None:
            self.labels.index_copy_(0, slots, y)
        self.seen += x.shape[0]

    def widen(self, n: int) -> None:
        """Append ``n`` features, 0 in every stored flat frame (a stream whose frames gained
        features, in standard units: 0 is a new feature's running mean)."""
        if self.frames is not None:
            self.frames = torch.cat([self.frames, self.frames.new_zeros(len(self.frames), n)], 1)

    def _slots(self, n: int, y, generator) -> torch.Tensor:
        """The row of each of ``n`` new frames; ``capacity`` (the spare row) drops a frame."""
        raise NotImplementedError  # abstract: each policy picks slots

    def sample(
        self, n: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``n`` stored frames drawn uniformly with replacement (and their labels)."""
        if self.size == 0:
            raise RuntimeError("memory is empty: observe some frames first")
        index = from_host(
            torch.randint(0, self.size, (n,), generator=generator), self.frames.device
        )
        return self.frames[index], (self.labels[index] if self.labelled else None)

    def state_dict(self) -> dict:
        return {
            "frames": self.frames,
            "labels": self.labels,
            "size": self.size,
            "seen": self.seen,
            "labelled": self.labelled,
        }

    def load_state_dict(self, state: dict, device: torch.device | str | None = None) -> None:
        """Restore :meth:`state_dict`'s output, moving the stored frames to ``device`` if given."""
        frames, labels = state["frames"], state["labels"]
        if device is not None:
            frames = None if frames is None else frames.to(device)
            labels = None if labels is None else labels.to(device)
        self.frames, self.labels = frames, labels
        self.size, self.seen = int(state["size"]), int(state["seen"])
        self.labelled = bool(state["labelled"])


class ReservoirMemory(Memory):
    """Reservoir sampling (Vitter's algorithm R): every frame seen so far is stored with equal
    probability ``capacity / seen``.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> memory = ReservoirMemory(capacity=100)
    >>> for t in range(1000):
    ...     memory.add(torch.full((1, 2), float(t)), None, g)
    >>> len(memory), memory.seen
    (100, 1000)
    >>> float(memory.frames[:, 0].mean()) > 200  # not just the first 100 frames
    True
    """

    def _slots(self, n, y, generator):
        # Algorithm R: frame p (0-based) replaces slot j ~ U{0..p} if j < capacity.
        draws = torch.rand(n, generator=generator, dtype=torch.float64)
        if n <= _SMALL_BATCH:  # a handful of Python ints beats a dozen tiny tensor ops
            slots = [self._slot(self.seen + i, u) for i, u in enumerate(draws.tolist())]
            self.size = min(self.capacity, self.seen + n)
            return from_host(torch.tensor(slots), self.frames.device)
        positions = torch.arange(self.seen, self.seen + n, dtype=torch.float64)
        slots = torch.where(positions < self.capacity, positions, draws * (positions + 1)).long()
        slots.clamp_(max=self.capacity)  # past the reservoir: the spare row
        self.size = min(self.capacity, self.seen + n)
        return from_host(slots, self.frames.device)

    def _slot(self, position: int, draw: float) -> int:
        if position < self.capacity:
            return position
        return min(int(draw * (position + 1)), self.capacity)


class RecentMemory(Memory):
    """A ring buffer of the most recent ``capacity`` frames.

    Examples
    --------
    >>> memory = RecentMemory(capacity=3)
    >>> memory.add(torch.arange(5.0).view(5, 1), None, torch.Generator())
    >>> sorted(memory.frames[: len(memory)].view(-1).tolist())
    [2.0, 3.0, 4.0]
    """

    def _slots(self, n, y, generator):
        # Only the newest `capacity` frames of a batch survive; older ones go to the spare row.
        first_kept = max(0, n - self.capacity)
        slots = [self.capacity] * first_kept + [
            (self.seen + i) % self.capacity for i in range(first_kept, n)
        ]
        self.size = min(self.capacity, self.seen + n)
        return from_host(torch.tensor(slots), self.frames.device)

    def clear(self) -> None:
        """Forget everything (storage stays allocated)."""
        self.size = 0
        self.seen = 0


class ClassBalancedMemory(Memory):
    """Equal share per class seen so far; reservoir sampling within each class.

    When a new class appears, the largest class gives up a random slot. Needs labels.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> memory = ClassBalancedMemory(capacity=20)
    >>> for t in range(300):
    ...     memory.add(torch.zeros(1, 2), torch.tensor([0 if t < 280 else 1]), g)
    >>> torch.bincount(memory.labels[: len(memory)]).tolist()
    [10, 10]
    """

    def __init__(self, capacity: int):
        super().__init__(capacity)
        self.class_seen: dict[int, int] = {}
        # Host-side index of the stored slots of each class, kept sorted: choosing slots
        # needs no device reads, so a memory on a GPU costs no synchronisation per frame.
        self._slots_of: dict[int, list[int]] = {}

    def _largest_class(self) -> int:
        """The class with the most stored frames (the smallest label on ties)."""
        return max(sorted(self._slots_of), key=lambda c: len(self._slots_of[c]))

    def _donor_for(self, label: int) -> list[int] | None:
        """The slots of the largest class if ``label`` holds less than its equal share."""
        largest = self._largest_class()
        fair_share = self.capacity // len(self.class_seen)
        if largest != label and len(self._slots_of[label]) < fair_share:
            return self._slots_of[largest]
        return None

    def _slots(self, n, y, generator):
        if y is None:
            raise ValueError("ClassBalancedMemory needs labels")
        slots = []
        for label in y.tolist():
            seen = self.class_seen.get(label, 0) + 1
            self.class_seen[label] = seen
            own = self._slots_of.setdefault(label, [])
            if self.size < self.capacity:
                slot = self.size  # above every stored slot: `own` stays sorted
                self.size += 1
                own.append(slot)
            elif (donor := self._donor_for(label)) is not None:  # take a slot of the largest
                slot = donor.pop(int(torch.randint(0, len(donor), (1,), generator=generator)))
                bisect.insort(own, slot)
            else:  # reservoir within the class
                j = int(torch.randint(0, seen, (1,), generator=generator))
                slot = own[j] if j < len(own) else self.capacity
            slots.append(slot)
        return from_host(torch.tensor(slots), self.frames.device)

    def state_dict(self) -> dict:
        state = super().state_dict()
        keys = sorted(self.class_seen)
        state["class_seen"] = torch.tensor([[k, self.class_seen[k]] for k in keys]).view(-1, 2)
        return state

    def load_state_dict(self, state: dict, device: torch.device | str | None = None) -> None:
        super().load_state_dict(state, device)
        self.class_seen = {int(k): int(v) for k, v in state["class_seen"].tolist()}
        self._slots_of = {}
        if self.labels is not None:
            for slot, label in enumerate(self.labels[: self.size].tolist()):
                self._slots_of.setdefault(label, []).append(slot)
