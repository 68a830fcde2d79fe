"""The ``ffstream`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rich.console import Console

import ffstream
from ffstream import bench
from ffstream._io import write_json

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ffstream",
        description="Streaming, continual learning with the Forward-Forward algorithm.",
    )
    parser.add_argument("--version", action="version", version=f"ffstream {ffstream.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_bench(commands)
    _add_run(commands)
    envs = commands.add_parser("envs", help="list the environment ids that --env accepts")
    envs.set_defaults(handler=_envs)
    return parser


def _add_bench(commands) -> None:
    parser = commands.add_parser("bench", help="run a benchmark suite and write its JSON")
    suites = parser.add_subparsers(dest="suite", metavar="SUITE", required=True)
    for name in bench.SUITES:
        suite = bench.load_suite(name)
        sub = suites.add_parser(name, help=suite.DESCRIPTION, description=suite.DESCRIPTION)
        sub.add_argument("--out", help="write the result JSON here")
        sub.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto")
        sub.add_argument("--quick", action="store_true", help="a small configuration for CPUs")
        suite.add_arguments(sub)
        sub.set_defaults(handler=_bench, suite_module=suite)


def _add_run(commands) -> None:
    from ffstream.run import add_parser

    add_parser(commands)


def resolve_device(name: str) -> str:
    """``"auto"`` becomes ``"cuda"`` when a GPU is visible, else ``"cpu"``."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but no CUDA device is available")
    return name


def _bench(args, console: Console) -> int:
    args.device = resolve_device(args.device)
    result = args.suite_module.run(args, console)
    if args.out:
        write_json(args.out, result)
        console.print(f"wrote {args.out}")
    return 0


def _envs(args, console: Console) -> int:
    from ffstream import envs

    for env_id in envs.list_envs():
        console.print(env_id)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    console = Console(stderr=False)
    try:
        return args.handler(args, console)
    except (ValueError, FileNotFoundError) as err:
        console.print(f"[bold red]error:[/] {err}", highlight=False)
        return 2


if __name__ == "__main__":
    sys.exit(main())
