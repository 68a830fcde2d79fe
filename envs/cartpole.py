"""CartPole-v1 as one batched torch computation.

Same physics, thresholds, rewards, resets and time limit as gymnasium's ``CartPoleEnv`` (Barto,
Sutton & Anderson 1983; the equations of Florian 2007), step for step: with ``dtype=float64``
one step from identical states agrees with gymnasium to rounding (~1e-15).
"""

from __future__ import annotations

import math

import gymnasium
import numpy as np
import torch
from ffstream.envs.render import cartpole_frames
from ffstream.envs.torch_vector_env import TorchVectorEnv
from gymnasium.vector import AutoresetMode

__all__ = ["CartPole"]


class CartPole(TorchVectorEnv):
    """Balance a pole on a cart; action 1 pushes the cart right, action 0 pushes it left.

    The state is ``(x, x_dot, theta, theta_dot)`` and is also the observation (cast to
    ``obs_dtype``). Reward is 1 on every step, including the one that ends the episode; an episode
    terminates when ``|x| > 2.4`` or ``|theta| > 12 degrees`` and is truncated after
    ``max_episode_steps`` (500) steps. Integration is explicit Euler with ``tau = 0.02`` s:
    positions advance with the *old* velocities, as in gymnasium.

    Parameters
    ----------
    num_envs, device, dtype, obs_dtype, max_episode_steps, validate_actions
        See :class:`ffstream.envs.torch_vector_env.TorchVectorEnv`.

    Examples
    --------
    >>> env = CartPole(num_envs=2)
    >>> obs, info = env.reset(seed=42)
    >>> obs.shape, obs.dtype
    (torch.Size([2, 4]), torch.float32)
    >>> bool(obs.abs().max() <= 0.05)
    True

    From a known state, pushing right accelerates the cart by about ``10 / 1.1 * 1.03``:

    >>> _ = env.set_state(torch.zeros(2, 4, dtype=torch.float64))
    >>> obs, reward, terminated, truncated, info = env.step(torch.tensor([1, 0]))
    >>> obs[:, 1]
    tensor([ 0.1951, -0.1951])
    >>> reward, terminated, truncated
    (tensor([1., 1.]), tensor([False, False]), tensor([False, False]))
    """

    metadata = {
        "autoreset_mode": AutoresetMode.NEXT_STEP,
        "render_modes": ["rgb_array"],
        "render_fps": 50,
    }
    state_dim = 4

    gravity = 9.8
    masscart = 1.0
    masspole = 0.1
    total_mass = masspole + masscart
    length = 0.5  # half the pole's length
    polemass_length = masspole * length
    force_mag = 10.0
    tau = 0.02
    theta_threshold_radians = 12 * 2 * math.pi / 360
    x_threshold = 2.4

    def _make_spaces(self):
        # Bounds twice the termination thresholds so the final observation is still inside.
        high = np.array(
            [self.x_threshold * 2, np.inf, self.theta_threshold_radians * 2, np.inf],
            dtype=np.float32,
        )
        obs_np_dtype = np.float32 if self.obs_dtype == torch.float32 else np.float64
        observation = gymnasium.spaces.Box(-high, high, dtype=obs_np_dtype)
        return observation, gymnasium.spaces.Discrete(2)

    def _initial_states(self, n: int) -> torch.Tensor:
        return self._uniform(n, -0.05, 0.05)

    def _transition(self, state, action):
        x, x_dot, theta, theta_dot = state
        force = self.force_mag * (2 * action - 1).to(state.dtype)
        costheta = torch.cos(theta)
        sintheta = torch.sin(theta)
        # The operations and their order mirror gymnasium's, so float64 results agree to rounding.
        temp = (force + self.polemass_length * theta_dot.square() * sintheta) / self.total_mass
        thetaacc = (self.gravity * sintheta - costheta * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * costheta.square() / self.total_mass)
        )
        xacc = temp - self.polemass_length * thetaacc * costheta / self.total_mass
        next_state = torch.stack(
            (
                x + self.tau * x_dot,
                x_dot + self.tau * xacc,
                theta + self.tau * theta_dot,
                theta_dot + self.tau * thetaacc,
            )
        )
        new_x, new_theta = next_state[0], next_state[2]
        terminated = (
            (new_x < -self.x_threshold)
            | (new_x > self.x_threshold)
            | (new_theta < -self.theta_threshold_radians)
            | (new_theta > self.theta_threshold_radians)
        )
        reward = torch.ones(state.shape[1], dtype=torch.float32, device=state.device)
        return next_state, reward, terminated

    def _observe(self, state: torch.Tensor) -> torch.Tensor:
        obs = torch.empty(state.shape[::-1], dtype=self.obs_dtype, device=state.device)
        return obs.copy_(state.T)

    def _draw(self, states: np.ndarray) -> list[np.ndarray]:
        return cartpole_frames(states, x_threshold=self.x_threshold, half_pole_length=self.length)
