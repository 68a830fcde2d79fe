"""CartPole-v1 with the forward-only agent: env steps until solved, one run per seed.

Solved means gymnasium's rule: the mean return of 100 consecutive (training) episodes reaches
475; a seed stops there or at its step budget. Because 100 episodes of up to 500 steps take tens
of thousands of steps by themselves, the suite also records when a *greedy* evaluation (100 fresh
episodes run side by side every ``eval_every`` env steps, not counted as training steps) first
averages 475 or more, the number RL libraries usually quote.

Run: ``ffstream bench cartpole`` (``--quick``: two seeds, a smaller budget)
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from typing import Any

import torch

from benchmarks.lab import Column, Context, Page, Run, select
from ffstream.agents import AgentConfig, AgentLoop, FFQAgent, evaluate, load_config
from ffstream.config import option

__all__ = [
    "DESCRIPTION",
    "FULL",
    "NAME",
    "PAGE",
    "QUICK",
    "Config",
    "combine",
    "run_one",
    "run_seed",
    "runs",
]

NAME = "cartpole"
DESCRIPTION = "CartPole-v1 with the forward-only agent: env steps to a 100-episode mean of 475"

ENV_ID = "CartPole-v1"
THRESHOLD = 475.0
METHOD = "ffq"
CURVE_EVERY = 1_000  # env steps between the points of a run's learning curve


@dataclass(frozen=True)
class Config:
    """Every setting of the suite, in one place."""

    max_steps: int = option(150_000, "env step budget per seed")
    num_envs: int = option(4, "parallel training envs")
    eval_every: int = option(5_000, "env steps between greedy evaluations (100 fresh episodes)")
    config: str | None = option(
        None, "agent config: a TOML file of AgentConfig fields (none: the defaults)"
    )
    seeds: tuple[int, ...] = select((0, 1, 2, 3, 4), "seeds")

    def __post_init__(self):
        for name in ("max_steps", "num_envs", "eval_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
        self.agent_config()  # a missing or bad file is refused before any run

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
        "`FFQAgent` with its default `AgentConfig` (FF layers with local Q readouts, TD plus an "
        "FF goodness term per layer, no gradient between layers) trains on 4 CartPole-v1 envs "
        "until the mean return of the last 100 training episodes reaches 475 (gymnasium's rule) "
        "or the step budget runs out. Also recorded: the first greedy evaluation (100 fresh "
        "episodes every `--eval-every` env steps, not counted as training) averaging 475 or more, "
        "the best 100-episode mean, and env steps per second of the whole training loop."
    ),
    command="ffstream bench cartpole --threads 1",
    columns=(
        Column("solved", "seeds solved (%)", scale=100, digits=0),
        Column("solved_at", "env steps to mean 475 (solved seeds)", digits=0),
        Column("eval_solved_at", "env steps to greedy 475", digits=0),
        Column("best_mean_return", "best 100-episode mean", digits=1),
        Column("steps_per_s", "env steps/s", digits=0),
    ),
    anchors=(
        "rl-baselines3-zoo, `hyperparams/dqn.yml` (DLR-RM/rl-baselines3-zoo on GitHub, its "
        "'Almost Tuned' CartPole-v1 entry): DQN trains for `n_timesteps` 5e4, a budget of "
        "50,000 env steps; a training budget, not a time to solve.",
    ),
    notes=(
        "A 100-episode training mean of 475 takes about 47,500 env steps of near-perfect play by "
        "itself, so `solved_at` cannot be small for any learner; the greedy first passage is not "
        "a plateau (later evaluations can fall back). The combined `--out` JSON gives the median "
        "over seeds, counting a seed that never solved as infinitely slow."
    ),
    curve_labels=("env steps", "100-episode mean return"),
)


def runs(cfg: Config) -> list[Run]:
    """The agent with each seed."""
    return [Run(METHOD, seed) for seed in cfg.seeds]


def run_seed(
    seed: int,
    max_steps: int,
    *,
    config: AgentConfig,
    num_envs: int = 4,
    eval_every: int = 5_000,
    device: str = "cpu",
    on_episode=None,
) -> dict[str, Any]:
    """Train one agent; return when (if) it solved CartPole and its learning curves.

    ``curve`` holds the 100-episode mean every ``CURVE_EVERY`` env steps, ``episodes`` every
    finished episode as ``[env steps, return, 100-episode mean]``, ``evals`` every greedy
    evaluation as ``[env steps, mean return]``.

    Examples
    --------
    >>> r = run_seed(0, 300, config=AgentConfig(hidden=(8,)), eval_every=10_000)
    >>> r["seed"], r["solved_at"], r["steps"] >= 300
    (0, None, True)
    """
    from ffstream import envs

    torch.manual_seed(seed)
    env = envs.make(ENV_ID, num_envs=num_envs, device=device)
    eval_env = envs.make(ENV_ID, num_envs=100, device=device)
    agent = FFQAgent(
        env.single_observation_space, env.single_action_space, config, seed=seed, device=device
    )
    loop = AgentLoop(env, agent, seed=seed, threshold=THRESHOLD)
    episodes: list[list[float]] = []
    curve: list[list[float]] = []
    evals: list[list[float]] = []
    eval_solved_at = None
    next_eval = eval_every
    next_point = CURVE_EVERY
    start = time.perf_counter()
    while loop.env_steps < max_steps and loop.solved_at is None:
        for ep in loop.step():
            episodes.append([ep.steps, ep.ret, round(loop.mean_return, 2)])
            if on_episode is not None:
                on_episode(loop)
        while loop.env_steps >= next_point:
            if loop.episodes:  # no mean before the first episode ends
                curve.append([next_point, round(loop.mean_return, 2)])
            next_point += CURVE_EVERY
        if loop.env_steps >= next_eval:
            next_eval += eval_every
            mean = statistics.fmean(evaluate(agent, eval_env, seed=10_000 + loop.env_steps))
            evals.append([loop.env_steps, mean])
            if eval_solved_at is None and mean >= THRESHOLD:
                eval_solved_at = loop.env_steps
    return {
        "seed": seed,
        "solved_at": loop.solved_at,
        "eval_solved_at": eval_solved_at,
        "steps": loop.env_steps,
        "episodes": loop.episodes,
        "best_mean_return": None if math.isinf(loop.best_mean) else loop.best_mean,
        "wall_s": round(time.perf_counter() - start, 2),
        "curve": curve,
        "episode_returns": episodes,
        "evals": evals,
    }


def run_one(cfg: Config, run: Run, ctx: Context) -> dict[str, Any]:
    """Train the agent with one seed until solved or out of budget."""
    agent_config = cfg.agent_config()
    r = run_seed(
        run.seed,
        cfg.max_steps,
        config=agent_config,
        num_envs=cfg.num_envs,
        eval_every=cfg.eval_every,
        device=ctx.device,
    )
    return {
        "metrics": {
            "solved": int(r["solved_at"] is not None),
            "solved_at": r["solved_at"],
            "eval_solved_at": r["eval_solved_at"],
            "best_mean_return": r["best_mean_return"],
            "steps_per_s": r["steps"] / r["wall_s"] if r["wall_s"] > 0 else None,
            "wall_s": r["wall_s"],
        },
        "steps": r["steps"],
        "episodes": r["episodes"],
        "agent": agent_config.to_dict(),
        "curve": r["curve"],
        "episode_returns": r["episode_returns"],
        "evals": r["evals"],
    }


def median_steps(values: list[int | None]) -> float | None:
    """Median where ``None`` (not solved) counts as +infinity; ``None`` if that is the median.

    Examples
    --------
    >>> median_steps([10, None, 30]), median_steps([None, None, 5])
    (30, None)
    """
    med = statistics.median([math.inf if v is None else v for v in values])
    return None if math.isinf(med) else med


def combine(cfg: Config, records: list[dict[str, Any]], console) -> dict[str, Any]:
    """Every record, plus the medians over seeds (an unsolved seed counts as infinitely slow)."""
    solved = [r["metrics"]["solved_at"] for r in records]
    greedy = [r["metrics"]["eval_solved_at"] for r in records]
    result = {
        "suite": NAME,
        "preset": records[0]["preset"],
        "config": records[0]["config"],
        "median_solved_at": median_steps(solved),
        "median_eval_solved_at": median_steps(greedy),
        "records": records,
    }
    console.print(
        f"median env steps to solve: {result['median_solved_at']} (training 100-episode mean); "
        f"{result['median_eval_solved_at']} (greedy evaluation)",
        highlight=False,
    )
    return result
