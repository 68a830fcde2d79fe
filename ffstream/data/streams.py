"""A labelled dataset replayed as a stream of shuffled mini-batches."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from ffstream.data.transforms import to_unit_float

__all__ = ["shuffled_stream"]


def shuffled_stream(
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int,
    seed: int,
    *,
    epochs: int | None = 1,
    drop_last: bool = False,
    device: torch.device | str | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(x, y)`` mini-batches in a fresh random order each epoch.

    ``x`` is ``float32`` of shape ``(batch, features)`` in ``[0, 1]`` (see
    :func:`~ffstream.data.to_unit_float`), ``y`` is ``int64``. Pixels are converted one batch at
    a time, so the whole dataset is never held as floats.

    Parameters
    ----------
    images, labels
        ``N`` images (``uint8`` or float, any trailing shape) and their ``N`` labels.
    batch_size
        Frames per batch; the last batch of an epoch may be smaller unless ``drop_last``.
    seed
        Seeds the shuffling; the same seed gives the same stream.
    epochs
        Passes over the data; ``None`` streams forever.
    device
        Where the batches are put (default: where ``images`` lives).

    Examples
    --------
    >>> images = torch.arange(5, dtype=torch.uint8).reshape(5, 1, 1)
    >>> labels = torch.arange(5)
    >>> for x, y in shuffled_stream(images, labels, batch_size=2, seed=0):
    ...     print(x.shape, y.tolist())
    torch.Size([2, 1]) [...]
    torch.Size([2, 1]) [...]
    torch.Size([1, 1]) [...]
    >>> seen = torch.cat([y for _, y in shuffled_stream(images, labels, 2, seed=0)])
    >>> sorted(seen.tolist())
    [0, 1, 2, 3, 4]
    """
    n = len(images)
    if len(labels) != n:
        raise ValueError(f"{n} images but {len(labels)} labels")
    if n == 0:
        raise ValueError("cannot stream an empty dataset")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if epochs is not None and epochs < 0:
        raise ValueError(f"epochs must be non-negative or None, got {epochs}")
    # A private generator keeps the order independent of torch's global RNG state.
    generator = torch.Generator().manual_seed(seed)
    device = images.device if device is None else torch.device(device)
    epoch = 0
    while epochs is None or epoch < epochs:
        order = torch.randperm(n, generator=generator).to(images.device)
        for start in range(0, n, batch_size):
            index = order[start : start + batch_size]
            if drop_last and len(index) < batch_size:
                break
            # index_select, not images[index]: advanced indexing of a uint8 tensor is ~100x
            # slower on CPU and would dominate a training step.
            x = to_unit_float(images.index_select(0, index)).to(device)
            yield x, labels.index_select(0, index).to(device=device, dtype=torch.int64)
        epoch += 1
