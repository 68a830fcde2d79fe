"""One stream, N processes, one Forward-Forward model: data-parallel learning with torchrun.

Each rank learns from its own share of a generated stream (batch k goes to rank k % N) and the
ranks keep one model (docs/distributed.md says what is synced and when). A checkpoint holds the
model and every rank's memory; a rerun resumes from it on any number of ranks.

    torchrun --nproc-per-node 2 examples/distributed_stream.py [CHECKPOINT]
    python examples/distributed_stream.py              # the same, spawning 2 ranks itself
"""

import os
import sys

import torch
import torch.distributed as dist

from ffstream.data.generators import NUM_CLASSES, STREAM_KINDS
from ffstream.distributed import DataParallelLearner, init_from_env, shard, spawn
from ffstream.stream import StreamLearner


def main(rank: int, world: int, path: str) -> float:
    torch.set_num_threads(1)
    x, y = (torch.from_numpy(a) for a in STREAM_KINDS["linear"](6_000, seed=0))
    try:  # resume on however many ranks this run has
        learner = DataParallelLearner.load(path)
    except FileNotFoundError:
        learner = DataParallelLearner(StreamLearner(16, NUM_CLASSES["linear"], seed=0))
    hits = frames = 0
    for s in shard(len(x), 8, rank, world):
        hits += int((learner.observe(x[s], y[s]).prediction == y[s]).sum())
        frames += len(x[s])
    learner.save(path)  # collective: rank 0 writes the model and every rank's memory
    if rank == 0:
        print(f"{world} ranks: prequential accuracy {hits / frames:.3f} on rank 0's frames")
    return hits / frames


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else "distributed_stream.ckpt"
    if "RANK" in os.environ:  # started by torchrun
        rank, world = init_from_env(timeout=60)
        main(rank, world, path)
        dist.destroy_process_group()
    else:
        spawn(main, 2, path)
