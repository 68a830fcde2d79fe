"""The control suite's Pendulum-v1 peer: Stable-Baselines3's SAC with rl-baselines3-zoo's tuned
Pendulum-v1 settings.

DQN does not apply to Pendulum's continuous actions. rl-zoo's ``hyperparams/sac.yml`` tunes
Pendulum-v1 with ``n_timesteps: 20000`` and ``learning_rate: 1e-3`` (everything else SAC's
defaults, written out in :data:`RL_ZOO_PENDULUM` as SB3 2.x sets them), so the peer trains for
rl-zoo's 20,000 env steps at most: SAC makes one gradient step of three 256-256 nets per env step
(about 70 env steps/s on one thread here), and the suite's 100,000 would cost 25 minutes a seed.
"""

from __future__ import annotations

from typing import Any

from benchmarks._sb3_dqn import ZooEntry, learn_watched, require_sb3

__all__ = ["RL_ZOO_PENDULUM", "RL_ZOO_SAC", "run_sb3_sac"]

#: rl-zoo's Pendulum-v1 SAC entry (learning_rate) and SAC's defaults in SB3 2.x (the rest)
RL_ZOO_PENDULUM: dict[str, Any] = {
    "learning_rate": 1e-3,
    "buffer_size": 1_000_000,
    "learning_starts": 100,
    "batch_size": 256,
    "tau": 0.005,
    "gamma": 0.99,
    "train_freq": 1,
    "gradient_steps": 1,
    "ent_coef": "auto",
    "policy_kwargs": {"net_arch": [256, 256]},
}

#: rl-zoo's SAC entries by env id
RL_ZOO_SAC: dict[str, ZooEntry] = {
    "Pendulum-v1": ZooEntry(
        RL_ZOO_PENDULUM,
        20_000,
        "DLR-RM/rl-baselines3-zoo hyperparams/sac.yml at c94924e5b31bce36920f29d3eb18b975231bdec4, "
        "Pendulum-v1 (policy MlpPolicy, n_timesteps 20000, learning_rate 1e-3; the rest SAC's "
        "defaults)",
    ),
}


def run_sb3_sac(
    seed: int,
    max_steps: int,
    *,
    evaluations: Any,
    curve: Any,
    device: str = "cpu",
    env_id: str = "Pendulum-v1",
) -> dict[str, Any]:
    """Train SB3's SAC with :data:`RL_ZOO_SAC`'s settings for ``env_id`` for ``max_steps`` env
    steps (the caller caps them at rl-zoo's budget); ``evaluations`` and ``curve`` as in
    :func:`~benchmarks._sb3_dqn.run_sb3_dqn`."""
    require_sb3()
    from stable_baselines3 import SAC

    settings = dict(RL_ZOO_SAC[env_id].settings)
    return learn_watched(SAC, env_id, settings, seed, max_steps, evaluations, curve, device)
