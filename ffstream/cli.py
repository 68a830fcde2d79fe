"""The ``ffstream`` command line."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from rich.console import Console
from rich.markup import escape

import ffstream
from ffstream._io import write_json

__all__ = ["build_parser", "find_benchmarks", "main", "resolve_device"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ffstream",
        description="Streaming, continual learning with the Forward-Forward algorithm.",
    )
    parser.add_argument("--version", action="version", version=f"ffstream {ffstream.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_bench(commands)
    _add_run(commands)
    _add_eval(commands)
    envs = commands.add_parser(
        "envs",
        help="list the environment ids that --env accepts",
        description="ffstream's own (torch-vectorised) ids; with --all, gymnasium's too. Any "
        "gymnasium id, or 'package.module:attr', works with --env.",
    )
    envs.add_argument("--all", action="store_true", help="also list gymnasium's registered ids")
    envs.set_defaults(handler=_envs)
    return parser


def find_benchmarks() -> ModuleType:
    """Import the benchmark lab (the repository's ``benchmarks/`` folder, outside the package).

    Looked for in ``$FFSTREAM_BENCHMARKS``, beside the ``ffstream`` source folder (a checkout
    installed with ``pip install -e .``) and in the working directory. Raises
    ``FileNotFoundError`` saying what to do when none has it (an installed wheel).
    """
    candidates = []
    if os.environ.get("FFSTREAM_BENCHMARKS"):
        candidates.append(Path(os.environ["FFSTREAM_BENCHMARKS"]))
    candidates += [Path(ffstream.__file__).resolve().parents[1] / "benchmarks"]
    candidates += [Path.cwd() / "benchmarks"]
    for folder in candidates:
        if (folder / "lab.py").is_file() and (folder / "__init__.py").is_file():
            parent = str(folder.resolve().parent)
            if parent not in sys.path:
                sys.path.insert(0, parent)
            return importlib.import_module("benchmarks")
    raise FileNotFoundError(
        "the benchmark suites live in the benchmarks/ folder of an ffstream source checkout, "
        "not in the installed package: clone the repository and run `ffstream bench` there "
        "(pip install -e .), or set FFSTREAM_BENCHMARKS to that folder"
    )


def _add_bench(commands) -> None:
    parser = commands.add_parser("bench", help="run a benchmark suite and record its results")
    try:
        lab = find_benchmarks()
    except FileNotFoundError as err:
        parser.add_argument("suite_and_options", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        parser.set_defaults(handler=_no_benchmarks, reason=str(err))
        return
    from benchmarks.lab import add_suite_arguments

    suites = parser.add_subparsers(dest="suite", metavar="SUITE", required=True)
    for name in lab.SUITES:
        try:
            suite = lab.load_suite(name)
        except Exception as err:  # one broken suite must not take the others down
            sub = suites.add_parser(name, help=f"(cannot be loaded: {err})")
            sub.add_argument("options", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
            sub.set_defaults(handler=_no_benchmarks, reason=f"suite {name} cannot load: {err}")
            continue
        sub = suites.add_parser(name, help=suite.DESCRIPTION, description=suite.DESCRIPTION)
        add_suite_arguments(sub, suite)
        sub.set_defaults(handler=_bench, suite_module=suite)


def _no_benchmarks(args, console: Console) -> int:
    raise FileNotFoundError(args.reason)


def _add_run(commands) -> None:
    from ffstream.run import add_parser

    add_parser(commands)


def _add_eval(commands) -> None:
    from ffstream.eval_run import add_parser

    add_parser(commands)


def resolve_device(name: str) -> str:
    """``"auto"`` becomes ``"cuda"`` when a GPU is visible, else ``"cpu"``; any other name must
    be a device this machine has (``ValueError`` saying which ones it has otherwise)."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        device = None
    if device is None or device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unknown device {name!r}; use cpu, cuda, cuda:N, mps or auto")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} asked for, but no CUDA device is available")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ValueError(f"device {name!r} asked for, but there are {count} CUDA device(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {name!r} asked for, but MPS is not available here")
    return name


def _bench(args, console: Console) -> int:
    from benchmarks.lab import run_suite

    args.device = resolve_device(args.device)
    result = run_suite(args.suite_module, args, console)
    if args.out:
        write_json(args.out, result)
        console.print(f"wrote {args.out}")
    return 0


def _envs(args, console: Console) -> int:
    from ffstream import envs

    ids = envs.list_envs()
    if args.all:
        import gymnasium

        ids += sorted(set(gymnasium.registry) - set(ids))
    for env_id in ids:
        console.print(env_id, highlight=False)
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
        # escape: messages quote user input and pip extras such as "gymnasium[box2d]"
        console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False, soft_wrap=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
