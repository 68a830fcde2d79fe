"""Datasets as tensors and streams: MNIST-family loading, shuffled streams, task splits.

Data flow: ``load_mnist`` (uint8 images, int64 labels) → ``split_tasks`` / ``permutations`` /
``rotate`` (which frames belong to which continual-learning task, and how each task's frames
look) → ``shuffled_stream`` (float batches for the learner). ``random_shift`` varies stored
images each time a learner replays them. ``split_scenario`` / ``permuted_scenario`` /
``rotated_scenario`` build whole continual-learning :class:`Scenario` objects (tasks with their
test sets and how they are scored) to evaluate a learner on its own task stream.
:mod:`ffstream.data.generators` makes seeded synthetic streams of every kind ``ffstream bench
streams`` measures (stationary, drifting, class-incremental, noisy, unlabelled): see
:data:`STREAM_KINDS`.
"""

from ffstream.data.generators import (
    NUM_CLASSES,
    STREAM_KINDS,
    abrupt_stream,
    class_incremental_stream,
    gradual_stream,
    high_dim_stream,
    label_noise_stream,
    linear_stream,
    low_dim_stream,
    mixed_scale_stream,
    nonlinear_stream,
    outlier_burst_stream,
    recurring_stream,
    river_stream,
    sensor_fault_stream,
)
from ffstream.data.idx import read_idx, write_idx
from ffstream.data.mnist import DATASETS, LabelledImages, data_home, identify_dataset, load_mnist
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
    "NUM_CLASSES",
    "STREAM_KINDS",
    "LabelledImages",
    "Scenario",
    "Task",
    "TaskData",
    "abrupt_stream",
    "angles",
    "class_incremental_stream",
    "data_home",
    "gradual_stream",
    "high_dim_stream",
    "label_noise_stream",
    "linear_stream",
    "identify_dataset",
    "load_mnist",
    "low_dim_stream",
    "mixed_scale_stream",
    "nonlinear_stream",
    "outlier_burst_stream",
    "permutations",
    "permuted_scenario",
    "random_shift",
    "read_idx",
    "recurring_stream",
    "river_stream",
    "rotate",
    "rotated_scenario",
    "sensor_fault_stream",
    "shuffled_stream",
    "split_scenario",
    "split_tasks",
    "to_unit_float",
    "transformed_scenario",
    "write_idx",
]
