"""Forward-Forward beyond one process, on ``torch.distributed``: data-parallel streams (N ranks,
one model) and a layer pipeline (each rank a run of layers, frames flowing up).

See docs/distributed.md for the ``torchrun`` command lines, what is synced or sent and when, and
what each rank stores.
"""

from ffstream.distributed.agent import DataParallelAgent, load_agent
from ffstream.distributed.checkpoint import load_learner, split_memory
from ffstream.distributed.collectives import RankLost, RanksDisagree
from ffstream.distributed.launch import JobFailed, init_from_env, shard, spawn
from ffstream.distributed.parallel import DataParallelLearner, model_tensors
from ffstream.distributed.pipeline import PipelineLearner, pipeline_refusals
from ffstream.distributed.replicas import MODES, Replicas

__all__ = [
    "MODES",
    "DataParallelAgent",
    "DataParallelLearner",
    "JobFailed",
    "PipelineLearner",
    "RankLost",
    "RanksDisagree",
    "Replicas",
    "init_from_env",
    "load_agent",
    "load_learner",
    "model_tensors",
    "pipeline_refusals",
    "shard",
    "spawn",
    "split_memory",
]
