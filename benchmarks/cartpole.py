"""CartPole-v1 with the forward-only agent: env steps until solved, over several seeds.

Solved means gymnasium's rule: the mean return of 100 consecutive (training) episodes reaches
475. Because 100 episodes of ~500 steps are ~50,000 steps by themselves, the suite also reports
when a *greedy* evaluation (100 fresh episodes run side by side every ``--eval-every`` env steps,
not counted as training steps) first averages >= 475 — the number RL libraries usually quote.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from ffstream.agents import AgentConfig, AgentLoop, FFQAgent, evaluate, load_config
from benchmarks._common import result_skeleton

__all__ = ["DESCRIPTION", "add_arguments", "run", "run_seed"]

DESCRIPTION = "CartPole-v1 with the forward-only agent: env steps to a 100-episode mean of 475"

ENV_ID = "CartPole-v1"
THRESHOLD = 475.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of this suite (``--out``, ``--device``, ``--quick`` come from the CLI)."""
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (5; quick 2)")
    parser.add_argument(
        "--max-steps", type=int, default=None, help="env step budget per seed (150k; quick 30k)"
    )
    parser.add_argument("--num-envs", type=int, default=4, help="parallel training envs")
    parser.add_argument(
        "--eval-every", type=int, default=5_000, help="env steps between greedy evaluations"
    )
    parser.add_argument("--config", default=None, metavar="FILE.toml", help="agent config")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1)")


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
    """Train one agent; return when (if) it solved CartPole and its learning curve.

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
    curve: list[list[float]] = []  # [env steps, return, 100-episode mean]
    evals: list[list[float]] = []  # [env steps, greedy mean return over 100 episodes]
    eval_solved_at = None
    next_eval = eval_every
    start = time.perf_counter()
    while loop.env_steps < max_steps and loop.solved_at is None:
        for ep in loop.step():
            curve.append([ep.steps, ep.ret, round(loop.mean_return, 2)])
            if on_episode is not None:
                on_episode(loop)
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
        "evals": evals,
    }


def _median(values: list[int | None]) -> float | None:
    """Median where ``None`` (not solved) counts as +infinity; ``None`` if that is the median."""
    med = statistics.median([math.inf if v is None else v for v in values])
    return None if math.isinf(med) else med


def run(args: argparse.Namespace, console) -> dict[str, Any]:
    """Run every seed and summarise; writes the learning-curve PNG next to ``--out``."""
    quick = getattr(args, "quick", False)
    seeds = getattr(args, "seeds", None) or (2 if quick else 5)
    max_steps = getattr(args, "max_steps", None) or (30_000 if quick else 150_000)
    device = getattr(args, "device", None) or "cpu"
    config_path = getattr(args, "config", None)
    config = load_config(config_path) if config_path else AgentConfig()
    threads_before = torch.get_num_threads()
    torch.set_num_threads(getattr(args, "threads", None) or threads_before)
    result = result_skeleton("cartpole", device, quick, config)
    result["config"] = config.to_dict()
    result.update(
        env=ENV_ID,
        threshold=THRESHOLD,
        max_steps=max_steps,
        num_envs=getattr(args, "num_envs", 4),
        eval_every=getattr(args, "eval_every", 5_000),
    )
    start = time.perf_counter()
    runs = []
    try:
        for seed in range(seeds):
            r = run_seed(
                seed,
                max_steps,
                config=config,
                num_envs=result["num_envs"],
                eval_every=result["eval_every"],
                device=device,
            )
            runs.append(r)
            solved = f"{r['solved_at']:,}" if r["solved_at"] is not None else "not solved"
            ev = r["eval_solved_at"]
            console.print(
                f"seed {seed}: {solved} (greedy eval >= {THRESHOLD:g} at "
                f"{'—' if ev is None else f'{ev:,}'}), best 100-episode mean "
                f"{r['best_mean_return']}, {r['steps']:,} steps in {r['wall_s']:.0f} s",
                highlight=False,
            )
    finally:
        torch.set_num_threads(threads_before)
    result["runs"] = runs
    result["solved_at"] = [r["solved_at"] for r in runs]
    result["median_solved_at"] = _median(result["solved_at"])
    result["eval_solved_at"] = [r["eval_solved_at"] for r in runs]
    result["median_eval_solved_at"] = _median(result["eval_solved_at"])
    result["wall_s"] = round(time.perf_counter() - start, 2)
    console.print(
        f"median env steps to solve: {result['median_solved_at']} (training 100-episode mean); "
        f"{result['median_eval_solved_at']} (greedy evaluation); wall {result['wall_s']:.0f} s",
        highlight=False,
    )
    out = getattr(args, "out", None)
    if out:
        result["plot"] = plot_curves(runs, Path(out).with_suffix(".png"), console)
    return result


def plot_curves(runs: list[dict[str, Any]], path: Path, console) -> str | None:
    """Plot each seed's 100-episode mean (and greedy evaluations) against env steps."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        console.print(
            "matplotlib is not installed, so no learning-curve PNG was written "
            '(pip install "ffstream[plot]")'
        )
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    for r in runs:
        if r["curve"]:
            steps, _, means = zip(*r["curve"])
            (line,) = ax.plot(steps, means, label=f"seed {r['seed']}")
            if r["evals"]:
                es, em = zip(*r["evals"])
                ax.plot(es, em, "o", color=line.get_color(), markersize=3, alpha=0.6)
    ax.axhline(THRESHOLD, color="gray", linestyle="--", linewidth=1)
    ax.set_xlabel("env steps")
    ax.set_ylabel("return (line: 100-episode mean; dots: greedy eval)")
    ax.set_title("ffstream FFQAgent on CartPole-v1")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    console.print(f"wrote {path}")
    return str(path)
