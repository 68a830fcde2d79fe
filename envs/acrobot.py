"""Acrobot-v1 as one batched torch computation.

Same dynamics as gymnasium's ``AcrobotEnv``: Sutton & Barto's "book" equations, one RK4 step of
``dt = 0.2`` s, joint angles wrapped to ``[-pi, pi]``, velocities clipped to ``4 pi`` and
``9 pi``, reward -1 per step and 0 on the step that reaches the goal height, 500-step limit.
"""

from __future__ import annotations

import math

import gymnasium
import numpy as np
import torch
from ffstream.envs.render import acrobot_frames
from ffstream.envs.torch_vector_env import TorchVectorEnv
from gymnasium.vector import AutoresetMode

__all__ = ["Acrobot"]

_PI = math.pi


class Acrobot(TorchVectorEnv):
    """Swing the tip of a two-link pendulum above the bar by torquing the middle joint.

    The state is ``(theta1, theta2, dtheta1, dtheta2)``; the observation is
    ``(cos theta1, sin theta1, cos theta2, sin theta2, dtheta1, dtheta2)``. Actions 0, 1, 2 apply
    torque -1, 0, +1. An episode terminates when ``-cos(theta1) - cos(theta1 + theta2) > 1``.

    Parameters
    ----------
    num_envs, device, dtype, obs_dtype, max_episode_steps, validate_actions
        See :class:`ffstream.envs.torch_vector_env.TorchVectorEnv`.

    Examples
    --------
    >>> env = Acrobot(num_envs=3)
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape
    torch.Size([3, 6])
    >>> obs, reward, terminated, truncated, info = env.step(torch.tensor([0, 1, 2]))
    >>> reward
    tensor([-1., -1., -1.])

    Hanging straight down at rest with no torque, nothing moves (up to the rounding of
    ``cos(-pi / 2)``, as in gymnasium):

    >>> _ = env.set_state(torch.zeros(3, 4, dtype=torch.float64))
    >>> obs = env.step(torch.tensor([1, 1, 1]))[0]
    >>> torch.allclose(obs, torch.tensor([1.0, 0.0, 1.0, 0.0, 0.0, 0.0]), atol=1e-12)
    True
    """

    metadata = {
        "autoreset_mode": AutoresetMode.NEXT_STEP,
        "render_modes": ["rgb_array"],
        "render_fps": 15,
    }
    state_dim = 4

    dt = 0.2
    link_length_1 = 1.0
    link_mass_1 = 1.0
    link_mass_2 = 1.0
    link_com_pos_1 = 0.5
    link_com_pos_2 = 0.5
    link_moi = 1.0
    max_vel_1 = 4 * _PI
    max_vel_2 = 9 * _PI
    gravity = 9.8

    def _make_spaces(self):
        high = np.array([1.0, 1.0, 1.0, 1.0, self.max_vel_1, self.max_vel_2], dtype=np.float32)
        obs_np_dtype = np.float32 if self.obs_dtype == torch.float32 else np.float64
        observation = gymnasium.spaces.Box(-high, high, dtype=obs_np_dtype)
        return observation, gymnasium.spaces.Discrete(3)

    def _initial_states(self, n: int) -> torch.Tensor:
        # gymnasium draws U(-0.1, 0.1) and stores it as float32; keep that rounding.
        return self._uniform(n, -0.1, 0.1).float().to(self.dtype)

    def _transition(self, state, action):
        torque = (action - 1).to(state.dtype)
        next_state = _rk4(self._dsdt, state, torque, self.dt)
        theta1, theta2, dtheta1, dtheta2 = next_state
        next_state = torch.stack(
            (
                _wrap(theta1, -_PI, _PI),
                _wrap(theta2, -_PI, _PI),
                dtheta1.clamp(-self.max_vel_1, self.max_vel_1),
                dtheta2.clamp(-self.max_vel_2, self.max_vel_2),
            )
        )
        theta1, theta2 = next_state[0], next_state[1]
        terminated = -torch.cos(theta1) - torch.cos(theta2 + theta1) > 1.0
        reward = torch.where(terminated, 0.0, -1.0).to(torch.float32)
        return next_state, reward, terminated

    def _observe(self, state: torch.Tensor) -> torch.Tensor:
        theta1, theta2, dtheta1, dtheta2 = state
        obs = torch.stack(
            (theta1.cos(), theta1.sin(), theta2.cos(), theta2.sin(), dtheta1, dtheta2), dim=1
        )
        return obs.to(self.obs_dtype)

    def _draw(self, states: np.ndarray) -> list[np.ndarray]:
        return acrobot_frames(states)

    def _dsdt(self, s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """Time derivative of the state under torque ``a`` ("book" dynamics)."""
        m1, m2 = self.link_mass_1, self.link_mass_2
        l1, lc1, lc2 = self.link_length_1, self.link_com_pos_1, self.link_com_pos_2
        i1 = i2 = self.link_moi
        g = self.gravity
        theta1, theta2, dtheta1, dtheta2 = s
        # Term by term as in gymnasium's AcrobotEnv._dsdt so float64 results agree to rounding.
        d1 = m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * torch.cos(theta2)) + i1 + i2
        d2 = m2 * (lc2**2 + l1 * lc2 * torch.cos(theta2)) + i2
        phi2 = m2 * lc2 * g * torch.cos(theta1 + theta2 - _PI / 2.0)
        phi1 = (
            -m2 * l1 * lc2 * dtheta2**2 * torch.sin(theta2)
            - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * torch.sin(theta2)
            + (m1 * lc1 + m2 * l1) * g * torch.cos(theta1 - _PI / 2)
            + phi2
        )
        ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * dtheta1**2 * torch.sin(theta2) - phi2) / (
            m2 * lc2**2 + i2 - d2**2 / d1
        )
        ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
        return torch.stack((dtheta1, dtheta2, ddtheta1, ddtheta2))


def _rk4(derivs, y0: torch.Tensor, a: torch.Tensor, dt: float) -> torch.Tensor:
    """One classical Runge-Kutta step of ``dy/dt = derivs(y, a)`` with ``a`` held fixed."""
    dt2 = dt / 2.0
    k1 = derivs(y0, a)
    k2 = derivs(y0 + dt2 * k1, a)
    k3 = derivs(y0 + dt2 * k2, a)
    k4 = derivs(y0 + dt * k3, a)
    return y0 + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)


def _wrap(x: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Shift ``x`` by whole periods into ``[low, high]`` (gymnasium subtracts one at a time)."""
    period = high - low
    over = torch.ceil((x - high) / period).clamp_min(0)
    under = torch.ceil((low - x) / period).clamp_min(0)
    return x - over * period + under * period
