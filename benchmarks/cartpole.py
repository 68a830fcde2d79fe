"""CartPole-v1 with the forward-only agent, and Stable-Baselines3's DQN beside it (``--peer sb3``).

Every seed trains for the whole step budget. One evaluation protocol serves every method
(:class:`Evaluations`): every ``eval_every`` env steps, ``eval_episodes`` greedy episodes on fresh
envs (seeded by the step count, so both methods meet the same starting states), not counted as
training. Recorded per seed: the first evaluation averaging 475 or more (the number RL libraries
quote), the last three evaluations (does the policy, once solved, stay solved?), gymnasium's
training rule (a 100-episode training mean of 475), and env steps per second of training alone.

Run: ``ffstream bench cartpole`` (``--quick``: two seeds, a smaller budget; ``--peer sb3`` also
trains SB3's DQN with rl-baselines3-zoo's CartPole settings, see :mod:`benchmarks._sb3_dqn`)
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from benchmarks import _sb3_dqn
from benchmarks._rl_protocol import Evaluations, TrainingCurve, median_steps, outcome, record
from benchmarks.lab import Column, Context, Page, Run, select
from ffstream.agents import (
    AgentConfig,
    AgentLoop,
    FFQAgent,
    load_config,
)
from ffstream.config import option

__all__ = [
    "DESCRIPTION",
    "FULL",
    "NAME",
    "PAGE",
    "QUICK",
    "Config",
    "Evaluations",
    "TrainingCurve",
    "combine",
    "median_steps",
    "outcome",
    "record",
    "run_one",
    "run_seed",
    "runs",
    "train_agent",
]

NAME = "cartpole"
DESCRIPTION = "CartPole-v1: the forward-only agent (and SB3's DQN with --peer sb3), greedy evals"

ENV_ID = "CartPole-v1"
THRESHOLD = 475.0
METHOD = "ffq"
PEERS = {"sb3": "sb3-dqn"}  # --peer value -> method name in the records
WINDOW = 100  # training episodes in gymnasium's solved rule


@dataclass(frozen=True)
class Config:
    """Every setting of the suite, in one place."""

    max_steps: int = option(100_000, "env steps each seed trains for")
    num_envs: int = option(4, "parallel training envs of the forward-only agent")
    eval_every: int = option(5_000, "env steps between greedy evaluations")
    eval_episodes: int = option(20, "greedy episodes per evaluation")
    config: str | None = option(
        None, "agent config: a TOML file of AgentConfig fields (none: the defaults)"
    )
    seeds: tuple[int, ...] = select((0, 1, 2, 3, 4), "seeds")
    peer: tuple[str, ...] = select((), "also train a peer: sb3", choices=tuple(PEERS))
    # The agent's settings as resolved (file or defaults), part of a run's identity: a record
    # measured before a default changed is not taken for one of the new defaults.
    agent_settings: dict[str, Any] = field(init=False, default=None)

    def __post_init__(self):
        for name in ("max_steps", "num_envs", "eval_every", "eval_episodes"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
        # a missing or bad file is refused before any run
        object.__setattr__(self, "agent_settings", self.agent_config().to_dict())

    def agent_config(self) -> AgentConfig:
        """The agent's settings: ``config``'s file, else :class:`AgentConfig`'s defaults."""
        if self.config is None:
            return AgentConfig()
        try:
            return load_config(self.config)
        except (FileNotFoundError, ValueError) as err:
            raise ValueError(f"--config: {err}") from None


FULL = Config()
QUICK = Config(max_steps=30_000, seeds=(0, 1))

PAGE = Page(
    title="CartPole-v1 with the forward-only agent",
    measures=(
        "`FFQAgent` with its default `AgentConfig` trains on 4 CartPole-v1 envs for the whole "
        "budget; with `--peer sb3`, SB3's DQN with rl-baselines3-zoo's settings trains in the "
        "same run. Every `--eval-every` env steps both get the same greedy evaluation on fresh "
        "envs. Recorded: the first evaluation at 475 or more, the lowest of the last three (all "
        "at 475: it stayed solved), the 100-episode training mean and env steps/s of training "
        "alone."
    ),
    command="ffstream bench cartpole --threads 1 --peer sb3",
    columns=(
        Column("eval_solved_at", "env steps to greedy 475", digits=0),
        Column("last_evals_min", "lowest of the last 3 evals", digits=1),
        Column("stayed_solved", "seeds staying solved (%)", scale=100, digits=0),
        Column("solved", "seeds with training mean 475 (%)", scale=100, digits=0),
        Column("best_mean_return", "best 100-episode mean", digits=1),
        Column("steps_per_s", "env steps/s (training)", digits=0),
    ),
    anchors=(
        f"The peer's settings: {_sb3_dqn.RL_ZOO_SOURCE}; its 'Almost Tuned' entry trains for "
        "50,000 env steps (here epsilon decays over the same first 8,000 steps whatever the "
        "budget).",
    ),
    notes=(
        "A 100-episode training mean of 475 needs about 47,500 env steps of near-perfect play, "
        "so the greedy first passage is recorded too, and the last three evaluations show "
        "whether it held. The combined `--out` JSON gives per-method medians over seeds and the "
        "agent's speed over the peer's."
    ),
    curve_labels=("env steps", "100-episode mean return"),
)


def runs(cfg: Config) -> list[Run]:
    """The agent with each seed, then each peer with each seed."""
    if "sb3" in cfg.peer:
        _sb3_dqn.require_sb3()  # before any run, not after the agent's
    methods = [METHOD] + [PEERS[p] for p in cfg.peer]
    return [Run(method, seed) for method in methods for seed in cfg.seeds]


def run_seed(
    seed: int,
    max_steps: int,
    *,
    config: AgentConfig,
    num_envs: int = 4,
    eval_every: int = 5_000,
    eval_episodes: int = 20,
    device: str = "cpu",
    env_id: str = ENV_ID,
    window: int = WINDOW,
    threshold: float = THRESHOLD,
) -> dict[str, Any]:
    """Train one agent for ``max_steps`` env steps on ``env_id``: its curves, evaluations and
    timings (``window`` and ``threshold``: the training rule and the evaluations' target).

    Examples
    --------
    >>> r = run_seed(0, 300, config=AgentConfig(hidden=(8,)), eval_every=10_000)
    >>> r["steps"] >= 300, r["evals"], r["solved_at"]
    (True, [], None)
    """
    from ffstream import envs

    torch.manual_seed(seed)
    env = envs.make(env_id, num_envs=num_envs, device=device)
    agent = FFQAgent(
        env.single_observation_space, env.single_action_space, config, seed=seed, device=device
    )
    loop = AgentLoop(env, agent, seed=seed, threshold=threshold, window=window)
    curve = TrainingCurve(window, threshold)
    evals = Evaluations(eval_every, eval_episodes, device, env_id=env_id, threshold=threshold)
    start = time.perf_counter()
    while loop.env_steps < max_steps:
        for ep in loop.step():
            curve.episode(ep.steps, ep.ret)
        curve.tick(loop.env_steps)
        if evals.due(loop.env_steps):
            evals.run(agent, loop.env_steps)
    return outcome(seed, loop.env_steps, time.perf_counter() - start, curve, evals)


def _run_peer(cfg: Config, seed: int, device: str) -> dict[str, Any]:
    curve = TrainingCurve(WINDOW, THRESHOLD)
    evals = Evaluations(
        cfg.eval_every, cfg.eval_episodes, device, env_id=ENV_ID, threshold=THRESHOLD
    )
    torch.manual_seed(seed)
    r = _sb3_dqn.run_sb3_dqn(seed, cfg.max_steps, evaluations=evals, curve=curve, device=device)
    return outcome(seed, r["steps"], r["wall_s"], curve, evals)


def train_agent(cfg: Config, seed: int, device: str, **env: Any) -> dict[str, Any]:
    """:func:`run_seed` with the suite's settings (``env``: its env id, window, threshold)."""
    return run_seed(
        seed,
        cfg.max_steps,
        config=cfg.agent_config(),
        num_envs=cfg.num_envs,
        eval_every=cfg.eval_every,
        eval_episodes=cfg.eval_episodes,
        device=device,
        **env,
    )


def run_one(cfg: Config, run: Run, ctx: Context) -> dict[str, Any]:
    """Train the agent (or a peer) with one seed for the whole budget."""
    if run.method == METHOD:
        settings = cfg.agent_config().to_dict()
        r = train_agent(cfg, run.seed, ctx.device)
    else:
        version = _sb3_dqn.require_sb3()
        settings = _sb3_dqn.RL_ZOO_DQN[ENV_ID].record(version)
        r = _run_peer(cfg, run.seed, ctx.device)
    names = ("eval_solved_at", "last_evals_min", "stayed_solved", "best_mean_return")
    return record(r, settings, (*names, "solved_at"))


def combine(cfg: Config, records: list[dict[str, Any]], console) -> dict[str, Any]:
    """Every record; per method the medians over seeds; the agent's speed over the peer's."""
    methods: dict[str, Any] = {}
    for method in dict.fromkeys(r["method"] for r in records):
        group = [r["metrics"] for r in records if r["method"] == method]
        speeds = [m["steps_per_s"] for m in group if m["steps_per_s"] is not None]
        methods[method] = {
            "seeds": len(group),
            "median_eval_solved_at": median_steps([m["eval_solved_at"] for m in group]),
            "median_solved_at": median_steps([m["solved_at"] for m in group]),
            "stayed_solved": sum(m["stayed_solved"] for m in group),
            "median_steps_per_s": statistics.median(speeds) if speeds else None,
        }
    result = {
        "suite": NAME,
        "preset": records[0]["preset"],
        "config": records[0]["config"],
        "methods": methods,
        "records": records,
    }
    for method, m in methods.items():
        console.print(
            f"{method}: median env steps to greedy 475 {m['median_eval_solved_at']}, "
            f"to a training mean of 475 {m['median_solved_at']}; {m['stayed_solved']} of "
            f"{m['seeds']} seeds stayed solved; median {m['median_steps_per_s'] or 0:.0f} env "
            "steps/s",
            highlight=False,
        )
    ours = methods.get(METHOD, {}).get("median_steps_per_s")
    for peer in (p for p in methods if p != METHOD):
        theirs = methods[peer]["median_steps_per_s"]
        if ours and theirs:
            result[f"speed_ratio_vs_{peer}"] = ours / theirs
            console.print(f"training speed, {METHOD} / {peer}: {ours / theirs:.2f}x")
    return result
