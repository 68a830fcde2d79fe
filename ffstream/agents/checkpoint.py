"""Agent checkpoints: one file, written atomically, read without running pickled code.

Like :mod:`ffstream.stream.checkpoint`, the file is a ``torch.save`` archive of plain data
(tensors, numbers, strings, lists, dicts) and is read with ``torch.load(weights_only=True)``, so a
file that carries pickled objects is refused before anything in it runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ffstream.stream.checkpoint import load_checkpoint, save_checkpoint

__all__ = ["AGENT_FORMAT", "save_agent_checkpoint", "load_agent_checkpoint"]

AGENT_FORMAT = "ffstream.Agent/1"


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
