"""Turning stored pixels into the float frames a network eats."""

from __future__ import annotations

import torch

__all__ = ["to_unit_float"]


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
