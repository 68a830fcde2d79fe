"""``ffstream run``: train the forward-only agent on an environment, with a live dashboard.

The command reads top to bottom like the loop it drives::

    config (defaults <- --config FILE.toml <- CLI options)  ->  env = ffstream.envs.make(...)
    -> agent = FFQAgent(...) (or restored from --resume)  ->  AgentLoop.step() until --steps
    env steps or solved  ->  --log JSONL line per finished episode  ->  --save checkpoint

Ctrl-C saves a checkpoint (to ``--save``, else ``ffstream-interrupted.ckpt`` in the working
directory) and exits with status 130. An exception raised by the environment saves a checkpoint
the same way and exits with status 1 and a message naming the error.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import IO, Any

import torch
from rich.console import Console

import ffstream
from ffstream._checks import check_int
from ffstream.agents import (
    AgentConfig,
    AgentLoop,
    EnvStepError,
    FFQAgent,
    load_agent_checkpoint,
    load_config,
    save_agent_checkpoint,
    solved_threshold,
)
from ffstream.dashboard import Dashboard, PlainReport

__all__ = ["add_parser", "run", "snapshot", "DEFAULT_STEPS", "INTERRUPTED_CHECKPOINT"]

#: env steps of a default run: CartPole-v1 takes a few minutes on a 2-core CPU
DEFAULT_STEPS = 100_000
#: where Ctrl-C or an env error saves when no --save was given (in the working directory)
INTERRUPTED_CHECKPOINT = "ffstream-interrupted.ckpt"


def add_parser(commands) -> argparse.ArgumentParser:
    """Add the ``run`` subcommand to the CLI's subparsers."""
    parser = commands.add_parser(
        "run",
        help="train the forward-only agent on an environment",
        description=(
            "Train ffstream's forward-only agent (FFQAgent) on a vector environment. Stops after "
            "--steps env steps, or earlier once the 100-episode mean return reaches the env's "
            "solved threshold (unless --keep-going)."
        ),
    )
    parser.add_argument("--env", default="CartPole-v1", help="environment id (see ffstream envs)")
    parser.add_argument(
        "--steps",
        type=int,
        default=DEFAULT_STEPS,
        help=f"env steps to run at most (default {DEFAULT_STEPS:,}; counted over all envs)",
    )
    parser.add_argument("--keep-going", action="store_true", help="do not stop once solved")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--num-envs", type=int, default=4, help="parallel environments")
    parser.add_argument(
        "--sleep-every", type=int, default=None, metavar="N", help="env steps between sleeps"
    )
    parser.add_argument(
        "--sleep-steps", type=int, default=None, metavar="K", help="dream updates per sleep"
    )
    parser.add_argument(
        "--config", default=None, metavar="FILE.toml", help="agent config (AgentConfig fields)"
    )
    parser.add_argument("--save", default=None, metavar="CHECKPOINT", help="save here at the end")
    parser.add_argument("--resume", default=None, metavar="CHECKPOINT", help="continue a run")
    parser.add_argument(
        "--log", default=None, metavar="FILE.jsonl", help="append one JSON line per episode"
    )
    parser.add_argument(
        "--print-every", type=int, default=10, metavar="N", help="plain output: every N episodes"
    )
    parser.add_argument(
        "--threads",
        type=_positive_int,
        default=1,
        help="torch CPU threads (1: the agent's small nets run fastest on one thread)",
    )
    parser.set_defaults(handler=run)
    return parser


def snapshot(loop: AgentLoop, last_return: float = math.nan) -> dict[str, Any]:
    """What the dashboard and the plain report show, as plain numbers."""
    agent = loop.agent
    return {
        "episodes": loop.episodes,
        "steps": loop.env_steps,
        "last_return": last_return,
        "mean_return": loop.mean_return,
        "solved_at": loop.solved_at,
        "epsilon": agent.epsilon(),
        "real_goodness": agent.real_goodness,
        "dream_goodness": agent.dream_goodness,
        "sleeps": agent.sleeps,
        "updates": agent.updates,
    }


def _build_config(args) -> AgentConfig:
    config = load_config(args.config) if args.config else AgentConfig()
    return config.replace(sleep_every=args.sleep_every, sleep_steps=args.sleep_steps)


def _checkpoint_state(args, loop: AgentLoop) -> dict[str, Any]:
    return {
        "ffstream": ffstream.__version__,
        "env_id": args.env,
        "num_envs": loop.num_envs,
        "seed": loop.seed,
        "env_steps": loop.env_steps,
        "agent": loop.agent.state_dict(),
        "loop": loop.state_dict(),
        "torch_rng": torch.get_rng_state(),
    }


def _save(args, loop: AgentLoop, console: Console, reason: str) -> Path:
    path = Path(args.save) if args.save else Path.cwd() / INTERRUPTED_CHECKPOINT
    save_agent_checkpoint(path, _checkpoint_state(args, loop))
    console.print(
        f"{reason}: saved checkpoint to {path} ({loop.env_steps:,} env steps)",
        highlight=False,
        soft_wrap=True,
    )
    return path


def run(args, console: Console) -> int:
    """The ``ffstream run`` handler; returns the exit status."""
    from ffstream import envs
    from ffstream.cli import resolve_device

    torch.set_num_threads(args.threads)
    check_int(args.steps, "--steps", low=0, what="an int >= 0")
    check_int(args.num_envs, "--num-envs", low=1, what="an int >= 1")
    device = resolve_device(args.device)
    state = load_agent_checkpoint(args.resume) if args.resume else None
    if state is not None:
        if state["env_id"] != args.env:
            raise ValueError(
                f"{args.resume} was trained on {state['env_id']}, not {args.env}; "
                f"pass --env {state['env_id']}"
            )
        config = AgentConfig.from_dict(state["agent"]["config"]).replace(
            sleep_every=args.sleep_every, sleep_steps=args.sleep_steps
        )
        seed = int(state["seed"])
    else:
        config = _build_config(args)
        seed = args.seed
    torch.manual_seed(seed)
    env = envs.make(args.env, num_envs=args.num_envs, device=device)
    agent = FFQAgent(
        env.single_observation_space, env.single_action_space, config, seed=seed, device=device
    )
    threshold = solved_threshold(args.env)
    loop = AgentLoop(env, agent, seed=seed, threshold=threshold)
    if state is not None:
        agent.load_state_dict(state["agent"])
        loop.load_state_dict(state["loop"])
        torch.set_rng_state(state["torch_rng"])
        console.print(f"resumed {args.resume} at {loop.env_steps:,} env steps")
    log_file = open(args.log, "a", encoding="utf-8") if args.log else None  # noqa: SIM115
    start = time.perf_counter()
    try:
        _train(args, loop, console, threshold, log_file)
    except KeyboardInterrupt:
        _save(args, loop, console, "interrupted")
        return 130
    except EnvStepError as err:
        console.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
        _save(args, loop, console, "environment error")
        return 1
    finally:
        if log_file is not None:
            log_file.close()
        env.close()
    _summary(loop, console, time.perf_counter() - start, threshold)
    if args.save:
        _save(args, loop, console, "done")
    return 0


def _train(
    args, loop: AgentLoop, console: Console, threshold: float | None, log: IO[str] | None
) -> None:
    def finished(loop: AgentLoop) -> bool:
        solved = loop.solved_at is not None and not args.keep_going
        return loop.env_steps >= args.steps or solved

    def log_episodes(episodes) -> None:
        for ep in episodes:
            if log is not None:
                record = {**ep.to_json(), "mean_return": loop.mean_return}
                record["mean_return"] = None if math.isnan(loop.mean_return) else loop.mean_return
                log.write(json.dumps(record) + "\n")
                log.flush()

    title = f"ffstream run · {args.env} · seed {loop.seed} · {loop.num_envs} envs"
    if console.is_terminal:
        with Dashboard(console, args.steps, title, threshold, loop.env_steps) as dash:
            next_draw = 0.0
            while not finished(loop):
                episodes = loop.step()
                log_episodes(episodes)
                for ep in episodes:
                    dash.add_episode(ep.ret)
                if time.perf_counter() >= next_draw or finished(loop):
                    last = episodes[-1].ret if episodes else dash._stats.get("last_return")
                    dash.update(snapshot(loop, math.nan if last is None else last))
                    next_draw = time.perf_counter() + 0.25
        return
    report = PlainReport(console, args.print_every)
    while not finished(loop):
        episodes = loop.step()
        log_episodes(episodes)
        for ep in episodes:
            report.episode({**snapshot(loop, ep.ret), "episodes": ep.episode})


def _summary(loop: AgentLoop, console: Console, seconds: float, threshold: float | None) -> None:
    if loop.solved_at is not None:
        verdict = f"solved at {loop.solved_at:,} env steps (100-episode mean >= {threshold:g})"
    elif threshold is not None:
        best = "—" if math.isinf(loop.best_mean) else f"{loop.best_mean:.1f}"
        verdict = f"not solved (best 100-episode mean {best}, threshold {threshold:g})"
    else:
        verdict = "no solved threshold known for this env"
    mean = "—" if math.isnan(loop.mean_return) else f"{loop.mean_return:.1f}"
    console.print(
        f"{loop.env_steps:,} env steps, {loop.episodes:,} episodes in {seconds:.1f} s; "
        f"last 100-episode mean return {mean}; {verdict}",
        highlight=False,
        soft_wrap=True,
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value
