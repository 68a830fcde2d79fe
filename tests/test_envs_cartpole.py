"""Our torch CartPole against gymnasium's CartPole-v1, one step at a time from identical states."""

from __future__ import annotations

import math

import gymnasium
import numpy as np
import pytest
import torch
from ffstream.envs import CartPole
from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv

THETA_MAX = 12 * 2 * math.pi / 360


def random_states(n: int, seed: int) -> np.ndarray:
    """States around and beyond the termination thresholds, so terminal steps are covered."""
    rng = np.random.default_rng(seed)
    scale = np.array([2.6, 3.0, 0.25, 3.0])
    return rng.uniform(-scale, scale, size=(n, 4))


def gymnasium_step(gym_env, state: np.ndarray, action: int):
    gym_env.state = state.copy()
    gym_env.steps_beyond_terminated = None
    obs, reward, terminated, truncated, _ = gym_env.step(int(action))
    return gym_env.state.copy(), obs, reward, terminated


@pytest.fixture(scope="module")
def gym_env():
    env = gymnasium.make("CartPole-v1").unwrapped
    env.reset(seed=0)
    return env


@pytest.mark.parametrize("restart_by_index", [True, False])
def test_one_step_matches_gymnasium_float64(gym_env, restart_by_index):
    n = 1500
    states = random_states(n, seed=1)
    actions = np.random.default_rng(2).integers(0, 2, n)
    env = CartPole(num_envs=n, dtype=torch.float64)
    env._restart_by_index = restart_by_index
    env.set_state(torch.from_numpy(states))
    obs, reward, terminated, truncated, _ = env.step(torch.from_numpy(actions))
    expected = [gymnasium_step(gym_env, s, a) for s, a in zip(states, actions, strict=True)]
    exp_state = np.stack([e[0] for e in expected])
    assert np.abs(env.state.numpy() - exp_state).max() <= 1e-12
    np.testing.assert_array_equal(obs.numpy(), np.stack([e[1] for e in expected]))
    np.testing.assert_array_equal(reward.numpy(), [e[2] for e in expected])
    np.testing.assert_array_equal(terminated.numpy(), [e[3] for e in expected])
    assert 0.2 < terminated.float().mean() < 0.8, "the sample must mix terminal and live steps"
    assert not truncated.any()


def test_one_step_matches_gymnasium_float32(gym_env):
    n = 1500
    states = random_states(n, seed=3).astype(np.float32).astype(np.float64)
    actions = np.random.default_rng(4).integers(0, 2, n)
    env = CartPole(num_envs=n, dtype=torch.float32)
    env.set_state(torch.from_numpy(states))
    _, _, terminated, _, _ = env.step(torch.from_numpy(actions))
    expected = [gymnasium_step(gym_env, s, a) for s, a in zip(states, actions, strict=True)]
    exp_state = np.stack([e[0] for e in expected])
    error = np.abs(env.state.numpy() - exp_state) / np.maximum(1.0, np.abs(exp_state))
    assert error.max() <= 1e-6
    # Termination may only disagree where float32 rounding straddles a threshold.
    x, theta = exp_state[:, 0], exp_state[:, 2]
    borderline = (np.abs(np.abs(x) - 2.4) < 1e-5) | (np.abs(np.abs(theta) - THETA_MAX) < 1e-5)
    agree = terminated.numpy() == np.array([e[3] for e in expected])
    assert (agree | borderline).all()


def test_float64_throughout():
    env = CartPole(num_envs=3, dtype=torch.float64, obs_dtype=torch.float64)
    obs, _ = env.reset(seed=0)
    assert obs.dtype == torch.float64
    assert env.single_observation_space.dtype == np.float64
    obs, *_ = env.step(torch.tensor([0, 1, 0]))
    assert torch.equal(obs, env.state)
    assert all(env.single_observation_space.contains(o) for o in obs.numpy())


def test_reset_is_seeded_and_in_bounds():
    env = CartPole(num_envs=1000)
    first, _ = env.reset(seed=7)
    again, _ = env.reset(seed=7)
    other, _ = env.reset(seed=8)
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert first.abs().max() <= 0.05 and first.abs().max() > 0.045
    assert abs(float(first.mean())) < 0.005  # U(-0.05, 0.05): mean 0, sd of the mean ~0.0005
    assert env.observation_space.contains(first.numpy())


def test_terminal_step_rewards_one_and_next_step_restarts():
    # Both copies are about to fall: the episode ends with reward 1 ...
    env = CartPole(num_envs=2)
    env.reset(seed=0)
    about_to_fall = [[2.39, 1.0, 0.0, 0.0], [0.0, 0.0, -0.2, -1.0]]
    env.set_state(torch.tensor(about_to_fall, dtype=torch.float64))
    _, reward, terminated, truncated, _ = env.step(torch.tensor([1, 0]))
    assert reward.tolist() == [1.0, 1.0]
    assert terminated.tolist() == [True, True] and truncated.tolist() == [False, False]
    # ... and the next step returns a fresh episode: reward 0, no flags, reset-range obs.
    obs, reward, terminated, truncated, _ = env.step(torch.tensor([0, 0]))
    assert reward.tolist() == [0.0, 0.0]
    assert not terminated.any() and not truncated.any()
    assert obs.abs().max() <= 0.05
    assert env.elapsed_steps.tolist() == [0, 0]
    _, reward, *_ = env.step(torch.tensor([0, 0]))
    assert reward.tolist() == [1.0, 1.0] and env.elapsed_steps.tolist() == [1, 1]


@pytest.mark.parametrize("restart_by_index", [True, False])
def test_autoreset_step_ignores_the_action(restart_by_index):
    observations = []
    for action in (0, 1):
        env = CartPole(num_envs=1)
        env._restart_by_index = restart_by_index
        env.reset(seed=5)
        env.set_state(torch.tensor([[3.0, 0.0, 0.0, 0.0]], dtype=torch.float64))
        assert env.step(torch.tensor([1]))[2].item()
        observations.append(env.step(torch.tensor([action]))[0])
    assert torch.equal(observations[0], observations[1])


def test_time_limit_truncates_at_500():
    env = CartPole(num_envs=2)
    env.reset(seed=0)
    env.set_state(torch.zeros(2, 4, dtype=torch.float64), elapsed_steps=498)
    _, _, terminated, truncated, _ = env.step(torch.tensor([0, 1]))
    assert not truncated.any()
    _, reward, terminated, truncated, _ = env.step(torch.tensor([0, 1]))
    assert truncated.all() and not terminated.any() and reward.tolist() == [1.0, 1.0]
    _, reward, terminated, truncated, _ = env.step(torch.tensor([0, 1]))
    assert reward.tolist() == [0.0, 0.0] and not truncated.any()


def test_full_episode_is_exactly_500_steps_under_balance():
    # A simple controller keeps the pole up: the episode must run exactly 500 steps.
    env = CartPole(num_envs=4)
    obs, _ = env.reset(seed=3)
    total = torch.zeros(4)
    for step in range(1, 501):
        action = (obs[:, 2] + 0.5 * obs[:, 3] > 0).long()
        obs, reward, terminated, truncated, _ = env.step(action)
        total += reward
        assert not terminated.any()
        assert bool(truncated.all()) == (step == 500)
    assert total.tolist() == [500.0] * 4


def _random_policy_lengths(step, reset, num_envs: int, seed: int, max_steps: int = 600):
    """Length of each env's first episode under uniformly random actions."""
    rng = np.random.default_rng(seed)
    reset(seed)
    lengths = np.zeros(num_envs, dtype=int)
    alive = np.ones(num_envs, dtype=bool)
    for _ in range(max_steps):
        terminated, truncated = step(rng.integers(0, 2, num_envs))
        lengths += alive
        alive &= ~(terminated | truncated)
        if not alive.any():
            return lengths
    raise AssertionError("episodes did not finish")


def test_random_policy_episode_lengths_match_gymnasium():
    n = 3000
    ours = CartPole(num_envs=n)
    theirs = CartPoleVectorEnv(num_envs=n)

    def step_ours(actions):
        _, _, term, trunc, _ = ours.step(torch.from_numpy(actions))
        return term.numpy(), trunc.numpy()

    def step_theirs(actions):
        _, _, term, trunc, _ = theirs.step(actions)
        return term, trunc

    a = _random_policy_lengths(step_ours, lambda s: ours.reset(seed=s), n, seed=11)
    b = _random_policy_lengths(step_theirs, lambda s: theirs.reset(seed=s), n, seed=12)
    standard_error = math.sqrt(a.var() / n + b.var() / n)
    assert 18 < a.mean() < 27  # random-policy CartPole episodes last ~22 steps
    assert abs(a.mean() - b.mean()) < 4 * standard_error
    assert abs(a.std() - b.std()) < 0.15 * b.std()


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        (torch.tensor([0, 1, 2]), r"in \[0, 2\)"),
        (torch.tensor([0, -1, 1]), r"in \[0, 2\)"),
        (torch.tensor([0.0, 1.0, 1.0]), "integer dtype"),
        (torch.tensor([True, False, True]), "integer dtype"),
        (torch.tensor([0, 1]), r"expected \(3,\)"),
        (torch.tensor([[0, 1, 1]]), r"expected \(3,\)"),
        ([0.5, 1, 1], "must be integers"),
    ],
)
def test_bad_actions_raise_value_error(actions, message):
    env = CartPole(num_envs=3)
    env.reset(seed=0)
    before = env.state
    with pytest.raises(ValueError, match=message):
        env.step(actions)
    assert torch.equal(env.state, before)


def test_lists_and_numpy_actions_are_accepted():
    env = CartPole(num_envs=3)
    env.reset(seed=0)
    env.step([0, 1, 1])
    env.step(np.array([1, 0, 1], dtype=np.int8))


def test_misuse_is_reported():
    env = CartPole(num_envs=2)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="shape"):
        env.set_state(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="finite"):
        env.set_state(torch.full((2, 4), float("nan")))
    with pytest.raises(ValueError, match="num_envs"):
        CartPole(num_envs=0)
    with pytest.raises(ValueError, match="dtype"):
        CartPole(dtype=torch.float16)
    with pytest.raises(ValueError, match="seed"):
        env.reset(seed=-1)
