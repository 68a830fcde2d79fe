"""Acrobot-v1 and Pendulum-v1 with the forward-only agent, and SB3 beside it (``--peer sb3``).

The cartpole suite's protocol on two more classic-control envs (:mod:`benchmarks._rl_protocol`
and :func:`~benchmarks.cartpole.run_seed`), with each env's own target (:data:`TARGETS`):

- Acrobot-v1 (3 discrete actions): a 100-episode training mean of -100 or more (gymnasium's
  rule), within the budget;
- Pendulum-v1 (continuous torque, which the agent discretises into ``action_bins`` values): a
  mean return of the last 20 training episodes of -400 or more, within the budget.

Every episode's return is recorded. With ``--peer sb3``, Stable-Baselines3 trains in the same run
with rl-baselines3-zoo's tuned settings: DQN on Acrobot-v1 (:mod:`benchmarks._sb3_dqn`), SAC on
Pendulum-v1 (:mod:`benchmarks._sb3_sac`; DQN does not apply to continuous actions), the latter for
rl-zoo's own 20,000 env steps at most.

Run: ``ffstream bench control --threads 1 --peer sb3`` (``--envs Acrobot-v1`` for one env;
``--quick``: one seed and 30,000 env steps)
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

import torch

from benchmarks import _sb3_dqn, _sb3_sac, cartpole
from benchmarks._rl_protocol import Evaluations, TrainingCurve, median_steps, outcome, record
from benchmarks.lab import Column, Context, Page, Run, select
from ffstream.config import option

__all__ = [
    "DESCRIPTION",
    "FULL",
    "NAME",
    "PAGE",
    "QUICK",
    "TARGETS",
    "Config",
    "Target",
    "combine",
    "peer_method",
    "run_one",
    "runs",
]

NAME = "control"
DESCRIPTION = "Acrobot-v1 and Pendulum-v1: the forward-only agent (and SB3 with --peer sb3)"
METHOD = "ffq"


@dataclass(frozen=True)
class Target:
    """What counts as solving an env: the mean of the last ``window`` training episodes at
    ``threshold`` or more; and the SB3 peer that trains beside the agent."""

    window: int
    threshold: float
    peer: str  # method name of the SB3 peer in the records


TARGETS: dict[str, Target] = {
    "Acrobot-v1": Target(window=100, threshold=-100.0, peer="sb3-dqn"),
    "Pendulum-v1": Target(window=20, threshold=-400.0, peer="sb3-sac"),
}


@dataclass(frozen=True)
class Config(cartpole.Config):
    """The cartpole suite's settings and checks (the same protocol), and which envs run."""

    max_steps: int = option(100_000, "env steps each seed trains for (SAC: 20,000 at most)")
    seeds: tuple[int, ...] = select((0, 1, 2), "seeds")
    envs: tuple[str, ...] = select(tuple(TARGETS), "envs", choices=tuple(TARGETS))


FULL = Config()
QUICK = Config(max_steps=30_000, seeds=(0,))

PAGE = Page(
    title="Acrobot-v1 and Pendulum-v1 with the forward-only agent",
    measures=(
        "`FFQAgent` with its default `AgentConfig` on 4 envs for the whole budget "
        "(Pendulum-v1's torque in 5 values); with `--peer sb3`, SB3 with rl-baselines3-zoo's "
        "settings in the same run: DQN on Acrobot-v1, SAC on Pendulum-v1 (rl-zoo's 20,000 steps "
        "at most). Targets: a 100-episode training mean of -100 (Acrobot-v1); a mean of the "
        "last 20 episodes of -400 (Pendulum-v1). Recorded: steps to the target, the last and "
        "best window means, greedy evaluations and training env steps/s."
    ),
    command="ffstream bench control --threads 1 --peer sb3",
    columns=(
        Column("solved_at", "env steps to the target", digits=0),
        Column("solved", "seeds reaching it (%)", scale=100, digits=0),
        Column("final_mean_return", "mean of the last window", digits=1),
        Column("best_mean_return", "best window mean", digits=1),
        Column("last_evals_min", "lowest of the last 3 evals", digits=1),
        Column("steps_per_s", "env steps/s (training)", digits=0),
    ),
    anchors=(
        f"Acrobot-v1's peer: {_sb3_dqn.RL_ZOO_DQN['Acrobot-v1'].source}.",
        f"Pendulum-v1's peer: {_sb3_sac.RL_ZOO_SAC['Pendulum-v1'].source}.",
    ),
    notes=(
        "The window is 100 episodes on Acrobot-v1 (episodes of up to 500 steps) and 20 on "
        "Pendulum-v1 (200 steps each). SAC trains for at most 20,000 env steps, rl-zoo's own "
        "budget: its steps/s is not comparable to a DQN's."
    ),
    curve_labels=("env steps", "window mean return"),
)


def peer_method(env_id: str) -> str:
    """The SB3 peer's method name on ``env_id``.

    Examples
    --------
    >>> peer_method("Pendulum-v1")
    'sb3-sac'
    """
    return TARGETS[env_id].peer


def runs(cfg: Config) -> list[Run]:
    """Per env: the agent with each seed, then the peer with each seed."""
    if "sb3" in cfg.peer:
        _sb3_dqn.require_sb3()  # before any run, not after the agent's
    out = []
    for env_id in cfg.envs:
        methods = [METHOD] + [peer_method(env_id) for _ in cfg.peer]
        out += [Run(method, seed, task=env_id) for method in methods for seed in cfg.seeds]
    return out


def _run_peer(cfg: Config, run: Run, device: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train the SB3 peer of ``run.task``: its outcome, and its settings for the record."""
    target = TARGETS[run.task]
    curve = TrainingCurve(target.window, target.threshold)
    evals = Evaluations(
        cfg.eval_every, cfg.eval_episodes, device, env_id=run.task, threshold=target.threshold
    )
    torch.manual_seed(run.seed)
    version = _sb3_dqn.require_sb3()
    watch = {"evaluations": evals, "curve": curve, "device": device, "env_id": run.task}
    if target.peer == "sb3-dqn":
        entry = _sb3_dqn.RL_ZOO_DQN[run.task]
        r = _sb3_dqn.run_sb3_dqn(run.seed, cfg.max_steps, **watch)
    else:
        entry = _sb3_sac.RL_ZOO_SAC[run.task]
        r = _sb3_sac.run_sb3_sac(run.seed, min(cfg.max_steps, entry.steps), **watch)
    return outcome(run.seed, r["steps"], r["wall_s"], curve, evals), entry.record(version)


def run_one(cfg: Config, run: Run, ctx: Context) -> dict[str, Any]:
    """Train the agent (or the env's peer) with one seed on ``run.task``."""
    target = TARGETS[run.task]
    if run.method == METHOD:
        settings = cfg.agent_config().to_dict()
        r = cartpole.train_agent(
            cfg,
            run.seed,
            ctx.device,
            env_id=run.task,
            window=target.window,
            threshold=target.threshold,
        )
    else:
        r, settings = _run_peer(cfg, run, ctx.device)
    metrics = ("solved_at", "final_mean_return", "best_mean_return", "eval_solved_at")
    return record(
        r,
        settings,
        (*metrics, "last_evals_min"),
        window=target.window,
        threshold=target.threshold,
    )


def combine(cfg: Config, records: list[dict[str, Any]], console) -> dict[str, Any]:
    """Every record; per env and method the medians over seeds; the agent's speed over the
    DQN peer's (SAC's speed is not comparable)."""
    envs: dict[str, dict[str, Any]] = {}
    for r in records:
        envs.setdefault(r["task"], {}).setdefault(r["method"], []).append(r["metrics"])
    summary: dict[str, dict[str, Any]] = {}
    for env_id, methods in envs.items():
        summary[env_id] = {}
        for method, group in methods.items():
            finals = [m["final_mean_return"] for m in group if m["final_mean_return"] is not None]
            speeds = [m["steps_per_s"] for m in group if m["steps_per_s"] is not None]
            m = summary[env_id][method] = {
                "seeds": len(group),
                "solved": sum(m["solved"] for m in group),
                "median_solved_at": median_steps([m["solved_at"] for m in group]),
                "median_final_mean_return": statistics.median(finals) if finals else None,
                "median_steps_per_s": statistics.median(speeds) if speeds else None,
            }
            final = m["median_final_mean_return"]
            console.print(
                f"{env_id} {method}: {m['solved']} of {m['seeds']} seeds reached the target "
                f"(median env steps {m['median_solved_at']}); median final window mean "
                f"{'-' if final is None else f'{final:.1f}'}; median "
                f"{m['median_steps_per_s'] or 0:.0f} env steps/s",
                highlight=False,
            )
        ours = summary[env_id].get(METHOD, {}).get("median_steps_per_s")
        theirs = summary[env_id].get("sb3-dqn", {}).get("median_steps_per_s")
        if ours and theirs:
            summary[env_id]["speed_ratio_vs_sb3-dqn"] = ours / theirs
            console.print(f"{env_id} training speed, {METHOD} / sb3-dqn: {ours / theirs:.2f}x")
    return {
        "suite": NAME,
        "preset": records[0]["preset"],
        "config": records[0]["config"],
        "envs": summary,
        "records": records,
    }
