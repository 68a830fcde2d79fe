"""``ffstream eval CHECKPOINT``: play a saved agent's episodes and report their returns.

The command reads top to bottom::

    check the options  ->  read the saved agent (ffstream.agents.read_saved_agent: the env id,
    seed and config are inside)  ->  env = the saved env id, min(--episodes, 8) copies  ->
    evaluate_episodes(...)  ->  mean ± std of the returns and lengths (or --json)

``--render`` shows the episodes in a window (pygame, the ``render`` extra) and ``--video DIR``
records each one as ``DIR/NAME-episode-N.mp4`` (moviepy, the ``video`` extra); both play one
env at a time, drawn with ``render_mode="rgb_array"``. A missing extra is refused before the
checkpoint is read, with the pip command (status 2).

Nothing is learned and the checkpoint is not written. A missing, foreign, unsafe or corrupt
checkpoint prints one line and exits with status 2, as a bad option does; an environment that
fails while it is built or stepped exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import math
import warnings
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import torch
from rich.console import Console
from rich.markup import escape

from ffstream.agents import (
    EnvStepError,
    FFQAgent,
    evaluate_episodes,
    read_saved_agent,
    solved_threshold,
)
from ffstream.envs import ShowFrames, WindowClosed, record_video
from ffstream.envs.viewer import require_pygame
from ffstream.envs.wrappers import require_moviepy
from ffstream.run_checks import (
    EnvCreateError,
    UsageError,
    check_writable_folder,
    int_at_least,
    make_env,
    one_line_errors,
)

__all__ = ["add_parser", "eval_checkpoint", "summarize"]

#: most envs stepped together: more only adds short-episode bias and memory
MAX_EVAL_ENVS = 8


def add_parser(commands) -> argparse.ArgumentParser:
    """Add the ``eval`` subcommand to the CLI's subparsers."""
    parser = commands.add_parser(
        "eval",
        help="play a saved agent's episodes and report their returns",
        description=(
            "Load a checkpoint written by `ffstream run --save` or agent.save(), build the env "
            "named inside it, play --episodes episodes (greedy unless --no-deterministic) and "
            "print the mean ± std return and episode length. Nothing is learned."
        ),
    )
    one_line_errors(parser)
    parser.add_argument("checkpoint", metavar="CHECKPOINT", help="the saved agent")
    parser.add_argument(
        "--episodes", type=int_at_least(1), default=10, help="episodes to play (default 10)"
    )
    parser.add_argument(
        "--seed", type=int_at_least(0), default=0, help="seeds the envs' resets (default 0)"
    )
    parser.add_argument(
        "--deterministic",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="greedy actions (default); --no-deterministic explores with the saved epsilon",
    )
    parser.add_argument(
        "--num-envs",
        type=int_at_least(1),
        default=None,
        help=f"envs stepped together (default min(--episodes, {MAX_EVAL_ENVS}))",
    )
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N, mps or auto")
    parser.add_argument("--threads", type=int_at_least(1), default=1, help="torch CPU threads")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    show = parser.add_mutually_exclusive_group()
    show.add_argument(
        "--render",
        action="store_true",
        help="show the episodes in a window, one env "
        '(needs pygame: pip install "ffstream[render]")',
    )
    show.add_argument(
        "--video",
        default=None,
        metavar="DIR",
        help="record each episode as DIR/NAME-episode-N.mp4, one env "
        '(needs moviepy: pip install "ffstream[video]")',
    )
    parser.set_defaults(handler=eval_checkpoint)
    return parser


def summarize(returns: list[float], lengths: list[int]) -> dict[str, float]:
    """Mean, population std, min and max of the returns; mean and std of the lengths.

    Examples
    --------
    >>> summarize([1.0, 3.0], [10, 30])["std_return"]
    1.0
    """
    r, n = np.asarray(returns, dtype=float), np.asarray(lengths, dtype=float)
    return {
        "mean_return": float(r.mean()),
        "std_return": float(r.std()),
        "min_return": float(r.min()),
        "max_return": float(r.max()),
        "mean_length": float(n.mean()),
        "std_length": float(n.std()),
    }


def eval_checkpoint(args, console: Console) -> int:
    """The ``ffstream eval`` handler; returns the exit status.

    Raises ``ValueError``/``FileNotFoundError`` (the CLI prints one line, status 2) for a bad
    checkpoint, device or env id.
    """
    from ffstream.cli import resolve_device

    device = resolve_device(args.device)
    drawn = _check_pictures(args)
    saved = read_saved_agent(args.checkpoint)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)  # --no-deterministic draws its exploration from it
    num_envs = 1 if drawn else args.num_envs or min(args.episodes, MAX_EVAL_ENVS)
    try:
        env = make_env(saved.env_id, num_envs, device, **drawn)
    except EnvCreateError as err:
        _error(console, str(err))
        return 1
    try:
        if drawn:
            env = _show_or_record(env, args, saved.path.stem)
        agent = FFQAgent.from_saved(saved, env, device=device)
        returns, lengths = evaluate_episodes(
            agent, env, args.episodes, seed=args.seed, deterministic=args.deterministic
        )
    except (EnvStepError, RuntimeError) as err:
        if isinstance(err.__cause__, WindowClosed):
            _say(console, "the window was closed: evaluation stopped")
            return 0
        _error(console, str(err))
        return 1
    finally:
        env.close()  # writes the last video
    report: dict[str, Any] = {
        "checkpoint": str(saved.path),
        "env": saved.env_id,
        "env_steps": saved.env_steps,
        "episodes": len(returns),
        "seed": args.seed,
        "deterministic": args.deterministic,
        "threshold": solved_threshold(saved.env_id),
        **summarize(returns, lengths),
        "returns": returns,
        "lengths": lengths,
    }
    if args.video is not None:
        report["videos"] = _videos(args.video, saved.path.stem, len(returns))
    if args.json:
        print(json.dumps(report))
    else:
        _print(console, report)
    return 0


def _print(console: Console, r: dict[str, Any]) -> None:
    mode = "greedy" if r["deterministic"] else "epsilon-greedy"
    lines = [
        f"{r['env']} · {r['checkpoint']} ({r['env_steps']:,} env steps) · {r['episodes']} "
        f"episodes, {mode}, seed {r['seed']}",
        f"return {r['mean_return']:.1f} ± {r['std_return']:.1f} (min {r['min_return']:.1f}, "
        f"max {r['max_return']:.1f}); length {r['mean_length']:.1f} ± {r['std_length']:.1f}",
    ]
    threshold = r["threshold"]
    if threshold is not None and not math.isnan(threshold):
        verdict = "at or above" if r["mean_return"] >= threshold else "below"
        lines.append(f"mean return {verdict} the solved threshold {threshold:g}")
    if "videos" in r:
        lines.append(f"{len(r['videos'])} videos: {', '.join(r['videos'])}")
    for line in lines:
        _say(console, line)


def _say(console: Console, text: str) -> None:
    console.print(escape(text), highlight=False, soft_wrap=True)


def _error(console: Console, text: str) -> None:
    console.print(f"[bold red]error:[/] {escape(text)}", highlight=False, soft_wrap=True)


def _check_pictures(args) -> dict[str, str]:
    """``--render``/``--video``: their extras present and the folder writable; the env kwargs."""
    if not (args.render or args.video is not None):
        return {}
    flag = "--render" if args.render else "--video"
    if args.num_envs not in (None, 1):
        raise UsageError(f"{flag} plays one env at a time; drop --num-envs {args.num_envs}")
    if args.video is not None:
        check_writable_folder(args.video, "--video")
    try:
        require_pygame() if args.render else require_moviepy()
    except gymnasium.error.DependencyNotInstalled as err:
        raise UsageError(f"{flag}: {err}") from None
    return {"render_mode": "rgb_array"}


def _show_or_record(env, args, name: str):
    """``env`` (made with ``render_mode="rgb_array"``) in a window or recording its episodes.

    It draws one picture first, so an env that needs a missing package to draw (gymnasium's
    classic control needs pygame even for pictures) is refused before anything is played.
    """
    try:
        env.reset(seed=args.seed)
        env.render()
    except gymnasium.error.DependencyNotInstalled as err:
        flag = "--render" if args.render else "--video"
        raise UsageError(f"{flag}: {err}") from None
    except Exception as err:
        raise EnvStepError(
            f"the environment cannot draw its pictures: {type(err).__name__}: {err}"
        ) from err
    if args.render:
        return ShowFrames(env, caption=f"ffstream eval · {name}")
    with warnings.catch_warnings():  # gymnasium warns when the folder exists: we keep others' files
        warnings.simplefilter("ignore")
        return record_video(env, args.video, episode_trigger=lambda _: True, name_prefix=name)


def _videos(folder: str, name: str, episodes: int) -> list[str]:
    """The video files the episodes were written to (RecordVideo names them by episode)."""
    paths = (Path(folder) / f"{name}-episode-{i}.mp4" for i in range(episodes))
    return [str(p) for p in paths if p.exists()]
