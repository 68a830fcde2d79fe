"""Agent checkpoints: one file, written atomically, read without running pickled code.

Like :mod:`ffstream.stream.checkpoint`, the file is a ``torch.save`` archive of plain data
(tensors, numbers, strings, lists, dicts) and is read with ``torch.load(weights_only=True)``, so a
file that carries pickled objects is refused before anything in it runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

import ffstream
from ffstream.stream.checkpoint import load_checkpoint, save_checkpoint

__all__ = [
    "AGENT_FORMAT",
    "agent_file_state",
    "load_agent_checkpoint",
    "nonfinite_tensors",
    "save_agent_checkpoint",
]

AGENT_FORMAT = "ffstream.Agent/1"


def agent_file_state(
    *,
    env_id: str,
    num_envs: int,
    seed: int,
    env_steps: int,
    agent: dict[str, Any],
    loop: dict[str, Any],
) -> dict[str, Any]:
    """What a saved agent holds, whoever saves it (``ffstream run --save`` or ``agent.save``):
    the env that rebuilds it, the agent's and the training loop's state, and the torch RNG."""
    return {
        "ffstream": ffstream.__version__,
        "env_id": env_id,
        "num_envs": num_envs,
        "seed": seed,
        "env_steps": env_steps,
        "agent": agent,
        "loop": loop,
        "torch_rng": torch.get_rng_state(),
    }


def save_agent_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` (plain data and tensors) to ``path`` atomically.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "agent.ckpt"
    >>> _ = save_agent_checkpoint(path, {"env_steps": 3})
    >>> load_agent_checkpoint(path)["env_steps"]
    3
    """
    return save_checkpoint(path, state, AGENT_FORMAT)


def load_agent_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read an agent checkpoint safely; ``ValueError`` for unsafe, foreign or corrupt files."""
    return load_checkpoint(path, map_location="cpu", fmt=AGENT_FORMAT)


def nonfinite_tensors(state: dict[str, Any], keys: Iterable[str] | None = None) -> list[str]:
    """Dotted names of the floating-point tensors in ``state`` (only under ``keys``, if given)
    that hold NaN or Inf: a checkpoint of such a network could not act, so callers refuse it.

    Examples
    --------
    >>> nonfinite_tensors({"layers": {"w": torch.tensor([1.0, float("nan")])}, "n": 3})
    ['layers.w']
    """
    found: list[str] = []

    def visit(value: Any, name: str) -> None:
        if isinstance(value, torch.Tensor):
            if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                found.append(name)
        elif isinstance(value, dict):
            for key, item in value.items():
                visit(item, f"{name}.{key}" if name else str(key))
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                visit(item, f"{name}.{i}")

    for key in state if keys is None else keys:
        if key in state:
            visit(state[key], str(key))
    return found
