"""Raw targets -> label tensors: class indices (long) or regression values (float32)."""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable
from numbers import Integral, Real
from typing import Literal

import torch

from .class_index import ClassIndex

__all__ = ["Task", "TargetEncoder"]

Task = Literal["auto", "classification", "regression"]


class TargetEncoder:
    """Turn one raw target into a 0-d tensor on ``device``.

    ``task="auto"`` decides on the first target: a float that is not a bool or int means
    regression, anything else classification; later targets must agree.
    """

    def __init__(self, task: Task = "auto", classes: Iterable[Hashable] | None = None) -> None:
        if task not in ("auto", "classification", "regression"):
            raise ValueError(f"task must be 'auto', 'classification' or 'regression', not {task!r}")
        if classes is not None and task == "regression":
            raise ValueError("classes only make sense for task='classification'")
        self.task: Task = "classification" if classes is not None else task
        self.classes = ClassIndex(classes)

    def __call__(self, target, *, device: torch.device, where: str) -> torch.Tensor:
        if self.task == "auto":
            floaty = isinstance(target, Real) and not isinstance(target, Integral)
            self.task = "regression" if floaty else "classification"
        try:
            if self.task == "regression":
                return torch.tensor(_regression_value(target), dtype=torch.float32, device=device)
            return torch.tensor(self.classes(target), dtype=torch.long, device=device)
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None


def _regression_value(target) -> float:
    if isinstance(target, dict):
        raise ValueError("multi-output targets are not supported")
    try:
        value = float(target.strip() if isinstance(target, str) else target)
    except (TypeError, ValueError):
        raise ValueError(f"target {target!r} is not a number") from None
    # float32 is what the learner sees, so check finiteness there.
    if not math.isfinite(float(torch.tensor(value, dtype=torch.float32))):
        raise ValueError(f"target {target!r} is NaN or Inf")
    return value
