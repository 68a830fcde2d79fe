"""Our torch vector environments under gymnasium's vector wrappers.

gymnasium's vector wrappers fall in two kinds:

- those that only pass arrays through and read ``metadata``, ``render_mode`` and ``render()``,
  such as ``RecordVideo``, wrap our torch environments directly (:func:`record_video` names the
  missing extra when moviepy is not installed);
- those that compute on the arrays with numpy, such as ``RecordEpisodeStatistics``,
  ``NormalizeReward`` or ``NormalizeObservation``, need numpy arrays: put :class:`TorchToNumpy`
  under them (``ffstream.envs.make(..., arrays="numpy")`` does it for you), and gymnasium's own
  ``NumpyToTorch`` over them to get tensors back.

Examples
--------
>>> import gymnasium
>>> from ffstream.envs import make
>>> env = gymnasium.wrappers.vector.RecordEpisodeStatistics(make("CartPole-v1", 2, arrays="numpy"))
>>> obs, info = env.reset(seed=0)
>>> type(obs).__name__, obs.shape
('ndarray', (2, 4))
"""

from __future__ import annotations

import importlib.util
from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium.vector import VectorWrapper

__all__ = ["TorchToNumpy", "VIDEO_INSTALL", "record_video", "require_moviepy"]

#: The command that installs what ``RecordVideo`` needs to write files.
VIDEO_INSTALL = 'pip install moviepy  (or: pip install "ffstream[video]")'


class TorchToNumpy(VectorWrapper):
    """Show a torch vector environment to gymnasium as a numpy one.

    Observations, rewards, flags and tensors inside ``info`` come back as numpy arrays on the
    host; actions (numpy arrays, lists or tensors) go to the environment as tensors on its
    ``device``. ``metadata`` (with its ``autoreset_mode``), ``render_mode``, ``render()`` and the
    spaces are the wrapped environment's.

    Parameters
    ----------
    env
        A vector environment that returns torch tensors (see :mod:`ffstream.envs.protocol`).

    Examples
    --------
    >>> from ffstream.envs import CartPole
    >>> env = TorchToNumpy(CartPole(num_envs=3))
    >>> obs, info = env.reset(seed=0)
    >>> obs, reward, terminated, truncated, info = env.step(np.array([0, 1, 0]))
    >>> reward, terminated.dtype
    (array([1., 1., 1.], dtype=float32), dtype('bool'))
    """

    def __init__(self, env: gymnasium.vector.VectorEnv):
        super().__init__(env)
        self.device = torch.device(getattr(env, "device", "cpu"))

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset the wrapped environment; numpy observations and info."""
        obs, info = self.env.reset(seed=seed, options=options)
        return _to_numpy(obs), _to_numpy(info)

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict]:
        """Step with ``actions`` moved to the environment's device; numpy results."""
        if not torch.is_tensor(actions):
            actions = torch.as_tensor(np.asarray(actions))
        obs, reward, terminated, truncated, info = self.env.step(actions.to(self.device))
        return (
            _to_numpy(obs),
            _to_numpy(reward),
            _to_numpy(terminated),
            _to_numpy(truncated),
            _to_numpy(info),
        )


def _to_numpy(x: Any) -> Any:
    if torch.is_tensor(x):
        return x.detach().cpu().numpy()
    if isinstance(x, dict):
        return {k: _to_numpy(v) for k, v in x.items()}
    if isinstance(x, tuple):
        return tuple(_to_numpy(v) for v in x)
    return x


def record_video(
    env: gymnasium.vector.VectorEnv, video_folder: str, **kwargs: Any
) -> gymnasium.wrappers.vector.RecordVideo:
    """gymnasium's vector ``RecordVideo`` around ``env``, with a clear error when it cannot work.

    Parameters
    ----------
    env
        A vector environment made with ``render_mode="rgb_array"`` (torch or numpy arrays).
    video_folder
        Where the ``.mp4`` files go.
    **kwargs
        Passed to ``gymnasium.wrappers.vector.RecordVideo`` (``episode_trigger``, ``fps``, ...).

    Raises
    ------
    ValueError
        When ``env`` does not render pictures.
    gymnasium.error.DependencyNotInstalled
        When moviepy, which writes the video files, is not installed; the message says how to
        install it.

    Examples
    --------
    >>> from ffstream.envs import make
    >>> env = make("CartPole-v1", num_envs=2)
    >>> try:
    ...     record_video(env, "/tmp/videos")
    ... except ValueError as err:
    ...     print(err)
    CartPole(...) has render_mode=None; make it with render_mode='rgb_array' to record video
    """
    if env.render_mode != "rgb_array":
        raise ValueError(
            f"{env!r} has render_mode={env.render_mode!r}; "
            "make it with render_mode='rgb_array' to record video"
        )
    require_moviepy()
    return gymnasium.wrappers.vector.RecordVideo(env, video_folder, **kwargs)


def require_moviepy() -> None:
    """Raise ``DependencyNotInstalled`` naming the pip command unless moviepy is installed.

    moviepy is only imported when a video is written; this finds it without importing it.

    Examples
    --------
    >>> import sys
    >>> from unittest import mock
    >>> with mock.patch.dict(sys.modules, {"moviepy": None}):  # as if it were not installed
    ...     try:
    ...         require_moviepy()
    ...     except gymnasium.error.DependencyNotInstalled as err:
    ...         print(err)
    recording video needs moviepy, which is not installed: pip install moviepy ...
    """
    if importlib.util.find_spec("moviepy") is None:
        raise gymnasium.error.DependencyNotInstalled(
            f"recording video needs moviepy, which is not installed: {VIDEO_INSTALL}"
        )
