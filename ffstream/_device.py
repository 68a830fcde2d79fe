"""Moving what the host made (random draws, indices, checked frames) to a device, without waiting.

A plain ``tensor.to("cuda")`` from host memory makes the host wait until the device has finished
all the work queued before the copy. A learner on a GPU would then wait for its own previous
update at every frame. These tensors are freshly made and never written again, so a
non-blocking copy is safe: from pageable memory CUDA stages the bytes at once; from pinned
memory the copy runs on the stream, in order with the work that reads it.
"""

from __future__ import annotations

import torch

__all__ = ["from_host"]


def from_host(t: torch.Tensor, like: torch.Tensor | torch.device | str) -> torch.Tensor:
    """``t`` on the device of ``like`` (a tensor, whose dtype it also takes, or a device).

    The caller promises not to write to ``t`` afterwards (true of fresh draws and indices).

    Examples
    --------
    >>> from_host(torch.tensor([1, 2]), torch.zeros(1)).dtype
    torch.float32
    >>> from_host(torch.tensor([1, 2]), "cpu")
    tensor([1, 2])
    """
    if isinstance(like, torch.Tensor):
        return t.to(device=like.device, dtype=like.dtype, non_blocking=True)
    return t.to(device=like, non_blocking=True)
