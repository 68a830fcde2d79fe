"""Up-front checks for ``ffstream run``: every option is validated before any training starts.

A bad value raises :class:`UsageError` (a ``ValueError``: the CLI prints it as one line and exits
with status 2) naming the option and what it must be. :func:`check_args` turns the parsed options
into a :class:`RunPlan`; :func:`make_env` builds the environment and turns the ways that fails
(unknown id, a gymnasium extra that is not installed) into the same one-line errors.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import typing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ffstream.agents import AgentConfig, FFQAgent, load_config, read_saved_agent
from ffstream.agents.config import read_config_table

__all__ = [
    "EnvCreateError",
    "RunPlan",
    "UsageError",
    "check_args",
    "check_outputs",
    "check_writable",
    "check_writable_folder",
    "int_at_least",
    "make_env",
    "one_line_errors",
    "read_config",
]

#: gymnasium's optional extras, by the module an env's entry point lives in
_EXTRAS = {"box2d": "box2d", "mujoco": "mujoco", "ale_py": "atari", "atari": "atari"}
_LIST_HINT = "`ffstream envs --all` lists the ids"


class UsageError(ValueError):
    """A command-line value that cannot work; the message names the option (exit status 2)."""


class EnvCreateError(RuntimeError):
    """The environment's own code failed while it was being built (exit status 1)."""


@dataclass
class RunPlan:
    """What ``ffstream run`` will do, every value checked."""

    env_id: str
    device: str
    seed: int
    num_envs: int
    config: AgentConfig
    state: dict[str, Any] | None = None
    """The checkpoint to continue from (``--resume``), already read."""

    def new_agent(self, env) -> FFQAgent:
        """A fresh agent for the vector ``env`` with this plan's config, seed and device."""
        return FFQAgent(
            env.single_observation_space,
            env.single_action_space,
            self.config,
            seed=self.seed,
            device=self.device,
        )


def int_at_least(low: int):
    """An argparse ``type`` accepting whole numbers ``>= low`` (the error names the bound).

    Examples
    --------
    >>> int_at_least(1)("3")
    3
    >>> int_at_least(1)("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a whole number >= 1, got '0'
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {low}, got {text!r}")
        return value

    parse.__name__ = f"int >= {low}"
    return parse


def one_line_errors(parser: argparse.ArgumentParser) -> None:
    """Make ``parser`` report a bad option in one line (status 2) instead of usage + error."""

    def error(message: str) -> typing.NoReturn:
        parser.exit(2, f"{parser.prog}: error: {message} (see {parser.prog} --help)\n")

    parser.error = error  # type: ignore[method-assign]


def check_args(args) -> RunPlan:
    """Check every ``ffstream run`` option; the plan to run, or :class:`UsageError`."""
    from ffstream.cli import resolve_device

    if args.env is not None and not args.env.strip():
        raise UsageError(f"--env must name an environment, got {args.env!r}; {_LIST_HINT}")
    nproc = getattr(args, "nproc", 1)
    # a data-parallel job joins a gloo group, which reduces CPU tensors: auto means the CPU
    device = "cpu" if nproc > 1 and args.device == "auto" else resolve_device(args.device)
    if nproc > 1 and device != "cpu":
        raise UsageError(
            f"--nproc {nproc} runs its processes on the CPU (a gloo group); drop --device "
            f"{args.device} or use --device cpu"
        )
    for flag, path in (("--save", args.save), ("--log", args.log)):
        if path is not None:
            check_writable(path, flag)
    check_outputs(args)
    if args.resume is not None:
        plan = _resume_plan(args, device)
    else:
        config = read_config(args.config) if args.config is not None else AgentConfig()
        seed = 0 if args.seed is None else args.seed
        env_id = args.env or "CartPole-v1"
        plan = RunPlan(env_id, device, seed, args.num_envs or 4, config)
    try:
        plan.config = plan.config.replace(
            sleep_every=args.sleep_every, sleep_steps=args.sleep_steps
        )
    except (TypeError, ValueError) as err:
        raise UsageError(f"--sleep-every/--sleep-steps: {err}") from None
    return plan


def check_outputs(args) -> None:
    """``--csv``, ``--plot`` and ``--tensorboard``: writable, and their optional extras there."""
    from ffstream.run_log import EPISODE_FIELDS, summary_writer_class
    from ffstream.run_plot import check_plot

    csv_path = getattr(args, "csv", None)
    if csv_path is not None:
        path = check_writable(csv_path, "--csv")
        if getattr(args, "log_append", False) and path.is_file() and path.stat().st_size:
            with open(path, encoding="utf-8", errors="replace") as file:
                first = file.readline().strip()
            if first != ",".join(EPISODE_FIELDS):  # appended rows would not match the header
                raise UsageError(
                    f"--csv {path} has other columns than ffstream run writes; "
                    "give a new file or drop --log-append"
                )
    plot = getattr(args, "plot", None)
    if plot is not None:
        check_writable(plot, "--plot")
        try:
            check_plot(plot)
        except ValueError as err:
            raise UsageError(str(err)) from None
    folder = getattr(args, "tensorboard", None)
    if folder is not None:
        try:
            summary_writer_class()
        except ImportError as err:
            raise UsageError(str(err)) from None
        check_writable_folder(folder, "--tensorboard")


def _resume_plan(args, device: str) -> RunPlan:
    """``--resume FILE``: the env, seed and config come from the file (one reader of saved
    agents: :func:`~ffstream.agents.read_saved_agent`); ``--env``, ``--seed`` and ``--config``
    may be given too, but only when they say what the file says."""
    try:
        saved = read_saved_agent(args.resume)
    except (ValueError, FileNotFoundError) as err:
        raise UsageError(f"--resume {err}") from None
    path, drop = saved.path, "(the checkpoint names its own)"
    if args.env is not None and args.env != saved.env_id:
        raise UsageError(
            f"--resume {path} was trained on {saved.env_id}, not {args.env}; "
            f"drop --env {drop} or pass --env {saved.env_id}"
        )
    if args.seed is not None and args.seed != saved.seed:
        raise UsageError(
            f"--resume {path} was trained with seed {saved.seed}, not {args.seed}; "
            f"drop --seed {drop} or pass --seed {saved.seed}"
        )
    if args.config is not None:
        _check_same_config(read_config(args.config), saved.config, args)
    num_envs = args.num_envs or saved.num_envs
    return RunPlan(saved.env_id, device, saved.seed, num_envs, saved.config, saved.state)


def _check_same_config(given: AgentConfig, saved: AgentConfig, args) -> None:
    """``--config`` beside ``--resume``: refused unless it (with ``--sleep-every`` and
    ``--sleep-steps`` applied to both) is the checkpoint's config, naming what differs."""
    sleep = {"sleep_every": args.sleep_every, "sleep_steps": args.sleep_steps}
    ours, theirs = given.replace(**sleep).to_dict(), saved.replace(**sleep).to_dict()
    differ = [key for key in theirs if ours[key] != theirs[key]]
    if differ:
        key, more = differ[0], f" (and {len(differ) - 1} more)" if len(differ) > 1 else ""
        raise UsageError(
            f"--config {args.config} is not the config of --resume {args.resume}: {key} is "
            f"{ours[key]!r} in the one, {theirs[key]!r} in the other{more}; "
            "drop --config (the checkpoint holds its own)"
        )


def check_writable(path: str | os.PathLike, flag: str) -> Path:
    """Refuse ``path`` unless a file can be written there (probed with a temporary file).

    Examples
    --------
    >>> import tempfile
    >>> check_writable(tempfile.mkdtemp(), "--save")
    Traceback (most recent call last):
    ...
    ffstream.run_checks.UsageError: --save /... is a directory; give a file path
    """
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{flag} {path} is a directory; give a file path")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # missing folders are made when the file is written
    if not folder.is_dir():
        raise UsageError(f"{flag} {path} cannot be written: {folder} is not a directory")
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(f"{flag} {path} cannot be written: permission denied")
    try:  # os.access is no proof (root, read-only mounts): try a file beside the target
        fd, probe = tempfile.mkstemp(prefix=".ffstream-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise UsageError(f"{flag} {path} cannot be written: {err.strerror or err}") from None
    return path


def check_writable_folder(folder: str | os.PathLike, flag: str) -> Path:
    """Refuse ``folder`` unless files can be written inside it (made when missing, later).

    Examples
    --------
    >>> import tempfile
    >>> check_writable_folder(tempfile.mkstemp()[1], "--video")
    Traceback (most recent call last):
    ...
    ffstream.run_checks.UsageError: --video /... is a file; give a folder
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{flag} {folder} is a file; give a folder")
    probe = folder / "ffstream.probe"
    try:  # the files are written inside the folder: probe there
        check_writable(probe, flag)
    except UsageError as err:
        raise UsageError(str(err).replace(str(probe), str(folder), 1)) from None
    return folder


def read_config(path: str | os.PathLike) -> AgentConfig:
    """``--config``: a readable TOML file whose values have the config fields' types."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"--config {path} is a directory, not a TOML file")
    if not path.exists():
        raise UsageError(f"--config {path}: no config file there")
    try:
        data = read_config_table(path)
    except (OSError, ValueError) as err:
        raise UsageError(f"--config {err}") from None
    _check_types(data, path)
    try:
        return load_config(path)
    except (TypeError, ValueError) as err:
        message = str(err)
        raise UsageError(message if str(path) in message else f"{path}: {message}") from None


def _check_types(data: dict[str, Any], path: Path) -> None:
    """``lr = "x"`` gets "lr must be a number, got 'x'" before any range check sees it."""
    hints = typing.get_type_hints(AgentConfig)
    for item in fields(AgentConfig):
        if item.name not in data or item.name == "extra":
            continue
        value, kind = data[item.name], hints[item.name]
        if kind is bool:
            ok, what = isinstance(value, bool), "true or false"
        elif kind is int:
            ok, what = isinstance(value, int) and not isinstance(value, bool), "a whole number"
        elif kind is float:
            ok, what = isinstance(value, int | float) and not isinstance(value, bool), "a number"
        elif kind is str:
            ok, what = isinstance(value, str), "a string"
        else:  # hidden: a list of widths
            ok = isinstance(value, list) and all(
                isinstance(v, int) and not isinstance(v, bool) for v in value
            )
            what = "a list of whole numbers"
        if not ok:
            raise UsageError(f"{path}: {item.name} must be {what}, got {value!r}")


def make_env(env_id: str, num_envs: int, device: str, **kwargs: Any):
    """``ffstream.envs.make`` (``kwargs`` passed on, e.g. ``render_mode``) with its failures
    as one-line errors that say what to do."""
    import gymnasium

    from ffstream import envs

    try:
        return envs.make(env_id, num_envs=num_envs, device=device, **kwargs)
    except gymnasium.error.DependencyNotInstalled as err:
        raise UsageError(_missing_extra(env_id, str(err))) from None
    except gymnasium.error.NamespaceNotFound as err:
        namespace = env_id.split("/", 1)[0]
        if namespace == "ALE":
            raise UsageError(_missing_extra(env_id, "ale-py is not installed")) from None
        raise UsageError(
            f"unknown environment {env_id!r}: {err} (the package that registers the {namespace} "
            f"namespace is not installed or not imported; {_LIST_HINT})"
        ) from None
    except envs.UnknownEnvError as err:
        raise UsageError(f"{err}; {_LIST_HINT}") from None
    except gymnasium.error.Error as err:  # e.g. a malformed id
        raise UsageError(f"unknown environment {env_id!r}: {err}; {_LIST_HINT}") from None
    except ImportError as err:
        name = getattr(err, "name", None) or str(err)
        raise UsageError(
            f"environment {env_id!r} needs {name!r}, which is not installed (pip install {name})"
        ) from None
    except Exception as err:
        first = str(err).splitlines()[0] if str(err) else ""
        raise EnvCreateError(
            f"environment {env_id!r} failed while it was built: {type(err).__name__}: {first}"
        ) from err


def _missing_extra(env_id: str, reason: str) -> str:
    """Name the pip command for the gymnasium extra ``env_id`` needs."""
    import gymnasium

    extra = "atari" if env_id.startswith("ALE/") else None
    if extra is None:
        try:
            entry = str(gymnasium.spec(env_id).entry_point)
        except Exception:  # no spec: fall back to the reason gymnasium gave
            entry = ""
        extra = next((x for key, x in _EXTRAS.items() if key in entry.split(":")[0]), None)
    if extra is None:
        reason = reason.splitlines()[0].rstrip(".")
        return f"environment {env_id!r} needs a package that is not installed: {reason}"
    install = f'pip install "gymnasium[{extra}]"'
    if extra == "box2d":  # Box2D builds from source with swig
        install = f"pip install swig && {install}"
    what = "atari extra (ale-py)" if extra == "atari" else f"{extra} extra"
    return f"environment {env_id!r} needs gymnasium's {what}, which is not installed: {install}"
