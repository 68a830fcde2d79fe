"""PipelineLearner: the layers of one :class:`~ffstream.stream.StreamLearner` spread over ranks.

Forward-Forward layers learn locally, so no gradient and no activation has to travel back down
the net: each rank holds a *stage* (a run of consecutive layers, :meth:`FFNet.stage
<ffstream.ff.FFNet.stage>`) and makes its own local update as soon as a frame's activities
arrive, while the stage below already works on the next frame.

Rank 0 is the *head*: it takes the frames, standardises them, keeps the memories, the schedule
and the random generator, makes the dreams, and runs the bottom stage. Each message it starts
travels up the stages; the last rank (the *top*) also holds the readout, predicts and reports
each frame's :class:`~ffstream.stream.Observation`. What travels up with each frame: the
normalised activities of the stage's top layer (one row per encoding: the frame under the
neutral label, read by the readout, and the positive and negative rows learned from), the
readout's columns gathered so far, the standardised frame (for a readout that reads it), the
labels, and awake the positive rows' goodness per layer.

Messages travel in bundles of ``group`` (one send each: a point-to-point call costs far more
than its bytes on a small net). The one decision that comes back down is the *class scores* that
choose a dream's hard wrong label (:class:`~ffstream.stream.WrongLabelDreams`): the top scores
each sleep batch when it was recalled, ``staleness`` sleep steps before the head uses it, and
answers once per bundle, so the head need not wait for the top inside a sleep (but at its first
step). A :class:`~ffstream.stream.StreamLearner` with ``score_staleness`` set to the same value
computes the same updates in one process (module notes of :mod:`ffstream.stream.sleep_phase`);
``tests/test_distributed_pipeline.py`` checks it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import torch
import torch.distributed as dist

from ffstream._checks import check_int
from ffstream._inputs import as_labels
from ffstream.distributed._wire import (
    AWAKE,
    HEAD,
    SCORE,
    SLEEP,
    STOP,
    Header,
    Inbox,
    Link,
    Outbox,
    Shapes,
    size,
)
from ffstream.distributed.collectives import _collective
from ffstream.distributed.pipeline_checks import layer_bounds, pipeline_refusals
from ffstream.stream import StreamLearner
from ffstream.stream.observation import Observation

__all__ = ["PipelineLearner", "pipeline_refusals"]

#: frames per awake batch that an inbox buffer holds (larger batches travel apart: slower)
_BATCH_CAPACITY = 64


class PipelineLearner:
    """One :class:`~ffstream.stream.StreamLearner` whose layers are spread over the ranks.

    Needs an initialised process group of at least 2 ranks (gloo); every rank builds the same
    learner (same config and seed) and wraps it. Rank 0 (the head) calls :meth:`observe` (and
    :meth:`sleep`) and finally :meth:`close`; every other rank calls :meth:`serve`, which returns
    when the head closes. Then :meth:`collect` (collective) gathers the whole model into the
    head's learner, which predicts, scores and saves as any ``StreamLearner``.

    Parameters
    ----------
    learner
        This rank's learner. Settings that cannot be pipelined (:func:`pipeline_refusals`) are
        refused with a ``ValueError`` naming them.
    staleness
        Sleep steps by which the scores choosing a dream's wrong label are stale (``None``:
        ranks × ``group``, about the least at which the head need not wait for the scores it
        asked for: they come back once the top has handled the bundle that asked, a bundle
        per stage behind). 0 is exact and makes every sleep step wait for the top. The head's
        learner gets it as ``score_staleness``.
    bounds
        Layer ``bounds[k]`` to ``bounds[k + 1] - 1`` on rank ``k`` (``None``: even shares).
    depth
        Sends a stage may have in flight before it waits for the next stage to take them.
    group
        Messages (awake batches or sleep steps) bundled into one send: a point-to-point call
        costs far more than its bytes on a small net, so fewer, larger sends win
        (docs/distributed.md has the measurements).

    Examples
    --------
    >>> import tempfile
    >>> store = dist.FileStore(tempfile.mktemp(), 1)
    >>> dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    >>> PipelineLearner(StreamLearner(4, 2, hidden=(8, 8), device="cpu", ema_decay=None))
    Traceback (most recent call last):
    ...
    ValueError: a layer pipeline needs at least 2 ranks, got 1 (one process: set score_staleness)
    >>> dist.destroy_process_group()
    """

    def __init__(
        self,
        learner: StreamLearner,
        *,
        staleness: int | None = None,
        bounds: Sequence[int] | None = None,
        depth: int = 4,
        group: int = 16,
    ):
        if not isinstance(learner, StreamLearner):
            raise ValueError(f"learner must be a StreamLearner, got {type(learner).__name__}")
        refused = pipeline_refusals(learner)
        if refused:
            raise ValueError("a layer pipeline cannot run " + "; ".join(refused))
        if staleness is not None:
            check_int(staleness, "staleness", low=0, what="an int >= 0 or None")
        self.depth = check_int(depth, "depth", low=1, what="an int >= 1")
        self.group = check_int(group, "group", low=1, what="an int >= 1")
        self.rank, self.world = dist.get_rank(), dist.get_world_size()
        if self.world < 2:
            raise ValueError(
                f"a layer pipeline needs at least 2 ranks, got {self.world} (one process: set "
                f"score_staleness)"
            )
        hidden = learner.config.hidden
        self.bounds = layer_bounds(bounds, len(hidden), self.world)
        self.staleness = self.world * self.group if staleness is None else int(staleness)
        learner.score_staleness = self.staleness
        self.learner = learner
        self.top = self.world - 1
        start, stop = self.bounds[self.rank], self.bounds[self.rank + 1]
        self.stage = learner.net.stage(start, stop)
        self._view = learner.readout is not None  # the readout reads every frame and replay
        skip = 1 if len(hidden) > 1 else 0  # the readout skips the first layer (FFNet.features)
        self._column = hidden[0] if start < skip else 0  # this stage's first readout column
        self._link = Link(self.depth)
        self._answers: list[torch.Tensor] = []  # the top: scores for the head's bundle
        self._out = None  # the top sends only scores, to the head
        if self.rank < self.top:
            k = self.rank + 1
            scores = (self.top, learner.num_classes) if self.rank == 0 else None
            shapes, capacity = self._shapes(k), self._capacity(k)
            self._out = Outbox(self._link, k, shapes, capacity, self.group, scores)
        self.frames = 0  # frames this rank has seen learnt (the head: observed)
        self._on_observation = None

    def _shapes(self, k: int) -> Shapes:
        """What stage ``k`` receives (per row)."""
        learner, hidden, b = self.learner, self.learner.config.hidden, self.bounds[k]
        skip = 1 if len(hidden) > 1 else 0
        return Shapes(
            frame=learner.num_features if self._view and learner.readout_reads_input else 0,
            width=hidden[b - 1],
            columns=sum(hidden[skip:b]) if self._view else 0,
            layers=b,
        )

    def _capacity(self, k: int) -> int:
        """Floats of each buffer of stage ``k``'s inbox: a sleep step's message or the first
        scores of a sleep, or an awake batch of up to :data:`_BATCH_CAPACITY` frames."""
        shapes, b = self._shapes(k), self.learner.sleep_batch
        n = _BATCH_CAPACITY
        largest = [
            Header(SLEEP, neutral=b, pos=b, neg=b, ahead=b, labels=b),
            Header(SCORE, ahead=max(1, self.staleness) * b),
            Header(AWAKE, neutral=n, pos=n, labels=n),
        ]
        return HEAD + self.group * (HEAD + max(size(h, shapes) for h in largest))

    # ------------------------------------------------------------------ the head
    def _head(self, what: str) -> None:
        if self.rank != 0:
            raise RuntimeError(f"{what} is the head's (rank 0); rank {self.rank} calls serve()")

    def observe(self, x, y=None) -> None:
        """Learn from one frame or a batch (the head only): the bottom stage's update, memory
        and schedule here, the rest as the message climbs. The prediction and
        :class:`~ffstream.stream.Observation` come out at the top (:meth:`serve`)."""
        self._head("observe")
        learner = self.learner
        x = learner.check_frames(x)
        if (y is None) != (learner.num_classes is None):
            raise ValueError("y: give labels exactly when the learner has num_classes")
        labels = (
            None
            if y is None
            else as_labels(y, x.shape[0], learner.num_classes, device=learner.device)
        )
        x = learner._standardized(x, learn=True)
        n = x.shape[0] if self._view else 0
        rows = [learner.encoding.neutral(x)] if n else []
        rows.append(learner._encode(x, labels))
        h = Header(AWAKE, neutral=n, pos=x.shape[0], labels=0 if labels is None else n)
        out = self._compute(h, {"y": labels, "x": x, "h": torch.cat(rows) if n else rows[0]})
        learner.awake_updates += 1
        learner.memory.add(x, labels, learner.generator)
        learner.recent.add(x, labels, learner.generator)
        learner.frames_seen += x.shape[0]
        self.frames += x.shape[0]
        due = learner.schedule.after_observe(x.shape[0], None)
        self._out.put(replace(h, slept=int(due != 0)), out)
        if due != 0:
            self.sleep(due)

    def sleep(self, steps: int | None = None) -> int:
        """A sleep phase now (the head only), as :meth:`StreamLearner.sleep` with the learner's
        ``score_staleness``: the same batches, dreams and updates. Returns the steps made."""
        self._head("sleep")
        learner = self.learner
        if len(learner.memory) == 0:
            return 0
        steps = max(1, learner.awake_updates) if steps is None else steps
        source = learner.dream_source()
        queue = learner._sleep_queue(steps)  # the learner's own order of recalls and draws
        first = queue.start()
        if first:
            self._score_now(first)
        for _ in range(steps):
            now, ahead = queue.next()
            scores = None
            if learner.dreams.reads_scores:
                if queue.staleness == 0:
                    self._score_now([now])  # exact: the top's scores of this very batch
                if now.scores is None or not now.scores.ready():
                    self._out.flush()  # its message may still wait in the bundle
                scores = now.scores.get()
            x_neg, y_neg = learner.dreams.generate(source, now.x, now.y, scores=scores)
            self._sleep_step(now.x, now.y, x_neg, y_neg, ahead)
        learner.recent.clear()
        learner.awake_updates = 0
        learner.sleeps += 1
        return steps

    def _sleep_step(self, x, y, x_neg, y_neg, ahead) -> None:
        """One sleep step's message: readout rows, positives, negatives, the batch ahead."""
        learner = self.learner
        n = x.shape[0] if self._view and y is not None else 0
        a = ahead.x.shape[0] if ahead is not None else 0
        rows = [learner.encoding.neutral(x)] if n else []
        rows += [learner._encode(x, y), learner._encode(x_neg, y_neg)]
        frames = [x] if n else []
        if a:
            rows.append(learner.encoding.neutral(ahead.x))
            frames.append(ahead.x)
        h = Header(
            SLEEP, neutral=n, pos=x.shape[0], neg=x_neg.shape[0], ahead=a, labels=n and y.shape[0]
        )
        parts = {"y": y, "x": torch.cat(frames) if frames else None, "h": torch.cat(rows)}
        # the batch ahead is scored at the top before this step's updates reach it
        self._out.put(h, self._compute(h, parts), [ahead] if a else [])

    def _score_now(self, batches) -> None:
        """Ask for the scores of ``batches`` with the weights as they are now (the first
        batches of a sleep, or every batch at staleness 0)."""
        x = torch.cat([b.x for b in batches])
        h = Header(SCORE, ahead=x.shape[0])
        parts = {"x": x, "h": self.learner.encoding.neutral(x)}
        self._out.put(h, self._compute(h, parts), batches)
        self._out.flush()

    def close(self) -> None:
        """End the job (the head only): every stage's :meth:`serve` returns."""
        self._head("close")
        self._out.put(Header(STOP), {})
        self._out.flush()
        self._link.flush()
        self._done()

    # ------------------------------------------------------------------ every stage
    def serve(self, on_observation: Callable[[Observation, torch.Tensor | None], None] = None):
        """Run this stage (ranks other than the head) until the head closes; returns the
        frames learnt. At the top, ``on_observation(observation, labels)`` is called for each
        observed batch, in order."""
        if self.rank == 0:
            raise RuntimeError("rank 0 is the head: it calls observe() and close()")
        inbox = Inbox(self.rank - 1, self._shapes(self.rank), self._capacity(self.rank), self.depth)
        self._on_observation = on_observation
        while True:
            h, parts = inbox.receive(before_wait=None if self._out is None else self._out.flush)
            if h.kind == STOP:
                if self.rank != self.top:
                    self._out.put(h, {})
                    self._out.flush()
                self._link.flush()
                self._done()
                return self.frames
            out = self._compute(h, parts)
            if out is not None:
                self._out.put(h, out)

    def _done(self) -> None:
        """Every rank leaves together: one that ended at once could reset connections whose
        last bytes another has not read yet."""
        _collective("barrier at the end of the pipeline", dist.barrier)

    def _compute(self, h: Header, parts: dict) -> dict | None:
        """This stage's share of a message: forward (before the update), local update, and
        what travels on (``None`` at the top, which predicts and answers instead)."""
        rows, n, p, q = parts["h"], h.neutral, h.pos, h.neg
        top = self.rank == self.top
        read = torch.cat([rows[:n], rows[n + p + q :]]) if n and h.ahead else None
        if read is None:
            read = rows[:n] if n else rows[n + p + q :]
        acts = None
        if top and h.read:  # the top sends nothing on: it reads only the readout's rows
            acts = self.stage.features(read, skip_first=False)
        elif not top:
            acts = self.stage.features(rows, skip_first=False)
        columns = None
        if self._view and h.read:
            mine = acts if top else torch.cat([acts[:n], acts[n + p + q :]])
            below = parts.get("f")
            columns = mine[:, self._column :]
            columns = columns if below is None else torch.cat([below, columns], 1)
        stats = None
        if p or q:
            pos, neg = rows[n : n + p] if p else None, rows[n + p : n + p + q] if q else None
            stats = self.stage.step(pos=pos, neg=neg, check=False)
        goodness = None
        if h.kind == AWAKE:
            below = parts.get("g")
            goodness = stats.pos_goodness
            goodness = goodness if below is None else torch.cat([below, goodness], 1)
            self.frames += p if self.rank else 0
        if top:
            self._answer(h, parts, columns, goodness)
            return None
        width = self.learner.config.hidden[self.bounds[self.rank + 1] - 1]
        out = {"y": parts.get("y"), "x": parts.get("x"), "h": acts[:, -width:]}
        return {**out, "f": columns, "g": goodness}

    def _answer(self, h: Header, parts: dict, columns, goodness) -> None:
        """The top's share: readout scores (the ones ahead back to the head), the readout's
        update, and awake the frame's observation."""
        learner, n = self.learner, h.neutral
        inputs = logits = None
        if columns is not None:
            inputs = columns
            if learner.readout_reads_input:
                inputs = torch.cat([parts["x"], columns * learner._activity_scale], 1)
            with torch.no_grad():
                logits = learner.readout(inputs)
            if h.ahead:
                self._answers.append(logits[n:])
        if h.last and self._answers:  # the end of one of the head's bundles
            self._link.send_scores(0, torch.cat(self._answers))
            self._answers = []
        if h.labels and n:
            learner.readout.step(inputs[:n], parts["y"], logits=logits[:n])
        if h.kind == AWAKE and self._on_observation is not None:
            prediction = logits[:n].argmax(1) if n else None
            seen = Observation(goodness, learner.novelty(goodness), prediction, bool(h.slept))
            self._on_observation(seen, parts["y"] if h.labels else None)

    # ------------------------------------------------------------------ the whole model
    def _stage_tensors(self, k: int) -> list[torch.Tensor]:
        """Rank ``k``'s share of the model: its layers' tensors (and the readout's, at the top)."""
        modules = list(self.learner.net.layers[self.bounds[k] : self.bounds[k + 1]])
        if k == self.top and self.learner.readout is not None:
            modules.append(self.learner.readout)
        return [t for m in modules for t in m.state_dict().values() if t.is_floating_point()]

    def collect(self) -> StreamLearner | None:
        """Gather every stage's layers and the readout into the head's learner (collective,
        after :meth:`close` and :meth:`serve`); the head's learner, ``None`` on other ranks.

        The optimiser states stay on their stages: the gathered learner predicts as the
        pipeline's model, and would go on learning with fresh optimiser states.
        """
        if self.rank != 0:
            mine = torch.cat([t.detach().reshape(-1) for t in self._stage_tensors(self.rank)])
            _collective(f"send of rank {self.rank}'s stage", dist.send, mine, 0)
            return None
        for k in range(1, self.world):
            tensors = self._stage_tensors(k)
            flat = torch.empty(sum(t.numel() for t in tensors))
            _collective(f"receive of rank {k}'s stage", dist.recv, flat, k)
            with torch.no_grad():
                for t, part in zip(tensors, flat.split([t.numel() for t in tensors])):
                    t.copy_(part.view_as(t))
        return self.learner
