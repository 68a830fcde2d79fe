"""The agent in the shape reinforcement-learning users know from Stable-Baselines3.

:class:`AgentAPI` gives :class:`~ffstream.agents.FFQAgent` ``predict``, ``learn``, ``save``
and ``load``; :func:`read_saved_agent` reads and checks a saved agent (``ffstream eval`` starts
there).

A saved agent is the same file ``ffstream run --save`` writes (an ``ffstream.Agent/2``
checkpoint, see :mod:`ffstream.agents.checkpoint`): the env id, seed, number of envs, the agent's
config and state, and the training loop's counters. So ``FFQAgent.load`` reads what ``ffstream
run`` saved, and ``ffstream run --resume`` continues what ``agent.save`` wrote.

Examples
--------
>>> import tempfile, pathlib
>>> from ffstream.agents import AgentConfig, FFQAgent
>>> cfg = AgentConfig(hidden=(16,), learning_starts=32, batch_size=16)
>>> agent = FFQAgent.for_env("CartPole-v1", cfg, num_envs=2).learn(200)
>>> agent.env_steps >= 200
True
>>> path = agent.save(pathlib.Path(tempfile.mkdtemp()) / "agent.ckpt")
>>> action, _ = FFQAgent.load(path).predict([0.0, 0.1, 0.0, -0.1])
>>> action.shape, int(action) in (0, 1)
((), True)
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ffstream.agents.checkpoint import (
    agent_file_state,
    load_agent_checkpoint,
    nonfinite_tensors,
    save_agent_checkpoint,
)
from ffstream.agents.config import AgentConfig

__all__ = ["AgentAPI", "SavedAgent", "read_saved_agent"]

#: vector envs a fresh ``for_env``/``learn`` builds from an id (``ffstream run``'s default)
DEFAULT_NUM_ENVS = 4


@dataclass
class SavedAgent:
    """A saved agent, read and checked: everything needed to rebuild it and its env."""

    path: Path
    env_id: str
    num_envs: int
    seed: int
    config: AgentConfig
    state: dict[str, Any]
    """The whole checkpoint (``"agent"``: the agent's state, ``"loop"``: the loop's counters)."""

    @property
    def env_steps(self) -> int:
        """The env steps the saved agent had learned from."""
        return int(self.state["agent"]["counters"]["env_steps"])


def read_saved_agent(path: str | os.PathLike) -> SavedAgent:
    """Read and check a saved agent (``agent.save`` or ``ffstream run --save``).

    Raises
    ------
    FileNotFoundError
        When there is no file at ``path``.
    ValueError
        Naming the problem: a directory, a file that is not an agent checkpoint (or carries
        pickled code, or is corrupt), a missing field, an invalid config, or weights holding
        NaN or Inf (such an agent cannot act).
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a saved agent")
    state = load_agent_checkpoint(path)
    for key in ("env_id", "agent"):
        if key not in state:
            raise ValueError(f"{path} is not a saved ffstream agent (it has no {key!r})")
    agent = state["agent"]
    missing = [k for k in ("config", "counters", "layers") if k not in agent]
    if missing:
        raise ValueError(f"{path} holds an incomplete agent (no {missing[0]!r})")
    env_id = state["env_id"]
    if not isinstance(env_id, str) or not env_id.strip():
        raise ValueError(f"{path} names no environment (env_id is {env_id!r})")
    try:
        config = AgentConfig.from_dict(agent["config"])
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path} holds an invalid agent config: {err}") from None
    bad = nonfinite_tensors(agent, ("layers", "targets"))
    if bad:
        raise ValueError(f"{path}: the agent's {bad[0]} holds NaN or Inf; it cannot act")
    num_envs, seed = state.get("num_envs", DEFAULT_NUM_ENVS), state.get("seed", 0)
    return SavedAgent(path, env_id, int(num_envs), int(seed), config, state)


def _make_env(env: Any, num_envs: int, device: torch.device) -> tuple[Any, str | None]:
    """``(vector env, its id)`` from an id (built with ``ffstream run``'s checks) or an env."""
    if isinstance(env, str):
        from ffstream.run_checks import make_env

        return make_env(env, num_envs, str(device)), env
    spec = getattr(env, "spec", None)
    return env, getattr(spec, "id", None)


def _fresh_loop_state(seed: int) -> dict[str, Any]:
    """An :class:`~ffstream.agents.AgentLoop` state before its first step."""
    return {
        "seed": seed,
        "episodes": 0,
        "recent": [],
        "solved_at": None,
        "best_mean": -math.inf,
        "resets": 0,
    }


class AgentAPI:
    """``predict``, ``learn``, ``save`` and ``load`` for :class:`~ffstream.agents.FFQAgent`.

    Attributes
    ----------
    env_id : str or None
        The environment the agent learns on; saved with it. Set from an env id, an env's
        ``spec``, or the loaded file; set it by hand for an env object without a spec.
    env
        The bound vector env ``learn`` steps when given none.
    loop : AgentLoop or None
        The training loop of the bound env (episode counts, 100-episode mean return).
    num_envs : int
        Copies of the env stepped together; saved, and used when an env is built from its id.
    """

    env_id: str | None = None
    env: Any = None
    loop: Any = None
    num_envs: int = DEFAULT_NUM_ENVS
    _loop_state: dict[str, Any] | None = None

    @classmethod
    def for_env(
        cls,
        env: Any,
        config: AgentConfig | None = None,
        *,
        num_envs: int = DEFAULT_NUM_ENVS,
        seed: int = 0,
        device: str | torch.device = "cpu",
    ):
        """A new agent bound to ``env``: an env id (built with ``num_envs`` copies on
        ``device``; ``ValueError`` naming a missing extra) or a vector env."""
        env, env_id = _make_env(env, num_envs, torch.device(device))
        space, actions = env.single_observation_space, env.single_action_space
        agent = cls(space, actions, config, seed=seed, device=device)
        agent._bind(env, env_id)
        return agent

    def _bind(self, env: Any, env_id: str | None) -> None:
        if self.loop is not None:  # a new env restarts the episodes, but keeps the counts
            self._loop_state = self.loop.state_dict()
        self.env, self.loop, self.num_envs = env, None, int(env.num_envs)
        if env_id is not None:
            self.env_id = env_id

    # ------------------------------------------------------------------ acting
    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        """The actions for one observation or a batch, as Stable-Baselines3's ``predict``.

        Parameters
        ----------
        observation
            One observation (the shape of the env's single observation space) or a batch of
            them (one more leading dimension): a numpy array, list or tensor.
        state, episode_start
            Accepted for Stable-Baselines3 compatibility (recurrent policies); unused.
        deterministic
            Greedy actions; ``False`` explores with the agent's current epsilon (drawn from
            torch's global generator, so the agent's own training generator is left alone).

        Returns
        -------
        actions : numpy.ndarray
            Env actions: ``(batch, *action_shape)`` for a batch, ``action_shape`` for one.
        state
            ``state``, unchanged.

        Raises
        ------
        ValueError
            For an observation of the wrong shape, or one that holds NaN or Inf.
        """
        obs = torch.as_tensor(np.asarray(observation))
        single_shape = tuple(self.obs_map.space.shape)
        if tuple(obs.shape) == single_shape:
            single, obs = True, obs.unsqueeze(0)
        elif tuple(obs.shape[1:]) == single_shape and obs.dim() > len(single_shape):
            single = False
        else:
            raise ValueError(
                f"observation of shape {tuple(obs.shape)} fits neither one observation "
                f"{single_shape} nor a batch (n, {', '.join(map(str, single_shape))})"
            )
        if obs.is_floating_point() and not bool(torch.isfinite(obs).all()):
            raise ValueError("the observation holds NaN or Inf; the agent cannot act on it")
        actions = self.action_map(self.choose(obs, deterministic)).cpu().numpy()
        return (actions.reshape(actions.shape[1:]) if single else actions), state

    @torch.no_grad()
    def choose(self, obs: torch.Tensor, deterministic: bool = True) -> torch.Tensor:
        """Action indices for a batch of raw observations; the agent is left as it was (its
        standardiser and training generator included)."""
        index = self.q_values(obs).argmax(1)
        if not deterministic:  # the process's generator: the agent's own stays untouched
            index = self._epsilon_greedy(index, None)
        return index

    # ------------------------------------------------------------------ learning
    def learn(
        self,
        total_steps: int,
        env: Any = None,
        *,
        callback: Callable[[Any, list], bool | None] | None = None,
    ):
        """Learn for ``total_steps`` more env steps (counted over all envs); returns the agent.

        Parameters
        ----------
        total_steps
            Env steps to add to :attr:`env_steps`.
        env
            An env id or a vector env to learn on from now on; by default the bound env (from
            :meth:`for_env`, an earlier call, or :meth:`load`, which names it).
        callback
            Called as ``callback(agent, episodes)`` after every vector step with the episodes
            (:class:`~ffstream.agents.Episode`) that just finished; ``False`` stops early.

        Raises
        ------
        ValueError
            With no env to learn on, or an env whose spaces do not fit the agent.
        EnvStepError, FloatingPointError
            As :meth:`AgentLoop.step <ffstream.agents.AgentLoop.step>`; the agent is then as
            after its last good step.
        """
        from ffstream.agents.loop import AgentLoop, solved_threshold

        if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
            raise ValueError(f"total_steps must be a whole number >= 1, got {total_steps!r}")
        if env is None and self.env is None:
            if self.env_id is None:
                raise ValueError("no environment to learn on: pass env= (an id or a vector env)")
            env = self.env_id
        if env is not None:
            new_env, env_id = _make_env(env, self.num_envs, self.device)
            try:
                self._check_fits(new_env)
            except ValueError:
                if isinstance(env, str):  # built here: nobody else will close it
                    new_env.close()
                raise
            self._bind(new_env, env_id)
        if self.loop is None:
            threshold = solved_threshold(self.env_id) if self.env_id else None
            loop = AgentLoop(self.env, self, seed=self.seed, threshold=threshold)
            if self._loop_state is not None:
                loop.load_state_dict(self._loop_state)  # counts carry on; the envs restart
                self._loop_state = None
            self.loop = loop
        target = self.env_steps + total_steps
        while self.env_steps < target:
            episodes = self.loop.step()
            if callback is not None and callback(self, episodes) is False:
                break
        return self

    def _check_fits(self, env: Any) -> None:
        from ffstream.agents.spaces import ActionMap, ObservationMap

        cfg = self.config
        features = ObservationMap(env.single_observation_space).num_features
        actions = ActionMap(env.single_action_space, cfg.action_bins, cfg.max_actions).n
        if (features, actions) != (self.num_features, self.num_actions):
            raise ValueError(
                f"the env has {features} observation features and {actions} actions; this "
                f"agent was built for {self.num_features} and {self.num_actions}"
            )

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> Path:
        """Write the agent (and its env id, seed, config and loop counters) to ``path``.

        The file is the one ``ffstream run --save`` writes: ``ffstream eval``, ``ffstream run
        --resume`` and :meth:`load` read it. The write is atomic (a temporary file renamed into
        place), so an interrupted save leaves any earlier file whole.

        Raises
        ------
        ValueError
            When the env id is unknown (set :attr:`env_id`), or the weights hold NaN or Inf
            (such a file would replace a good one with an agent that cannot act).
        """
        if not self.env_id:
            raise ValueError(
                "the agent does not know its env id (its env has no spec): set agent.env_id "
                "to the id that rebuilds the env, then save"
            )
        agent = self.state_dict()
        bad = nonfinite_tensors(agent, ("layers", "targets"))
        if bad:
            raise ValueError(f"not saving {path}: the agent's {bad[0]} holds NaN or Inf")
        if self.loop is not None:
            loop = self.loop.state_dict()
        else:
            loop = self._loop_state or _fresh_loop_state(self.seed)
        state = agent_file_state(
            env_id=self.env_id,
            num_envs=self.num_envs,
            seed=self.seed,
            env_steps=self.env_steps,
            agent=agent,
            loop=loop,
        )
        return save_agent_checkpoint(path, state)

    @classmethod
    def load(cls, path: str | os.PathLike, env: Any = None, *, device: str | torch.device = "cpu"):
        """The agent saved at ``path`` (by :meth:`save` or ``ffstream run --save``).

        Parameters
        ----------
        path
            The saved agent.
        env
            The env to bind (an id or a vector env); by default the saved env id, built with
            the saved number of envs.
        device
            Where the agent lives.

        Raises
        ------
        FileNotFoundError, ValueError
            As :func:`read_saved_agent`; ``ValueError`` also when ``env`` does not fit.
        """
        return cls.from_saved(read_saved_agent(path), env, device=device)

    @classmethod
    def from_saved(cls, saved: SavedAgent, env: Any = None, *, device="cpu"):
        """The agent of a :class:`SavedAgent`, bound to ``env`` (default: the saved env id)."""
        device = torch.device(device)
        env, env_id = _make_env(saved.env_id if env is None else env, saved.num_envs, device)
        space, actions = env.single_observation_space, env.single_action_space
        agent = cls(space, actions, saved.config, seed=saved.seed, device=device)
        try:
            agent.load_state_dict(saved.state["agent"])
        except ValueError as err:
            raise ValueError(f"{saved.path}: {err}") from None
        except (KeyError, TypeError, RuntimeError) as err:
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise ValueError(f"{saved.path}: the agent state cannot be restored: {first}") from None
        agent.env_id = saved.env_id
        agent._bind(env, env_id)
        agent._loop_state = saved.state.get("loop")
        return agent
