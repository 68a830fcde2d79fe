"""Continual-learning scenarios: task sequences with their test sets and how they are scored.

A :class:`Scenario` is a list of :class:`TaskData` (training and test frames of one task) and
its *views*: how a prediction is scored. A class-incremental view takes the argmax over every
class; a task-masked view is told the task at test time and takes the argmax over that task's
classes only. One training run can be scored in several views. (Task-masked is not
task-incremental learning, where each task trains a head of its own: the benchmark suites run
that as a separate, multi-head run.)

The builders take a dataset as two ``(frames, labels)`` pairs of flat float frames ``(N, D)``
and int64 labels (``ffstream.data.load_mnist`` followed by ``to_unit_float``):

- :func:`split_scenario`: Split-MNIST, one task per group of classes (van de Ven & Tolias
  2019), class-incremental and task-masked, or domain-incremental with labels mapped to their place
  within the task;
- :func:`permuted_scenario`: Permuted-MNIST, every task under its own pixel permutation;
- :func:`rotated_scenario`: Rotated-MNIST, every task turned by its own angle;
- :func:`transformed_scenario`: any sequence of input transforms of the whole dataset.

Each builder is deterministic in its ``seed`` (which frames each task draws), so every method
compared on a scenario sees the same frames. The benchmark suites ``split-mnist``,
``permuted-mnist`` and ``rotated-mnist`` run these scenarios (``ffstream bench``).

Examples
--------
>>> x = torch.rand(40, 4)
>>> y = torch.arange(40) % 4
>>> scenario = split_scenario((x, y), (x, y), classes_per_task=2, train_per_task=5)
>>> [task.classes for task in scenario.tasks], [len(task.x_train) for task in scenario.tasks]
([(0, 1), (2, 3)], [5, 5])
>>> scenario.views
{'class-incremental': False, 'task-masked': True}
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from ffstream.data.tasks import permutations, rotate, split_tasks

__all__ = [
    "Scenario",
    "TaskData",
    "angles",
    "permuted_scenario",
    "rotated_scenario",
    "split_scenario",
    "transformed_scenario",
]

Split = tuple[torch.Tensor, torch.Tensor]

# Each builder draws its tasks' frames with ``seed`` plus its own offset, so the same seed gives
# different draws in different scenarios (and the i.i.d. shuffle differs from both).
_SPLIT_OFFSET, _PERMUTED_OFFSET, _ROTATED_OFFSET, _IID_OFFSET = 10_000, 20_000, 30_000, 30_000


@dataclass
class TaskData:
    """One task: flat float frames and labels, and the classes a task-aware view restricts to.

    Attributes
    ----------
    name
        A short label (``"01"`` for digits 0 and 1, ``"p3"``, ``"r90"``).
    x_train, y_train
        Training frames ``(N, D)`` and their int64 labels.
    x_test, y_test
        Test frames and labels.
    classes
        The labels of this task, ascending.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: tuple[int, ...]

    def to(self, device: str | torch.device) -> TaskData:
        """This task with its frames and labels on ``device``."""
        move = {k: getattr(self, k).to(device) for k in ("x_train", "y_train", "x_test", "y_test")}
        return dataclasses.replace(self, **move)


@dataclass
class Scenario:
    """A task sequence and how it is scored.

    Attributes
    ----------
    name
        The scenario's name (``"split-mnist"``).
    tasks
        The tasks, in the order they are learned.
    num_classes
        The size of the label space every task's labels come from.
    views
        View name -> whether predictions are restricted to the task's classes
        (task-masked) or not; every view gets its own accuracy matrix from the same run.
    image_shape
        ``(height, width)`` of the flat frames when their pixels keep their layout (so
        stored frames can be shifted when replayed), ``None`` when they do not
        (Permuted-MNIST).
    """

    name: str
    tasks: list[TaskData]
    num_classes: int
    views: dict[str, bool] = field(default_factory=dict)
    image_shape: tuple[int, int] | None = None

    @property
    def in_features(self) -> int:
        """The length of one flat frame."""
        return self.tasks[0].x_train.shape[1]

    def to(self, device: str | torch.device) -> Scenario:
        """This scenario with every task's tensors on ``device``."""
        return dataclasses.replace(self, tasks=[task.to(device) for task in self.tasks])

    def iid(self, seed: int) -> Scenario:
        """The i.i.d. reference: the same training frames shuffled across the tasks.

        Each task keeps its size and its test set, but trains on a random share of every
        task's frames, so the stream has no boundaries and no drift. Its last row of the
        accuracy matrix is the single-pass joint-training accuracy, the usual upper bound of a
        continual method. Views are renamed ``"<view> (i.i.d.)"``. A method told task
        boundaries (EWC) is told where these random shares end.

        Examples
        --------
        >>> task = lambda c: TaskData(str(c), torch.full((4, 1), float(c)), torch.full((4,), c),
        ...                           torch.zeros(1, 1), torch.zeros(1, dtype=torch.long), (c,))
        >>> mixed = Scenario("toy", [task(0), task(1)], 2, {"class-incremental": False}).iid(0)
        >>> list(mixed.views), [len(t.x_train) for t in mixed.tasks]
        (['class-incremental (i.i.d.)'], [4, 4])
        >>> sorted(torch.cat([t.y_train for t in mixed.tasks]).tolist())
        [0, 0, 0, 0, 1, 1, 1, 1]
        """
        x = torch.cat([task.x_train for task in self.tasks])
        y = torch.cat([task.y_train for task in self.tasks])
        generator = torch.Generator().manual_seed(_IID_OFFSET + seed)
        order = torch.randperm(len(x), generator=generator).to(x.device)
        sizes = [len(task.x_train) for task in self.tasks]
        tasks = [
            dataclasses.replace(task, x_train=xs, y_train=ys)
            for task, xs, ys in zip(self.tasks, x[order].split(sizes), y[order].split(sizes))
        ]
        views = {f"{view} (i.i.d.)": aware for view, aware in self.views.items()}
        return dataclasses.replace(self, name=f"{self.name}-iid", tasks=tasks, views=views)


def _square(num_features: int) -> tuple[int, int] | None:
    side = math.isqrt(num_features)
    return (side, side) if side * side == num_features else None


def split_scenario(
    train: Split,
    test: Split,
    *,
    seed: int = 0,
    classes_per_task: int = 2,
    train_per_task: int | None = None,
    test_per_task: int | None = None,
    domain: bool = False,
    name: str | None = None,
) -> Scenario:
    """Split a dataset's classes into tasks of ``classes_per_task`` (Split-MNIST).

    Parameters
    ----------
    train, test
        ``(frames, labels)``: flat float frames ``(N, D)`` and int64 labels.
    seed
        Chooses each task's training frames (and their order).
    classes_per_task
        Classes per task; the number of classes must be a multiple of it.
    train_per_task, test_per_task
        Frames per task (``None``: all). Training frames are a random subset, test frames the
        first of each task.
    domain
        ``False``: labels stay as they are, scored class-incrementally (argmax over every
        class) and task-masked (argmax over the task's classes). ``True``: each label
        becomes its place within its task (``0`` or ``1`` for pairs), one small head, the task
        unknown at test time (domain-incremental).
    name
        The scenario's name (default ``"split"``, or ``"split-domain"``).

    Returns
    -------
    Scenario
        ``image_shape`` is set when ``D`` is a square number of pixels.
    """
    (x, y), (xt, yt) = train, test
    train_tasks = split_tasks(y, classes_per_task)
    test_tasks = split_tasks(yt, classes_per_task)
    generator = torch.Generator().manual_seed(_SPLIT_OFFSET + seed)
    tasks = []
    for tr, te in zip(train_tasks, test_tasks):
        idx = tr.indices[torch.randperm(len(tr.indices), generator=generator)]
        idx = idx[:train_per_task]
        tidx = te.indices[:test_per_task]
        ytr, yte, classes = y[idx], yt[tidx], tr.classes
        if domain:  # the position of the label within its task
            lookup = torch.zeros(int(y.max()) + 1, dtype=torch.long)
            lookup[list(tr.classes)] = torch.arange(len(tr.classes))
            ytr, yte, classes = lookup[ytr], lookup[yte], tuple(range(len(tr.classes)))
        label = "".join(str(c) for c in tr.classes)
        tasks.append(TaskData(label, x[idx], ytr, xt[tidx], yte, classes))
    shape = _square(x.shape[1])
    if domain:
        views = {"domain-incremental": False}
        return Scenario(name or "split-domain", tasks, classes_per_task, views, shape)
    views = {"class-incremental": False, "task-masked": True}
    num_classes = len(train_tasks) * classes_per_task
    return Scenario(name or "split", tasks, num_classes, views, shape)


def transformed_scenario(
    train: Split,
    test: Split,
    transforms: Sequence[tuple[str, Callable[[torch.Tensor], torch.Tensor]]],
    *,
    seed: int = 0,
    train_per_task: int | None = None,
    test_per_task: int | None = None,
    name: str = "transformed",
    image_shape: tuple[int, int] | None = None,
    seed_offset: int = 0,
) -> Scenario:
    """One task per ``(task_name, transform)`` of the whole dataset (domain-incremental).

    Every task has all classes under its own input transform: one head, the task unknown at
    test time. Each task trains on its own random ``train_per_task`` frames (drawn with
    ``seed + seed_offset``) and tests on the first ``test_per_task`` test frames, transformed
    alike. ``image_shape``: the frames' ``(height, width)`` if the transforms keep pixels in
    place (see :class:`Scenario`).

    Examples
    --------
    >>> x, y = torch.rand(20, 4), torch.arange(20) % 2
    >>> flip = [("same", lambda f: f), ("flipped", lambda f: f.flip(1))]
    >>> s = transformed_scenario((x, y), (x, y), flip, train_per_task=8, test_per_task=5)
    >>> [t.name for t in s.tasks], len(s.tasks[1].x_train), s.views
    (['same', 'flipped'], 8, {'domain-incremental': False})
    >>> torch.equal(s.tasks[1].x_test, x[:5].flip(1))
    True
    """
    (x, y), (xt, yt) = train, test
    n_train = min(train_per_task or len(x), len(x))
    n_test = min(test_per_task or len(xt), len(xt))
    classes = tuple(int(c) for c in y.unique(sorted=True))
    generator = torch.Generator().manual_seed(seed_offset + seed)
    tasks = []
    for task_name, transform in transforms:
        idx = torch.randperm(len(x), generator=generator)[:n_train]
        xs, ys = transform(x[idx]), y[idx]
        tasks.append(TaskData(task_name, xs, ys, transform(xt[:n_test]), yt[:n_test], classes))
    return Scenario(name, tasks, len(classes), {"domain-incremental": False}, image_shape)


def permuted_scenario(
    train: Split,
    test: Split,
    *,
    seed: int = 0,
    num_tasks: int = 10,
    permutation_seed: int = 0,
    train_per_task: int | None = None,
    test_per_task: int | None = None,
    name: str = "permuted",
) -> Scenario:
    """Permuted-MNIST: task ``t`` sees every frame under its own fixed pixel permutation.

    Task 0 keeps the identity. The permutations come from ``permutation_seed`` and are part of
    the benchmark, the same for every ``seed``; ``seed`` chooses each task's training frames.
    Permuted frames have no pixel layout (``image_shape`` is ``None``). Other parameters as in
    :func:`transformed_scenario`.
    """
    perms = permutations(num_tasks, train[0].shape[1], seed=permutation_seed)
    transforms = [(f"p{t}", lambda x, perm=perm: x[:, perm]) for t, perm in enumerate(perms)]
    return transformed_scenario(
        train,
        test,
        transforms,
        seed=seed,
        train_per_task=train_per_task,
        test_per_task=test_per_task,
        name=name,
        seed_offset=_PERMUTED_OFFSET,
    )


def angles(num_tasks: int, max_degrees: float = 180.0) -> list[float]:
    """The rotation of each task in degrees, evenly spaced from 0 (up to ``max_degrees``).

    Examples
    --------
    >>> angles(4)
    [0.0, 45.0, 90.0, 135.0]
    """
    if num_tasks < 1 or not math.isfinite(max_degrees):
        raise ValueError(
            f"need num_tasks >= 1 and a finite max_degrees, got {num_tasks}, {max_degrees}"
        )
    return [t * max_degrees / num_tasks for t in range(num_tasks)]


def _rotation(degrees: float, side: int) -> Callable[[torch.Tensor], torch.Tensor]:
    def turn(x: torch.Tensor) -> torch.Tensor:
        return rotate(x.view(-1, side, side), degrees).reshape(len(x), side * side)

    return turn


def rotated_scenario(
    train: Split,
    test: Split,
    *,
    seed: int = 0,
    num_tasks: int = 10,
    max_degrees: float = 180.0,
    train_per_task: int | None = None,
    test_per_task: int | None = None,
    name: str = "rotated",
) -> Scenario:
    """Rotated-MNIST: task ``t`` turns every image counter-clockwise by
    ``t * max_degrees / num_tasks`` degrees (:func:`angles`).

    The default span, 0 to 162 degrees in ten tasks, is that of Lopez-Paz & Ranzato's (2017)
    Rotated-MNIST, evenly spaced instead of their twenty random angles. Frames must be square
    images, flattened. Other parameters as in :func:`transformed_scenario`.
    """
    shape = _square(train[0].shape[1])
    if shape is None:
        raise ValueError(f"a rotated scenario needs square images, got {train[0].shape[1]} pixels")
    transforms = [(f"r{round(a)}", _rotation(a, shape[0])) for a in angles(num_tasks, max_degrees)]
    return transformed_scenario(
        train,
        test,
        transforms,
        seed=seed,
        train_per_task=train_per_task,
        test_per_task=test_per_task,
        name=name,
        image_shape=shape,
        seed_offset=_ROTATED_OFFSET,
    )
