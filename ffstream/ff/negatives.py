"""Negative data for offline (and replayed) FF training."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ffstream._device import from_host

__all__ = ["random_wrong_labels", "hard_wrong_labels", "hybrid_masks", "hybrid_images"]


def random_wrong_labels(
    y: torch.Tensor, num_classes: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A uniformly random label different from each true label.

    Examples
    --------
    >>> y = torch.tensor([0, 1, 2, 3])
    >>> bool((random_wrong_labels(y, 4, torch.Generator().manual_seed(0)) != y).all())
    True
    """
    offset = from_host(torch.randint(1, num_classes, y.shape, generator=generator), y.device)
    return (y + offset) % num_classes


def hard_wrong_labels(
    scores: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Sample a wrong label from the model's own belief (Hinton's ffcode).

    ``scores`` are the model's logits per class, shape ``(batch, num_classes)``. The true label's
    probability is zeroed and a wrong label is drawn in proportion to the softmax of the rest, so
    the labels the model confuses most become the negatives it learns from.

    Examples
    --------
    >>> scores = torch.tensor([[0.0, 50.0, -50.0]])
    >>> hard_wrong_labels(scores, torch.tensor([0])).item()  # label 1 is the plausible mistake
    1
    """
    logits = scores.float().masked_fill(F.one_hot(y, scores.shape[1]).bool(), float("-inf"))
    probs = torch.softmax(logits, dim=1)
    if generator is not None and generator.device != probs.device:
        draws = from_host(torch.rand(probs.shape[0], 1, generator=generator), probs.device)
    else:
        draws = torch.rand(probs.shape[0], 1, generator=generator, device=probs.device)
    # Inverse-CDF sampling: works with a CPU generator for CUDA scores and never draws y.
    picked = (probs.cumsum(1) < draws).sum(1).clamp_max(scores.shape[1] - 1)
    return torch.where(picked == y, (y + 1) % scores.shape[1], picked)


def hybrid_masks(
    batch: int,
    shape: Sequence[int],
    blur_steps: int = 6,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Hinton's hybrid masks: random bits blurred with ``[1/4, 1/2, 1/4]`` both ways, thresholded.

    Returns float masks of ``shape`` (``(H, W)`` or ``(C, H, W)``; channels share one mask) with
    large, irregular regions of ones and zeros.
    """
    height, width = shape[-2], shape[-1]
    bits = torch.randint(0, 2, (batch, 1, height, width), generator=generator).float().to(device)
    kernel = torch.tensor([0.25, 0.5, 0.25], device=device)
    for _ in range(blur_steps):
        bits = F.conv2d(F.pad(bits, (1, 1, 0, 0), mode="replicate"), kernel.view(1, 1, 1, 3))
        bits = F.conv2d(F.pad(bits, (0, 0, 1, 1), mode="replicate"), kernel.view(1, 1, 3, 1))
    mask = (bits > 0.5).float()
    return mask.expand(batch, *((shape[0],) if len(shape) == 3 else (1,)), height, width).reshape(
        batch, *shape
    )


def hybrid_images(
    a: torch.Tensor,
    b: torch.Tensor,
    shape: Sequence[int],
    blur_steps: int = 6,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Unsupervised negatives: ``mask * a + (1 - mask) * b`` for two different real frames.

    Short-range correlations stay image-like; long-range ones are wrong, which is what the net
    must learn to notice. ``a`` and ``b`` may be flat; ``shape`` is the image shape.

    Examples
    --------
    >>> a, b = torch.ones(2, 16), torch.zeros(2, 16)
    >>> mixed = hybrid_images(a, b, (4, 4), generator=torch.Generator().manual_seed(0))
    >>> mixed.shape, bool(((mixed == 0) | (mixed == 1)).all())
    (torch.Size([2, 16]), True)
    """
    mask = hybrid_masks(a.shape[0], shape, blur_steps, generator, a.device).to(a.dtype)
    mask = mask.reshape(a.shape)
    return mask * a + (1.0 - mask) * b
