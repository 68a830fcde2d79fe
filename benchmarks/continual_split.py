"""The validation split of the continual suites: settings are chosen on it, never on test frames.

``--split val`` replaces each task's test set by the last ``--val-share`` of that task's
training frames and trains on the rest; the test frames are not read at all. The scenario
builders draw each task's training frames in a seeded random order, so the held-out frames are
a random share of the task's frames, the same for every method of a seed. ``--split test`` (the
default) trains on every training frame and scores on the test set: choose settings with
``--split val``, freeze them, and report ``--split test`` on seeds not used for choosing.
"""

from __future__ import annotations

import dataclasses

from ffstream.data import Scenario

__all__ = ["validation_scenario"]


def validation_scenario(scenario: Scenario, share: float) -> Scenario:
    """``scenario`` with each task's last ``share`` of training frames as its test set.

    At least one frame is held out and one kept per task.

    Examples
    --------
    >>> import torch
    >>> from ffstream.data import TaskData
    >>> task = TaskData("t", torch.arange(10.0).view(10, 1), torch.zeros(10, dtype=torch.long),
    ...                 torch.full((3, 1), -1.0), torch.zeros(3, dtype=torch.long), (0,))
    >>> held = validation_scenario(Scenario("toy", [task], 1), 0.2)
    >>> held.tasks[0].x_train.view(-1).tolist(), held.tasks[0].x_test.view(-1).tolist()
    ([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], [8.0, 9.0])
    """
    if not 0.0 < share < 1.0:
        raise ValueError(f"share must be in (0, 1), got {share}")
    tasks = []
    for task in scenario.tasks:
        n = len(task.x_train)
        held = max(1, round(n * share))
        if held >= n:
            raise ValueError(
                f"task {task.name} has {n} training frames: too few to hold out {share:.0%}"
            )
        keep = n - held
        tasks.append(
            dataclasses.replace(
                task,
                x_train=task.x_train[:keep],
                y_train=task.y_train[:keep],
                x_test=task.x_train[keep:],
                y_test=task.y_train[keep:],
            )
        )
    return dataclasses.replace(scenario, tasks=tasks)
