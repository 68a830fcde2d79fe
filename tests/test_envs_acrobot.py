"""Our torch Acrobot against gymnasium's Acrobot-v1, one step at a time from identical states."""

from __future__ import annotations

import math

import gymnasium
import numpy as np
import pytest
import torch
from ffstream.envs import Acrobot


def random_states(n: int, seed: int) -> np.ndarray:
    """Any angle, velocities up to their caps: covers wrapping, clipping and the goal."""
    rng = np.random.default_rng(seed)
    scale = np.array([math.pi, math.pi, 4 * math.pi, 9 * math.pi])
    return rng.uniform(-scale, scale, size=(n, 4))


@pytest.fixture(scope="module")
def gym_env():
    env = gymnasium.make("Acrobot-v1").unwrapped
    env.reset(seed=0)
    return env


def gymnasium_steps(gym_env, states, actions):
    results = []
    for state, action in zip(states, actions, strict=True):
        gym_env.state = state.copy()
        obs, reward, terminated, _, _ = gym_env.step(int(action))
        results.append((np.asarray(gym_env.state, dtype=np.float64), obs, reward, terminated))
    return results


def angle_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance on the circle for the two angles, plain distance for the velocities."""
    diff = a - b
    diff[:, :2] = (diff[:, :2] + math.pi) % (2 * math.pi) - math.pi
    return np.abs(diff)


@pytest.mark.parametrize("restart_by_index", [True, False])
def test_one_step_matches_gymnasium_float64(gym_env, restart_by_index):
    n = 600
    states = random_states(n, seed=1)
    actions = np.random.default_rng(2).integers(0, 3, n)
    env = Acrobot(num_envs=n, dtype=torch.float64)
    env._restart_by_index = restart_by_index
    env.set_state(torch.from_numpy(states))
    obs, reward, terminated, truncated, _ = env.step(torch.from_numpy(actions))
    expected = gymnasium_steps(gym_env, states, actions)
    exp_state = np.stack([e[0] for e in expected])
    assert np.abs(env.state.numpy() - exp_state).max() <= 1e-12
    assert np.abs(obs.numpy() - np.stack([e[1] for e in expected])).max() <= 1e-6
    np.testing.assert_array_equal(reward.numpy(), [e[2] for e in expected])
    np.testing.assert_array_equal(terminated.numpy(), [e[3] for e in expected])
    assert 0.1 < terminated.float().mean() < 0.9, "the sample must mix goal and non-goal steps"
    assert not truncated.any()


def test_one_step_matches_gymnasium_float32(gym_env):
    n = 600
    states = random_states(n, seed=3).astype(np.float32).astype(np.float64)
    actions = np.random.default_rng(4).integers(0, 3, n)
    env = Acrobot(num_envs=n, dtype=torch.float32)
    env.set_state(torch.from_numpy(states))
    env.step(torch.from_numpy(actions))
    exp_state = np.stack([e[0] for e in gymnasium_steps(gym_env, states, actions)])
    error = angle_error(env.state.numpy().astype(np.float64), exp_state)
    relative = error / np.maximum(1.0, np.abs(exp_state))
    # Velocities reach 9 pi and enter the accelerations squared (~800), so float32 rounding inside
    # the four RK4 evaluations grows to ~1e-5 relative: inherent to float32, not a model error.
    assert np.median(relative) <= 1e-6
    assert relative.max() <= 1e-4


def test_reset_matches_gymnasium_distribution():
    env = Acrobot(num_envs=4000)
    obs, _ = env.reset(seed=0)
    state = env.state
    assert state.abs().max() <= 0.1 and state.abs().max() > 0.099
    # gymnasium stores the initial state as float32; so do we.
    assert torch.equal(state, state.float().double())
    assert env.observation_space.contains(obs.numpy())


def test_rewards_flags_and_autoreset():
    env = Acrobot(num_envs=2)
    env.reset(seed=0)
    # First env: tip far above the bar (goal); second: hanging at rest.
    env.set_state(torch.tensor([[math.pi, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]))
    _, reward, terminated, truncated, _ = env.step(torch.tensor([1, 1]))
    assert reward.tolist() == [0.0, -1.0]
    assert terminated.tolist() == [True, False] and not truncated.any()
    obs, reward, terminated, _, _ = env.step(torch.tensor([2, 2]))
    assert reward.tolist() == [0.0, -1.0] and not terminated.any()
    assert env.state[0].abs().max() <= 0.1
    assert env.elapsed_steps.tolist() == [0, 2]


def test_time_limit_truncates_at_500():
    env = Acrobot(num_envs=1)
    env.reset(seed=0)
    env.set_state(torch.zeros(1, 4), elapsed_steps=499)
    _, reward, terminated, truncated, _ = env.step(torch.tensor([1]))
    assert truncated.item() and not terminated.item() and reward.item() == -1.0


def test_bad_actions_raise_value_error():
    env = Acrobot(num_envs=2)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"in \[0, 3\)"):
        env.step(torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="integer dtype"):
        env.step(torch.tensor([0.0, 1.0]))
