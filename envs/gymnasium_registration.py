"""Our torch environments, seen from gymnasium: numpy adapters and ``ffstream/`` ids.

Importing :mod:`ffstream.envs` registers ``ffstream/CartPole-v1`` and ``ffstream/Acrobot-v1``.
gymnasium (1.x, checked up to 1.4) loads no plugins from package entry points, so in a fresh
interpreter name the module in the id and gymnasium imports it first:
``gymnasium.make("ffstream.envs:ffstream/CartPole-v1")``.

``gymnasium.make`` then builds a single-environment numpy version (time limit added by gymnasium's
``TimeLimit``), and ``gymnasium.make_vec(..., vectorization_mode="vector_entry_point")`` a numpy
vector version. Both run our torch physics on the CPU in float64, so they match gymnasium's own
classic-control envs, and both take ``render_mode="rgb_array"``.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

__all__ = ["NAMESPACE", "NumpyEnv", "NumpyVectorEnv", "register_with_gymnasium"]

#: gymnasium namespace of our ids: ``ffstream/CartPole-v1``.
NAMESPACE = "ffstream"

# id -> (our class as "module:attr", gymnasium's max_episode_steps, reward_threshold)
_GYMNASIUM_IDS = {
    "CartPole-v1": ("ffstream.envs.cartpole:CartPole", 500, 475.0),
    "Acrobot-v1": ("ffstream.envs.acrobot:Acrobot", 500, -100.0),
}


def _load(path: str) -> type:
    from ffstream.envs.registry import load_entry_point  # late: registry imports this module

    return load_entry_point(path)


class NumpyEnv(gymnasium.Env):
    """One of our environments as a plain single gymnasium env with numpy observations.

    Parameters
    ----------
    source
        Our class as ``"module:attr"``.
    render_mode
        ``None`` or ``"rgb_array"``: ``render()`` then returns a ``uint8`` picture
        ``(height, width, 3)``.
    **kwargs
        Passed to the torch environment (e.g. ``dtype``).

    Examples
    --------
    >>> import gymnasium
    >>> import ffstream.envs
    >>> env = gymnasium.make("ffstream/CartPole-v1")
    >>> obs, info = env.reset(seed=1)
    >>> obs.dtype, obs.shape
    (dtype('float32'), (4,))
    >>> obs, reward, terminated, truncated, info = env.step(1)
    >>> reward, terminated, truncated
    (1.0, False, False)
    >>> gymnasium.make("ffstream/CartPole-v1", render_mode="rgb_array").render is not None
    True
    """

    # What gymnasium.make reads before building; each instance then carries its class's own.
    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(self, source: str, render_mode: str | None = None, **kwargs: Any):
        kwargs.setdefault("dtype", torch.float64)
        # No limit inside: gymnasium.make adds its TimeLimit wrapper from the registered spec.
        self._env = _load(source)(
            num_envs=1, device="cpu", max_episode_steps=None, render_mode=render_mode, **kwargs
        )
        self.metadata = _single_metadata(self._env.metadata)
        self.observation_space = self._env.single_observation_space
        self.action_space = self._env.single_action_space
        self.render_mode = render_mode

    @property
    def state(self) -> np.ndarray:
        """The physical state as a float array (settable, like gymnasium's ``env.state``)."""
        return self._env.state[0].numpy()

    @state.setter
    def state(self, value: Any) -> None:
        self._env.set_state(np.asarray(value, dtype=np.float64)[None])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        obs, info = self._env.reset(seed=seed, options=options)
        return obs[0].numpy(), info

    def step(self, action: Any):
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        obs, reward, terminated, truncated, info = self._env.step(torch.tensor([int(action)]))
        return obs[0].numpy(), float(reward[0]), bool(terminated[0]), bool(truncated[0]), info

    def render(self) -> np.ndarray | None:
        """The current picture, ``(height, width, 3)`` ``uint8``; None without a render mode."""
        frames = self._env.render()
        return None if frames is None else frames[0]


class NumpyVectorEnv(gymnasium.vector.VectorEnv):
    """One of our torch vector environments behind gymnasium's numpy vector API.

    Examples
    --------
    >>> import gymnasium
    >>> import ffstream.envs
    >>> envs = gymnasium.make_vec("ffstream/CartPole-v1", num_envs=4,
    ...                           vectorization_mode="vector_entry_point")
    >>> obs, info = envs.reset(seed=0)
    >>> obs.shape, type(obs).__name__
    ((4, 4), 'ndarray')
    >>> envs.step(np.array([0, 1, 0, 1]))[1]
    array([1., 1., 1., 1.], dtype=float32)
    """

    metadata: dict[str, Any] = {
        "autoreset_mode": AutoresetMode.NEXT_STEP,
        "render_modes": ["rgb_array"],
        "render_fps": 50,
    }

    def __init__(self, source: str, num_envs: int = 1, render_mode: str | None = None, **kw):
        kw.setdefault("dtype", torch.float64)
        self._env = _load(source)(num_envs=num_envs, device="cpu", render_mode=render_mode, **kw)
        self.metadata = dict(self._env.metadata)
        self.num_envs = self._env.num_envs
        self.single_observation_space = self._env.single_observation_space
        self.single_action_space = self._env.single_action_space
        self.observation_space = self._env.observation_space
        self.action_space = self._env.action_space
        self.render_mode = render_mode

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        obs, info = self._env.reset(seed=seed, options=options)
        return obs.numpy(), info

    def step(self, actions: Any):
        obs, reward, terminated, truncated, info = self._env.step(np.asarray(actions))
        return obs.numpy(), reward.numpy(), terminated.numpy(), truncated.numpy(), info

    def render(self) -> tuple[np.ndarray, ...] | None:
        """One ``uint8`` picture per environment; None without a render mode."""
        return self._env.render()


def _single_metadata(vector_metadata: dict[str, Any]) -> dict[str, Any]:
    """A vector env's metadata without the autoreset mode, which a single env has no use for."""
    return {k: v for k, v in vector_metadata.items() if k != "autoreset_mode"}


def register_with_gymnasium() -> list[str]:
    """Register our environments with gymnasium under ``ffstream/``; returns the new ids.

    Safe to call more than once: ids already registered are left alone.

    Examples
    --------
    >>> register_with_gymnasium()  # already done when ffstream.envs was imported
    []
    >>> import gymnasium
    >>> gymnasium.spec("ffstream/CartPole-v1").max_episode_steps
    500
    """
    added = []
    for name, (source, max_steps, threshold) in _GYMNASIUM_IDS.items():
        env_id = f"{NAMESPACE}/{name}"
        if env_id in gymnasium.registry:
            continue
        gymnasium.register(
            id=env_id,
            entry_point=f"{__name__}:NumpyEnv",
            vector_entry_point=f"{__name__}:NumpyVectorEnv",
            max_episode_steps=max_steps,
            reward_threshold=threshold,
            kwargs={"source": source},
        )
        added.append(env_id)
    return added
