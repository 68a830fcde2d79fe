"""Any gymnasium environment, vectorised by gymnasium and answered in torch tensors.

gymnasium does the stepping (``gymnasium.make_vec(..., vectorization_mode="sync")``, which
autoresets ``NEXT_STEP`` like our own environments); this wrapper only moves arrays across the
numpy/torch boundary, on the learner's device, with the dtypes of the :mod:`protocol
<ffstream.envs.protocol>`: float32 rewards and bool flags.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium.vector import VectorWrapper

__all__ = ["GymnasiumVectorEnv"]


class GymnasiumVectorEnv(VectorWrapper):
    """Wrap a numpy ``gymnasium.vector.VectorEnv`` so that it takes and returns torch tensors.

    Parameters
    ----------
    env
        A gymnasium vector environment (numpy arrays in and out).
    device
        Where returned tensors live.

    Examples
    --------
    >>> import gymnasium
    >>> env = GymnasiumVectorEnv(gymnasium.make_vec("Pendulum-v1", num_envs=2,
    ...                                             vectorization_mode="sync"))
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, obs.dtype
    (torch.Size([2, 3]), torch.float32)
    >>> obs, reward, terminated, truncated, info = env.step(torch.zeros(2, 1))
    >>> reward.dtype, terminated.dtype
    (torch.float32, torch.bool)
    """

    def __init__(self, env: gymnasium.vector.VectorEnv, device: torch.device | str = "cpu"):
        super().__init__(env)
        self.device = torch.device(device)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        return self._to_torch(obs), info

    def step(self, actions: Any) -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor, dict]:
        obs, reward, terminated, truncated, info = self.env.step(self._to_numpy_actions(actions))
        return (
            self._to_torch(obs),
            torch.as_tensor(np.asarray(reward, dtype=np.float32), device=self.device),
            torch.as_tensor(np.asarray(terminated, dtype=bool), device=self.device),
            torch.as_tensor(np.asarray(truncated, dtype=bool), device=self.device),
            info,
        )

    def _to_torch(self, x: Any) -> Any:
        if isinstance(x, dict):
            return {k: self._to_torch(v) for k, v in x.items()}
        if isinstance(x, tuple):
            return tuple(self._to_torch(v) for v in x)
        return torch.as_tensor(np.asarray(x), device=self.device)

    def _to_numpy_actions(self, actions: Any) -> np.ndarray:
        array = actions.detach().cpu().numpy() if torch.is_tensor(actions) else np.asarray(actions)
        space = self.action_space
        if space.shape is not None and array.shape != space.shape:
            raise ValueError(f"actions has shape {array.shape}; expected {space.shape}")
        if np.issubdtype(space.dtype, np.integer):
            if array.dtype.kind not in "iu":
                raise ValueError(f"actions must be integers for {space}, got {array.dtype}")
            array = array.astype(space.dtype)
            if not space.contains(array):
                raise ValueError(f"actions {array.tolist()} are outside {space}")
        elif np.issubdtype(space.dtype, np.floating):
            if array.dtype.kind not in "iuf" or not np.isfinite(array).all():
                raise ValueError("actions must be finite numbers")
            array = array.astype(space.dtype)
        return array
