"""Resolving ids with ffstream.envs.make, and our ids as gymnasium sees them."""

from __future__ import annotations

import sys
import textwrap
import warnings

import ffstream.envs
import gymnasium
import numpy as np
import pytest
import torch
from ffstream.envs import (
    Acrobot,
    CartPole,
    GymnasiumVectorEnv,
    UnknownEnvError,
    VectorSource,
    list_envs,
    make,
)
from gymnasium.utils.env_checker import check_env


def test_list_envs():
    assert list_envs() == ["Acrobot-v1", "CartPole-v1"]


@pytest.mark.parametrize(
    ("env_id", "cls"),
    [("CartPole-v1", CartPole), ("Acrobot-v1", Acrobot), ("ffstream/CartPole-v1", CartPole)],
)
def test_own_ids_prefer_our_implementation(env_id, cls):
    env = make(env_id, num_envs=5, dtype=torch.float32)
    assert type(env) is cls and env.num_envs == 5 and env.dtype == torch.float32
    assert isinstance(env, VectorSource)


def test_backend_gymnasium_forces_gymnasiums_env():
    env = make("CartPole-v1", num_envs=3, backend="gymnasium")
    assert isinstance(env, GymnasiumVectorEnv)
    obs, _ = env.reset(seed=0)
    assert obs.dtype == torch.float32 and obs.shape == (3, 4)
    with pytest.raises(ValueError, match="backend"):
        make("CartPole-v1", backend="jax")


def test_gymnasium_id_is_wrapped_into_torch():
    env = make("Pendulum-v1", num_envs=3, g=9.81)
    assert isinstance(env, VectorSource)
    assert env.metadata["autoreset_mode"] == gymnasium.vector.AutoresetMode.NEXT_STEP
    obs, info = env.reset(seed=0)
    assert isinstance(obs, torch.Tensor) and obs.shape == (3, 3)
    obs, reward, terminated, truncated, _ = env.step(torch.zeros(3, 1))
    assert reward.dtype == torch.float32 and reward.shape == (3,)
    assert terminated.dtype == torch.bool and truncated.dtype == torch.bool
    with pytest.raises(ValueError, match="shape"):
        env.step(torch.zeros(3))


def test_gymnasium_wrapper_autoresets_next_step():
    env = make("MountainCar-v0", num_envs=2, max_episode_steps=3)
    env.reset(seed=0)
    for _ in range(2):
        _, _, _, truncated, _ = env.step(torch.tensor([1, 1]))
        assert not truncated.any()
    _, _, _, truncated, _ = env.step(torch.tensor([1, 1]))
    assert truncated.all()
    _, reward, terminated, truncated, _ = env.step(torch.tensor([1, 1]))
    assert reward.tolist() == [0.0, 0.0] and not (terminated | truncated).any()
    with pytest.raises(ValueError, match="outside"):
        env.step(torch.tensor([0, 3]))


def test_module_attr_plugin(tmp_path, monkeypatch):
    (tmp_path / "my_ffstream_plugin.py").write_text(
        textwrap.dedent(
            """
            from ffstream.envs import CartPole

            def make_env(num_envs, device, scale=1.0):
                env = CartPole(num_envs=num_envs, device=device)
                env.scale = scale
                return env
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        env = make("my_ffstream_plugin:make_env", num_envs=2, scale=3.0)
        assert env.num_envs == 2 and env.scale == 3.0
        assert type(make("ffstream.envs.acrobot:Acrobot", num_envs=1)) is Acrobot
    finally:
        sys.modules.pop("my_ffstream_plugin", None)
    with pytest.raises(UnknownEnvError, match="cannot import"):
        make("no_such_module_xyz:Thing")


def test_unknown_id_lists_close_matches():
    with pytest.raises(ValueError, match="did you mean 'CartPole-v1'") as info:
        make("CartPol-v1")
    assert isinstance(info.value, UnknownEnvError)
    assert "Acrobot-v1, CartPole-v1" in str(info.value)
    with pytest.raises(UnknownEnvError, match="unknown environment 'Pendulum-v1'"):
        make("Pendulum-v1", backend="ffstream")
    with pytest.raises(UnknownEnvError):
        make("CartPole-v99")


@pytest.mark.parametrize("env_id", ["ffstream/CartPole-v1", "ffstream/Acrobot-v1"])
def test_registered_with_gymnasium_and_passes_env_checker(env_id):
    assert env_id in gymnasium.registry
    env = gymnasium.make(env_id)
    with warnings.catch_warnings():
        # gymnasium's own CartPole gets the same "infinite bounds" warnings from the checker.
        warnings.filterwarnings("ignore", message=".*infinity.*")
        warnings.filterwarnings("ignore", message=".*different from the unwrapped.*")
        check_env(env.unwrapped)
    assert env.spec.max_episode_steps == 500
    vec = gymnasium.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point")
    obs, _ = vec.reset(seed=0)
    assert isinstance(obs, np.ndarray) and obs.shape[0] == 3
    obs, reward, terminated, truncated, _ = vec.step(vec.action_space.sample())
    assert reward.shape == (3,) and terminated.dtype == np.bool_


def test_registered_single_env_matches_gymnasium():
    ours = gymnasium.make("ffstream/CartPole-v1")
    theirs = gymnasium.make("CartPole-v1")
    ours.reset(seed=0)
    theirs.reset(seed=0)
    state = np.array([0.1, -0.4, 0.05, 0.3])
    ours.unwrapped.state = state
    theirs.unwrapped.state = state.copy()
    for action in (1, 0, 0, 1):
        a, b = ours.step(action), theirs.step(action)
        np.testing.assert_allclose(a[0], b[0], rtol=0, atol=1e-6)
        assert a[1:4] == b[1:4]
    np.testing.assert_allclose(ours.unwrapped.state, theirs.unwrapped.state, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="not in Discrete"):
        ours.step(2)


def test_registered_time_limit_comes_from_gymnasium():
    env = gymnasium.make("ffstream/CartPole-v1", max_episode_steps=5)
    env.reset(seed=0)
    flags = [env.step(i % 2)[3] for i in range(5)]
    assert flags == [False, False, False, False, True]


def test_import_registers_once():
    assert ffstream.envs.register_with_gymnasium() == []
