"""DataParallelAgent: one :class:`~ffstream.agents.FFQAgent` model learned by N ranks.

Each rank steps its own slice of the environments (its own vector env, seeded apart) and runs
its own ``FFQAgent``; every ``every`` loop steps the ranks average their models: the Q layers,
their target copies and the observation standardiser's statistics. Replay memories, exploration
generators (seeded ``seed + 1 + rank``) and optimiser states stay per rank.

Only ``"average"`` mode: the agent makes as many updates as its envs gave valid transitions
(``replay_ratio`` per step, none on an autoreset step), so ranks whose episodes end at different
times make different numbers of updates and cannot all-reduce each one. The averages count loop
steps (calls of :meth:`DataParallelAgent.observe`), which are equal on every rank.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist

from ffstream.agents import AgentConfig, FFQAgent
from ffstream.distributed.checkpoint import (
    cpu_copy,
    gather_parts,
    read_state,
    split_memory,
    write_state,
)
from ffstream.distributed.replicas import Replicas
from ffstream.stream.state_checks import check_generator_state

__all__ = ["AGENT_FORMAT", "DataParallelAgent", "load_agent"]

#: the format tag of a data-parallel agent's file (laid out as
#: :mod:`ffstream.distributed.checkpoint` lays out the learner's)
AGENT_FORMAT = "ffstream.data-parallel-agent"


class DataParallelAgent(Replicas):
    """An :class:`~ffstream.agents.FFQAgent` whose model is averaged across ranks.

    It takes the agent's place in :class:`~ffstream.agents.AgentLoop` (it has the agent's
    :meth:`act`, :meth:`observe` and the attributes the loop reads). Every rank builds the same
    agent (same config and seed), wraps it, and steps its own envs; :meth:`observe` is
    collective every ``every`` calls, when the ranks average. At wrapping, rank 0's model is
    broadcast to all.

    Parameters
    ----------
    agent
        This rank's agent.
    mode
        ``"average"``, the only mode (see the module notes).
    every
        Loop steps (vector env steps) between averages.
    group
        The process group (``None``: the default one).

    Examples
    --------
    >>> import tempfile
    >>> import torch.distributed as dist
    >>> from ffstream import envs
    >>> from ffstream.agents import AgentConfig, AgentLoop
    >>> dist.init_process_group(
    ...     "gloo", store=dist.FileStore(tempfile.mktemp(), 1), rank=0, world_size=1)
    >>> env = envs.make("CartPole-v1", num_envs=2)
    >>> agent = FFQAgent(env.single_observation_space, env.single_action_space,
    ...                  AgentConfig(hidden=(16,)), seed=0)
    >>> parallel = DataParallelAgent(agent, every=10)
    >>> loop = AgentLoop(env, parallel, seed=0)
    >>> _ = [loop.step() for _ in range(25)]
    >>> parallel.syncs, parallel.loop_steps
    (2, 25)
    >>> dist.destroy_process_group()
    """

    def __init__(self, agent: FFQAgent, *, mode: str = "average", every: int = 100, group=None):
        if not isinstance(agent, FFQAgent):
            raise ValueError(f"agent must be an FFQAgent, got {type(agent).__name__}")
        if mode == "allreduce":
            raise ValueError(
                "mode='allreduce' is not available for the agent: ranks whose episodes end at "
                "different times make different numbers of updates; use mode='average'"
            )
        super().__init__(mode=mode, every=every, group=group)
        self.agent = agent
        self.loop_steps = 0
        agent.rng.manual_seed(agent.seed + 1 + self.rank)  # its own exploration and replays
        self._join()

    def model_tensors(self) -> list[torch.Tensor]:
        """The Q layers, their targets and the observation standardiser's statistics."""
        agent = self.agent
        out = []
        for module in (agent.net.layers, agent.target_net.layers, agent.standardizer):
            out += [t for t in module.state_dict().values() if t.is_floating_point()]
        return out

    def _changed_in_place(self) -> None:
        self.agent.standardizer.refresh()  # its cached scale derives from its estimates

    def position(self) -> tuple[int]:
        """Loop steps: equal on every rank that steps in turn with the others."""
        return (self.loop_steps,)

    # ------------------------------------------------------------------ the agent's place
    @property
    def device(self) -> torch.device:
        return self.agent.device

    @property
    def env_steps(self) -> int:
        return self.agent.env_steps

    @property
    def rng(self) -> torch.Generator:
        return self.agent.rng

    def act(self, obs: torch.Tensor, explore: bool = True):
        """This rank's :meth:`FFQAgent.act` (no collective)."""
        return self.agent.act(obs, explore)

    def observe(self, *args: Any, **kwargs: Any) -> None:
        """:meth:`FFQAgent.observe` on this rank's transitions; the ranks average every
        ``every`` calls (collective)."""
        self._begin()
        self.agent.observe(*args, **kwargs)
        self.loop_steps += 1
        self._advanced(1)

    # ------------------------------------------------------------------ checkpoints
    def save(self, path) -> None:
        """One model (after an average) and every rank's replay memory and generator, written
        by rank 0 atomically (collective). Resume with :meth:`load` on any number of ranks."""
        self.sync()
        agent = self.agent
        part = {"memory": cpu_copy(agent.memory.state_dict()), "rng": agent.rng.get_state()}
        parts = gather_parts(part, group=self.group)
        if parts is not None:
            state = {"every": self.every, "seed": agent.seed, "ranks": parts}
            state["agent"] = agent.state_dict()
            write_state(path, state, AGENT_FORMAT)
        dist.barrier(group=self.group)

    @classmethod
    def load(
        cls, path, observation_space, action_space, *, every: int | None = None, group=None
    ) -> DataParallelAgent:
        """Resume :meth:`save`'s job on this process group's ranks, however many
        (collective); ``every`` defaults to the saved one."""
        rank, world = dist.get_rank(group), dist.get_world_size(group)
        agent, saved = load_agent(
            path, observation_space, action_space, rank=rank, world_size=world
        )
        rng = agent.rng.get_state()
        parallel = cls(agent, every=every if every is not None else saved["every"], group=group)
        agent.rng.set_state(rng)  # the resumed generator, not a fresh seed + rank
        return parallel


def load_agent(
    path, observation_space, action_space, *, rank: int = 0, world_size: int = 1
) -> tuple[FFQAgent, dict[str, Any]]:
    """Rank ``rank``'s agent (of ``world_size``) from :meth:`DataParallelAgent.save`'s file,
    and the settings that wrote it (``{"every": ...}``); needs no process group.

    The model is the saved one; the replay memories are handed back as they were when the
    number of ranks is the same, else pooled and dealt round-robin
    (:func:`~ffstream.distributed.checkpoint.split_memory`).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from ffstream import envs
    >>> from ffstream.agents import AgentLoop
    >>> dist.init_process_group(
    ...     "gloo", store=dist.FileStore(tempfile.mktemp(), 1), rank=0, world_size=1)
    >>> env = envs.make("CartPole-v1", num_envs=2)
    >>> spaces = env.single_observation_space, env.single_action_space
    >>> parallel = DataParallelAgent(FFQAgent(*spaces, AgentConfig(hidden=(8,))), every=5)
    >>> loop = AgentLoop(env, parallel, seed=0)
    >>> _ = [loop.step() for _ in range(3)]
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "agent.ckpt"
    >>> parallel.save(path)
    >>> dist.destroy_process_group()
    >>> agent, saved = load_agent(path, *spaces)
    >>> len(agent.memory) == len(parallel.agent.memory), saved
    (True, {'every': 5})
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, world_size={world_size}), got {rank}")
    body = read_state(path, AGENT_FORMAT)
    state = dict(body["agent"])
    agent = FFQAgent(
        observation_space,
        action_space,
        AgentConfig.from_dict(state["config"]),
        seed=int(body["seed"]),
    )
    parts = body["ranks"]
    for i, part in enumerate(parts):
        if not isinstance(part, dict) or set(part) != {"memory", "rng"}:
            raise ValueError(f"rank {i}'s part of the checkpoint is malformed")
        check_generator_state(part["rng"], agent.rng, f"rank {i}'s generator")
    if world_size == len(parts):
        state["memory"], state["rng"] = parts[rank]["memory"], parts[rank]["rng"]
    else:
        generator = torch.Generator().manual_seed(agent.seed + 1 + rank + 7919 * agent.env_steps)
        memories = [part["memory"] for part in parts]
        state["memory"] = split_memory(memories, agent.memory, rank, world_size, generator)
        state["rng"] = generator.get_state()
    agent.load_state_dict(state)
    return agent, {"every": body["every"]}
