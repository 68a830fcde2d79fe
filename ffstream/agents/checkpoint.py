"""Agent checkpoints: one file, written atomically, read without running pickled code.

Like :mod:`ffstream.stream.checkpoint`, the file is a ``torch.save`` archive of plain data
(tensors, numbers, strings, lists, dicts) and is read with ``torch.load(weights_only=True)``, so a
file that carries pickled objects is refused before anything in it runs.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from ffstream._io import atomic_write

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
    buffer = io.BytesIO()
    torch.save({"format": AGENT_FORMAT, **state}, buffer)
    return atomic_write(path, lambda f: f.write(buffer.getvalue()))


def load_agent_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read an agent checkpoint safely; ``ValueError`` for unsafe, foreign or corrupt files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a readable checkpoint (not a torch.save archive)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(
            f"{path} was refused: it carries pickled objects, which could run code. "
            f"Nothing in it was run. ({str(err).splitlines()[0]})"
        ) from None
    except (RuntimeError, EOFError, OSError) as err:
        raise ValueError(f"{path} is not a readable checkpoint: {err}") from None
    if not isinstance(state, dict) or state.get("format") != AGENT_FORMAT:
        raise ValueError(f"{path} is not an ffstream agent checkpoint (ffstream run --save)")
    return state
