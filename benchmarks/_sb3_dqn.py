"""The peers of the cartpole and control suites: Stable-Baselines3's DQN with
rl-baselines3-zoo's tuned settings (CartPole-v1, Acrobot-v1), and what every SB3 peer shares.

stable-baselines3 is an optional extra (``pip install "ffstream[sb3]"``); :func:`require_sb3`
names the pip command when it is missing. A peer trains on gymnasium's own env (one env wrapped
in SB3's ``Monitor``, as rl-zoo trains it; :func:`learn_watched`) and is evaluated by the
suite's :class:`~benchmarks.cartpole.Evaluations`, the protocol the forward-only agent gets.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = [
    "RL_ZOO_ACROBOT",
    "RL_ZOO_CARTPOLE",
    "RL_ZOO_DQN",
    "RL_ZOO_SOURCE",
    "RL_ZOO_STEPS",
    "SB3_INSTALL",
    "GreedySB3",
    "ZooEntry",
    "learn_watched",
    "require_sb3",
    "run_sb3_dqn",
]

#: rl-baselines3-zoo's hyperparams/dqn.yml, CartPole-v1 entry ("Almost Tuned"), at the commit
#: in RL_ZOO_SOURCE; exploration_fraction is of its n_timesteps (RL_ZOO_STEPS)
RL_ZOO_CARTPOLE: dict[str, Any] = {
    "learning_rate": 2.3e-3,
    "batch_size": 64,
    "buffer_size": 100_000,
    "learning_starts": 1_000,
    "gamma": 0.99,
    "target_update_interval": 10,
    "train_freq": 256,
    "gradient_steps": 128,
    "exploration_fraction": 0.16,
    "exploration_final_eps": 0.04,
    "policy_kwargs": {"net_arch": [256, 256]},
}
RL_ZOO_STEPS = 50_000
RL_ZOO_SOURCE = (
    "DLR-RM/rl-baselines3-zoo hyperparams/dqn.yml at ce95481b041fe5314c1b2f1a53940d169b9253fc, "
    "CartPole-v1 (policy MlpPolicy, n_timesteps 5e4)"
)
#: the same file, Acrobot-v1 entry ("Tuned"); its n_timesteps is 1e5
RL_ZOO_ACROBOT: dict[str, Any] = {
    "learning_rate": 6.3e-4,
    "batch_size": 128,
    "buffer_size": 50_000,
    "learning_starts": 0,
    "gamma": 0.99,
    "target_update_interval": 250,
    "train_freq": 4,
    "gradient_steps": -1,
    "exploration_fraction": 0.12,
    "exploration_final_eps": 0.1,
    "policy_kwargs": {"net_arch": [256, 256]},
}


@dataclass(frozen=True)
class ZooEntry:
    """One rl-zoo hyper-parameter entry: the settings, its ``n_timesteps`` and where it is."""

    settings: dict[str, Any]
    steps: int
    source: str

    def record(self, version: str) -> dict[str, Any]:
        """What a peer's record says about its settings."""
        return {"stable_baselines3": version, "source": self.source, **self.settings}


#: rl-zoo's DQN entries by env id
RL_ZOO_DQN: dict[str, ZooEntry] = {
    "CartPole-v1": ZooEntry(RL_ZOO_CARTPOLE, RL_ZOO_STEPS, RL_ZOO_SOURCE),
    "Acrobot-v1": ZooEntry(
        RL_ZOO_ACROBOT,
        100_000,
        RL_ZOO_SOURCE.replace(
            "CartPole-v1 (policy MlpPolicy, n_timesteps 5e4)",
            "Acrobot-v1 (policy MlpPolicy, n_timesteps 1e5)",
        ),
    ),
}
SB3_INSTALL = 'pip install stable-baselines3  (or: pip install "ffstream[sb3]")'


def require_sb3() -> str:
    """The installed stable-baselines3 version, or ``ValueError`` naming the pip command."""
    try:
        import stable_baselines3
    except ImportError:
        raise ValueError(
            f"--peer sb3 needs stable-baselines3, which is not installed: {SB3_INSTALL}"
        ) from None
    return str(stable_baselines3.__version__)


class GreedySB3:
    """An SB3 model seen as the agent :func:`ffstream.agents.evaluate_episodes` plays."""

    def __init__(self, model: Any):
        self.model = model

    @property
    def env_steps(self) -> int:
        return int(self.model.num_timesteps)

    @staticmethod
    def action_map(action: torch.Tensor) -> torch.Tensor:
        return action  # SB3 predicts the env's own actions

    def choose(self, obs: torch.Tensor, deterministic: bool = True) -> torch.Tensor:
        actions, _ = self.model.predict(obs.cpu().numpy(), deterministic=deterministic)
        return torch.as_tensor(np.asarray(actions), device=obs.device)


def run_sb3_dqn(
    seed: int,
    max_steps: int,
    *,
    evaluations: Any,
    curve: Any,
    device: str = "cpu",
    env_id: str = "CartPole-v1",
) -> dict[str, Any]:
    """Train SB3's DQN with rl-zoo's settings for ``env_id`` (:data:`RL_ZOO_DQN`) for
    ``max_steps`` env steps.

    Epsilon decays over the first ``exploration_fraction * n_timesteps`` env steps of rl-zoo's
    entry whatever ``max_steps`` is, as in rl-zoo's own run. ``evaluations``
    (:class:`~benchmarks.cartpole.Evaluations`) runs when due and ``curve``
    (:class:`~benchmarks.cartpole.TrainingCurve`) gets every training episode. Returns the env
    steps and the seconds spent in all (evaluations included).
    """
    require_sb3()
    from stable_baselines3 import DQN

    entry = RL_ZOO_DQN[env_id]
    settings = dict(entry.settings)
    settings["exploration_fraction"] *= entry.steps / max_steps
    return learn_watched(DQN, env_id, settings, seed, max_steps, evaluations, curve, device)


def learn_watched(
    algorithm: Any,
    env_id: str,
    settings: dict[str, Any],
    seed: int,
    max_steps: int,
    evaluations: Any,
    curve: Any,
    device: str = "cpu",
) -> dict[str, Any]:
    """Train ``algorithm`` (an SB3 class, ``MlpPolicy``) with ``settings`` on one gymnasium
    ``env_id`` in a ``Monitor`` for ``max_steps`` env steps, handing every finished episode to
    ``curve`` and evaluating with ``evaluations`` when due; the env steps and wall seconds."""
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    env = make_vec_env(env_id, n_envs=1, seed=seed)
    model = algorithm("MlpPolicy", env, seed=seed, device=device, verbose=0, **settings)
    policy = GreedySB3(model)

    class Watch(BaseCallback):
        def _on_step(self) -> bool:
            steps = self.model.num_timesteps
            for info in self.locals["infos"]:
                if "episode" in info:  # Monitor's summary of an episode that just ended
                    curve.episode(steps, float(info["episode"]["r"]))
            curve.tick(steps)
            if evaluations.due(steps):
                evaluations.run(policy, steps)
            return True

    start = time.perf_counter()
    model.learn(total_timesteps=max_steps, callback=Watch())
    wall = time.perf_counter() - start
    env.close()
    return {"steps": int(model.num_timesteps), "wall_s": wall}
