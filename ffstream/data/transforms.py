"""Turning stored pixels into the float frames a network eats, and varying them for replay."""

from __future__ import annotations

import torch

from ffstream._checks import check_pixel_shift
from ffstream._device import from_host

__all__ = ["random_shift", "to_unit_float"]


def to_unit_float(images: torch.Tensor, *, flatten: bool = True) -> torch.Tensor:
    """``float32`` pixels in ``[0, 1]``, one row per image when ``flatten`` is true.

    ``uint8`` input is divided by 255; floating input is taken to be scaled already and only
    cast, so calling this twice is harmless.

    Examples
    --------
    >>> images = torch.tensor([[[0, 255], [51, 102]]], dtype=torch.uint8)
    >>> to_unit_float(images)
    tensor([[0.0000, 1.0000, 0.2000, 0.4000]])
    >>> to_unit_float(images, flatten=False).shape
    torch.Size([1, 2, 2])
    """
    if images.dtype == torch.uint8:
        out = images.to(torch.float32).div_(255.0)
    elif images.is_floating_point():
        out = images.to(torch.float32)
    else:
        raise ValueError(f"images have dtype {images.dtype}; expected uint8 (0-255) or float")
    return out.flatten(1) if flatten else out


def random_shift(
    images: torch.Tensor, max_shift: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Each image moved by its own random offset of up to ``max_shift`` pixels along each axis.

    ``images`` has shape ``(batch, ..., height, width)``; every image (all its channels alike)
    gets an independent offset in ``[-max_shift, max_shift]`` rows and columns, and pixels moved
    in from outside the frame are zero. Replaying a stored frame under a fresh small shift each
    time is the usual data augmentation of replay-based continual learning: the memory keeps one
    copy, the learner sees many. Offsets are drawn on the CPU with ``generator`` (reproducible
    on any device).

    Examples
    --------
    >>> image = torch.zeros(1, 5, 5)
    >>> image[0, 2, 2] = 1.0
    >>> moved = random_shift(image.repeat(100, 1, 1), 1, torch.Generator().manual_seed(0))
    >>> moved.shape, moved.sum((1, 2)).unique().tolist()
    (torch.Size([100, 5, 5]), [1.0])
    >>> rows = moved.amax(2).argmax(1)
    >>> sorted(rows.unique().tolist())
    [1, 2, 3]
    >>> bool((random_shift(image, 0) == image).all())
    True
    """
    check_pixel_shift(max_shift, "max_shift")
    if images.dim() < 3:
        raise ValueError(
            f"images have shape {tuple(images.shape)}; expected (batch, ..., height, width)"
        )
    if max_shift == 0:
        return images
    batch, (height, width) = images.shape[0], images.shape[-2:]
    planes = images.reshape(batch, -1, height, width)
    padded = torch.nn.functional.pad(planes, (max_shift,) * 4)
    offsets = torch.randint(0, 2 * max_shift + 1, (2, batch, 1), generator=generator)
    offsets = from_host(offsets, images.device)
    rows = offsets[0] + torch.arange(height, device=images.device)  # (batch, height)
    cols = offsets[1] + torch.arange(width, device=images.device)  # (batch, width)
    index = torch.arange(batch, device=images.device)[:, None, None, None]
    channel = torch.arange(planes.shape[1], device=images.device)[None, :, None, None]
    moved = padded[index, channel, rows[:, None, :, None], cols[:, None, None, :]]
    return moved.reshape(images.shape)
