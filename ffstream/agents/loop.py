"""The interaction loop: act, step the vector env, remember, learn; count episodes.

:class:`AgentLoop` keeps the loop readable top to bottom (see :meth:`AgentLoop.step`) and holds
the bookkeeping that both ``ffstream run`` and ``ffstream bench cartpole`` need: episode returns,
the running 100-episode mean, and when the environment counts as solved.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import torch

from ffstream.agents.ffq import FFQAgent

__all__ = [
    "AgentLoop",
    "EnvStepError",
    "Episode",
    "NonFiniteStepError",
    "ReturnWindow",
    "evaluate",
    "evaluate_episodes",
    "solved_threshold",
]

#: gymnasium's reward thresholds for our own envs (CartPole-v1: 475 over 100 episodes)
_THRESHOLDS = {"CartPole-v1": 475.0, "Acrobot-v1": -100.0}


def solved_threshold(env_id: str) -> float | None:
    """The mean return over 100 episodes at which ``env_id`` counts as solved, if one is known.

    Examples
    --------
    >>> solved_threshold("CartPole-v1")
    475.0
    """
    if env_id in _THRESHOLDS:
        return _THRESHOLDS[env_id]
    try:
        import gymnasium

        return gymnasium.spec(env_id).reward_threshold
    except Exception:  # unknown or plugin ids have no spec
        return None


class EnvStepError(RuntimeError):
    """The environment raised inside ``reset`` or ``step``; the cause is chained."""


class NonFiniteStepError(EnvStepError):
    """The environment returned a NaN or Inf observation or reward.

    Raised by :class:`AgentLoop` before the agent sees the step, so the agent (weights,
    optimizer state, normaliser, memory) is exactly as it was after the last good step.

    Attributes
    ----------
    kind : str
        ``"observation"`` or ``"reward"``.
    env_index : int
        The first env in the vector env that returned it.
    env_steps : int
        The agent's env steps before the bad step.
    """

    def __init__(self, kind: str, env_index: int, env_steps: int, where: str, values: str):
        self.kind, self.env_index, self.env_steps = kind, env_index, env_steps
        super().__init__(
            f"env {env_index} returned a non-finite {kind} ({values}) from {where} after "
            f"{env_steps:,} env steps; nothing was learned from it (the agent is as it was "
            "after the last good step)"
        )


def _check_step(obs, reward: torch.Tensor | None, where: str, env_steps: int) -> None:
    """Raise :class:`NonFiniteStepError` if an observation or a reward is NaN or Inf.

    Observations are checked as the agent will read them (float32), so a float64 value past
    float32's range counts as Inf too. One reduction and one read on the clean path.
    """
    obs = torch.as_tensor(obs)
    frames = obs.reshape(obs.shape[0], -1)
    if frames.dtype != torch.float32:
        frames = frames.float()
    ok = torch.isfinite(frames).all()
    if reward is not None:
        ok = ok.to(reward.device) & torch.isfinite(reward).all()
    if bool(ok):
        return
    for kind, values in (("observation", frames), ("reward", reward)):
        if values is None:
            continue
        values = values.reshape(values.shape[0], -1).cpu()
        bad = (~torch.isfinite(values)).any(1).nonzero().view(-1).tolist()
        if bad:
            shown = values[bad[0]].tolist()
            raise NonFiniteStepError(kind, bad[0], env_steps, where, f"{shown}")


@dataclass
class Episode:
    """One finished episode: its index, return, length and the total env steps so far."""

    episode: int
    ret: float
    length: int
    steps: int

    def to_json(self) -> dict[str, Any]:
        return {
            "episode": self.episode,
            "return": self.ret,
            "length": self.length,
            "steps": self.steps,
        }


class ReturnWindow:
    """The mean return of the last ``window`` episodes, its best, and when it first reached
    ``threshold`` (gymnasium's solved rule: only a full window counts).

    Examples
    --------
    >>> returns = ReturnWindow(window=2, threshold=10.0)
    >>> for steps, ret in ((5, 4.0), (9, 12.0), (20, 9.0)):
    ...     returns.add(ret, steps)
    >>> returns.mean, returns.best_mean, returns.solved_at
    (10.5, 10.5, 20)
    """

    def __init__(self, window: int = 100, threshold: float | None = None):
        self.window, self.threshold = window, threshold
        self.recent: deque[float] = deque(maxlen=window)
        self.solved_at: int | None = None
        self.best_mean = -math.inf

    @property
    def mean(self) -> float:
        """Mean of the returns in the window (NaN before the first episode)."""
        return sum(self.recent) / len(self.recent) if self.recent else math.nan

    def add(self, ret: float, env_steps: int) -> None:
        """An episode with return ``ret`` ended after ``env_steps`` env steps in all."""
        self.recent.append(ret)
        if len(self.recent) == self.window:
            self.best_mean = max(self.best_mean, self.mean)
            reached = self.threshold is not None and self.mean >= self.threshold
            if self.solved_at is None and reached:
                self.solved_at = env_steps


class AgentLoop:
    """Drive ``agent`` on a vector ``env`` (NEXT_STEP autoreset) one vector step at a time.

    Examples
    --------
    >>> from ffstream import envs
    >>> from ffstream.agents import AgentConfig, FFQAgent
    >>> env = envs.make("CartPole-v1", num_envs=4)
    >>> agent = FFQAgent(env.single_observation_space, env.single_action_space,
    ...                  AgentConfig(hidden=(16,)), seed=0)
    >>> loop = AgentLoop(env, agent, seed=0, threshold=475.0)
    >>> episodes = [e for _ in range(100) for e in loop.step()]
    >>> len(episodes) > 0, loop.env_steps == agent.env_steps
    (True, True)
    """

    def __init__(
        self,
        env,
        agent: FFQAgent,
        *,
        seed: int = 0,
        threshold: float | None = None,
        window: int = 100,
    ):
        self.env, self.agent, self.seed = env, agent, seed
        self.threshold, self.window = threshold, window
        self.num_envs = env.num_envs
        self.episodes = 0
        self.returns = ReturnWindow(window, threshold)
        self._resets = 0
        self._start()

    def _start(self) -> None:
        """(Re)start every env; partial episodes are dropped."""
        device = self.agent.device
        try:
            self.obs, _ = self.env.reset(seed=self.seed + 7919 * self._resets)
        except Exception as err:
            raise EnvStepError(
                f"the environment failed in reset(): {type(err).__name__}: {err}"
            ) from err
        _check_step(self.obs, None, "reset()", self.agent.env_steps)
        self._resets += 1
        self.done = torch.zeros(self.num_envs, dtype=torch.bool, device=device)
        self.ep_return = torch.zeros(self.num_envs, dtype=torch.float64, device=device)
        self.ep_length = torch.zeros(self.num_envs, dtype=torch.long, device=device)

    @property
    def env_steps(self) -> int:
        return self.agent.env_steps

    @property
    def mean_return(self) -> float:
        """Mean return of the last ``window`` episodes (NaN before the first)."""
        return self.returns.mean

    @property
    def recent(self) -> deque[float]:
        """The returns of the last ``window`` episodes."""
        return self.returns.recent

    @property
    def solved_at(self) -> int | None:
        """Env steps when the ``window``-episode mean first reached ``threshold``."""
        return self.returns.solved_at

    @property
    def best_mean(self) -> float:
        """The best ``window``-episode mean so far (-inf before ``window`` episodes)."""
        return self.returns.best_mean

    def step(self) -> list[Episode]:
        """One vector step of every env; returns the episodes that finished in it.

        Raises
        ------
        EnvStepError
            When the env raises in ``step`` (the cause is chained), or as
            :class:`NonFiniteStepError` when it returns a NaN or Inf observation or reward. The
            agent and the loop are then exactly as before the call (the env has stepped).
        FloatingPointError
            When the agent refuses a diverging update (see :meth:`FFQAgent.update`).
        """
        agent = self.agent
        # Acting moves the exploration generator: keep its (small) state so a failed env step
        # leaves the agent as it was.
        acted_from = agent.rng.get_state()
        action, index = agent.act(self.obs)
        try:
            try:
                next_obs, reward, terminated, truncated, _ = self.env.step(action)
            except Exception as err:
                raise EnvStepError(
                    f"the environment failed in step(): {type(err).__name__}: {err}"
                ) from err
            reward = torch.as_tensor(reward, device=agent.device).float()
            _check_step(next_obs, reward, "step()", agent.env_steps)  # before any update
        except EnvStepError:
            agent.rng.set_state(acted_from)
            raise
        terminated = torch.as_tensor(terminated, device=agent.device).bool()
        truncated = torch.as_tensor(truncated, device=agent.device).bool()
        valid = ~self.done  # an env that ended last step only restarts now (NEXT_STEP)
        agent.observe(self.obs, index, reward, next_obs, terminated, valid=valid)
        self.ep_return += torch.where(valid, reward.double(), 0.0)
        self.ep_length += valid.long()
        self.done = (terminated | truncated) & valid
        self.obs = next_obs
        finished = []
        for i in self.done.nonzero().view(-1).tolist():
            self.episodes += 1
            episode = Episode(
                self.episodes, float(self.ep_return[i]), int(self.ep_length[i]), agent.env_steps
            )
            finished.append(episode)
            self.returns.add(episode.ret, agent.env_steps)
        self.ep_return[self.done] = 0.0
        self.ep_length[self.done] = 0
        return finished

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "episodes": self.episodes,
            "recent": list(self.recent),
            "solved_at": self.solved_at,
            "best_mean": self.best_mean,
            "resets": self._resets,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore counters; the envs restart (their physical state is not checkpointed)."""
        self.episodes = int(state["episodes"])
        returns = self.returns
        returns.recent = deque(state["recent"], maxlen=self.window)
        returns.solved_at, returns.best_mean = state["solved_at"], float(state["best_mean"])
        self._resets = int(state["resets"])
        self._start()


@torch.no_grad()
def evaluate(agent: FFQAgent, env, seed: int = 10_000) -> list[float]:
    """Greedy returns of the first episode of every env in ``env`` (learning nothing), in the
    order the episodes end: :func:`evaluate_episodes` with one episode per env.

    Examples
    --------
    >>> from ffstream import envs
    >>> from ffstream.agents import FFQAgent
    >>> env = envs.make("CartPole-v1", num_envs=3)
    >>> agent = FFQAgent(env.single_observation_space, env.single_action_space, seed=0)
    >>> len(evaluate(agent, env))
    3
    """
    returns, _ = evaluate_episodes(agent, env, env.num_envs, seed=seed)
    return returns


@torch.no_grad()
def evaluate_episodes(
    agent: FFQAgent, env, episodes: int, *, seed: int = 0, deterministic: bool = True
) -> tuple[list[float], list[int]]:
    """Returns and lengths of ``episodes`` whole episodes on a vector ``env`` (learning nothing).

    Env ``i`` of ``n`` plays ``(episodes + i) // n`` episodes, as Stable-Baselines3's
    ``evaluate_policy`` does, so short episodes are not over-counted. ``env`` autoresets on the
    step after an episode ends (gymnasium's ``NEXT_STEP``). Raises
    :class:`~ffstream.agents.EnvStepError` when the env fails or returns NaN or Inf.

    Examples
    --------
    >>> from ffstream import envs
    >>> from ffstream.agents import FFQAgent
    >>> env = envs.make("CartPole-v1", num_envs=2)
    >>> agent = FFQAgent(env.single_observation_space, env.single_action_space, seed=0)
    >>> returns, lengths = evaluate_episodes(agent, env, 3)
    >>> len(returns), returns == [float(n) for n in lengths]
    (3, True)
    """
    n = env.num_envs
    targets = torch.tensor([(episodes + i) // n for i in range(n)])
    counts = torch.zeros(n, dtype=torch.long)
    ret = torch.zeros(n, dtype=torch.float64)
    length = torch.zeros(n, dtype=torch.long)
    ended = torch.zeros(n, dtype=torch.bool)
    returns: list[float] = []
    lengths: list[int] = []
    try:
        obs, _ = env.reset(seed=seed)
    except Exception as err:
        raise EnvStepError(
            f"the environment failed in reset(): {type(err).__name__}: {err}"
        ) from err
    _check_step(obs, None, "reset()", agent.env_steps)
    while bool((counts < targets).any()):
        action = agent.action_map(agent.choose(obs, deterministic))
        try:
            obs, reward, terminated, truncated, _ = env.step(action)
        except Exception as err:
            raise EnvStepError(
                f"the environment failed in step(): {type(err).__name__}: {err}"
            ) from err
        reward = torch.as_tensor(reward).double().cpu()
        _check_step(obs, reward, "step()", agent.env_steps)
        valid = ~ended  # an env that ended last step only restarts now
        ret += torch.where(valid, reward, 0.0)
        length += valid.long()
        ended = (torch.as_tensor(terminated) | torch.as_tensor(truncated)).cpu() & valid
        for i in ended.nonzero().view(-1).tolist():
            if counts[i] < targets[i]:
                returns.append(float(ret[i]))
                lengths.append(int(length[i]))
                counts[i] += 1
        ret[ended], length[ended] = 0.0, 0
    return returns, lengths
