"""Shared machinery of ffstream's torch-vectorised environments.

A concrete environment only describes its physics (initial states, one transition, the
observation); this base class owns everything else the vector API promises: seeding with a
``torch.Generator`` on the device, the time limit, ``NEXT_STEP`` autoreset, action checks and the
gymnasium spaces. ``step`` never synchronises with the host unless action range checks are on and
the device is not the CPU (see ``validate_actions``).

With ``render_mode="rgb_array"``, ``render()`` returns one numpy ``uint8`` picture per
environment (drawn by :mod:`ffstream.envs.render`, no pygame), which is what gymnasium's vector
``RecordVideo`` wrapper records. gymnasium's vector wrappers that compute on the arrays
(``RecordEpisodeStatistics``, ``NormalizeReward``, ...) expect numpy: put
:class:`ffstream.envs.TorchToNumpy` (or ``make(..., arrays="numpy")``) under them.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

__all__ = ["TorchVectorEnv"]


class TorchVectorEnv(gymnasium.vector.VectorEnv):
    """Base class: ``num_envs`` copies of one discrete-action environment as torch tensors.

    Subclasses set ``state_dim``, ``single_observation_space`` (built in ``_make_spaces``),
    ``single_action_space`` (a ``Discrete``) and implement ``_initial_states``, ``_transition``
    and ``_observe``.

    Parameters
    ----------
    num_envs
        How many environments run side by side.
    device
        Where states, observations, rewards and flags live.
    dtype
        Dtype of the physical state (``torch.float64`` reproduces gymnasium's numpy arithmetic).
    obs_dtype
        Dtype of observations; gymnasium's classic-control envs return float32.
    max_episode_steps
        Episodes are truncated after this many steps; ``None`` for no limit.
    validate_actions
        Check that actions are in range. Shape and dtype are always checked (free); the range
        check costs one host synchronisation per step on an accelerator, so turn it off there
        once the agent is known to be correct.
    render_mode
        ``None`` or one of ``metadata["render_modes"]`` (``"rgb_array"`` where the subclass
        draws itself).
    """

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}
    state_dim: int = 0

    def __init__(
        self,
        num_envs: int = 1,
        device: torch.device | str = "cpu",
        *,
        dtype: torch.dtype = torch.float64,
        obs_dtype: torch.dtype = torch.float32,
        max_episode_steps: int | None = 500,
        validate_actions: bool = True,
        render_mode: str | None = None,
    ):
        if not isinstance(num_envs, int | np.integer) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        if obs_dtype not in (torch.float32, torch.float64):
            raise ValueError(f"obs_dtype must be torch.float32 or torch.float64, got {obs_dtype}")
        if max_episode_steps is not None and max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be positive or None, got {max_episode_steps}")
        modes = self.metadata.get("render_modes", [])
        if render_mode is not None and render_mode not in modes:
            raise ValueError(
                f"{type(self).__name__} renders {modes or 'nothing'}; "
                f"got render_mode={render_mode!r}"
            )
        self.num_envs = int(num_envs)
        self.device = torch.device(device)
        self.dtype = dtype
        self.obs_dtype = obs_dtype
        self.max_episode_steps = max_episode_steps
        self.validate_actions = validate_actions
        self.render_mode = render_mode
        self.single_observation_space, self.single_action_space = self._make_spaces()
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._generator = torch.Generator(device=self.device)
        self._generator.seed()
        # Struct-of-arrays layout, (state_dim, num_envs): each variable is a contiguous row, so
        # elementwise physics reads memory linearly on CPU and coalesced on GPU.
        self._state = torch.zeros(self.state_dim, self.num_envs, dtype=dtype, device=self.device)
        self._steps = torch.zeros(self.num_envs, dtype=torch.int32, device=self.device)
        self._prev_done = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        self._ready = False
        self._restart_by_index = self.device.type == "cpu"

    # -- what a concrete environment provides -------------------------------------------------

    def _make_spaces(self) -> tuple[gymnasium.Space, gymnasium.spaces.Discrete]:
        raise NotImplementedError

    def _initial_states(self, n: int) -> torch.Tensor:
        """``n`` fresh states, shape ``(state_dim, n)``, drawn with ``self._generator``."""
        raise NotImplementedError

    def _transition(
        self, state: torch.Tensor, action: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One step of physics for every env: ``(next_state, reward, terminated)``.

        ``state`` has shape ``(state_dim, num_envs)``; the result must be new tensors.
        """
        raise NotImplementedError

    def _observe(self, state: torch.Tensor) -> torch.Tensor:
        """Observations ``(num_envs, *obs_shape)`` for states ``(state_dim, num_envs)``."""
        raise NotImplementedError

    def _draw(self, states: np.ndarray) -> list[np.ndarray]:
        """RGB ``uint8`` pictures of states ``(n, state_dim)``, for ``render_mode="rgb_array"``."""
        raise NotImplementedError

    # -- the vector API ------------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """Start a new episode in every environment; ``seed`` re-seeds the device generator."""
        if options:
            raise ValueError(f"{type(self).__name__}.reset takes no options, got {options!r}")
        if seed is not None:
            if not isinstance(seed, int | np.integer) or seed < 0:
                raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
            self._generator.manual_seed(int(seed))
        self._state = self._initial_states(self.num_envs)
        self._steps.zero_()
        self._prev_done.zero_()
        self._ready = True
        return self._observe(self._state), {}

    def step(
        self, actions: Any
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        """Advance every environment by one step (``NEXT_STEP`` autoreset, see module doc)."""
        if not self._ready:
            raise RuntimeError(f"call {type(self).__name__}.reset() (or set_state) before step()")
        action = self._check_actions(actions)
        next_state, reward, terminated = self._transition(self._state, action)
        steps = self._steps + 1
        if self.max_episode_steps is None:
            truncated = torch.zeros_like(terminated)
        else:
            truncated = steps >= self.max_episode_steps
        if self._restart_by_index:
            self._restart_selected(next_state, steps, reward, terminated, truncated)
        else:
            next_state, steps, reward, terminated, truncated = self._restart_masked(
                next_state, steps, reward, terminated, truncated
            )
        self._state, self._steps = next_state, steps
        self._prev_done = terminated | truncated
        return self._observe(self._state), reward, terminated, truncated, {}

    def _restart_masked(self, next_state, steps, reward, terminated, truncated):
        """NEXT_STEP autoreset without a host sync: envs that ended last step start over.

        Fresh states are drawn for every env and picked with ``where``; selecting only the done
        ones would need their count on the host, which stalls an accelerator's queue.
        """
        restart = self._prev_done
        fresh = self._initial_states(self.num_envs)
        return (
            torch.where(restart, fresh, next_state),
            torch.where(restart, 0, steps),
            torch.where(restart, 0.0, reward),
            terminated & ~restart,
            truncated & ~restart,
        )

    def _restart_selected(self, next_state, steps, reward, terminated, truncated) -> None:
        """The same autoreset, in place, drawing states only for the envs that restart.

        On the CPU reading the mask costs nothing and drawing fewer numbers is much cheaper.
        """
        index = self._prev_done.nonzero().squeeze(1)
        if index.numel() == 0:
            return
        next_state[:, index] = self._initial_states(index.numel())
        steps[index] = 0
        reward[index] = 0.0
        terminated[index] = False
        truncated[index] = False

    def render(self) -> tuple[np.ndarray, ...] | None:
        """One ``(height, width, 3)`` ``uint8`` picture per environment, or None without a mode.

        The picture shows the current state: after an episode ends, its last state until the
        next ``step`` starts the new episode.
        """
        if self.render_mode is None:
            return None
        if not self._ready:
            raise RuntimeError(f"call {type(self).__name__}.reset() before render()")
        return tuple(self._draw(self._state.T.cpu().numpy()))

    # -- direct state access (tests, curricula) ------------------------------------------------

    @property
    def state(self) -> torch.Tensor:
        """A copy of the physical state, shape ``(num_envs, state_dim)``."""
        return self._state.T.contiguous()

    @property
    def elapsed_steps(self) -> torch.Tensor:
        """Steps taken in the current episode of each environment."""
        return self._steps.clone()

    def set_state(self, states: Any, elapsed_steps: int | Any = 0) -> torch.Tensor:
        """Put every environment in ``states`` (shape ``(num_envs, state_dim)``).

        The next ``step`` is a plain physics step from there (no pending autoreset). Returns the
        matching observations.
        """
        t = torch.as_tensor(np.asarray(states) if not torch.is_tensor(states) else states)
        expected = (self.num_envs, self.state_dim)
        if tuple(t.shape) != expected:
            raise ValueError(f"states has shape {tuple(t.shape)}; expected {expected}")
        if not t.is_floating_point() or not bool(torch.isfinite(t).all()):
            raise ValueError("states must be finite floating-point numbers")
        self._state = t.T.to(device=self.device, dtype=self.dtype).contiguous()
        steps = torch.as_tensor(elapsed_steps, dtype=torch.int32, device=self.device)
        self._steps = steps.expand(self.num_envs).clone()
        self._prev_done.zero_()
        self._ready = True
        return self._observe(self._state)

    # -- helpers -------------------------------------------------------------------------------

    def _uniform(self, n: int, low: float, high: float) -> torch.Tensor:
        u = torch.rand(
            self.state_dim, n, generator=self._generator, device=self.device, dtype=self.dtype
        )
        return low + (high - low) * u

    def _check_actions(self, actions: Any) -> torch.Tensor:
        if not torch.is_tensor(actions):
            array = np.asarray(actions)
            if array.dtype.kind not in "iu":
                raise ValueError(
                    f"actions must be integers, got {array.dtype} "
                    f"(a {type(self).__name__} takes one discrete action per env)"
                )
            actions = torch.from_numpy(np.ascontiguousarray(array))
        if actions.dtype == torch.bool or actions.is_floating_point() or actions.is_complex():
            raise ValueError(f"actions must have an integer dtype, got {actions.dtype}")
        if tuple(actions.shape) != (self.num_envs,):
            raise ValueError(
                f"actions has shape {tuple(actions.shape)}; expected ({self.num_envs},), "
                "one action per environment"
            )
        actions = actions.to(self.device, non_blocking=True)
        if self.validate_actions:
            n = self.single_action_space.n
            bad = (actions < 0) | (actions >= n)
            if bool(bad.any()):
                values = actions[bad].unique().tolist()
                raise ValueError(f"actions must be in [0, {n}); got {values}")
        return actions

    def close_extras(self, **kwargs: Any) -> None:
        """Nothing to release: the state is ordinary tensors."""

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_envs={self.num_envs}, device={str(self.device)!r}, "
            f"dtype={self.dtype})"
        )
