"""Data-parallel streams on ``torch.distributed``: N ranks, one Forward-Forward model.

See docs/distributed.md for the ``torchrun`` command lines, what is synced and when, and what
each rank stores.
"""

from ffstream.distributed.agent import DataParallelAgent, load_agent
from ffstream.distributed.checkpoint import load_learner, split_memory
from ffstream.distributed.collectives import RankLost, RanksDisagree
from ffstream.distributed.launch import JobFailed, init_from_env, shard, spawn
from ffstream.distributed.parallel import DataParallelLearner, model_tensors
from ffstream.distributed.replicas import MODES, Replicas

__all__ = [
    "MODES",
    "DataParallelAgent",
    "DataParallelLearner",
    "JobFailed",
    "RankLost",
    "RanksDisagree",
    "Replicas",
    "init_from_env",
    "load_agent",
    "load_learner",
    "model_tensors",
    "shard",
    "spawn",
    "split_memory",
]
