"""Checkpoints: one file, written atomically, loaded without running any pickled code.

The file is a ``torch.save`` of plain data (tensors, numbers, strings, lists, dicts) and is read
with ``torch.load(weights_only=True)``: a file that carries a pickled object is refused before
anything in it can run. Components are stored as *specs* (a type name from ffstream's own
schedules and dream generators plus their parameters), never as pickled objects.
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
from ffstream.stream import dreams as dreams_module
from ffstream.stream import schedules as schedules_module

__all__ = ["save_checkpoint", "load_checkpoint", "to_spec", "from_spec", "FORMAT"]

FORMAT = "ffstream.StreamLearner/1"

_BUILTIN = {
    **{name: getattr(schedules_module, name) for name in schedules_module.__all__},
    **{name: getattr(dreams_module, name) for name in dreams_module.__all__},
}


def to_spec(component) -> dict[str, Any]:
    """Describe a built-in schedule or dream generator as JSON-able data.

    Examples
    --------
    >>> from ffstream.stream.schedules import EveryN
    >>> to_spec(EveryN(500, steps=10))
    {'type': 'EveryN', 'params': {'frames': 500, 'steps': 10}}
    """
    kind = type(component).__name__
    if _BUILTIN.get(kind) is not type(component):
        return {
            "type": f"{type(component).__module__}.{type(component).__qualname__}",
            "params": None,
        }
    if kind == "OnDrift":
        detector = component.detector
        params = {
            "steps": component.steps,
            "max_frames": component.max_frames,
            "min_frames": component.min_frames,
            "detector": {"type": type(detector).__name__, "params": detector._get_params()},
        }
        return {"type": kind, "params": params}
    params = {k: v for k, v in vars(component).items() if not k.startswith("_")}
    if any(callable(v) for v in params.values()):
        return {"type": kind, "params": None}
    return {"type": kind, "params": params}


def from_spec(spec: dict[str, Any]):
    """Rebuild a component from :func:`to_spec`'s data; ``ValueError`` if it cannot be."""
    cls = _BUILTIN.get(spec["type"])
    if cls is None or spec["params"] is None:
        raise ValueError(
            f"checkpoint holds a custom {spec['type']}; pass it again when loading "
            f"(StreamLearner.load(path, schedule=..., dreams=...))"
        )
    params = dict(spec["params"])
    if spec["type"] == "OnDrift":
        from river import drift

        detector = params.pop("detector")
        params["detector"] = getattr(drift, detector["type"])(**detector["params"])
    return cls(**params)


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any], fmt: str = FORMAT) -> Path:
    """Write ``state`` (plain data and tensors) to ``path`` atomically, tagged with ``fmt``."""
    buffer = io.BytesIO()
    torch.save({"format": fmt, **state}, buffer)
    return atomic_write(path, lambda f: f.write(buffer.getvalue()))


def load_checkpoint(
    path: str | os.PathLike, map_location=None, fmt: str = FORMAT
) -> dict[str, Any]:
    """Read a checkpoint tagged ``fmt`` safely. ``ValueError`` for unsafe, foreign or corrupt
    files, ``FileNotFoundError`` for missing ones."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    if not zipfile.is_zipfile(path):  # torch.save always writes a zip archive
        raise ValueError(f"{path} is not a readable checkpoint (not a torch.save archive)")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(
            f"{path} was refused: it carries pickled objects, which could run code. "
            f"Nothing in it was run. ({str(err).splitlines()[0]})"
        ) from None
    except (RuntimeError, EOFError, OSError) as err:
        raise ValueError(f"{path} is not a readable checkpoint: {err}") from None
    if not isinstance(state, dict) or state.get("format") != fmt:
        found = state.get("format") if isinstance(state, dict) else None
        raise ValueError(f"{path} is not a {fmt} checkpoint (it holds {found or 'something else'})")
    return state
