"""CompiledStep: an FF update as compiled graphs, for GPUs (``FFNet.compile_step``).

Eagerly, one FF update launches a dozen small kernels per layer (the forward, the local loss's
gradient, the optimiser), and on a GPU at small batches the launches, not the arithmetic, set the
pace. :class:`CompiledStep` hands the closed form of every layer's gradients
(:func:`~ffstream.ff._fast.closed_form_grads`, the function the eager path runs) to
``torch.compile``, which fuses the elementwise work of all layers into a few kernels. Mode
``"reduce-overhead"`` also records them as CUDA graphs (torch's cudagraph trees), so an update at
batch 1 costs a replay instead of dozens of launches. The net's own optimiser then applies the
gradients, with its fused kernel.

No autograd graph is compiled: the closed form needs none, and it keeps peer normalisation's
running means (a buffer the step updates in place) out of a backward pass that could recompute
them from the updated buffer. ``tests/test_ff_compiled.py`` checks on the CPU that compiled and
eager steps give the same weights.
"""

from __future__ import annotations

import torch

from ffstream.ff._fast import closed_form_applies, closed_form_grads

__all__ = ["MODES", "CompiledStep", "Graphed"]

#: ``torch.compile``'s modes: ``"reduce-overhead"`` adds CUDA graphs (on CUDA tensors only).
MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


class Graphed:
    """A function of tensors through ``torch.compile``, kept safe from CUDA-graph memory.

    In mode ``"reduce-overhead"`` a call replays CUDA graphs whose outputs, and the gradients
    they wrote, live in memory the next replay overwrites: each call marks a new iteration and
    returns copies of its outputs, and :meth:`release` drops the gradients once the optimisers
    have applied them. In the other modes both are no-ops.

    Parameters
    ----------
    fn
        Returns a tuple of tensors (or None in places).
    mode
        One of :data:`MODES`.

    Examples
    --------
    >>> double = Graphed(lambda x: (2 * x, None), "default")
    >>> double.mode, double.graphs
    ('default', False)
    """

    def __init__(self, fn, mode: str):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode = mode
        self.graphs = mode == "reduce-overhead"
        self._fn = torch.compile(fn, mode=mode)

    def __call__(self, *args) -> tuple:
        if self.graphs:  # a new iteration: its graphs may reuse the last one's memory
            torch.compiler.cudagraph_mark_step_begin()
        out = self._fn(*args)
        if self.graphs:  # graph outputs are overwritten by the next replay: keep copies
            out = tuple(None if t is None else t.clone() for t in out)
        return out

    def release(self, *optimizers: torch.optim.Optimizer) -> None:
        """After ``optimizers`` applied the gradients a call wrote: with graphs those live in
        graph memory, so they are dropped and nothing may read them later."""
        if self.graphs:
            for optimizer in optimizers:
                optimizer.zero_grad(set_to_none=True)


class CompiledStep:
    """An :class:`~ffstream.ff.FFNet`'s :meth:`~ffstream.ff.FFNet.step` through ``torch.compile``.

    One per net (its compiled code guards on that net). Made by
    :meth:`FFNet.compile_step <ffstream.ff.FFNet.compile_step>`, which the net's ``step`` then
    calls first. Each new batch layout (awake batches, sleep batches) compiles once, in seconds;
    later steps with that layout replay the compiled code. A net made with ``bf16=True`` runs
    its matmuls in bfloat16 on CUDA (goodness, losses and gradients in float32). Steps the
    closed form does not apply to (other layers or objectives) run eagerly.

    Parameters
    ----------
    mode
        One of :data:`MODES`. ``"reduce-overhead"`` records CUDA graphs: use it for small
        batches on a GPU. On a CPU it compiles as ``"default"``.

    Examples
    --------
    >>> from ffstream.ff import FFNet
    >>> net = FFNet.mlp([6, 16], seed=0).compile_step("default")
    >>> type(net.__dict__["_compiled"]).__name__
    'CompiledStep'
    >>> net.step(pos=torch.randn(4, 6)).pos_goodness.shape  # doctest: +SKIP
    torch.Size([4, 1])
    """

    def __init__(self, mode: str = "default"):
        self._grads = Graphed(_closed_form, mode)
        self.mode = mode

    def step(self, net, pos: torch.Tensor | None, neg: torch.Tensor | None):
        """One update of ``net`` (its ``step`` checked the input): a ``StepStats``, or None,
        having changed nothing, where the closed form does not apply."""
        if not closed_form_applies(net, pos if pos is not None else neg, bf16=True):
            return None
        losses, goodness = self._grads(net, pos, neg)
        n_pos = 0 if pos is None else pos.shape[0]
        stats = net.apply_grads(losses, goodness, n_pos, neg is not None)
        self._grads.release(net.optimizer)
        return stats


def _closed_form(net, pos, neg):
    """What is compiled: the normalised batch and every layer's gradient (into ``.grad``)."""
    x, n_pos, has_pos, has_neg = net.batch_of(pos, neg)
    with net._autocast(x):  # bfloat16 matmuls when the net asks for them (CUDA only)
        losses, goodness = closed_form_grads(net, x, n_pos, has_pos, has_neg)
    return torch.stack(losses), torch.stack(goodness, 1)
