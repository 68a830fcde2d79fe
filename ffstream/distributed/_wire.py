"""What travels between the stages of a layer pipeline, and how (internal).

A message is one flat float32 buffer sent point to point (``isend``/``irecv``): a small header
(its kind and row counts), then every tensor of the message (on a small net the per-call cost
of gloo is far more than the bytes'). The receiving stage derives the layout from the header and
what it knows of the net (:class:`Shapes`), so no shape travels. It keeps ``depth`` receives
posted ahead into buffers of a fixed capacity (:class:`Inbox`): a send that finds its receive
already posted goes at once, where one that waits for it costs a round trip (measured on this
machine: 260 against 650 microseconds a message). A message larger than the capacity sends its
header there and its buffer apart, on another tag. A failed send or receive (the peer died, or
did not answer within the process group's timeout) raises
:class:`~ffstream.distributed.collectives.RankLost`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import astuple, dataclass

import torch
import torch.distributed as dist

from ffstream.distributed.collectives import _collective

__all__ = [
    "AWAKE",
    "SCORE",
    "SLEEP",
    "STOP",
    "HEAD",
    "Header",
    "Inbox",
    "Link",
    "LAST",
    "Outbox",
    "Receipt",
    "Shapes",
    "Share",
    "pack",
    "size",
    "unpack",
]

AWAKE, SLEEP, SCORE, STOP = 1, 2, 3, 4
HEAD = 9  # floats before a message's parts: the header's 8 fields and the spill flag
LAST = 7  # where a packed message holds Header.last
_MESSAGES, _SPILLED, _SCORES = 0, 1, 2  # tags
_END = torch.zeros(HEAD)  # after a bundle's last message: a header of kind 0


@dataclass(frozen=True)
class Header:
    """A message's kind and row counts: the rows under the neutral label (read by the
    readout), the positive and negative rows (learned from), the rows sent ahead to be scored,
    the labels, whether the head slept after this (awake) batch, and whether the message is
    the last of a bundle the head sent (the top answers with that bundle's scores)."""

    kind: int
    neutral: int = 0
    pos: int = 0
    neg: int = 0
    ahead: int = 0
    labels: int = 0
    slept: int = 0
    last: int = 0

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
    """One float32 message: the header, then ``parts`` in layout order (labels as floats:
    exact below 2**24)."""
    flat = [torch.tensor([*astuple(h), 0], dtype=torch.float32)]
    for name, shape in shapes.layout(h):
        t = parts.get(name)
        if t is None or 0 in shape:
            continue
        if tuple(t.shape) != shape:  # a protocol error: both sides derive the same layout
            raise RuntimeError(
                f"pipeline message part {name} has shape {tuple(t.shape)}, not {shape}"
            )
        flat.append(t.detach().reshape(-1).float())
    return torch.cat(flat)


def unpack(h: Header, shapes: Shapes, flat: torch.Tensor) -> dict[str, torch.Tensor]:
    """:func:`pack`'s parts back, as views of ``flat`` (the parts, without the header; labels
    as longs)."""
    parts, start = {}, 0
    for name, shape in shapes.layout(h):
        n = shape[0] * (shape[1] if len(shape) > 1 else 1)
        parts[name] = flat[start : start + n].view(shape)
        start += n
    parts["y"] = parts["y"].long()
    return parts


def size(h: Header, shapes: Shapes) -> int:
    """Floats in a message's parts (after the header)."""
    return sum(s[0] * (s[1] if len(s) > 1 else 1) for _, s in shapes.layout(h))


class Receipt:
    """Class scores on their way from the top (``irecv`` posted when made); :meth:`get` waits."""

    def __init__(self, src: int, shape: tuple[int, ...], what: str):
        self.buffer = torch.empty(shape)
        self.what = what
        self._work = _start(dist.irecv, self.buffer, src, what, _SCORES)

    def ready(self) -> bool:
        """Whether the tensor has arrived."""
        return self._work is None or self._work.is_completed()

    def get(self) -> torch.Tensor:
        """The tensor, once it has arrived."""
        if self._work is not None:
            _collective(self.what, self._work.wait)
            self._work = None
        return self.buffer


class Share:
    """Rows ``start`` to ``stop - 1`` of a :class:`Receipt` (one sleep batch's scores)."""

    def __init__(self, receipt: Receipt, start: int, stop: int):
        self.receipt, self.start, self.stop = receipt, start, stop

    def ready(self) -> bool:
        """Whether the scores have arrived."""
        return self.receipt.ready()

    def get(self) -> torch.Tensor:
        """The scores, once they have arrived."""
        return self.receipt.get()[self.start : self.stop]


class Link:
    """Point-to-point sends with at most ``depth`` in flight: the sender runs ahead of the
    receiver by that much, then waits."""

    def __init__(self, depth: int):
        self.depth = depth
        self._sent: deque = deque()

    def send(self, dst: int, t: torch.Tensor, what: str, tag: int = _MESSAGES) -> None:
        """Start sending ``t`` (kept alive until sent) to ``dst``."""
        self._sent.append((_start(dist.isend, t, dst, what, tag), t, what))
        while len(self._sent) > self.depth:
            work, _, what = self._sent.popleft()
            _collective(what, work.wait)

    def send_bundle(self, dst: int, messages: list[torch.Tensor], capacity: int) -> None:
        """:func:`pack`'ed messages in one send, to the :class:`Inbox` (of ``capacity``
        floats) of rank ``dst``; a single message too large for it sends its parts apart."""
        what = f"send to rank {dst}"
        if len(messages) == 1 and messages[0].numel() + HEAD > capacity:
            head = messages[0][:HEAD].clone()
            head[-1] = 1  # spilled
            self.send(dst, torch.cat([head, _END]), what)
            self.send(dst, messages[0][HEAD:], what, _SPILLED)
        else:
            self.send(dst, torch.cat([*messages, _END]), what)

    def send_scores(self, dst: int, scores: torch.Tensor) -> None:
        """Class scores for a :class:`Receipt` on rank ``dst``."""
        self.send(dst, scores.contiguous(), f"send of scores to rank {dst}", _SCORES)

    def flush(self) -> None:
        """Wait until everything started has been sent."""
        while self._sent:
            work, _, what = self._sent.popleft()
            _collective(what, work.wait)


class Inbox:
    """Messages from rank ``src``, received into ``depth`` buffers of ``capacity`` floats
    posted ahead (a buffer is posted again once all its messages have been handled)."""

    def __init__(self, src: int, shapes: Shapes, capacity: int, depth: int):
        self.src, self.shapes = src, shapes
        self.what = f"receive from rank {src}"
        self._posted = deque(self._post(torch.empty(capacity)) for _ in range(depth))
        self._held, self._at = None, 0  # the buffer being read, and where

    def _post(self, buffer: torch.Tensor):
        return _start(dist.irecv, buffer, self.src, self.what, _MESSAGES), buffer

    def receive(self, before_wait: Callable[[], None] | None = None):
        """The next message: its :class:`Header` and its parts (views valid until the next
        call). ``before_wait`` runs before waiting for a new buffer (to send a bundle)."""
        buffer, at = self._held, self._at
        if buffer is None or at + HEAD > buffer.numel() or buffer[at] == 0:
            if buffer is not None:
                self._posted.append(self._post(buffer))
            if before_wait is not None:
                before_wait()
            work, buffer = self._posted.popleft()
            _collective(self.what, work.wait)
            self._held, at = buffer, 0
        *fields, spilled = (int(v) for v in buffer[at : at + HEAD].tolist())
        h = Header(*fields)
        n = size(h, self.shapes)
        if spilled:
            flat = torch.empty(n)
            _collective(self.what, _start(dist.irecv, flat, self.src, self.what, _SPILLED).wait)
            self._at = at + HEAD
        else:
            flat = buffer[at + HEAD : at + HEAD + n]
            self._at = at + HEAD + n
        return h, unpack(h, self.shapes, flat)


def _start(call, t: torch.Tensor, peer: int, what: str, tag: int):
    out = []
    _collective(what, lambda: out.append(call(t, peer, tag=tag)))
    return out[0]


class Outbox:
    """Messages for rank ``dst``, bundled ``group`` to a send (or fewer, within the
    ``capacity`` of its :class:`Inbox`).

    The head's outbox (``scores=(top, classes)``) marks the last message of each bundle, at
    which the top answers with the scores of every sleep batch the bundle asked for, and posts
    one :class:`Receipt` for them, whose :class:`Share` each batch gets.
    """

    def __init__(self, link: Link, dst: int, shapes: Shapes, capacity: int, group: int, scores):
        self.link, self.dst, self.shapes = link, dst, shapes
        self.capacity, self.group, self.scores = capacity, group, scores
        self._bundle: list[torch.Tensor] = []
        self._floats = 0  # the bundle's, its end marker included
        self._asked: list = []  # the sleep batches (Recalled) whose scores the bundle asks for

    def put(self, h: Header, parts: dict, asked: Sequence = ()) -> None:
        """Bundle a message (``asked``: the batches, in order, of its ``ahead`` rows)."""
        message = pack(h, self.shapes, parts)
        if self._bundle and self._floats + message.numel() > self.capacity:
            self.flush()
        self._floats += message.numel() + (0 if self._bundle else HEAD)
        self._bundle.append(message)
        self._asked += asked
        if len(self._bundle) >= self.group or message.numel() + HEAD > self.capacity:
            self.flush()

    def flush(self) -> None:
        """Send the bundle (before waiting for anything it leads to)."""
        if not self._bundle:
            return
        if self.scores is not None:
            self._bundle[-1][LAST] = 1
        self.link.send_bundle(self.dst, self._bundle, self.capacity)
        self._bundle, self._floats = [], 0
        if self._asked:
            top, classes = self.scores
            rows = [b.x.shape[0] for b in self._asked]
            receipt = Receipt(top, (sum(rows), classes), f"receive of scores from rank {top}")
            start = 0
            for batch, n in zip(self._asked, rows):
                batch.scores = Share(receipt, start, start + n)
                start += n
            self._asked = []
