"""A data-parallel job's checkpoint: one model and every rank's memories, in one file.

Rank 0 writes (atomically, without pickled objects, with a SHA-256 checksum)::

    {"format": "ffstream.data-parallel", "version": 1, "world_size": N, "mode": "...", "every": K,
     "learner": <rank 0's StreamLearner checkpoint, with its own checksum>,
     "ranks": [{"memory": ..., "recent": ..., "generator": ...} for each rank],
     "checksum": "<sha256 hex>"}

The model (layers, readout, weight average, standardiser, optimiser states, schedule and
counters) is rank 0's, which the ranks share (``"average"`` mode averages just before).

Resuming on M ranks (:func:`load_learner`):

- M equal to the N that wrote it: rank r gets rank r's memories and generator back unchanged,
  so the job continues as if never stopped.
- M different: the N long-term memories are pooled (row i of every rank before row i + 1, so
  the pool mixes the ranks evenly) and dealt round-robin, rank r taking every M-th row from
  row r. Each rank adds its share to a fresh memory of the learner's own kind, so a share larger
  than the capacity is sampled by that memory's own policy (uniform for the reservoir, equal per
  class for the class-balanced one). A full share's count of frames seen becomes the ranks'
  total over M, so new frames enter at the rate they would have (one with room fills it
  first). The short-term memories (frames since the last sleep) are pooled and dealt the same
  way. Generators are seeded afresh from the config's seed, the rank and the frames seen.
  M = 1 is a plain ``StreamLearner`` that holds what all ranks remembered, up to its capacity.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist

from ffstream.stream import StreamLearner
from ffstream.stream._learner_state import check_memories, saved_config
from ffstream.stream.checkpoint import (
    as_current,
    checksum,
    from_spec,
    load_checkpoint,
    save_checkpoint,
)
from ffstream.stream.memory import ClassBalancedMemory, Memory, RecentMemory

__all__ = [
    "FORMAT",
    "VERSION",
    "cpu_copy",
    "gather_parts",
    "gather_state",
    "load_learner",
    "read_state",
    "split_memory",
    "write_state",
]

FORMAT = "ffstream.data-parallel"
VERSION = 1


def cpu_copy(state: dict[str, Any]) -> dict[str, Any]:
    """A memory's state with its tensors copied to the CPU (to gather and to write)."""
    return {k: v.detach().cpu().clone() if torch.is_tensor(v) else v for k, v in state.items()}


def gather_state(
    learner: StreamLearner, mode: str, every: int, *, group=None
) -> dict[str, Any] | None:
    """Every rank's memories and generator, gathered to rank 0 beside rank 0's learner
    (collective). The file's contents on rank 0, ``None`` on the others."""
    part = {
        "memory": cpu_copy(learner.memory.state_dict()),
        "recent": cpu_copy(learner.recent.state_dict()),
        "generator": learner.generator.get_state(),
    }
    parts = gather_parts(part, group=group)
    if parts is None:
        return None
    return {"mode": mode, "every": every, "learner": learner.state_dict(), "ranks": parts}


def gather_parts(part: dict[str, Any], *, group=None) -> list[dict[str, Any]] | None:
    """Every rank's ``part`` (plain data), by rank, on rank 0; ``None`` elsewhere (collective)."""
    rank, world = dist.get_rank(group), dist.get_world_size(group)
    parts: list[Any] | None = [None] * world if rank == 0 else None
    dst = dist.get_global_rank(group, 0) if group is not None else 0
    dist.gather_object(part, parts, dst=dst, group=group)
    return parts


def write_state(path: str | os.PathLike, state: dict[str, Any], fmt: str = FORMAT) -> None:
    """Write a data-parallel file's contents (one part per rank in ``state["ranks"]``) to
    ``path`` atomically, tagged ``fmt``, with the version, the world size and a checksum."""
    body = {**state, "version": VERSION, "world_size": len(state["ranks"])}
    save_checkpoint(path, {**body, "checksum": checksum(body)}, fmt)


def read_state(path: str | os.PathLike, fmt: str = FORMAT) -> dict[str, Any]:
    """:func:`write_state`'s contents, once the format, version, checksum and the count of
    parts are checked (``ValueError`` otherwise)."""
    data = load_checkpoint(path, "cpu", fmt=fmt)
    body = {k: v for k, v in data.items() if k not in ("format", "checksum")}
    if data.get("version") != VERSION:
        raise ValueError(f"{path} is a {fmt} of version {data.get('version')!r}, not {VERSION}")
    if data.get("checksum") != checksum(body):
        raise ValueError(f"{path} failed its checksum: nothing was loaded")
    ranks = body.get("ranks")
    if not isinstance(ranks, list) or len(ranks) != body.get("world_size") or not ranks:
        raise ValueError(f"{path} does not hold one memory per rank")
    return body


def _rows(states: list[dict[str, Any]]) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """The stored rows of several memories, pooled row i of each before row i + 1."""
    sizes = [int(s["size"]) if s["frames"] is not None else 0 for s in states]
    order = sorted((i, k) for k, size in enumerate(sizes) for i in range(size))
    if not order:
        return None, None
    frames = torch.stack([states[k]["frames"][i] for i, k in order])
    if not states[0]["labelled"]:
        return frames, None
    return frames, torch.stack([states[k]["labels"][i] for i, k in order])


def split_memory(
    states: list[dict[str, Any]], memory: Memory, rank: int, world_size: int, generator
) -> dict[str, Any]:
    """Rank ``rank``'s share (of ``world_size``) of the pooled memories ``states``, as the
    state of a memory like ``memory`` (its kind and capacity; see the module notes).

    Examples
    --------
    >>> from ffstream.stream import ReservoirMemory
    >>> g = torch.Generator().manual_seed(0)
    >>> a, b = ReservoirMemory(4), ReservoirMemory(4)
    >>> a.add(torch.zeros(4, 1), None, g); b.add(torch.ones(4, 1), None, g)
    >>> one = split_memory([a.state_dict(), b.state_dict()], ReservoirMemory(8), 0, 1, g)
    >>> one["size"], one["seen"], float(one["frames"][:8].sum())
    (8, 8, 4.0)
    """
    fresh = RecentMemory(memory.capacity) if isinstance(memory, RecentMemory) else None
    if fresh is None:
        fresh = type(memory)(memory.capacity)
    frames, labels = _rows(states)
    if frames is not None and rank < frames.shape[0]:
        share = slice(rank, None, world_size)
        fresh.add(frames[share], None if labels is None else labels[share], generator)
    if isinstance(fresh, RecentMemory):
        return fresh.state_dict()  # its count places the ring's next slot: left as added
    if fresh.size == fresh.capacity:  # a memory with room must take new frames as they come
        fresh.seen = max(fresh.size, sum(int(s["seen"]) for s in states) // world_size)
    if isinstance(fresh, ClassBalancedMemory):
        totals: dict[int, int] = {}
        for s in states:
            for label, seen in s["class_seen"].tolist():
                totals[label] = totals.get(label, 0) + seen
        for label, seen in totals.items():
            stored = len(fresh._slots_of.get(label, ()))
            fresh.class_seen[label] = max(stored, seen // world_size)
    return fresh.state_dict()


def _check_parts(parts: list[Any], learner: StreamLearner) -> None:
    """Refuse (``ValueError``, naming the rank) saved memories that do not fit ``learner``."""
    for rank, part in enumerate(parts):
        if not isinstance(part, dict) or set(part) != {"memory", "recent", "generator"}:
            raise ValueError(f"rank {rank}'s part of the checkpoint is malformed")
        check_memories(part, learner, f"rank {rank}'s ")


def load_learner(
    path: str | os.PathLike, *, rank: int = 0, world_size: int = 1, device=None
) -> tuple[StreamLearner, dict[str, Any]]:
    """Rank ``rank``'s learner (of ``world_size``) from a data-parallel checkpoint, and the
    settings that wrote it (``{"mode": ..., "every": ...}``). Needs no process group:
    ``load_learner(path)`` resumes on one process.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from ffstream.distributed import DataParallelLearner
    >>> dist.init_process_group(
    ...     "gloo", store=dist.FileStore(tempfile.mktemp(), 1), rank=0, world_size=1)
    >>> parallel = DataParallelLearner(StreamLearner(4, 2, hidden=(8,), device="cpu"))
    >>> _ = parallel.observe(torch.rand(5, 4), torch.tensor([0, 1, 0, 1, 1]))
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "job.ckpt"
    >>> parallel.save(path)
    >>> dist.destroy_process_group()
    >>> learner, saved = load_learner(path)
    >>> len(learner.memory), saved
    (5, {'mode': 'average', 'every': 100})
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, world_size={world_size}), got {rank}")
    body = read_state(path)
    payload = as_current(body["learner"], "StreamLearner", source=str(path))
    state = payload["state"]
    with torch.random.fork_rng(devices=[]):  # torch's default layer inits draw globally
        learner = StreamLearner.from_config(
            saved_config(payload["config"]),
            schedule=from_spec(state.get("schedule")),
            dreams=from_spec(state.get("dreams")),
            device=device if device is not None else "cpu",
        )
    learner.load_state_dict(payload)
    parts = body["ranks"]
    _check_parts(parts, learner)
    if world_size == len(parts):
        mine = parts[rank]
        learner.memory.load_state_dict(mine["memory"], learner.device)
        learner.recent.load_state_dict(mine["recent"], learner.device)
        learner.generator.set_state(mine["generator"])
    else:
        seed = learner.config.seed if learner.config.seed is not None else 0
        learner.generator.manual_seed(seed + rank + 7919 * learner.frames_seen)
        for name in ("memory", "recent"):
            mine = getattr(learner, name)
            states = [part[name] for part in parts]
            split = split_memory(states, mine, rank, world_size, learner.generator)
            mine.load_state_dict(split, learner.device)
    return learner, {"mode": body["mode"], "every": body["every"]}
