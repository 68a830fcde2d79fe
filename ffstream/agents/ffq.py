"""FFQAgent: a forward-only Q-learner. Every layer learns from its own local signal.

One layer, top to bottom::

    x_l  (the layer below's RMS-normalised activities, *detached*; the normalised observation
          for the first layer)
    h_l  = relu(W_l x_l)                        an FF layer (:class:`~ffstream.ff.FFLinear`)
    Q_l  = V_l rms_normalize(h_l)               the layer's own linear Q readout, one value
                                                per action
    loss = TD_l + ff_weight * FF_l              local: only W_l and V_l receive its gradient

``TD_l`` is the Huber loss between ``Q_l(s, a)`` and a bootstrapped target built from the same
layer's readout (a lagged *target* copy of the layer, copied or Polyak-averaged, see
``target_tau``; double-Q action choice by the online layer): the only signal that is not the
layer's own activity is the reward, a global scalar, so this is a three-factor rule
(pre-synaptic activity x post-synaptic activity x TD error).
``FF_l`` is Hinton's logistic goodness objective: **awake**, real states from the replay memory
are pushed toward high goodness; **asleep** (every ``sleep_every`` env steps, ``sleep_steps``
updates) the agent *dreams* states — mixtures of remembered states, each feature taken from a
different memory, plus noise — and pushes them toward low goodness. Goodness then scores how
familiar a state is (the dashboard shows real against dreamed goodness).

The agent acts epsilon-greedily on the mean (or the top layer's) local Q readout. Observations
are normalised with running statistics (as in stream-x, Elsayed et al. 2024); the TD part follows
DQN (Mnih et al. 2015) with double Q (van Hasselt et al. 2016), in the layer-local form of
ARQ-style forward-only RL (Wu & Ren 2025), here with per-layer linear readouts instead of
action-conditioned goodness.
"""

from __future__ import annotations

import copy
from typing import Any

import gymnasium
import torch
from torch import nn
from torch.nn import functional as F

from ffstream._checks import check_finite
from ffstream._device import from_host
from ffstream.agents.api import AgentAPI
from ffstream.agents.blocks import LocalQLayer, RunningNorm, track_target
from ffstream.agents.config import AgentConfig
from ffstream.agents.spaces import ActionMap, ObservationMap
from ffstream.ff import Goodness, Logistic, make_optimizer, rms_normalize
from ffstream.stream.memory import RecentMemory

__all__ = ["FFQAgent"]


class FFQAgent(AgentAPI):
    """A forward-only agent for vector environments with Discrete (or discretised Box) actions.

    Parameters
    ----------
    observation_space, action_space
        The *single*-env spaces (``env.single_observation_space``, ``env.single_action_space``).
    config
        Hyper-parameters (:class:`~ffstream.agents.AgentConfig`).
    seed
        Seeds the weights, exploration and replay sampling.
    device
        Where weights, memory and updates live.

    Examples
    --------
    >>> from ffstream import envs
    >>> env = envs.make("CartPole-v1", num_envs=4)
    >>> cfg = AgentConfig(hidden=(32, 32), learning_starts=64, batch_size=32)
    >>> agent = FFQAgent(env.single_observation_space, env.single_action_space, cfg, seed=0)
    >>> obs, _ = env.reset(seed=0)
    >>> done = torch.zeros(4, dtype=torch.bool)
    >>> for _ in range(50):
    ...     action, index = agent.act(obs)
    ...     next_obs, reward, term, trunc, _ = env.step(action)
    ...     agent.observe(obs, index, reward, next_obs, term, valid=~done)
    ...     obs, done = next_obs, term | trunc
    >>> 150 < agent.env_steps <= 200, agent.updates > 0  # restart steps are no transitions
    (True, True)
    """

    def __init__(
        self,
        observation_space: gymnasium.Space,
        action_space: gymnasium.Space,
        config: AgentConfig | None = None,
        *,
        seed: int = 0,
        device: str | torch.device = "cpu",
    ):
        self.config = cfg = config or AgentConfig()
        self.device, self.seed = torch.device(device), seed
        self.obs_map = ObservationMap(observation_space)
        self.action_map = ActionMap(action_space, cfg.action_bins, cfg.max_actions)
        self.num_features = self.obs_map.num_features
        self.num_actions = self.action_map.n
        init = torch.Generator().manual_seed(seed)
        sizes = [self.num_features, *cfg.hidden]
        self.layers = nn.ModuleList(
            LocalQLayer(a, b, self.num_actions, generator=init) for a, b in zip(sizes, sizes[1:])
        ).to(self.device)
        self.targets = copy.deepcopy(self.layers).requires_grad_(False)
        # One parameter group per layer: Adam's state is per parameter, so layers never mix.
        self.optimizer = make_optimizer(self.layers, "adam", cfg.lr, momentum=cfg.adam_beta1)
        self.objective = Logistic()
        self.goodness = Goodness("mean")
        self.obs_norm = RunningNorm(self.num_features, cfg.obs_clip, self.device)
        # A transition is one packed row: [obs, action, reward, next_obs, terminated].
        self.memory = RecentMemory(cfg.memory_size)
        self.rng = torch.Generator().manual_seed(seed + 1)
        self.env_steps = 0
        self.updates = 0
        self.sleeps = 0
        self._credit = 0.0
        self._next_sleep = cfg.sleep_every
        self.asleep = False
        self.real_goodness = float("nan")
        self.dream_goodness = float("nan")
        self.td_loss = float("nan")

    # ------------------------------------------------------------------ acting
    def epsilon(self) -> float:
        """The exploration rate now (linear decay over ``eps_decay_steps`` env steps)."""
        cfg = self.config
        if cfg.eps_decay_steps == 0:
            return cfg.eps_end
        frac = min(1.0, self.env_steps / cfg.eps_decay_steps)
        return cfg.eps_start + frac * (cfg.eps_end - cfg.eps_start)

    def _frames(self, obs: torch.Tensor) -> torch.Tensor:
        return self.obs_map(torch.as_tensor(obs)).to(self.device)

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        return self.obs_norm(x) if self.config.normalize_obs else x

    @torch.no_grad()
    def layer_q_values(self, x: torch.Tensor, layers: nn.ModuleList | None = None) -> torch.Tensor:
        """Every layer's local Q readout for normalised frames: ``(num_layers, batch, actions)``."""
        out = []
        for layer in self.layers if layers is None else layers:
            h, q = layer(x)
            out.append(q)
            x = rms_normalize(h)
        return torch.stack(out)

    def _readout(self, layer_q: torch.Tensor) -> torch.Tensor:
        return layer_q.mean(0) if self.config.readout == "mean" else layer_q[-1]

    @torch.no_grad()
    def q_values(self, obs: torch.Tensor) -> torch.Tensor:
        """The acting Q-values ``(batch, num_actions)`` for raw observations."""
        return self._readout(self.layer_q_values(self._normalize(self._frames(obs))))

    @torch.no_grad()
    def act(self, obs: torch.Tensor, explore: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Pick actions for a batch of observations: ``(env_actions, action_indices)``.

        With ``explore`` (training), the observations also update the running normaliser and
        actions are epsilon-greedy; without it, actions are greedy and nothing changes.
        """
        x = self._frames(obs)
        if explore:
            check_finite(x, "obs")  # a NaN in the running statistics would poison every input
            self.obs_norm.update(x)
        index = self._readout(self.layer_q_values(self._normalize(x))).argmax(1)
        if explore:
            index = self._epsilon_greedy(index, self.rng)
        return self.action_map(index), index

    def _epsilon_greedy(self, index: torch.Tensor, generator: torch.Generator | None):
        """Each greedy action index replaced by a random one with probability epsilon."""
        n = index.shape[0]
        coin = torch.rand(n, generator=generator) < self.epsilon()
        random = torch.randint(0, self.num_actions, (n,), generator=generator)
        return torch.where(from_host(coin, index.device), from_host(random, index.device), index)

    # ------------------------------------------------------------------ learning
    def observe(
        self,
        obs: torch.Tensor,
        action_index: torch.Tensor,
        reward: torch.Tensor,
        next_obs: torch.Tensor,
        terminated: torch.Tensor,
        valid: torch.Tensor | None = None,
    ) -> None:
        """Remember a batch of real transitions, then learn (awake) and sleep as scheduled.

        ``valid`` masks out the steps of a ``NEXT_STEP`` autoreset (an env that ended on the
        previous step only restarts: that step is no transition).
        """
        x, x2 = self._frames(obs), self._frames(next_obs)
        a = action_index.to(self.device).view(-1, 1).float()
        r = torch.as_tensor(reward, device=self.device).view(-1, 1).float()
        d = torch.as_tensor(terminated, device=self.device).view(-1, 1).float()
        rows = torch.cat([x, a, r, x2, d], dim=1)
        if valid is not None:
            rows = rows[torch.as_tensor(valid, device=self.device)]
        n = rows.shape[0]
        if n == 0:
            return
        check_finite(rows, "the transitions (obs, reward, next_obs)")
        self.memory.add(rows, None, self.rng)
        self.env_steps += n
        cfg = self.config
        if self.env_steps >= cfg.learning_starts and len(self.memory) >= cfg.batch_size:
            self._credit += cfg.replay_ratio * n
            while self._credit >= 1.0:
                self.update()
                self._credit -= 1.0
        if cfg.sleep_every and cfg.sleep_steps and self.env_steps >= self._next_sleep:
            self._next_sleep += cfg.sleep_every * max(
                1, (self.env_steps - self._next_sleep) // cfg.sleep_every + 1
            )
            if len(self.memory) >= cfg.batch_size:
                self.sleep()

    def _unpack(self, rows: torch.Tensor):
        f = self.num_features
        s, a, r = rows[:, :f], rows[:, f].long(), rows[:, f + 1]
        return s, a, r, rows[:, f + 2 : 2 * f + 2], rows[:, 2 * f + 2]

    def local_losses(self, rows: torch.Tensor) -> list[torch.Tensor]:
        """Each layer's own loss (TD + FF positive) on a batch of packed real transitions.

        Layer ``l``'s loss depends only on layer ``l``'s parameters: its input is the detached
        output of the layer below, and its TD target is computed without gradient.
        """
        cfg = self.config
        s, a, r, s2, done = self._unpack(rows)
        s, s2 = self._normalize(s), self._normalize(s2)
        with torch.no_grad():
            next_online = self.layer_q_values(s2)
            next_target = self.layer_q_values(s2, self.targets)
            choice = next_online.argmax(2, keepdim=True) if cfg.double_q else None
            if choice is None:
                next_value = next_target.max(2).values
            else:
                next_value = next_target.gather(2, choice).squeeze(2)
            target = r * cfg.reward_scale + cfg.gamma * (1.0 - done) * next_value
        losses = []
        x = s
        for layer, y in zip(self.layers, target):
            h, q = layer(x)
            q_taken = q.gather(1, a.view(-1, 1)).squeeze(1)
            td = F.smooth_l1_loss(q_taken, y) if cfg.huber else F.mse_loss(q_taken, y)
            loss = td
            if cfg.ff_weight:
                loss = loss + cfg.ff_weight * self.objective.loss(h, None, goodness=self.goodness)
            losses.append(loss)
            x = rms_normalize(h).detach()  # the locality boundary
        return losses

    def _apply(self, losses: list[torch.Tensor]) -> None:
        """Step every layer on its own loss; ``FloatingPointError`` (weights and optimizer state
        untouched) if a loss or a gradient norm is NaN or Inf, e.g. weights diverging."""
        self.optimizer.zero_grad(set_to_none=True)
        total = torch.stack(losses).sum()
        total.backward()
        # One scalar read per update: the loss plus every layer's gradient norm is finite iff
        # they all are, and a finite gradient moves Adam's weights by at most about lr.
        check = total.detach()
        if self.config.max_grad_norm:
            for layer in self.layers:  # clipped layer by layer: no layer sees another's norm
                check = check + nn.utils.clip_grad_norm_(
                    layer.parameters(), self.config.max_grad_norm
                )
        if not torch.isfinite(check):
            self.optimizer.zero_grad(set_to_none=True)
            raise FloatingPointError(
                f"refused an update after {self.updates} updates: its loss or gradient norm is "
                f"{float(check)} (the weights are diverging; lower lr or reward_scale); the "
                "weights and optimizer state were left as they were"
            )
        for group in self.optimizer.param_groups:  # the step size's schedule
            group["lr"] = self.config.lr_at(self.env_steps)
        self.optimizer.step()

    def update(self) -> None:
        """One awake update: TD + positive FF on a minibatch of remembered real transitions.

        A refused update (``FloatingPointError``, see :meth:`_apply`) also leaves the sampling
        generator where it was, so the whole agent state is as before the call.
        """
        rng_state = self.rng.get_state()
        rows, _ = self.memory.sample(self.config.batch_size, self.rng)
        self.asleep = False
        losses = self.local_losses(rows)
        try:
            self._apply(losses)
        except FloatingPointError:
            self.rng.set_state(rng_state)
            raise
        self.updates += 1
        if self.updates % self.config.target_every == 0:
            track_target(self.targets, self.layers, self.config.target_tau)
        if self.updates % 50 == 1:
            s = self._normalize(self._unpack(rows)[0])
            self.real_goodness = float(self.layer_goodness(s).sum(1).mean())
            self.td_loss = float(losses[-1].detach())

    @torch.no_grad()
    def dream(self, n: int) -> torch.Tensor:
        """``n`` dreamed (normalised) states: each feature from a different remembered state,
        plus Gaussian noise of std ``dream_noise``. Real-looking marginals, unreal joints."""
        rows, _ = self.memory.sample(n * self.num_features, self.rng)
        s = self._normalize(self._unpack(rows)[0]).view(self.num_features, n, -1)
        mixed = s.diagonal(dim1=0, dim2=2).clone()  # feature j from memory row (j, i)
        noise = torch.randn(mixed.shape, generator=self.rng).to(self.device)
        return (mixed + self.config.dream_noise * noise).clamp(
            -self.config.obs_clip, self.config.obs_clip
        )

    def sleep(self) -> None:
        """One sleep phase: ``sleep_steps`` local negative FF updates on dreamed states."""
        cfg = self.config
        self.asleep = True
        for _ in range(cfg.sleep_steps):
            x = self.dream(cfg.batch_size)
            losses = []
            for layer in self.layers:
                h = layer.ff(x)
                losses.append(cfg.ff_weight * self.objective.loss(None, h, goodness=self.goodness))
                x = rms_normalize(h).detach()
            try:
                self._apply(losses)
            except FloatingPointError:
                self.asleep = False  # the steps before this one stay applied
                raise
        dreams = self.dream(cfg.batch_size)
        self.dream_goodness = float(self.layer_goodness(dreams).sum(1).mean())
        self.sleeps += 1
        self.asleep = False

    @torch.no_grad()
    def layer_goodness(self, x: torch.Tensor) -> torch.Tensor:
        """Goodness (mean square activity) of every layer for normalised frames: ``(batch, L)``."""
        out = []
        for layer in self.layers:
            h = layer.ff(x)
            out.append(self.goodness(h))
            x = rms_normalize(h)
        return torch.stack(out, dim=1)

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue learning, as plain data and tensors."""
        return {
            "config": self.config.to_dict(),
            "num_features": self.num_features,
            "num_actions": self.num_actions,
            "layers": self.layers.state_dict(),
            "targets": self.targets.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "obs_norm": self.obs_norm.state_dict(),
            "memory": self.memory.state_dict(),
            "rng": self.rng.get_state(),
            "counters": {
                "env_steps": self.env_steps,
                "updates": self.updates,
                "sleeps": self.sleeps,
                "credit": self._credit,
                "next_sleep": self._next_sleep,
            },
            "stats": {
                "real_goodness": self.real_goodness,
                "dream_goodness": self.dream_goodness,
                "td_loss": self.td_loss,
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; ``ValueError`` if it belongs to another network shape."""
        if (state["num_features"], state["num_actions"]) != (self.num_features, self.num_actions):
            raise ValueError(
                f"checkpoint agent has {state['num_features']} inputs and {state['num_actions']} "
                f"actions; this environment needs {self.num_features} and {self.num_actions}"
            )
        self.layers.load_state_dict(state["layers"])
        self.targets.load_state_dict(state["targets"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.obs_norm.load_state_dict(state["obs_norm"])
        memory = dict(state["memory"])
        for key in ("frames", "labels"):
            if memory[key] is not None:
                memory[key] = memory[key].to(self.device)
        self.memory.load_state_dict(memory)
        self.rng.set_state(state["rng"])
        c = state["counters"]
        self.env_steps, self.updates, self.sleeps = c["env_steps"], c["updates"], c["sleeps"]
        self._credit, self._next_sleep = float(c["credit"]), int(c["next_sleep"])
        s = state["stats"]
        self.real_goodness, self.dream_goodness = s["real_goodness"], s["dream_goodness"]
        self.td_loss = s["td_loss"]
