"""A data-parallel FFQAgent: two gloo ranks, each stepping its own CartPoles."""

from __future__ import annotations

import pytest
import torch

from ffstream import envs
from ffstream.agents import AgentConfig, AgentLoop, FFQAgent
from ffstream.distributed import DataParallelAgent, spawn
from ffstream.distributed.agent import load_agent

CONFIG = AgentConfig(
    hidden=(16, 16), batch_size=16, learning_starts=32, memory_size=400, sleep_every=60
)


def _agent(env) -> FFQAgent:
    return FFQAgent(env.single_observation_space, env.single_action_space, CONFIG, seed=0)


def _agent_job(rank, world):
    env = envs.make("CartPole-v1", num_envs=2)
    parallel = DataParallelAgent(_agent(env), every=10)
    loop = AgentLoop(env, parallel, seed=100 + rank)  # each rank its own episodes
    start = parallel.max_divergence()
    before, after = [], []
    for _ in range(60):
        syncs = parallel.syncs
        loop.step()
        (after if parallel.syncs > syncs else before).append(parallel.max_divergence())
    agent = parallel.agent
    return {
        "start": start,
        "before": before,
        "after": after,
        "updates": agent.updates,
        "sleeps": agent.sleeps,
        "env_steps": agent.env_steps,
    }


def test_ranks_average_one_agent_every_k_loop_steps():
    a, b = spawn(_agent_job, 2, start_method="fork", timeout=20.0)
    assert a["start"] == 0.0  # rank 0's model broadcast at wrapping
    assert len(a["after"]) == len(b["after"]) == 6  # an average every 10 loop steps
    assert all(d == 0.0 for d in a["after"])
    assert max(a["before"]) > 0.0  # between averages each rank learns alone
    assert a["updates"] > 0 and b["updates"] > 0 and a["sleeps"] >= 1


def _checkpoint_job(rank, world, path):
    env = envs.make("CartPole-v1", num_envs=2)
    parallel = DataParallelAgent(_agent(env), every=10)
    loop = AgentLoop(env, parallel, seed=100 + rank)
    for _ in range(30):
        loop.step()
    parallel.save(path)
    resumed = DataParallelAgent.load(path, env.single_observation_space, env.single_action_space)
    mine, back = parallel.agent.memory.state_dict(), resumed.agent.memory.state_dict()
    return {
        "weights": [p.detach().clone() for p in parallel.agent.net.parameters()],
        "memory": mine,
        "same_memory": torch.equal(mine["frames"], back["frames"]) and mine["size"] == back["size"],
        "same_rng": torch.equal(parallel.agent.rng.get_state(), resumed.agent.rng.get_state()),
    }


def test_a_checkpoint_of_two_ranks_resumes_on_two_and_on_one(tmp_path):
    path = tmp_path / "agent.ckpt"
    a, b = spawn(_checkpoint_job, 2, str(path), start_method="fork", timeout=20.0)
    assert a["same_memory"] and b["same_memory"] and a["same_rng"] and b["same_rng"]
    env = envs.make("CartPole-v1", num_envs=2)
    spaces = env.single_observation_space, env.single_action_space
    agent, saved = load_agent(path, *spaces)
    assert saved == {"every": 10}
    for mine, loaded in zip(a["weights"], agent.net.parameters()):
        assert torch.equal(mine, loaded.detach())
    # one memory with both ranks' transitions: 60 each, within its 400 rows
    assert len(agent.memory) == a["memory"]["size"] + b["memory"]["size"]
    loop = AgentLoop(env, agent, seed=7)
    for _ in range(5):  # and it goes on learning
        loop.step()


def test_allreduce_and_bad_settings_are_refused_naming_them(one_rank):
    env = envs.make("CartPole-v1", num_envs=2)
    with pytest.raises(ValueError, match="allreduce"):
        DataParallelAgent(_agent(env), mode="allreduce")
    with pytest.raises(ValueError, match="every"):
        DataParallelAgent(_agent(env), every=0)
    with pytest.raises(ValueError, match="FFQAgent"):
        DataParallelAgent(object())
