"""Datasets as tensors and streams: MNIST-family loading, shuffled streams, task splits.

Data flow: ``load_mnist`` (uint8 images, int64 labels) → ``split_tasks`` / ``permutations`` /
``rotate`` (which frames belong to which continual-learning task, and how each task's frames
look) → ``shuffled_stream`` (float batches for the learner). ``random_shift`` varies stored
images each time a learner replays them. ``split_scenario`` / ``permuted_scenario`` /
``rotated_scenario`` build whole continual-learning :class:`Scenario` objects (tasks with their
test sets and how they are scored) to evaluate a learner on its own task stream.
"""

from ffstream.data.idx import read_idx, write_idx
from ffstream.data.mnist import DATASETS, LabelledImages, data_home, load_mnist
from ffstream.data.scenarios import (
    Scenario,
    TaskData,
    angles,
    permuted_scenario,
    rotated_scenario,
    split_scenario,
    transformed_scenario,
)
from ffstream.data.streams import shuffled_stream
from ffstream.data.tasks import Task, permutations, rotate, split_tasks
from ffstream.data.transforms import random_shift, to_unit_float

__all__ = [
    "DATASETS",
    "LabelledImages",
    "Scenario",
    "Task",
    "TaskData",
    "angles",
    "data_home",
    "load_mnist",
    "permutations",
    "permuted_scenario",
    "random_shift",
    "read_idx",
    "rotate",
    "rotated_scenario",
    "shuffled_stream",
    "split_scenario",
    "split_tasks",
    "to_unit_float",
    "transformed_scenario",
    "write_idx",
]
