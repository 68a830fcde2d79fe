"""Multi-head task-incremental learning: one output head per task, the task given.

van de Ven & Tolias (2019, 'Three scenarios for continual learning') define task-incremental
learning with a multi-headed output layer: the task is known while training and testing, each
task has its own output units, and only the current task's units take part in a frame's loss
and prediction. :class:`MultiHeadScenario` marks a scenario learned that way, and
:class:`TaskHeads` says which classes form each task's head:

- the backprop baselines (:mod:`benchmarks.continual_baselines`): their output layer's rows are
  grouped into heads, task ``t``'s head being the rows of its classes; every loss of a frame is
  the softmax cross-entropy over its own head (:meth:`TaskHeads.restrict`), so its gradient
  reaches no other head: exactly ``T`` linear heads on one shared body. DER++ matches replayed
  logits on the frame's head only;
- FF (:mod:`benchmarks.continual_ff`): the StreamLearner's :class:`~ffstream.ff.LinearReadout`
  becomes a multi-head readout (its ``heads``): each frame's softmax spans its task's classes,
  one readout per task on the shared FF layers, learning as the learner's readout always does.

At test time a task's prediction is the argmax over its head: the task-aware view of the
protocol (:func:`benchmarks.continual_protocol.evaluate` with the task's classes). The task is
known from the label while training (tasks partition the classes), so the stream needs no task
ids of its own. This differs from the ``task-masked`` view of the class-incremental run, where
one softmax over every class is trained and only the test-time argmax is restricted to the
task's classes (what is often reported as task-incremental).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import torch

from ffstream.data import Scenario

__all__ = ["MultiHeadScenario", "TaskHeads", "multi_head"]


class MultiHeadScenario(Scenario):
    """A :class:`~ffstream.data.Scenario` learned with one output head per task (see module)."""


def multi_head(scenario: Scenario, name: str, view: str = "task-incremental") -> Scenario:
    """``scenario``'s tasks as a multi-head scenario ``name``, scored in ``view`` on each
    task's head.

    Examples
    --------
    >>> from ffstream.data import split_scenario
    >>> x, y = torch.rand(40, 4), torch.arange(40) % 4
    >>> heads = multi_head(split_scenario((x, y), (x, y)), "toy-task")
    >>> type(heads).__name__, heads.name, heads.views
    ('MultiHeadScenario', 'toy-task', {'task-incremental': True})
    """
    fields = {f.name: getattr(scenario, f.name) for f in dataclasses.fields(scenario)}
    fields.update(name=name, views={view: True})
    return MultiHeadScenario(**fields)


class TaskHeads:
    """Which classes form each task's head: ``groups[t]`` is task ``t``'s classes.

    Parameters
    ----------
    groups
        Each task's classes; the tasks must not share a class (the head of a frame is read
        from its label).
    num_classes
        The size of the label space; every class in ``groups`` is below it.

    Examples
    --------
    >>> heads = TaskHeads([(0, 1), (2, 3)], 4)
    >>> heads.head_of.tolist(), len(heads)
    ([0, 0, 1, 1], 2)
    >>> heads.restrict(torch.zeros(2, 4), torch.tensor([1, 2])).tolist()
    [[0.0, 0.0, -inf, -inf], [-inf, -inf, 0.0, 0.0]]
    """

    def __init__(self, groups: Sequence[Sequence[int]], num_classes: int):
        head_of = torch.full((num_classes,), -1, dtype=torch.long)
        for t, classes in enumerate(groups):
            for c in classes:
                if not 0 <= c < num_classes:
                    raise ValueError(f"groups: class {c} is outside 0..{num_classes - 1}")
                if head_of[c] >= 0:
                    raise ValueError(f"groups: class {c} is in two heads; tasks must not share one")
                head_of[c] = t
        if not len(groups) or (head_of < 0).all():
            raise ValueError("groups: give at least one task with at least one class")
        self.groups = [tuple(int(c) for c in classes) for classes in groups]
        #: the head of each class (-1 for a class in no task)
        self.head_of = head_of

    @classmethod
    def of(cls, scenario: Scenario) -> TaskHeads:
        """One head per task of ``scenario``: the task's classes."""
        return cls([task.classes for task in scenario.tasks], scenario.num_classes)

    def __len__(self) -> int:
        return len(self.groups)

    def allowed(self, y: torch.Tensor) -> torch.Tensor:
        """``(N, num_classes)``: true on the classes of each label's head."""
        head_of = self.head_of.to(y.device)
        return head_of.view(1, -1) == head_of[y].view(-1, 1)

    def restrict(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``logits`` with the classes outside each label's head at ``-inf``: a softmax over
        them is the softmax of the frame's own head."""
        return logits.masked_fill(~self.allowed(y), -math.inf)
