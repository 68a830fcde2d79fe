"""Continual-learning task sequences built from one labelled dataset.

- **Split** (Split-MNIST): the classes are cut into groups, one task per group, e.g.
  ``{0, 1}, {2, 3}, ..., {8, 9}``.
- **Permuted** (Permuted-MNIST): every task sees all images with its own fixed pixel
  permutation; task 0 keeps the original order.
- **Rotated** (Rotated-MNIST): every task sees all images turned by its own fixed angle.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

__all__ = ["Task", "permutations", "rotate", "split_tasks"]


class Task(NamedTuple):
    """One task of a split: its classes and the indices of its examples.

    Attributes
    ----------
    classes
        The labels that belong to this task, ascending.
    indices
        ``int64`` positions (into the dataset the labels came from) of this task's examples,
        in their original order.
    """

    classes: tuple[int, ...]
    indices: torch.Tensor


def split_tasks(labels: torch.Tensor, classes_per_task: int = 2) -> list[Task]:
    """Cut the classes present in ``labels`` (ascending) into tasks of ``classes_per_task``.

    Raises
    ------
    ValueError
        If the number of classes is not a multiple of ``classes_per_task``: an uneven last task
        would silently change the benchmark.

    Examples
    --------
    >>> labels = torch.tensor([3, 0, 1, 2, 1, 3])
    >>> for task in split_tasks(labels, classes_per_task=2):
    ...     print(task.classes, task.indices.tolist())
    (0, 1) [1, 2, 4]
    (2, 3) [0, 3, 5]
    """
    if classes_per_task < 1:
        raise ValueError(f"classes_per_task must be at least 1, got {classes_per_task}")
    labels = torch.as_tensor(labels).reshape(-1)
    classes = labels.unique(sorted=True).tolist()
    if len(classes) % classes_per_task:
        raise ValueError(
            f"{len(classes)} classes cannot be split evenly into tasks of {classes_per_task}"
        )
    tasks = []
    for start in range(0, len(classes), classes_per_task):
        group = tuple(int(c) for c in classes[start : start + classes_per_task])
        mask = torch.isin(labels, torch.tensor(group, dtype=labels.dtype, device=labels.device))
        tasks.append(Task(group, mask.nonzero().flatten()))
    return tasks


def permutations(num_tasks: int, num_features: int, seed: int) -> torch.Tensor:
    """Pixel permutations for Permuted-MNIST, one row per task; row 0 is the identity.

    Apply one to flattened frames as ``x[:, perms[t]]``.

    Examples
    --------
    >>> perms = permutations(3, 5, seed=0)
    >>> perms.shape, perms[0].tolist()
    (torch.Size([3, 5]), [0, 1, 2, 3, 4])
    >>> sorted(perms[2].tolist())
    [0, 1, 2, 3, 4]
    >>> torch.equal(perms, permutations(3, 5, seed=0))
    True
    """
    if num_tasks < 1 or num_features < 1:
        raise ValueError(
            f"need num_tasks >= 1 and num_features >= 1, got {num_tasks} and {num_features}"
        )
    generator = torch.Generator().manual_seed(seed)
    rows = [torch.arange(num_features)]
    rows += [torch.randperm(num_features, generator=generator) for _ in range(num_tasks - 1)]
    return torch.stack(rows)


def rotate(images: torch.Tensor, degrees: float) -> torch.Tensor:
    """Rotate float images ``(N, H, W)`` counter-clockwise by ``degrees`` about their centre.

    For Rotated-MNIST. Bilinear interpolation; pixels that come from outside the frame are 0
    (MNIST's background), so a digit keeps its ink and only its orientation changes.

    Examples
    --------
    >>> img = torch.zeros(1, 5, 5)
    >>> img[0, 0, 2] = 1.0  # top centre
    >>> rotate(img, 90)[0].nonzero().tolist()  # counter-clockwise: to the left centre
    [[2, 0]]
    >>> torch.equal(rotate(img, 0), img)
    True
    """
    if images.dim() != 3 or not images.is_floating_point():
        raise ValueError(
            f"rotate expects float images of shape (N, H, W), got {tuple(images.shape)} "
            f"{images.dtype}"
        )
    if not math.isfinite(degrees):
        raise ValueError(f"degrees must be finite, got {degrees}")
    if degrees % 360 == 0:
        return images.clone()
    theta = math.radians(degrees)
    cos, sin = math.cos(theta), math.sin(theta)
    # affine_grid maps output to input coordinates (x right, y down): sampling at R(-theta)
    # turns the image by +theta on screen, i.e. counter-clockwise.
    matrix = torch.tensor([[cos, -sin, 0.0], [sin, cos, 0.0]], dtype=images.dtype)
    matrix = matrix.to(images.device).expand(len(images), 2, 3)
    grid = F.affine_grid(matrix, [len(images), 1, *images.shape[1:]], align_corners=False)
    out = F.grid_sample(images.unsqueeze(1), grid, mode="bilinear", align_corners=False)
    return out.squeeze(1)
