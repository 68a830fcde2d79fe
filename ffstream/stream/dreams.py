"""Dream generators: the negative data a learner makes for itself while it sleeps.

A generator turns a batch of remembered frames (the same batch that sleep replays as positives)
into dreams: frames and, for labelled streams, the (wrong) labels they claim. Pairing each
dream with the memory it came from makes the contrast between a positive and its negative as
small as the change the dream made, which is what the interleaved FF recipe gets for free.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from ffstream._checks import as_labels
from ffstream.ff.negatives import hard_wrong_labels, hybrid_images, random_wrong_labels

if TYPE_CHECKING:
    from ffstream.stream.learner import StreamLearner

__all__ = ["Dreams", "WrongLabelDreams", "HybridDreams", "LangevinDreams", "CallableDreams"]

Batch = tuple[torch.Tensor, torch.Tensor | None]


class Dreams:
    """Base class: ``generate(learner, x, y)`` dreams from remembered frames ``x`` (labels ``y``).

    It returns ``(frames, labels)`` with one dream per remembered frame; ``labels`` is None for
    unlabelled streams.
    """

    needs_labels: bool = False

    def generate(self, learner: StreamLearner, x: torch.Tensor, y: torch.Tensor | None) -> Batch:
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

    def generate(self, learner, x, y):
        if y is None:
            raise ValueError("WrongLabelDreams needs labelled memories; use HybridDreams")
        if self.hard:
            scores = learner.class_scores(x, latest=True)  # the weights that learn
            return x, hard_wrong_labels(scores, y, learner.generator)
        return x, random_wrong_labels(y, learner.num_classes, learner.generator)


class HybridDreams(Dreams):
    """Hinton's unsupervised negatives: two memories mixed through a blurred random mask.

    Image frames (``(H, W)`` or ``(C, H, W)``) get blurred masks with large regions; flat
    frames get a random half of the features from each memory, which breaks the correlations
    between features while every single value stays realistic. Labelled dreams keep the label of
    the first memory. The default dream for unlabelled streams.
    """

    def generate(self, learner, x, y):
        a = x
        b, _ = learner.recall(x.shape[0])
        shape = learner.frame_shape
        if len(shape) >= 2:
            return hybrid_images(
                a, b, shape[-2:] if len(shape) == 2 else shape, generator=learner.generator
            ), y
        mask = (torch.rand(a.shape, generator=learner.generator) < 0.5).to(a)
        return mask * a + (1 - mask) * b, y


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

    def generate(self, learner, x, y):
        if self.start == "noise":
            x = torch.rand(x.shape, generator=learner.generator).to(x)
        if y is not None:  # dream of a random class
            y = torch.randint(0, learner.num_classes, y.shape, generator=learner.generator).to(y)
        x = x + self.noise * torch.randn(x.shape, generator=learner.generator).to(x)
        for _ in range(self.steps):
            x = x.detach().requires_grad_(True)
            with torch.enable_grad():
                goodness = learner.goodness_of(x, y, grad=True).sum()
                (grad,) = torch.autograd.grad(goodness, x)
            # Normalised ascent step: goodness is unbounded in scale, its direction is not.
            step = grad / (grad.flatten(1).norm(dim=1).view(-1, *[1] * (x.dim() - 1)) + 1e-8)
            noise = torch.randn(x.shape, generator=learner.generator).to(x)
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

    def generate(self, learner, x, y):
        out = self.fn(x, y, learner.generator)
        x_dream, y_dream = out if isinstance(out, tuple) else (out, y)
        x_dream = learner.check_frames(x_dream, name="dream")
        if y_dream is not None:
            y_dream = as_labels(
                y_dream,
                x_dream.shape[0],
                learner.num_classes,
                device=x_dream.device,
                name="dream labels",
            )
        return x_dream, y_dream
