"""AwakeGraph: a learner core's whole awake update as one compiled graph, for GPUs.

An awake step of :class:`~ffstream.stream.core.LearnerCore` on one frame is a few dozen small
kernels: the standardiser's update and its standard units, the layers' forward under the
neutral label for the readout's features, the readout's scores, every layer's local gradient,
the readout's gradient, then the optimisers. On a GPU at batch 1 their launches, not their
arithmetic, set the pace. :class:`AwakeGraph` hands all the tensor work of the step to
``torch.compile`` as one function; mode ``"reduce-overhead"`` records it as one CUDA graph
(torch's cudagraph trees), replayed on every frame. The optimisers then apply the gradients
with their fused kernels, and the host-side bookkeeping (the standardiser's frame count, the
memories, which draw their slots on the host generator, the schedule) runs around it.

The arithmetic is the eager path's own: :meth:`InputStandardizer.update_buffers
<ffstream.stream.standardizer.InputStandardizer.update_buffers>`, the net's features,
:func:`~ffstream.ff._fast.closed_form_grads` and :meth:`LinearReadout.write_grads
<ffstream.ff.readout.LinearReadout.write_grads>`. ``tests/test_ff_compiled.py`` checks on the
CPU that a compiled learner learns the eager learner's weights.
"""

from __future__ import annotations

import contextlib

import torch

from ffstream.ff._fast import closed_form_applies, closed_form_grads
from ffstream.ff.compiled import Graphed

__all__ = ["AwakeGraph"]


class AwakeGraph:
    """A :class:`~ffstream.stream.core.LearnerCore`'s awake step through ``torch.compile``.

    Made by :meth:`StreamLearner.compile <ffstream.stream.StreamLearner.compile>`; the core's
    ``learn`` then calls :meth:`step` first. It covers the product's learners: labelled ones
    that predict with the readout, and unlabelled ones, on any schedule that sleeps. Steps it
    does not cover (the interleaved schedule, which dreams on every frame; the goodness
    predictor; layers or objectives without the closed form; bfloat16 nets) return None and
    run eagerly.

    Parameters
    ----------
    mode
        One of :data:`~ffstream.ff.compiled.MODES`; ``"reduce-overhead"`` records a CUDA
        graph (on CUDA tensors; on a CPU it compiles as ``"default"``), handled by
        :class:`~ffstream.ff.compiled.Graphed`.

    Examples
    --------
    >>> from ffstream.stream import StreamLearner
    >>> learner = StreamLearner(4, 2, hidden=(8,), seed=0).compile("default")
    >>> type(learner.__dict__["_awake_graph"]).__name__
    'AwakeGraph'
    """

    def __init__(self, mode: str = "reduce-overhead"):
        self._tensor_work = Graphed(_awake_tensor_work, mode)
        self.mode = mode

    @staticmethod
    def covers(core, x: torch.Tensor, labels: torch.Tensor | None) -> bool:
        """Whether :meth:`step` takes this step of ``core`` (else it runs eagerly)."""
        if core.schedule.interleaved or x.dtype != torch.float32:
            return False
        if labels is not None and core.readout is None:
            return False
        return closed_form_applies(core.net, x)

    def step(self, core, x: torch.Tensor, labels: torch.Tensor | None):
        """The core's awake step on checked flat frames, or None (nothing changed) where it
        is not covered: ``(standardised frames, class scores or None, positive goodness)``."""
        if not self.covers(core, x, labels):
            return None
        learns_readout = labels is not None and core.readout_learns == "always"
        with torch.no_grad(), _torch_paths(core.net):
            x, scores, losses, goodness = self._tensor_work(core, x, labels, learns_readout)
        if core.standardizer is not None:
            core.standardizer.count_update(x.shape[0])
        stats = core.net.apply_grads(losses, goodness, x.shape[0], False)
        optimizers = [core.net.optimizer]
        if learns_readout:
            core.readout.apply_grads()
            optimizers.append(core.readout.optimizer)
        self._tensor_work.release(*optimizers)
        return x, scores, stats.pos_goodness


def _awake_tensor_work(core, x, labels, learns_readout: bool):
    """What is compiled: every tensor operation of the core's eager ``_awake_step``, with the
    gradients written into ``.grad``: ``(standardised x, scores, losses, goodness)``."""
    if core.standardizer is not None:
        core.standardizer.update_buffers(x)
        x = core.standardizer.standardize_tensor(x)
    scores = None
    if labels is not None:
        features = core._features(x)
        scores = core.readout(features)
        if learns_readout:
            core.readout.write_grads(features, labels, scores)
    batch, n_pos, _, _ = core.net.batch_of(core._encode(x, labels), None)
    losses, goodness = closed_form_grads(core.net, batch, n_pos, True, False)
    return x, scores, torch.stack(losses), torch.stack(goodness, 1)


@contextlib.contextmanager
def _torch_paths(net):
    """Keep ``net`` off its NumPy paths while compiled code traces it (NumPy cannot be
    traced; on a GPU they never apply anyway)."""
    had = "_numpy" in net.__dict__
    before = net.__dict__.get("_numpy")
    net.__dict__["_numpy"] = False
    try:
        yield
    finally:
        if had:
            net.__dict__["_numpy"] = before
        else:
            del net.__dict__["_numpy"]
