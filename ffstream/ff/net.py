"""FFNet: a stack of FF layers, each trained by its own local objective."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import nn

from ffstream.ff import _numpy
from ffstream.ff._fast import closed_form_applies, closed_form_grads, fused_update
from ffstream.ff.goodness import Goodness
from ffstream.ff.layers import FFLayer, FFLinear, rms_normalize
from ffstream.ff.objectives import Logistic, Objective
from ffstream.ff.optim import make_optimizer

__all__ = ["FFNet", "StepStats"]


class StepStats(NamedTuple):
    """What one local update measured, all detached: per-layer losses and goodness.

    ``pos_goodness`` / ``neg_goodness`` have shape ``(batch, num_layers)`` and were computed with
    the weights *before* the update (or are ``None`` when that phase was absent).
    """

    losses: torch.Tensor
    pos_goodness: torch.Tensor | None
    neg_goodness: torch.Tensor | None


class FFNet(nn.Module):
    """A Forward-Forward network: layers that learn locally, with no gradient between them.

    Every layer sees the RMS-normalised, *detached* activities of the layer below, computes its own
    loss with ``objective`` and updates only its own weights. :meth:`step` is the one place where
    learning happens; pass positive frames, negative frames, or both.

    Parameters
    ----------
    layers
        The FF layers, bottom first (see :meth:`mlp` for fully-connected stacks).
    objective
        One :class:`~ffstream.ff.objectives.Objective` for all layers, or one per layer.
    goodness
        How activities become goodness, and the threshold convention.
    optimizer, lr, momentum, weight_decay
        Local optimizer settings (see :func:`make_optimizer`).
    peer_norm
        Strength of peer normalisation (Hinton's ffcode uses 0.03; 0 disables it).
    peer_momentum
        EMA factor of each unit's mean activity (ffcode: 0.9).
    normalize_input
        Divide each input frame by its RMS before the first layer.
    bf16
        Run forward passes under bfloat16 autocast (CUDA only; ignored on CPU).

    Examples
    --------
    >>> torch.manual_seed(0)
    <torch._C.Generator object at ...>
    >>> net = FFNet.mlp([6, 16, 16], seed=0)
    >>> pos = torch.randn(32, 6)
    >>> before = net.goodness(pos).sum(1)
    >>> for _ in range(20):
    ...     stats = net.step(pos=pos)
    >>> bool((net.goodness(pos).sum(1) > before).all())
    True
    """

    def __init__(
        self,
        layers: Sequence[FFLayer],
        *,
        objective: Objective | Sequence[Objective] | None = None,
        goodness: Goodness | None = None,
        optimizer: str = "adam",
        lr: float = 1e-3,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        peer_norm: float = 0.03,
        peer_momentum: float = 0.9,
        normalize_input: bool = True,
        bf16: bool = False,
    ):
        super().__init__()
        if not layers:
            raise ValueError("FFNet needs at least one layer")
        self.layers = nn.ModuleList(layers)
        objective = Logistic() if objective is None else objective
        self.objectives = (
            [objective] * len(layers) if isinstance(objective, Objective) else list(objective)
        )
        if len(self.objectives) != len(layers):
            raise ValueError(f"{len(self.objectives)} objectives for {len(layers)} layers")
        self.goodness_fn = goodness or Goodness("sum")
        self.peer_norm = peer_norm
        self.peer_momentum = peer_momentum
        self.normalize_input = normalize_input
        self.bf16 = bf16
        self.optimizer = make_optimizer(layers, optimizer, lr, momentum, weight_decay)

    # Whether step() may use the closed-form gradients of ffstream.ff._fast when they apply.
    # Private switch: tests set it to False on an instance to force the autograd path, which
    # computes the same update (tests/test_ff_fast_step.py checks that they agree).
    _closed_form: bool = True
    # Whether step(), features() and goodness() may run in NumPy (ffstream.ff._numpy) where the
    # closed form applies on the CPU and the work is small: the same arithmetic without torch's
    # per-op dispatch. Private switch: set it to False (on the class or an instance) to force
    # the torch path; tests/test_ff_numpy_backend.py checks that both agree.
    _numpy: bool = True
    #: Called, if set, with the gradients of every parameter (in ``parameters()`` order) after
    #: :meth:`step` computes them and before the optimiser applies them; it may change them in
    #: place, or raise to refuse the update (the weights and optimiser state are then as they
    #: were). Data-parallel training (:mod:`ffstream.distributed`) sets it on an instance to
    #: average the gradients of all ranks; the agent (:class:`~ffstream.agents.FFQAgent`) to
    #: clip them layer by layer and refuse non-finite ones. Every backend of :meth:`step` calls it.
    grad_sync: Callable[[list[torch.Tensor]], None] | None = None

    @classmethod
    def mlp(
        cls,
        sizes: Sequence[int],
        *,
        seed: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
        **kwargs,
    ) -> FFNet:
        """A fully-connected FF net with ``sizes = [inputs, hidden_1, ..., hidden_k]``.

        Weights are drawn on the CPU from ``seed`` and then moved, so a seed gives the same net on
        every device.
        """
        if len(sizes) < 2 or any(int(s) <= 0 for s in sizes):
            raise ValueError(f"sizes must be positive and name inputs plus >= 1 layer, got {sizes}")
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        layers = [FFLinear(a, b, generator=generator) for a, b in zip(sizes[:-1], sizes[1:])]
        return cls(layers, **kwargs).to(device=device, dtype=dtype)

    def stage(self, start: int, stop: int) -> FFNet:
        """Layers ``start`` to ``stop - 1`` as an FFNet of their own: one stage of a layer
        pipeline (:mod:`ffstream.distributed.pipeline`).

        The stage shares this net's layer modules (their weights and peer normalisation's
        means) and settings. Its optimiser is its own, with these layers' groups and the
        states they have now, so a stage's :meth:`step` on the normalised activities of layer
        ``start - 1`` updates its layers as this net's step does. Only the bottom stage
        normalises its input (if this net does): the layers above get theirs normalised.

        Examples
        --------
        >>> net = FFNet.mlp([6, 8, 8, 8], seed=0)
        >>> top = net.stage(1, 3)
        >>> len(top.layers), top.layers[0] is net.layers[1], top.normalize_input
        (2, True, False)
        """
        if not 0 <= start < stop <= len(self.layers):
            raise ValueError(
                f"stage needs 0 <= start < stop <= {len(self.layers)} layers, got {start}, {stop}"
            )
        stage = FFNet(
            list(self.layers[start:stop]),
            objective=self.objectives[start:stop],
            goodness=self.goodness_fn,
            peer_norm=self.peer_norm,
            peer_momentum=self.peer_momentum,
            normalize_input=self.normalize_input and start == 0,
            bf16=self.bf16,
        )
        # the same optimiser class and per-layer groups (settings included), sharing the states
        groups = [dict(group) for group in self.optimizer.param_groups[start:stop]]
        stage.optimizer = type(self.optimizer)(groups)
        for group in groups:
            for p in group["params"]:
                if p in self.optimizer.state:
                    stage.optimizer.state[p] = self.optimizer.state[p]
        stage._closed_form, stage._numpy = self._closed_form, self._numpy
        return stage

    # ------------------------------------------------------------------ inference
    def _autocast(self, x: torch.Tensor):
        if self.bf16 and x.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        return rms_normalize(x) if self.normalize_input else x

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each layer's activities (before normalisation) for a batch ``x``.

        Differentiable with respect to ``x`` (used to dream by goodness ascent); learning never
        goes through here, only through :meth:`step`.
        """
        out = []
        h = self._input(x)
        last = len(self.layers) - 1
        with self._autocast(x):
            for i, layer in enumerate(self.layers):
                h = layer(h)
                out.append(_float32(h))
                if i < last:  # nothing reads the top layer's normalised output
                    h = rms_normalize(h)
        return out

    @torch.no_grad()
    def activities(self, x: torch.Tensor) -> list[torch.Tensor]:
        """:meth:`forward` without a graph."""
        return self.forward(x)

    def goodness(self, x: torch.Tensor) -> torch.Tensor:
        """Goodness of every layer: shape ``(batch, num_layers)`` (no graph)."""
        if self._numpy and self._closed_form:
            out = _numpy.goodness(self, x)
            if out is not None:
                return out
        with torch.no_grad():
            return self.goodness_with_grad(x)

    def goodness_with_grad(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`goodness`, differentiable with respect to ``x``."""
        return torch.stack([self.goodness_fn(h) for h in self.forward(x)], dim=1)

    def features(self, x: torch.Tensor, skip_first: bool = True) -> torch.Tensor:
        """Normalised activities of layers (>= 2 by default), concatenated: readout features."""
        if self._numpy and self._closed_form:
            out = _numpy.features(self, x, skip_first)
            if out is not None:
                return out
        with torch.no_grad():
            acts = self.activities(x)[1 if skip_first and len(self.layers) > 1 else 0 :]
            parts = [rms_normalize(h).flatten(1) for h in acts]
            return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

    def check_input(self, x: torch.Tensor, name: str = "x") -> None:
        """Raise ``ValueError`` naming the problem if ``x`` is not a valid batch for this net.

        Checked before any state changes, so a rejected batch leaves weights, optimizer state and
        running statistics untouched.
        """
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise ValueError(f"{name} has dtype {x.dtype}; expected a floating-point tensor")
        first = self.layers[0].transform
        expected = first.in_features if isinstance(first, nn.Linear) else first.in_channels
        dims = 2 if isinstance(first, nn.Linear) else 4
        if x.dim() != dims or x.shape[1] != expected or x.shape[0] == 0:
            kind = "features" if dims == 2 else "channels"
            raise ValueError(
                f"{name} has shape {tuple(x.shape)}; expected a non-empty batch of "
                f"{dims}-d frames with {expected} {kind} in dim 1"
            )
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name} contains NaN or Inf; the update was skipped")

    # ------------------------------------------------------------------ learning
    def step(
        self,
        pos: torch.Tensor | None = None,
        neg: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        *,
        check: bool = True,
        layer_loss: Callable[[int, torch.Tensor], torch.Tensor | None] | None = None,
    ) -> StepStats:
        """One local update of every layer; returns the per-layer losses and goodness.

        ``pos`` frames are pushed toward high goodness, ``neg`` frames toward low goodness
        (objective permitting); ``labels`` go to objectives that use them (CwC). Both phases in
        one call go through each layer as one batch. ``check=False`` skips the input validation
        for callers that have already validated (it costs a full pass over the batch).

        ``layer_loss(i, h)``, if given, adds a caller's own term (a scalar tensor, or None) to
        layer ``i``'s loss. ``h`` is the layer's activities for the whole batch (positives
        first); its graph reaches only this layer's parameters. A term on parameters the layer
        owns (a head registered as its submodule) is learned by the layer's own optimiser
        group, so the update stays local. Such steps run on autograd.

        >>> layer = FFLinear(4, 8)
        >>> layer.head = nn.Linear(8, 1)  # its submodule before the net: in its group
        >>> net = FFNet([layer])
        >>> fit = lambda i, h: net.layers[i].head(h).square().mean()  # drive the head to 0
        >>> net.step(pos=torch.randn(16, 4), layer_loss=fit).losses.shape
        torch.Size([1])
        """
        if pos is None and neg is None:
            raise ValueError("step needs positive or negative frames")
        for name, t in (("pos", pos), ("neg", neg)):
            if t is not None and check:
                self.check_input(t, name)
        if labels is not None and (
            labels.dtype != torch.long or labels.shape != (0 if pos is None else pos.shape[0],)
        ):
            raise ValueError(
                f"labels must be a long tensor with one label per positive frame, got "
                f"{labels.dtype} of shape {tuple(labels.shape)}"
            )
        closed = self._closed_form and layer_loss is None
        compiled = self.__dict__.get("_compiled") if layer_loss is None else None
        if compiled is not None:  # one compiled graph for the closed form, where it applies
            stats = compiled.step(self, pos, neg)
            if stats is not None:
                return stats
        if self._numpy and closed:
            fast = _numpy.step(self, pos, neg)
            if fast is not None:
                return StepStats(*fast)
        x, n_pos, has_pos, has_neg = self.batch_of(pos, neg)
        if closed and closed_form_applies(self, x):
            losses, goodness = closed_form_grads(self, x, n_pos, has_pos, has_neg)
            return self.apply_grads(torch.stack(losses), torch.stack(goodness, 1), n_pos, has_neg)
        total = x.new_zeros(())
        losses, goodness = [], []
        last = len(self.layers) - 1
        with self._autocast(x):
            for i, (layer, objective) in enumerate(zip(self.layers, self.objectives)):
                pre = layer.transform(x)
                h = _float32(layer.activate(pre))
                h_pos, h_neg = _split(h, n_pos, has_pos, has_neg)
                loss = objective.loss(h_pos, h_neg, goodness=self.goodness_fn, labels=labels)
                if self.peer_norm and h_pos is not None:
                    pre_pos = pre[:n_pos] if has_pos and has_neg else pre
                    loss = loss + layer.peer_loss(
                        pre_pos, h_pos, self.peer_norm, self.peer_momentum
                    )
                extra = None if layer_loss is None else layer_loss(i, h)
                if extra is not None:
                    loss = loss + extra
                losses.append(loss)
                goodness.append(self.goodness_fn(h.detach()))
                total = total + loss
                if i < last:
                    # The locality boundary: the next layer sees these activities as constants.
                    x = rms_normalize(h).detach()
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self._sync_grads()
        self.optimizer.step()
        g_pos, g_neg = _split(torch.stack(goodness, dim=1), n_pos, has_pos, has_neg)
        with torch.no_grad():  # detached statistics, with one op for all layers
            losses_out = torch.stack(losses)
        return StepStats(losses_out, g_pos, g_neg)

    def batch_of(self, pos: torch.Tensor | None, neg: torch.Tensor | None):
        """One normalised input batch of both phases, positives first, and its layout:
        ``(x, n_pos, has_pos, has_neg)``."""
        has_pos, has_neg = pos is not None, neg is not None
        x = torch.cat([pos, neg]) if has_pos and has_neg else (pos if has_pos else neg)
        return self._input(x), 0 if pos is None else pos.shape[0], has_pos, has_neg

    def apply_grads(
        self, losses: torch.Tensor, goodness: torch.Tensor, n_pos: int, has_neg: bool
    ) -> StepStats:
        """Let the optimiser apply the gradients in ``.grad`` (after :attr:`grad_sync`), and
        return the step's statistics from its per-layer ``losses`` and ``goodness``."""
        self._sync_grads()
        if not fused_update(self.optimizer):
            self.optimizer.step()
        return StepStats(losses, *_split(goodness, n_pos, n_pos > 0, has_neg))

    def compile_step(self, mode: str | None = "default") -> FFNet:
        """Run :meth:`step` as compiled graphs (``torch.compile``); ``None`` runs it eagerly.

        What is compiled is the closed form of every layer's gradients (float32 fully-connected
        ReLU layers and the logistic objective: every learner's net); steps it does not apply
        to run eagerly as before. See :class:`~ffstream.ff.compiled.CompiledStep` for the
        modes. Compiling costs seconds per batch shape and pays on a GPU; on a CPU the eager
        NumPy path is faster for small nets. Not saved: a loaded or copied net runs eagerly
        until compiled again. Returns the net.
        """
        from ffstream.ff.compiled import CompiledStep  # torch.compile's import is slow

        self.__dict__["_compiled"] = None if mode is None else CompiledStep(mode)
        return self

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_compiled", None)  # compiled graphs belong to this process and this object
        return state

    def _sync_grads(self) -> None:
        """Hand the gradients :meth:`step` computed to :attr:`grad_sync`, if set."""
        if self.grad_sync is not None:
            self.grad_sync([p.grad for p in self.parameters() if p.grad is not None])


def _float32(t: torch.Tensor) -> torch.Tensor:
    """``t`` in float32 (bf16 autocast outputs are cast; float32 ones cost no dispatch)."""
    return t if t.dtype == torch.float32 else t.float()


def _split(t: torch.Tensor, n_pos: int, has_pos: bool, has_neg: bool):
    """The positive and negative parts of a batch (no slicing when only one phase is there)."""
    if has_pos and has_neg:
        return t[:n_pos], t[n_pos:]
    return (t, None) if has_pos else (None, t)
