"""DataParallelLearner: one :class:`~ffstream.stream.StreamLearner` model learned by N ranks.

Each rank runs its own ``StreamLearner`` (the one learner core, unchanged) on its own shard of
the stream, and the wrapper keeps their models one, in either of two ways:

``"allreduce"``
    Every local update of the FF layers and of the readout is averaged over the ranks before
    the optimiser applies it (through :attr:`FFNet.grad_sync <ffstream.ff.FFNet.grad_sync>` and
    :attr:`LinearReadout.grad_sync <ffstream.ff.LinearReadout.grad_sync>`), together with the
    running statistics the ranks update alongside (peer normalisation's mean activities, the
    input standardiser). Weights and optimiser states stay identical on every rank, so N ranks
    at per-rank batch B make the update one process makes at batch N*B. Two collectives per
    awake step (layers, readout) and two per sleep step.
``"average"``
    Every rank learns alone for ``every`` of its frames, then all average their weights (the
    layers, their mean activities, the readout, the weight average if kept, the standardiser):
    one collective per ``every`` frames. Optimiser states stay per rank.

What stays per rank: the memories (each rank remembers its own shard), the random generator
(seeded ``seed + rank``, so ranks draw different replays and dreams) and, between averages in
``"average"`` mode, the weights. Ranks sleep at the same moments because the schedule counts
frames (:class:`~ffstream.stream.EveryN`) and every rank gets batches of the same size;
schedules that read the error signal are refused, since each rank's error differs. Every
exchange carries the ranks' frame counts and fails with
:class:`~ffstream.distributed.collectives.RanksDisagree` if they differ.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.distributed as dist

from ffstream.distributed.checkpoint import gather_state, load_learner, write_state
from ffstream.distributed.replicas import Replicas
from ffstream.stream import StreamLearner
from ffstream.stream.core import Observation

__all__ = ["DataParallelLearner", "model_tensors"]


def model_tensors(learner: StreamLearner) -> list[torch.Tensor]:
    """Every floating-point tensor of ``learner``'s model, in a fixed order: the layers (and
    their mean activities), the readout, the weight average and the input standardiser.

    What ranks must agree on; not the optimiser states, memories or generator, nor the weight
    average's running score against the weights (``live_lead``): each rank keeps score on the
    frames it sees, so each decides for itself whether its average predicts.

    Examples
    --------
    >>> learner = StreamLearner(4, 2, hidden=(8,), device="cpu", standardize=False)
    >>> shapes = [tuple(t.shape) for t in model_tensors(learner)]
    >>> shapes[:5]  # the layer's, then the readout's
    [(8,), (8, 6), (8,), (2, 12), (2,)]
    >>> shapes[5:] == shapes[:5]  # then the weight average's copies of them
    True
    """
    modules = [learner.net, learner.readout, learner.averaged, learner.standardizer]
    out = []
    for module in modules:
        if module is not None:
            state = module.state_dict()
            out += [t for k, t in state.items() if t.is_floating_point() and k != "live_lead"]
    return out


def _net_companions(learner: StreamLearner) -> list[torch.Tensor]:
    """Running statistics updated inside an awake step besides the gradients: peer
    normalisation's mean activities and the standardiser's estimates."""
    out = [b for b in learner.net.buffers() if b.is_floating_point()]
    if learner.standardizer is not None:
        out += [t for t in learner.standardizer.state_dict().values() if t.is_floating_point()]
    return out


class DataParallelLearner(Replicas):
    """A :class:`~ffstream.stream.StreamLearner` whose model is kept one across ranks.

    Needs an initialised process group (``torch.distributed``; :func:`~ffstream.distributed.
    launch.init_from_env` under ``torchrun``). Every rank builds the same learner (same
    config and seed), wraps it, and then feeds it its own shard, in batches of the same size
    on every rank: :meth:`observe` and :meth:`sleep` are collective calls, as are
    :meth:`sync`, :meth:`state_dict`, :meth:`save` and :meth:`max_divergence`. Predictions
    (:meth:`predict`, :meth:`predict_proba`, :meth:`score`) are local.

    At wrapping, rank 0's model is broadcast to all, and each rank's generator is reseeded
    with ``seed + rank``.

    Parameters
    ----------
    learner
        This rank's learner; its tensors live on ``learner.device`` (the collectives run there:
        gloo for CPU tensors, NCCL for CUDA ones).
    mode
        ``"average"`` (the default, the faster on the benchmarks: see docs/distributed.md)
        or ``"allreduce"``; see the module notes.
    every
        Frames per rank between weight averages in ``"average"`` mode (counted as they
        arrive; an average happens after the batch that reaches it).
    group
        The process group (``None``: the default one).

    Examples
    --------
    >>> import tempfile
    >>> store = dist.FileStore(tempfile.mktemp(), 1)
    >>> dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    >>> learner = StreamLearner(4, 2, hidden=(16,), seed=0, device="cpu")
    >>> parallel = DataParallelLearner(learner, mode="allreduce")
    >>> parallel.observe(torch.rand(2, 4), torch.tensor([0, 1])).prediction.shape
    torch.Size([2])
    >>> parallel.max_divergence()
    0.0
    >>> dist.destroy_process_group()
    """

    def __init__(
        self,
        learner: StreamLearner,
        *,
        mode: Literal["allreduce", "average"] = "average",
        every: int = 100,
        group=None,
    ):
        if not isinstance(learner, StreamLearner):
            raise ValueError(f"learner must be a StreamLearner, got {type(learner).__name__}")
        if learner.schedule.uses_signal:
            raise ValueError(
                f"schedule {learner.schedule!r} reads each rank's own error signal, so ranks "
                f"would sleep at different moments; use one that counts frames (EveryN)"
            )
        super().__init__(mode=mode, every=every, group=group)
        self.learner = learner
        seed = learner.config.seed
        if seed is not None:  # distinct replays and dreams per rank, from one seed
            learner.generator.manual_seed(seed + self.rank)
        self._join()
        if mode == "allreduce":
            learner.net.grad_sync = self._net_hook
            if learner.readout is not None:
                learner.readout.grad_sync = self._readout_hook

    def model_tensors(self) -> list[torch.Tensor]:
        """:func:`model_tensors` of this rank's learner."""
        return model_tensors(self.learner)

    def position(self) -> tuple[int, int]:
        """Frames seen and sleeps: equal on every rank that gets batches of the same size."""
        return self.learner.frames_seen, self.learner.sleeps

    def _changed_in_place(self) -> None:
        if self.learner.standardizer is not None:  # its cached scale derives from its estimates
            self.learner.standardizer.refresh()

    def _net_hook(self, grads: list[torch.Tensor]) -> None:
        self._exchange(grads + _net_companions(self.learner), "all-reduce of the FF layers")

    def _readout_hook(self, grads: list[torch.Tensor]) -> None:
        self._exchange(grads, "all-reduce of the readout")

    # ------------------------------------------------------------------ learning
    def observe(self, x, y=None) -> Observation:
        """:meth:`StreamLearner.observe` on this rank's batch, kept in step with the others.

        Collective: every rank calls it with a batch of the same size.
        """
        self._begin()
        before = self.learner.frames_seen
        seen = self.learner.observe(x, y)
        self._advanced(self.learner.frames_seen - before)
        return seen

    def sleep(self, steps: int | None = None) -> int:
        """:meth:`StreamLearner.sleep` on every rank at once (collective)."""
        self._begin()
        return self.learner.sleep(steps)

    # ------------------------------------------------------------------ inference (local)
    def predict(self, x) -> torch.Tensor:
        """This rank's :meth:`StreamLearner.predict` (no collective)."""
        return self.learner.predict(x)

    def predict_proba(self, x) -> torch.Tensor:
        """This rank's :meth:`StreamLearner.predict_proba` (no collective)."""
        return self.learner.predict_proba(x)

    def score(self, x) -> torch.Tensor:
        """This rank's :meth:`StreamLearner.score` (no collective)."""
        return self.learner.score(x)

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict | None:
        """One model and every rank's memories, on rank 0 (``None`` elsewhere); collective.

        In ``"average"`` mode the ranks average first, so the model is theirs in common.
        See :mod:`ffstream.distributed.checkpoint` for the layout and how a different number
        of ranks resumes from it.
        """
        if self.mode == "average":
            self.sync()
        return gather_state(self.learner, self.mode, self.every, group=self.group)

    def save(self, path) -> None:
        """Write :meth:`state_dict` from rank 0, atomically (collective)."""
        state = self.state_dict()
        if self.rank == 0:
            write_state(path, state)
        dist.barrier(group=self.group)  # every rank returns once the file exists

    @classmethod
    def load(
        cls,
        path,
        *,
        mode: Literal["allreduce", "average"] | None = None,
        every: int | None = None,
        device=None,
        group=None,
    ) -> DataParallelLearner:
        """Resume a :meth:`save`'d job on this process group's ranks, however many
        (collective). ``mode`` and ``every`` default to the saved ones."""
        rank, world = dist.get_rank(group), dist.get_world_size(group)
        learner, saved = load_learner(path, rank=rank, world_size=world, device=device)
        resumed = learner.generator.get_state()
        mode = mode if mode is not None else saved["mode"]
        every = every if every is not None else saved["every"]
        parallel = cls(learner, mode=mode, every=every, group=group)
        learner.generator.set_state(resumed)  # the saved generator, not a fresh seed + rank
        return parallel
