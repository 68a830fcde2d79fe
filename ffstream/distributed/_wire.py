"""What travels between the stages of a layer pipeline, and how (internal).

A message is a small header (its kind and its row counts) and one flat float32 buffer, both sent
point to point (``isend``/``irecv``: on a small net the per-call latency of gloo costs more than
the bytes, so every tensor of a message travels in one buffer). The receiving stage derives the
buffer's layout from the header and what it knows of the net (:class:`Shapes`), so no shape
travels. A failed send or receive (the peer died, or did not answer within the process group's
timeout) raises :class:`~ffstream.distributed.collectives.RankLost`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import astuple, dataclass

import torch
import torch.distributed as dist

from ffstream.distributed.collectives import _collective

__all__ = [
    "AWAKE",
    "SCORE",
    "SLEEP",
    "STOP",
    "Header",
    "Link",
    "Receipt",
    "Shapes",
    "pack",
    "size",
    "unpack",
]

AWAKE, SLEEP, SCORE, STOP = 1, 2, 3, 4
_FIELDS = 7


@dataclass(frozen=True)
class Header:
    """A message's kind and row counts: the rows under the neutral label (read by the
    readout), the positive and negative rows (learned from), the rows sent ahead to be scored,
    the labels, and whether the head slept after this (awake) batch."""

    kind: int
    neutral: int = 0
    pos: int = 0
    neg: int = 0
    ahead: int = 0
    labels: int = 0
    slept: int = 0

    @property
    def rows(self) -> int:
        """Rows that go through the layers."""
        return self.neutral + self.pos + self.neg + self.ahead

    @property
    def read(self) -> int:
        """Rows the readout reads: the neutral ones, then the ones sent ahead."""
        return self.neutral + self.ahead


@dataclass(frozen=True)
class Shapes:
    """What a stage receives, per row: features of the frame (for a readout that reads it; 0
    otherwise), the width of the activities entering it, the readout columns gathered below it
    and the number of layers below it (the positive rows' goodness, awake)."""

    frame: int
    width: int
    columns: int
    layers: int

    def layout(self, h: Header) -> list[tuple[str, tuple[int, int] | tuple[int]]]:
        """The parts of a message's buffer, in order."""
        return [
            ("y", (h.labels,)),
            ("x", (h.read if self.frame else 0, self.frame)),
            ("h", (h.rows, self.width)),
            ("f", (h.read, self.columns)),
            ("g", (h.pos if h.kind == AWAKE else 0, self.layers)),
        ]


def pack(h: Header, shapes: Shapes, parts: dict[str, torch.Tensor | None]) -> torch.Tensor:
    """One float32 buffer of ``parts`` (labels as floats: exact below 2**24), in layout order."""
    flat = []
    for name, shape in shapes.layout(h):
        t = parts.get(name)
        if t is None or 0 in shape:
            continue
        if tuple(t.shape) != shape:  # a protocol error: both sides derive the same layout
            raise RuntimeError(
                f"pipeline message part {name} has shape {tuple(t.shape)}, not {shape}"
            )
        flat.append(t.detach().reshape(-1).float())
    return torch.cat(flat) if flat else torch.zeros(0)


def unpack(h: Header, shapes: Shapes, flat: torch.Tensor) -> dict[str, torch.Tensor]:
    """:func:`pack`'s parts back, as views of ``flat`` (labels as longs)."""
    parts, start = {}, 0
    for name, shape in shapes.layout(h):
        n = shape[0] * (shape[1] if len(shape) > 1 else 1)
        parts[name] = flat[start : start + n].view(shape)
        start += n
    parts["y"] = parts["y"].long()
    return parts


def size(h: Header, shapes: Shapes) -> int:
    """Floats in a message's buffer."""
    return sum(s[0] * (s[1] if len(s) > 1 else 1) for _, s in shapes.layout(h))


class Receipt:
    """A tensor on its way from another rank (``irecv`` posted when made); :meth:`get` waits."""

    def __init__(self, src: int, shape: tuple[int, ...], what: str):
        self.buffer = torch.empty(shape)
        self.what = what
        self._work = _start(dist.irecv, self.buffer, src, what)

    def get(self) -> torch.Tensor:
        """The tensor, once it has arrived."""
        if self._work is not None:
            _collective(self.what, self._work.wait)
            self._work = None
        return self.buffer


class Link:
    """Point-to-point sends to other ranks with at most ``depth`` messages in flight (the
    sender runs ahead of the receiver by that much), and receives from them."""

    def __init__(self, depth: int):
        self.depth = depth
        self._sent: deque = deque()

    def send(self, dst: int, parts: list[torch.Tensor], what: str) -> None:
        """Start sending ``parts`` (kept alive until sent) to ``dst``; wait if too many are
        in flight."""
        for t in parts:
            self._sent.append((_start(dist.isend, t, dst, what), t, what))
        while len(self._sent) > 2 * self.depth:
            work, _, what = self._sent.popleft()
            _collective(what, work.wait)

    def send_message(self, dst: int, h: Header, flat: torch.Tensor) -> None:
        """A header and its buffer, to the next stage."""
        parts = [torch.tensor(astuple(h), dtype=torch.int64)] + ([flat] if flat.numel() else [])
        self.send(dst, parts, f"send to rank {dst}")

    def receive_message(self, src: int, shapes: Shapes) -> tuple[Header, dict[str, torch.Tensor]]:
        """The next message from ``src``: its header and its parts."""
        what = f"receive from rank {src}"
        raw = torch.zeros(_FIELDS, dtype=torch.int64)
        _collective(what, _start(dist.irecv, raw, src, what).wait)
        h = Header(*raw.tolist())
        flat = torch.empty(size(h, shapes))
        if flat.numel():
            _collective(what, _start(dist.irecv, flat, src, what).wait)
        return h, unpack(h, shapes, flat)

    def flush(self) -> None:
        """Wait until every message started has been sent."""
        while self._sent:
            work, _, what = self._sent.popleft()
            _collective(what, work.wait)


def _start(call, t: torch.Tensor, peer: int, what: str):
    out = []
    _collective(what, lambda: out.append(call(t, peer)))
    return out[0]
