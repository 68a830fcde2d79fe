"""Data-parallel streams on ``torch.distributed``: N ranks, one Forward-Forward model.

See docs/distributed.md for the ``torchrun`` command lines, what is synced and when, and what
each rank stores.
"""

from ffstream.distributed.checkpoint import load_learner, split_memory
from ffstream.distributed.collectives import RankLost, RanksDisagree
from ffstream.distributed.launch import JobFailed, init_from_env, shard, spawn
from ffstream.distributed.parallel import MODES, DataParallelLearner, model_tensors

__all__ = [
    "MODES",
    "DataParallelLearner",
    "JobFailed",
    "RankLost",
    "RanksDisagree",
    "init_from_env",
    "load_learner",
    "model_tensors",
    "shard",
    "spawn",
    "split_memory",
]
