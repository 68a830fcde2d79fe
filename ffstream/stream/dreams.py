"""Dream generators: the negative data a learner makes for itself while it sleeps.

A generator turns a batch of remembered frames (the same batch that sleep replays as positives)
into dreams: frames and, for labelled streams, the (wrong) labels they claim. Pairing each
dream with the memory it came from makes the contrast between a positive and its negative as
small as the change the dream made, which is what the interleaved FF recipe gets for free.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ffstream._device import from_host
from ffstream._inputs import as_frames, as_labels
from ffstream.ff.negatives import hard_wrong_labels, hybrid_images, random_wrong_labels

__all__ = [
    "CallableDreams",
    "DreamSource",
    "Dreams",
    "HybridDreams",
    "LangevinDreams",
    "WrongLabelDreams",
]

Batch = tuple[torch.Tensor, torch.Tensor | None]


@dataclass(frozen=True)
class DreamSource:
    """All a dream generator may see of the learner it dreams for.

    Frames here are in the model's units: a learner that standardises its input remembers,
    scores and dreams standardised frames, so a dream is made in those units too.

    Attributes
    ----------
    generator
        The learner's random generator: every random choice of a dream draws from it, so a
        seeded learner dreams the same dreams.
    frame_shape
        Shape of one frame (flat frames are ``(num_features,)``).
    num_classes
        Number of classes, or None for unlabelled streams.
    recall
        ``recall(n) -> (frames, labels)``: ``n`` remembered flat frames (labels may be None).
    class_scores
        ``class_scores(frames) -> (batch, num_classes)`` logits of flat frames under the
        weights that learn (None where the learner has no classes).
    goodness
        ``goodness(frames, labels=None, grad=False) -> (batch, num_layers)`` per-layer goodness
        (``grad=True`` keeps the graph with respect to ``frames``); None where the learner
        offers no goodness to dreams (generators that need it then refuse it).
    """

    generator: torch.Generator
    frame_shape: tuple[int, ...]
    num_classes: int | None
    recall: Callable[[int], Batch]
    class_scores: Callable[[torch.Tensor], torch.Tensor] | None
    goodness: Callable[..., torch.Tensor] | None


class Dreams:
    """Base class: ``generate(source, x, y)`` dreams from remembered frames ``x`` (labels ``y``).

    It returns ``(frames, labels)`` for flat frames; ``labels`` is None for unlabelled
    streams. ``source`` (a :class:`DreamSource`) is what the generator may use of the learner.
    ``scores``, when given, are the class scores of ``x`` the learner has just computed.
    """

    needs_labels: bool = False
    #: Needs a remembered frame besides the one it dreams from (hybrids mix two).
    needs_memory: bool = False
    #: Reads the class scores of the frames it dreams from (hard wrong labels): the one
    #: decision of a sleep step that comes from the top of the net, which a learner with
    #: ``score_staleness`` takes from scores computed that many sleep steps earlier.
    reads_scores: bool = False

    def generate(
        self,
        source: DreamSource,
        x: torch.Tensor,
        y: torch.Tensor | None,
        scores: torch.Tensor | None = None,
    ) -> Batch:
        raise NotImplementedError  # abstract: every generator overrides it

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class WrongLabelDreams(Dreams):
    """Remembered frames paired with a wrong label the model itself finds plausible.

    ``hard=True`` samples the wrong label from the model's own belief (Hinton's ffcode), so sleep
    pushes down exactly the confusions the model currently makes; ``hard=False`` draws it
    uniformly. The default dream for labelled streams.
    """

    needs_labels = True

    def __init__(self, hard: bool = True):
        self.hard = hard

    @property
    def reads_scores(self) -> bool:  # only the hard wrong label comes from the model's scores
        return self.hard

    def generate(self, source, x, y, scores=None):
        if y is None:
            raise ValueError("WrongLabelDreams needs labelled memories; use HybridDreams")
        if self.hard:
            scores = source.class_scores(x) if scores is None else scores
            return x, hard_wrong_labels(scores, y, source.generator)
        return x, random_wrong_labels(y, source.num_classes, source.generator)


class HybridDreams(Dreams):
    """Hinton's unsupervised negatives: memories mixed, so each value is real, their joint not.

    Image frames (``(H, W)`` or ``(C, H, W)``) mix two memories through blurred masks with large
    regions; flat frames take each feature from one of ``memories`` remembered frames (chosen
    at random per feature), which breaks the correlations between features while every single
    value stays realistic. Labelled dreams keep the label of the first memory. The default
    dream for unlabelled streams.

    Parameters
    ----------
    magnify
        Share of the dreams that are also scaled up, each by ``exp(U(0.5, 2))`` (1.6 to 7.4
        times): they teach a novelty scorer that frames too large to be real are unreal, which
        mixing alone never shows it (``FFAnomalyDetector`` uses 0.5).
    memories
        Remembered flat frames each dream mixes (>= 2); ``None``: every feature from a memory
        of its own, a draw from the product of the features' remembered marginals (the
        agent's dreams). Image frames always mix two.
    noise
        Standard deviation of Gaussian noise added to every value, in the frames' units.

    Examples
    --------
    >>> memories = torch.tensor([[1.0, 1.0, 1.0, 1.0], [2.0, 2.0, 2.0, 2.0]])
    >>> source = DreamSource(
    ...     generator=torch.Generator().manual_seed(0), frame_shape=(4,), num_classes=None,
    ...     recall=lambda n: (memories[1:].expand(n, 4), None),
    ...     class_scores=None, goodness=None,
    ... )
    >>> dream, _ = HybridDreams().generate(source, memories[:1], None)
    >>> sorted(set(dream.view(-1).tolist())) <= [1.0, 2.0]  # each value from one memory
    True
    >>> dream, _ = HybridDreams(memories=None).generate(source, memories[:1], None)
    >>> dream.tolist()  # the first feature from the frame dreamed from, the others recalled
    [[1.0, 2.0, 2.0, 2.0]]
    """

    needs_memory = True
    # what a generator pickled before each option existed does
    magnify = 0.0
    memories: int | None = 2
    noise = 0.0

    def __init__(self, magnify: float = 0.0, memories: int | None = 2, noise: float = 0.0):
        if not 0.0 <= magnify <= 1.0:
            raise ValueError(f"magnify must be a share in [0, 1], got {magnify!r}")
        if memories is not None and (
            isinstance(memories, bool) or not isinstance(memories, int) or memories < 2
        ):
            raise ValueError(f"memories must be an int >= 2 or None, got {memories!r}")
        if not 0.0 <= noise < math.inf:  # NaN fails too
            raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
        self.magnify, self.memories, self.noise = magnify, memories, noise

    def generate(self, source, x, y, scores=None):
        shape = source.frame_shape
        generator = source.generator
        if len(shape) >= 2:
            b, _ = source.recall(x.shape[0])
            dream = hybrid_images(
                x, b, shape[-2:] if len(shape) == 2 else shape, generator=generator
            )
        elif self.memories == 2:
            b, _ = source.recall(x.shape[0])
            mixed = from_host(torch.rand(x.shape, generator=generator) < 0.5, x.device)
            dream = torch.where(mixed, x, b)
        else:
            dream = self._mix(source, x)
        if self.magnify:
            draws = from_host(torch.rand(x.shape[0], 2, generator=generator), dream)
            scale = torch.where(draws[:, 0] < self.magnify, torch.exp(0.5 + 1.5 * draws[:, 1]), 1.0)
            dream = dream * scale.view(-1, *[1] * (dream.dim() - 1))
        if self.noise:
            dream = dream + self.noise * from_host(
                torch.randn(dream.shape, generator=generator), dream
            )
        return dream, y

    def _mix(self, source: DreamSource, x: torch.Tensor) -> torch.Tensor:
        """Flat dreams from ``x`` and ``k - 1`` recalled memories per dream."""
        n, features = x.shape
        k = features if self.memories is None else self.memories
        others, _ = source.recall(n * (k - 1))
        stack = torch.cat([x.unsqueeze(0), others.view(k - 1, n, features)])  # (k, n, f)
        if self.memories is None:  # feature j from memory j
            return stack.diagonal(dim1=0, dim2=2)
        pick = torch.randint(0, k, (1, n, features), generator=source.generator)
        return stack.gather(0, from_host(pick, x.device)).squeeze(0)


class LangevinDreams(Dreams):
    """Samples the model itself finds good: Langevin ascent of goodness from perturbed memories
    (or from noise), which sleep then pushes down — an energy-based dream.

    Parameters
    ----------
    steps
        Ascent steps per dream.
    step_size
        Gradient step on the input (inputs are RMS-normalised inside the net).
    noise
        Scale of the Gaussian noise added at every step, and of the initial perturbation.
    start
        ``"memory"`` (perturbed memories) or ``"noise"``.
    """

    def __init__(
        self, steps: int = 10, step_size: float = 0.05, noise: float = 0.1, start: str = "memory"
    ):
        if start not in ("memory", "noise"):
            raise ValueError(f"start must be 'memory' or 'noise', got {start!r}")
        self.steps, self.step_size, self.noise, self.start = steps, step_size, noise, start

    def generate(self, source, x, y, scores=None):
        generator = source.generator
        if self.start == "noise":
            x = from_host(torch.rand(x.shape, generator=generator), x)
        if y is not None:  # dream of a random class
            y = from_host(torch.randint(0, source.num_classes, y.shape, generator=generator), y)
        x = x + self.noise * from_host(torch.randn(x.shape, generator=generator), x)
        for _ in range(self.steps):
            x = x.detach().requires_grad_(True)
            with torch.enable_grad():
                goodness = source.goodness(x, y, grad=True).sum()
                (grad,) = torch.autograd.grad(goodness, x)
            # Normalised ascent step: goodness is unbounded in scale, its direction is not.
            step = grad / (grad.flatten(1).norm(dim=1).view(-1, *[1] * (x.dim() - 1)) + 1e-8)
            noise = from_host(torch.randn(x.shape, generator=generator), x)
            x = x + self.step_size * math.sqrt(x[0].numel()) * step + self.noise * noise
        return x.detach(), y


class CallableDreams(Dreams):
    """A user-supplied generator: ``fn(frames, labels, generator) -> frames or (frames, labels)``.

    ``frames``/``labels`` are the remembered frames (labels may be None) to dream from.

    Examples
    --------
    >>> dreams = CallableDreams(lambda x, y, g: (x.flip(1), y))
    """

    def __init__(self, fn: Callable):
        self.fn = fn

    def generate(self, source, x, y, scores=None):
        out = self.fn(x, y, source.generator)
        x_dream, y_dream = out if isinstance(out, tuple) else (out, y)
        x_dream = as_frames(x_dream, source.frame_shape, device=x.device, name="dream")
        x_dream = x_dream.reshape(x_dream.shape[0], x.shape[1])
        if y_dream is not None:
            y_dream = as_labels(
                y_dream,
                x_dream.shape[0],
                source.num_classes,
                device=x_dream.device,
                name="dream labels",
            )
        return x_dream, y_dream
