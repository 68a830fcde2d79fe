"""Faults the agent must refuse: bad configs, non-finite env steps, diverging updates."""

from __future__ import annotations

import copy
import dataclasses
import math
import re

import pytest
import torch

from ffstream import envs
from ffstream.agents import (
    AgentConfig,
    AgentLoop,
    EnvStepError,
    FFQAgent,
    NonFiniteStepError,
    load_config,
)

NAN, INF = float("nan"), float("inf")

# Every field with values that must be refused: wrong type, not finite, out of range.
BAD_VALUES = {
    "hidden": [(), (8, 0), "8", 8.0],
    "readout": ["max", None],
    "gamma": [1.0, -0.1, NAN, "0.9", True],
    "lr": [INF, 0.0, -1e-3, NAN],
    "lr_final_fraction": [0.0, 1.5, -0.1, NAN, "0.1"],
    "lr_decay_steps": [-1, 2.5, True, "100"],
    "adam_beta1": [1.0, -0.5, NAN],
    "batch_size": [0, 8.0, True],
    "memory_size": [0, INF],
    "learning_starts": [-1, 1.5],
    "replay_ratio": [INF, 0.0, NAN, 1e9],
    "target_every": [0, None],
    "target_tau": [0.0, 1.5, NAN],
    "double_q": [1, "yes"],
    "huber": [0, None],
    "max_grad_norm": [-1.0, NAN, INF],
    "eps_start": [5, -0.1, NAN],
    "eps_end": [1.5, -0.1, INF],
    "eps_decay_steps": [-1, 2.5],
    "ff_weight": [-0.1, INF, NAN],
    "sleep_every": [-1, 1.5],
    "sleep_steps": [-1, "4"],
    "dream_noise": [-0.5, NAN],
    "normalize_obs": [1, None],
    "obs_clip": [0.0, INF, -1.0],
    "reward_scale": [NAN, INF, 0.0, -1.0],
    "action_bins": [1, 0, 2.0],
    "max_actions": [0, 1.5],
    "extra": [{"a": 1}, None],
}


def test_every_field_has_bad_values():
    assert set(BAD_VALUES) == {f.name for f in dataclasses.fields(AgentConfig)}


@pytest.mark.parametrize(
    ("name", "value"), [(n, v) for n, values in BAD_VALUES.items() for v in values]
)
def test_bad_field_raises_naming_it(name, value):
    with pytest.raises(ValueError, match=rf"^{name} "):
        AgentConfig(**{name: value})
    if value is not None:  # replace() skips None values; it checks the others
        with pytest.raises(ValueError, match=rf"^{name} "):
            AgentConfig().replace(**{name: value})


def test_fields_that_disagree_are_refused():
    with pytest.raises(ValueError, match="eps_end .* eps_start"):
        AgentConfig(eps_start=0.1, eps_end=0.5)
    with pytest.raises(ValueError, match="memory_size .* batch_size"):
        AgentConfig(memory_size=16, batch_size=32)
    AgentConfig(eps_start=0.2, eps_end=0.2, memory_size=32, batch_size=32)  # equal is fine


def test_good_values_keep_their_canonical_types():
    cfg = AgentConfig(hidden=[8], gamma=0, lr=1, eps_start=1, memory_size=64, batch_size=64)
    assert cfg.hidden == (8,) and type(cfg.gamma) is float and type(cfg.lr) is float
    assert AgentConfig.from_dict(cfg.to_dict()) == cfg


def test_toml_config_with_bad_value_names_file_and_field(tmp_path):
    path = tmp_path / "agent.toml"
    path.write_text("lr = inf\n")
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*lr "):
        load_config(path)


# ------------------------------------------------------------------ non-finite env steps


class FaultyEnv:
    """Two CartPole envs; at vector step ``bad_step`` one env returns a bad obs or reward."""

    def __init__(self, kind: str, bad_step: int, value: float = NAN, env_index: int = 1):
        self.env = envs.make("CartPole-v1", num_envs=2)
        self.num_envs = 2
        self.single_observation_space = self.env.single_observation_space
        self.single_action_space = self.env.single_action_space
        self.kind, self.bad_step, self.value, self.env_index = kind, bad_step, value, env_index
        self.steps = 0

    def reset(self, seed=None):
        obs, info = self.env.reset(seed=seed)
        if self.kind == "reset":
            obs = obs.clone()
            obs[self.env_index, 0] = self.value
        return obs, info

    def step(self, action):
        obs, reward, term, trunc, info = self.env.step(action)
        self.steps += 1
        if self.steps == self.bad_step and self.kind == "raise":
            raise OSError("simulator crashed")
        if self.steps == self.bad_step:
            obs, reward = obs.clone(), reward.clone()
            if self.kind == "observation":
                obs[self.env_index, 2] = self.value
            elif self.kind == "reward":
                reward[self.env_index] = self.value
        return obs, reward, term, trunc, info


def _config(**kw) -> AgentConfig:
    base = dict(hidden=(8, 8), batch_size=8, learning_starts=8, sleep_every=20, sleep_steps=1)
    return AgentConfig(**{**base, **kw})


def _same(a, b) -> bool:
    """Bit-identical nested state (tensors by their bytes, NaN floats equal to NaN)."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, torch.Tensor):
        return (
            a.dtype == b.dtype
            and a.shape == b.shape
            and torch.equal(a.reshape(-1).view(torch.uint8), b.reshape(-1).view(torch.uint8))
        )
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b


@pytest.mark.parametrize(
    ("kind", "value"), [("observation", NAN), ("observation", INF), ("reward", NAN)]
)
def test_non_finite_step_raises_and_leaves_agent_unchanged(kind, value):
    env = FaultyEnv(kind, bad_step=30, value=value)
    agent = FFQAgent(env.single_observation_space, env.single_action_space, _config(), seed=0)
    loop = AgentLoop(env, agent, seed=0)
    for _ in range(29):
        loop.step()
    assert agent.updates > 0 and agent.sleeps > 0  # learning is under way
    before = copy.deepcopy(agent.state_dict())
    loop_before = copy.deepcopy(loop.state_dict())
    with pytest.raises(NonFiniteStepError) as info:
        loop.step()
    err = info.value
    assert isinstance(err, EnvStepError)  # `ffstream run` saves a checkpoint and exits 1
    assert (err.kind, err.env_index, err.env_steps) == (kind, 1, before["counters"]["env_steps"])
    assert f"non-finite {kind}" in str(err) and "env 1 " in str(err)
    assert _same(agent.state_dict(), before)
    assert _same(loop.state_dict(), loop_before)


def test_env_raising_in_step_leaves_agent_unchanged():
    env = FaultyEnv("raise", bad_step=12)
    agent = FFQAgent(env.single_observation_space, env.single_action_space, _config(), seed=0)
    loop = AgentLoop(env, agent, seed=0)
    for _ in range(11):
        loop.step()
    before = copy.deepcopy(agent.state_dict())
    with pytest.raises(EnvStepError, match="OSError: simulator crashed") as info:
        loop.step()
    assert not isinstance(info.value, NonFiniteStepError)
    assert _same(agent.state_dict(), before)


def test_non_finite_reset_observation_raises():
    env = FaultyEnv("reset", bad_step=0, value=NAN, env_index=0)
    agent = FFQAgent(env.single_observation_space, env.single_action_space, _config(), seed=0)
    before = copy.deepcopy(agent.state_dict())
    with pytest.raises(NonFiniteStepError, match=r"env 0 .*observation.*reset\(\)"):
        AgentLoop(env, agent, seed=0)
    assert _same(agent.state_dict(), before)


def test_agent_refuses_non_finite_input_directly():
    env = envs.make("CartPole-v1", num_envs=2)
    agent = FFQAgent(env.single_observation_space, env.single_action_space, _config(), seed=0)
    obs, _ = env.reset(seed=0)
    action, index = agent.act(obs)
    nxt, reward, term, _, _ = env.step(action)
    before = copy.deepcopy(agent.state_dict())
    bad = nxt.clone()
    bad[0, 1] = NAN
    with pytest.raises(ValueError, match="NaN or Inf"):
        agent.act(bad)
    with pytest.raises(ValueError, match="NaN or Inf"):
        agent.observe(obs, index, reward, bad, term)
    with pytest.raises(ValueError, match="NaN or Inf"):
        agent.observe(obs, index, torch.tensor([1.0, INF]), nxt, term)
    assert _same(agent.state_dict(), before)
    # A bad row that the valid mask drops is no transition, so it is no error either.
    agent.observe(obs, index, reward, bad, term, valid=torch.tensor([False, True]))
    assert agent.env_steps == 1


# ------------------------------------------------------------------ diverging updates


def test_non_finite_update_is_refused_and_leaves_agent_unchanged():
    # An MSE TD loss on rewards scaled to 1e30 squares past float32's range: inf at once.
    env = envs.make("CartPole-v1", num_envs=2)
    cfg = _config(huber=False, reward_scale=1e30, learning_starts=10_000, sleep_every=0)
    agent = FFQAgent(env.single_observation_space, env.single_action_space, cfg, seed=0)
    loop = AgentLoop(env, agent, seed=0)
    for _ in range(10):
        loop.step()
    assert agent.updates == 0
    before = copy.deepcopy(agent.state_dict())
    with pytest.raises(FloatingPointError, match="refused an update"):
        agent.update()
    assert _same(agent.state_dict(), before)
    assert all(p.grad is None for p in agent.net.parameters())


def test_finite_update_is_applied():
    env = envs.make("CartPole-v1", num_envs=2)
    cfg = _config(learning_starts=10_000, sleep_every=0)
    agent = FFQAgent(env.single_observation_space, env.single_action_space, cfg, seed=0)
    loop = AgentLoop(env, agent, seed=0)
    for _ in range(10):
        loop.step()
    before = copy.deepcopy(agent.state_dict())
    agent.update()
    assert agent.updates == 1 and not _same(agent.state_dict()["layers"], before["layers"])


def test_training_on_cartpole_stays_finite():
    torch.manual_seed(0)
    env = envs.make("CartPole-v1", num_envs=4)
    agent = FFQAgent(
        env.single_observation_space,
        env.single_action_space,
        _config(hidden=(16, 16), batch_size=16, learning_starts=32, sleep_every=100),
        seed=0,
    )
    loop = AgentLoop(env, agent, seed=0)
    while agent.env_steps < 400:
        loop.step()
    assert agent.updates > 100 and agent.sleeps >= 3 and loop.episodes > 0
    state = agent.state_dict()
    for tensors in (state["layers"], state["targets"]):
        assert all(torch.isfinite(t).all() for t in tensors.values())
    assert math.isfinite(agent.td_loss) and math.isfinite(agent.dream_goodness)
