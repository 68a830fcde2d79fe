"""FFQAgent: a forward-only Q-learner. Every layer learns from its own local signal.

One layer, top to bottom::

    x_l  (the layer below's RMS-normalised activities, *detached*; the standardised
          observation for the first layer)
    h_l  = relu(W_l x_l)                        an FF layer (:class:`~ffstream.agents.LocalQLayer`)
    Q_l  = V_l rms_normalize(h_l)               the layer's own linear Q readout, one value
                                                per action
    loss = TD_l + ff_weight * FF_l              local: only W_l and V_l receive its gradient

The parts are the core's: the layers are an :class:`~ffstream.ff.FFNet`, whose step computes
each layer's FF objective behind the locality boundary, the TD term joining each layer's loss
through its ``layer_loss`` hook; observations go through an
:class:`~ffstream.stream.standardizer.InputStandardizer` (running statistics that never forget,
as in stream-x, Elsayed et al. 2024); transitions into a
:class:`~ffstream.stream.memory.RecentMemory`; sleep follows an
:class:`~ffstream.stream.schedules.EveryN` schedule; dreams are
:class:`~ffstream.stream.dreams.HybridDreams` with each feature from a different memory, plus
noise.

``TD_l`` is the Huber loss between ``Q_l(s, a)`` and a bootstrapped target built from the same
layer's readout (a lagged *target* copy of the layer, copied or Polyak-averaged, see
``target_tau``; double-Q action choice by the online layer): the only signal that is not the
layer's own activity is the reward, a global scalar, so this is a three-factor rule
(pre-synaptic activity x post-synaptic activity x TD error). ``FF_l`` is Hinton's logistic
goodness objective: **awake**, remembered real states are pushed toward high goodness;
**asleep** (every ``sleep_every`` env steps, ``sleep_steps`` updates) dreamed states toward low
goodness. Goodness then scores how familiar a state is (the dashboard shows real against
dreamed goodness). The agent acts epsilon-greedily on the mean (or the top layer's) local Q
readout. The TD part follows DQN (Mnih et al. 2015) with double Q (van Hasselt et al. 2016), in
the layer-local form of ARQ-style forward-only RL (Wu & Ren 2025), here with per-layer linear
readouts instead of action-conditioned goodness.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import gymnasium
import torch
from torch.nn import functional as F

from ffstream._device import from_host
from ffstream._inputs import check_finite
from ffstream.agents.api import AgentAPI
from ffstream.agents.blocks import LocalQLayer, Weighted, clip_layer_grads, track_target
from ffstream.agents.checkpoint import upgrade_agent_state
from ffstream.agents.config import AgentConfig
from ffstream.agents.spaces import ActionMap, ObservationMap
from ffstream.ff import FFNet, Goodness, Logistic
from ffstream.stream.dreams import DreamSource, HybridDreams
from ffstream.stream.memory import RecentMemory
from ffstream.stream.schedules import EveryN, Manual
from ffstream.stream.standardizer import InputStandardizer

__all__ = ["FFQAgent"]

#: What the agent last measured (the dashboard's and the log's), saved with it.
_STATS = ("real_goodness", "dream_goodness", "td_loss")


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
        layers = [
            LocalQLayer(a, b, self.num_actions, generator=init) for a, b in zip(sizes, sizes[1:])
        ]
        # The core's layer stack: no peer normalisation, and no RMS normalisation of the input,
        # which the standardiser has already put in standard units.
        self.net = FFNet(
            layers,
            objective=Weighted(Logistic(), cfg.ff_weight),
            goodness=Goodness("mean"),
            lr=cfg.lr,
            momentum=cfg.adam_beta1,
            peer_norm=0.0,
            normalize_input=False,
        ).to(self.device)
        self.target_net = copy.deepcopy(self.net).requires_grad_(False)
        self.net.grad_sync = self._clip_and_check  # set after the copy: the targets never step
        self._td_terms: list[torch.Tensor] = []
        # Never forgets, never winsorises: the running mean and variance of every observation.
        self.standardizer = InputStandardizer(
            self.num_features, horizon=math.inf, winsor=math.inf, clip=cfg.obs_clip
        ).to(self.device)
        # A transition is one packed row: [obs, action, reward, next_obs, terminated].
        self.memory = RecentMemory(cfg.memory_size)
        self.rng = torch.Generator().manual_seed(seed + 1)
        self.dreams = HybridDreams(memories=None, noise=cfg.dream_noise)
        self.dream_source = DreamSource(
            self.rng, (self.num_features,), None, self._recall, None, self._goodness
        )
        sleeps = cfg.sleep_every and cfg.sleep_steps
        self.schedule = EveryN(cfg.sleep_every, cfg.sleep_steps) if sleeps else Manual()
        self.env_steps = self.updates = self.sleeps = 0
        self._credit = 0.0
        self.asleep = False
        self.real_goodness = self.dream_goodness = self.td_loss = float("nan")  # _STATS

    # ------------------------------------------------------------------ acting
    def epsilon(self) -> float:
        """The exploration rate now (linear decay over ``eps_decay_steps`` env steps)."""
        cfg = self.config
        frac = min(1.0, self.env_steps / cfg.eps_decay_steps) if cfg.eps_decay_steps else 1.0
        return cfg.eps_start + frac * (cfg.eps_end - cfg.eps_start)

    def _frames(self, obs: torch.Tensor) -> torch.Tensor:
        return self.obs_map(torch.as_tensor(obs)).to(self.device)

    def _standardized(self, x: torch.Tensor) -> torch.Tensor:
        return self.standardizer(x) if self.config.normalize_obs else x

    @torch.no_grad()
    def layer_q_values(self, x: torch.Tensor, target: bool = False) -> torch.Tensor:
        """Every layer's local Q readout for standardised frames: ``(num_layers, batch,
        actions)``; ``target``: the target layers'."""
        net = self.target_net if target else self.net
        return torch.stack([layer.q(h) for layer, h in zip(net.layers, net.activities(x))])

    def _readout(self, layer_q: torch.Tensor) -> torch.Tensor:
        return layer_q.mean(0) if self.config.readout == "mean" else layer_q[-1]

    @torch.no_grad()
    def q_values(self, obs: torch.Tensor) -> torch.Tensor:
        """The acting Q-values ``(batch, num_actions)`` for raw observations."""
        return self._readout(self.layer_q_values(self._standardized(self._frames(obs))))

    @torch.no_grad()
    def act(self, obs: torch.Tensor, explore: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Pick actions for a batch of observations: ``(env_actions, action_indices)``.

        With ``explore`` (training), actions are epsilon-greedy (drawn from the agent's
        generator); without it, greedy. The standardiser learns in :meth:`observe`.
        """
        x = self._frames(obs)
        check_finite(x, "obs")
        index = self._readout(self.layer_q_values(self._standardized(x))).argmax(1)
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
        previous step only restarts: that step is no transition). The observations of the
        transitions also move the standardiser. ``ValueError`` (and nothing changes) if a
        transition holds NaN or Inf.
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
        self.standardizer.update(rows[:, : self.num_features])
        self.memory.add(rows, None, self.rng)
        self.env_steps += n
        cfg = self.config
        if self.env_steps >= cfg.learning_starts and len(self.memory) >= cfg.batch_size:
            self._credit += cfg.replay_ratio * n
            while self._credit >= 1.0:
                self.update()
                self._credit -= 1.0
        due = self.schedule.after_observe(n, None)
        if due and len(self.memory) >= cfg.batch_size:
            self.sleep(due)

    def _unpack(self, rows: torch.Tensor):
        f = self.num_features
        s, a, r = rows[:, :f], rows[:, f].long(), rows[:, f + 1]
        return s, a, r, rows[:, f + 2 : 2 * f + 2], rows[:, 2 * f + 2]

    @torch.no_grad()
    def td_targets(self, reward, next_states, done) -> torch.Tensor:
        """Each layer's bootstrapped TD target ``(num_layers, batch)`` from its target layer
        (the online layer picks the action, with ``double_q``)."""
        cfg = self.config
        next_target = self.layer_q_values(next_states, target=True)
        if cfg.double_q:
            choice = self.layer_q_values(next_states).argmax(2, keepdim=True)
            next_value = next_target.gather(2, choice).squeeze(2)
        else:
            next_value = next_target.max(2).values
        return reward * cfg.reward_scale + cfg.gamma * (1.0 - done) * next_value

    def update(self) -> None:
        """One awake update: TD + positive FF on a minibatch of remembered real transitions.

        A refused update (``FloatingPointError``: a loss or a gradient norm is NaN or Inf,
        e.g. weights diverging) leaves the weights, optimizer state and sampling generator as
        they were before the call.
        """
        cfg = self.config
        rng_state = self.rng.get_state()
        rows, _ = self.memory.sample(cfg.batch_size, self.rng)
        self.asleep = False
        s, a, r, s2, done = self._unpack(rows)
        s = self._standardized(s)
        target = self.td_targets(r, self._standardized(s2), done)
        a = a.view(-1, 1)
        td = self._td_terms = []

        def td_loss(i: int, h: torch.Tensor) -> torch.Tensor:
            q_taken = self.net.layers[i].q(h).gather(1, a).squeeze(1)
            loss = (F.smooth_l1_loss if cfg.huber else F.mse_loss)(q_taken, target[i])
            td.append(loss.detach())
            return loss

        try:
            stats = self.net.step(pos=s, check=False, layer_loss=td_loss)
        except FloatingPointError:
            self.rng.set_state(rng_state)
            raise
        self.updates += 1
        if self.updates % cfg.target_every == 0:
            track_target(self.target_net.layers, self.net.layers, cfg.target_tau)
        if self.updates % 50 == 1:
            self.real_goodness = float(stats.pos_goodness.sum(1).mean())
            self.td_loss = float(td[-1])

    def _clip_and_check(self, grads: list[torch.Tensor]) -> None:
        """The layer stack's ``grad_sync``: clip each layer's gradient on its own, refuse
        (``FloatingPointError``, gradients dropped) a non-finite loss or gradient norm, and
        set the step size of this step."""
        cfg = self.config
        norms = clip_layer_grads(self.net.layers, cfg.max_grad_norm)
        # One scalar read per update: finite iff every TD loss and gradient norm is.
        check = torch.stack([*self._td_terms, *norms]).sum()
        self._td_terms = []
        if not torch.isfinite(check):
            self.net.optimizer.zero_grad(set_to_none=True)
            raise FloatingPointError(
                f"refused an update after {self.updates} updates: its loss or gradient norm is "
                f"{float(check)} (the weights are diverging; lower lr or reward_scale); the "
                "weights and optimizer state were left as they were"
            )
        for group in self.net.optimizer.param_groups:  # the step size's schedule
            group["lr"] = cfg.lr_at(self.env_steps)

    # ------------------------------------------------------------------ sleep
    def _recall(self, n: int) -> tuple[torch.Tensor, None]:
        """``n`` remembered states, standardised: what dreams are made of."""
        rows, _ = self.memory.sample(n, self.rng)
        return self._standardized(self._unpack(rows)[0]), None

    def _goodness(self, x: torch.Tensor, labels=None, grad: bool = False) -> torch.Tensor:
        return self.net.goodness_with_grad(x) if grad else self.net.goodness(x)

    @torch.no_grad()
    def dream(self, n: int) -> torch.Tensor:
        """``n`` dreamed (standardised) states: each feature from a different remembered
        state, plus Gaussian noise of std ``dream_noise``. Real-looking marginals, unreal joints."""
        x, _ = self._recall(n)
        dream, _ = self.dreams.generate(self.dream_source, x, None)
        return dream.clamp(-self.config.obs_clip, self.config.obs_clip)

    def sleep(self, steps: int | None = None) -> None:
        """One sleep phase: ``steps`` (default ``sleep_steps``) negative FF updates of every
        layer on dreamed states; the Q readouts do not dream."""
        cfg = self.config
        self.asleep = True
        try:
            for _ in range(cfg.sleep_steps if steps is None else steps):
                self.net.step(neg=self.dream(cfg.batch_size), check=False)
        finally:
            self.asleep = False  # on a refused step, the steps before it stay applied
        self.dream_goodness = float(self.net.goodness(self.dream(cfg.batch_size)).sum(1).mean())
        self.sleeps += 1

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue learning, as plain data and tensors."""
        return {
            "config": self.config.to_dict(),
            "num_features": self.num_features,
            "num_actions": self.num_actions,
            "layers": self.net.layers.state_dict(),
            "targets": self.target_net.layers.state_dict(),
            "optimizer": self.net.optimizer.state_dict(),
            "standardizer": {**self.standardizer.state_dict(), "count": self.standardizer.count},
            "memory": self.memory.state_dict(),
            "rng": self.rng.get_state(),
            "schedule": self.schedule.state_dict(),
            "counters": {
                "env_steps": self.env_steps,
                "updates": self.updates,
                "sleeps": self.sleeps,
                "credit": self._credit,
            },
            "stats": {name: getattr(self, name) for name in _STATS},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (or convert an earlier agent's layout, see
        :func:`~ffstream.agents.checkpoint.upgrade_agent_state`); ``ValueError`` if it belongs
        to another network shape or is malformed."""
        state = upgrade_agent_state(state)
        if (state["num_features"], state["num_actions"]) != (self.num_features, self.num_actions):
            raise ValueError(
                f"checkpoint agent has {state['num_features']} inputs and {state['num_actions']} "
                f"actions; this environment needs {self.num_features} and {self.num_actions}"
            )
        self.net.layers.load_state_dict(state["layers"])
        self.target_net.layers.load_state_dict(state["targets"])
        self.net.optimizer.load_state_dict(state["optimizer"])
        norm = dict(state["standardizer"])
        count = int(norm.pop("count"))
        self.standardizer.load_state_dict({k: v.to(self.device) for k, v in norm.items()})
        self.standardizer.restore_count(count)
        memory = dict(state["memory"])
        for key in ("frames", "labels"):
            if memory[key] is not None:
                memory[key] = memory[key].to(self.device)
        self.memory.load_state_dict(memory)
        self.rng.set_state(state["rng"])
        self.schedule.load_state_dict(state["schedule"])
        c = state["counters"]
        self.env_steps, self.updates, self.sleeps = c["env_steps"], c["updates"], c["sleeps"]
        self._credit = float(c["credit"])
        for name in _STATS:
            setattr(self, name, state["stats"][name])
