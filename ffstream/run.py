"""``ffstream run``: train the forward-only agent on an environment, with a live dashboard.

The command reads top to bottom like the loop it drives::

    check every option (ffstream.run_checks)  ->  config (defaults <- --config FILE.toml <- CLI
    options, or the --resume checkpoint's)  ->  env = ffstream.envs.make(...)  ->  agent =
    FFQAgent(...)  ->  AgentLoop.step() until --steps env steps or solved  ->  --log JSONL
    / --csv / --tensorboard (ffstream.run_log)  ->  --save checkpoint  ->  --plot

``--nproc N`` runs N data-parallel agent processes on this machine (:mod:`ffstream.run_nproc`);
rank 0 owns the dashboard, the logs and the checkpoint.

Every option is checked before training starts, ``--save`` and ``--log`` included (they must be
writable): a bad value prints one line and exits with status 2. ``--resume FILE`` takes the env
id, seed and config from the checkpoint (``agent.save`` or ``--save`` wrote it); ``--env``,
``--seed`` or ``--config`` beside it must say what the checkpoint says, or are refused.

Stopping: Ctrl-C (SIGINT), SIGTERM (``docker stop``, systemd, SLURM) and SIGHUP (a dropped ssh
session) save a checkpoint (to ``--save``, else ``ffstream-interrupted.ckpt`` in the working
directory) and exit with status 130, 143 and 129. The save is atomic, and signals that arrive
during it are deferred, so it completes. An exception raised by the environment while stepping
saves the same way and exits with status 1 and a one-line message; an environment that fails in
``reset()`` or while it is built exits with status 1 before anything is saved.

Outputs: ``--log`` (JSONL: a header record, then one record per episode), ``--csv`` (one row
per episode, the same fields) and ``--tensorboard DIR`` (the same numbers as scalars; needs the
``tensorboard`` extra), all listed in :mod:`ffstream.run_log`; ``--plot FILE.png`` draws the
learning curve at the end of the run (:mod:`ffstream.run_plot`; needs the ``plot`` extra). A
missing extra is refused before training, with the pip command.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.markup import escape

from ffstream._signals import StopOnSignal, Stopped
from ffstream.agents import AgentLoop, EnvStepError, solved_threshold
from ffstream.agents.checkpoint import agent_file_state, nonfinite_tensors, save_agent_checkpoint
from ffstream.dashboard import Dashboard, PlainReport
from ffstream.distributed import RankLost
from ffstream.run_checks import (
    EnvCreateError,
    RunPlan,
    check_args,
    int_at_least,
    make_env,
    one_line_errors,
)
from ffstream.run_log import RunOutputs, add_output_arguments
from ffstream.run_nproc import add_nproc_argument, run_nproc
from ffstream.run_plot import plot_curve

__all__ = ["DEFAULT_STEPS", "INTERRUPTED_CHECKPOINT", "add_parser", "run", "run_rank0", "snapshot"]

#: env steps of a default run: CartPole-v1 takes a few minutes on a 2-core CPU
DEFAULT_STEPS = 100_000
#: where a signal or an env error saves when no --save was given (in the working directory)
INTERRUPTED_CHECKPOINT = "ffstream-interrupted.ckpt"


def add_parser(commands) -> argparse.ArgumentParser:
    """Add the ``run`` subcommand to the CLI's subparsers."""
    parser = commands.add_parser(
        "run",
        help="train the forward-only agent on an environment",
        description=(
            "Train ffstream's forward-only agent (FFQAgent) on a vector environment. Stops after "
            "--steps env steps, or earlier once the 100-episode mean return reaches the env's "
            "solved threshold (unless --keep-going). Ctrl-C, SIGTERM and SIGHUP save a "
            "checkpoint (--save, else ./ffstream-interrupted.ckpt) and exit 130, 143 and 129."
        ),
    )
    one_line_errors(parser)
    parser.add_argument(
        "--env", default=None, help="environment id (default CartPole-v1; see ffstream envs)"
    )
    parser.add_argument(
        "--steps",
        type=int_at_least(1),
        default=DEFAULT_STEPS,
        help=f"env steps to run at most (default {DEFAULT_STEPS:,}; counted over all envs)",
    )
    parser.add_argument("--keep-going", action="store_true", help="do not stop once solved")
    parser.add_argument("--seed", type=int_at_least(0), default=None, help="default 0")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N, mps or auto")
    parser.add_argument(
        "--num-envs", type=int_at_least(1), default=None, help="parallel environments (default 4)"
    )
    parser.add_argument(
        "--sleep-every", type=int_at_least(0), default=None, metavar="N",
        help="env steps between sleeps",
    )  # fmt: skip
    parser.add_argument(
        "--sleep-steps", type=int_at_least(0), default=None, metavar="K",
        help="dream updates per sleep",
    )  # fmt: skip
    parser.add_argument(
        "--config", default=None, metavar="FILE.toml", help="agent config (AgentConfig fields)"
    )
    parser.add_argument("--save", default=None, metavar="CHECKPOINT", help="save here at the end")
    parser.add_argument(
        "--resume",
        default=None,
        metavar="CHECKPOINT",
        help="continue a run: the env, seed and config come from the checkpoint "
        "(--env, --seed, --config beside it must agree with it)",
    )
    add_output_arguments(parser)
    parser.add_argument(
        "--print-every",
        type=int_at_least(1),
        default=10,
        metavar="N",
        help="plain output: every N episodes",
    )
    parser.add_argument(
        "--threads",
        type=int_at_least(1),
        default=1,
        help="torch CPU threads (1: the agent's small nets run fastest on one thread)",
    )
    add_nproc_argument(parser)
    parser.set_defaults(handler=run)
    return parser


def snapshot(
    loop: AgentLoop, last_return: float = math.nan, last_sleep: int | None = None
) -> dict[str, Any]:
    """What the dashboard, the plain report and the logs show, as plain numbers.

    ``last_sleep`` is the env step count when the agent's latest sleep phase ran (the caller
    sees it after the step that ran it); ``asleep`` is the agent's own state, which is awake
    between steps (a sleep phase runs inside a step).
    """
    agent = loop.agent
    epsilon = getattr(agent, "epsilon", None)
    return {
        "episodes": loop.episodes,
        "steps": loop.env_steps,
        "last_return": last_return,
        "mean_return": loop.mean_return,
        "mean_count": len(loop.recent),
        "window": loop.window,
        "solved_at": loop.solved_at,
        "epsilon": epsilon() if callable(epsilon) else epsilon,
        "td_loss": getattr(agent, "td_loss", None),
        "real_goodness": agent.real_goodness,
        "dream_goodness": agent.dream_goodness,
        "asleep": bool(getattr(agent, "asleep", False)),
        "sleeps": agent.sleeps,
        "last_sleep": last_sleep,
        "updates": agent.updates,
    }


def _checkpoint_state(plan: RunPlan, loop: AgentLoop) -> dict[str, Any]:
    return agent_file_state(
        env_id=plan.env_id,
        num_envs=loop.num_envs,
        seed=loop.seed,
        env_steps=loop.env_steps,
        agent=loop.agent.state_dict(),
        loop=loop.state_dict(),
    )


def _say(console: Console, text: str) -> None:
    console.print(escape(text), highlight=False, soft_wrap=True)


def _error(console: Console, text: str) -> None:
    console.print(f"[bold red]error:[/] {escape(text)}", highlight=False, soft_wrap=True)


def _save(args, plan: RunPlan, loop: AgentLoop, console: Console, reason: str) -> bool:
    """Save to ``--save`` (else the interrupted-checkpoint path); False when nothing was saved."""
    path = Path(args.save) if args.save else Path.cwd() / INTERRUPTED_CHECKPOINT
    state = _checkpoint_state(plan, loop)
    bad = nonfinite_tensors(state["agent"], ("layers", "targets"))
    if bad:  # a NaN network would overwrite a good checkpoint with one that cannot act
        _error(console, f"not saving {path}: the agent's {bad[0]} is not finite")
        return False
    try:
        save_agent_checkpoint(path, state)
    except OSError as err:
        _error(console, f"could not save a checkpoint to {path}: {err}")
        return False
    _say(console, f"{reason}: saved checkpoint to {path} ({loop.env_steps:,} env steps)")
    return True


def run(args, console: Console) -> int:
    """The ``ffstream run`` handler; returns the exit status."""
    plan = check_args(args)
    if args.nproc > 1:
        return run_nproc(args, plan, console)
    torch.set_num_threads(args.threads)
    torch.manual_seed(plan.seed)
    try:
        env = make_env(plan.env_id, plan.num_envs, plan.device)
    except EnvCreateError as err:
        _error(console, str(err))
        return 1
    try:
        return run_rank0(args, plan, env, console)
    finally:
        env.close()


def run_rank0(args, plan: RunPlan, env, console: Console, ranks=None) -> int:
    """Train on ``env`` as ``ffstream run`` does; with ``ranks``
    (:class:`~ffstream.run_nproc.Ranks`), as rank 0 of a data-parallel job."""
    agent = plan.new_agent(env)
    threshold = solved_threshold(plan.env_id)
    try:
        loop = AgentLoop(env, agent, seed=plan.seed, threshold=threshold)
        if plan.state is not None:
            agent.load_state_dict(plan.state["agent"])
            if "loop" in plan.state:  # a bare saved agent starts a fresh loop at its counts
                loop.load_state_dict(plan.state["loop"])  # restarts the envs: reset() again
            if "torch_rng" in plan.state:
                torch.set_rng_state(plan.state["torch_rng"])
    except EnvStepError as err:  # nothing learned yet: nothing worth a checkpoint
        _error(console, str(err))
        return 1
    if ranks is not None:  # after loading: rank 0's model is the one every rank starts from
        loop.agent = ranks.wrap(agent)
    if plan.state is not None:
        _say(console, f"resumed {args.resume} at {loop.env_steps:,} env steps")
    header = {
        "env": plan.env_id,
        "seed": plan.seed,
        "device": plan.device,
        "threads": args.threads,
        "num_envs": loop.num_envs,
        "nproc": args.nproc,
        "steps": args.steps,
        "start_steps": loop.env_steps,
        "resumed_from": args.resume,
        "config": plan.config.to_dict(),
    }
    log = RunOutputs.open(
        header,
        loop.env_steps,
        log=args.log,
        csv_path=args.csv,
        tensorboard=args.tensorboard,
        append=args.log_append,
        keep_curve=args.plot is not None,
    )
    start = time.perf_counter()
    with StopOnSignal() as signals:
        status = _guarded_train(args, plan, loop, console, threshold, log, signals, ranks)
        if status is None:
            signals.hold()  # a signal from here on must not cut the summary or final save short
            _summary(loop, console, time.perf_counter() - start, threshold)
            if ranks is not None:
                _say(console, f"{ranks.world} processes: {ranks.total:,} env steps in all")
            status = 1 if args.save and not _save(args, plan, loop, console, "done") else 0
        if args.plot is not None:  # after the save: a plot is never worth a lost checkpoint
            _plot(args, plan, log, console, threshold)
    if status:
        return status
    late = signals.requested or (signals.deferred[0] if signals.deferred else None)
    return 0 if late is None else 128 + late  # asked to stop as the run ended: say so


def _guarded_train(args, plan, loop, console, threshold, log, signals, ranks) -> int | None:
    """Train; None when the run ended on its own, else the exit status of the stop (saved)."""
    error = None
    try:
        _train(args, plan, loop, console, threshold, log, signals, ranks)
        return None
    except KeyboardInterrupt:
        signals.hold()
        status, reason = 130, "interrupted"
    except Stopped as stop:
        signals.hold()
        status, reason = stop.status, f"{stop}"
    except EnvStepError as err:
        signals.hold()
        status, reason, error = 1, "environment error", str(err)
    except RankLost as err:  # another rank of a --nproc job ended: keep rank 0's model
        signals.hold()
        status, reason, error = 1, "a rank was lost", str(err)
    except FloatingPointError as err:  # an update refused before it touched the weights
        signals.hold()
        status, reason = 1, "diverged (the last good state)"
        error = f"the agent diverged: {err}"
    finally:
        log.close()
    if error is not None:
        _error(console, error)
    _save(args, plan, loop, console, reason)
    return status


def _train(
    args,
    plan: RunPlan,
    loop: AgentLoop,
    console: Console,
    threshold: float | None,
    log: RunOutputs,
    signals: StopOnSignal,
    ranks=None,
) -> None:
    def finished(loop: AgentLoop) -> bool:
        """Called once per step: with ranks, every rank agrees (a collective)."""
        solved = loop.solved_at is not None and not args.keep_going
        if ranks is None:
            signals.check()  # a signal stops the run here, between whole steps
            return loop.env_steps >= args.steps or solved
        done = ranks.agree(loop, solved or signals.requested is not None)
        if done:  # a signal that came after this rank's vote stops every rank at the next
            signals.check()
        return done

    agent, last_sleep, sleeps = loop.agent, None, loop.agent.sleeps

    def step():
        """One vector step; its episodes with the stats right after it."""
        nonlocal last_sleep, sleeps
        episodes = loop.step()
        if agent.sleeps != sleeps:  # a sleep phase ran inside this step, at its last env step
            last_sleep, sleeps = loop.env_steps, agent.sleeps
        stats = snapshot(loop, math.nan, last_sleep)
        for ep in episodes:
            log.episode(ep.to_json(), stats)
        return episodes, stats

    title = f"ffstream run · {plan.env_id} · seed {loop.seed} · {loop.num_envs} envs"
    if ranks is not None:  # rank 0 shows its own steps, of its share of the budget
        title += f" × {ranks.world} processes (rank 0 shown)"
    budget = args.steps if ranks is None else ranks.share()
    if console.is_terminal:
        dash = Dashboard(
            console, budget, title, threshold, loop.env_steps, plan.device, args.threads
        )
        with dash:
            next_draw, latest = 0.0, None
            while not finished(loop):
                episodes, stats = step()
                for ep in episodes:
                    dash.add_episode(ep.ret)
                last = episodes[-1].ret if episodes else dash.last_return
                latest = {**stats, "last_return": last}
                if time.perf_counter() >= next_draw:
                    dash.update(latest)
                    next_draw = time.perf_counter() + 0.25
            if latest is not None:  # the last step is always shown
                dash.update(latest)
        return
    threads = f"{args.threads} thread{'s' if args.threads != 1 else ''}"
    _say(console, f"{title} · {plan.device} · {threads}")  # where it ran, for piped logs
    report = PlainReport(console, args.print_every)
    while not finished(loop):
        episodes, stats = step()
        for ep in episodes:
            report.episode({**stats, "last_return": ep.ret, "episodes": ep.episode})


def _plot(args, plan: RunPlan, log: RunOutputs, console: Console, threshold) -> None:
    try:
        path = plot_curve(
            args.plot, log.curve or [], f"{plan.env_id} · seed {plan.seed}", threshold
        )
    except Exception as err:  # the run itself is done and saved: report, do not fail it
        _error(console, f"could not draw --plot {args.plot}: {type(err).__name__}: {err}")
        return
    _say(console, f"learning curve: {path}")


def _summary(loop: AgentLoop, console: Console, seconds: float, threshold: float | None) -> None:
    if loop.solved_at is not None:
        verdict = f"solved at {loop.solved_at:,} env steps (100-episode mean >= {threshold:g})"
    elif threshold is not None:
        best = "—" if math.isinf(loop.best_mean) else f"{loop.best_mean:.1f}"
        verdict = f"not solved (best 100-episode mean {best}, threshold {threshold:g})"
    else:
        verdict = "no solved threshold known for this env"
    mean = "—" if math.isnan(loop.mean_return) else f"{loop.mean_return:.1f}"
    _say(
        console,
        f"{loop.env_steps:,} env steps, {loop.episodes:,} episodes in {seconds:.1f} s; "
        f"mean return of the last {len(loop.recent)} episodes {mean}; {verdict}",
    )
