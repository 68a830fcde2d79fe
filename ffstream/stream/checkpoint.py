"""Checkpoints: one versioned schema, written atomically, loaded without running pickled code.

A learner's file is a ``torch.save`` of plain data (tensors, numbers, strings, lists, dicts),
read back with ``torch.load(weights_only=True)``: a file that carries a pickled object is
refused before anything in it can run. Its schema (:data:`FORMAT`, version :data:`VERSION`)::

    {"format": "ffstream.checkpoint", "version": 2,
     "kind": "StreamLearner" | "SequenceLearner", "ffstream": "<version that wrote it>",
     "config": {...}, "state": {...}, "checksum": "<sha256 hex>"}

The checksum is a SHA-256 over a canonical serialisation of everything else in the file
(:func:`checksum`: the kind, the version, the config and the state, tensors by dtype, shape and
bytes), so a flipped bit anywhere in the learned state is refused with ``ValueError`` instead of
loading changed weights. Files of ffstream 0.1.0 (``"ffstream.StreamLearner/1"`` and
``"ffstream.SequenceLearner/1"``, no checksum) are converted on reading
(:func:`as_current`); anything else is refused with a ``ValueError`` that names what it holds.

Components (schedules, dream generators) are stored as *specs*, a type name from ffstream's own
schedules and dream generators plus their parameters, never as pickled objects.

:mod:`ffstream.stream.state_checks` validates a saved part against the live object it will be
loaded into, so a learner can check a whole checkpoint before it changes anything.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from ffstream._io import atomic_write
from ffstream.stream import dreams as dreams_module
from ffstream.stream import own_text as own_text_module
from ffstream.stream import schedules as schedules_module

__all__ = [
    "FORMAT",
    "LEGACY_FORMATS",
    "VERSION",
    "as_current",
    "checksum",
    "envelope",
    "from_spec",
    "load_checkpoint",
    "read_learner_checkpoint",
    "save_checkpoint",
    "to_spec",
    "write_learner_checkpoint",
]

#: The ``format`` tag of every learner checkpoint.
FORMAT = "ffstream.checkpoint"
#: The schema version this ffstream writes (and the newest it reads).
VERSION = 2
#: The tags of ffstream 0.1.0's files, per learner kind; they are converted on reading.
LEGACY_FORMATS = {
    "StreamLearner": "ffstream.StreamLearner/1",
    "SequenceLearner": "ffstream.SequenceLearner/1",
}
_KINDS = tuple(LEGACY_FORMATS)
# The state entries of each kind, as ffstream 0.1.0 wrote them at the top level of its files.
_STATE_KEYS = {
    "StreamLearner": (
        "schedule",
        "dreams",
        "net",
        "net_optimizer",
        "readout",
        "readout_optimizer",
        "averaged",
        "memory",
        "recent",
        "schedule_state",
        "generator",
        "counters",
    ),
    "SequenceLearner": (
        "net",
        "net_optimizer",
        "memory",
        "recent",
        "history",
        "generator",
        "counters",
    ),
}
# Entries a 0.1.0 file may lack (it was written before they existed); None stands in.
_OPTIONAL_LEGACY = {"averaged"}

_BUILTIN = {
    **{name: getattr(schedules_module, name) for name in schedules_module.__all__},
    **{name: getattr(dreams_module, name) for name in dreams_module.__all__},
    "OwnTextDreams": own_text_module.OwnTextDreams,
}


# ---------------------------------------------------------------------------- component specs
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
    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        raise ValueError(f"the checkpoint holds a malformed component spec: {spec!r}")
    cls = _BUILTIN.get(spec["type"])
    if cls is None or spec.get("params") is None:
        raise ValueError(
            f"checkpoint holds a custom {spec['type']}; pass it again when loading "
            f"(StreamLearner.load(path, schedule=..., dreams=...))"
        )
    if not isinstance(spec["params"], dict):
        raise ValueError(f"the checkpoint's {spec['type']} spec has malformed parameters")
    params = dict(spec["params"])
    try:
        if spec["type"] == "OnDrift":
            from river import base, drift

            detector = params.pop("detector")
            detector_cls = getattr(drift, detector["type"])
            if not (
                isinstance(detector_cls, type) and issubclass(detector_cls, base.DriftDetector)
            ):
                raise ValueError(f"{detector['type']} is not a river drift detector")
            params["detector"] = detector_cls(**detector["params"])
        return cls(**params)
    except (TypeError, KeyError, AttributeError, ValueError) as err:
        raise ValueError(f"the checkpoint's {spec['type']} spec cannot be rebuilt: {err}") from None


# ---------------------------------------------------------------------------- files
def save_checkpoint(path: str | os.PathLike, state: dict[str, Any], fmt: str) -> Path:
    """Write ``state`` (plain data and tensors) to ``path`` atomically, tagged with ``fmt``.

    The plain tagged container, for files other than the learners' (the agent's); learners
    write :func:`write_learner_checkpoint`'s versioned schema.
    """
    buffer = io.BytesIO()
    torch.save({"format": fmt, **state}, buffer)
    return atomic_write(path, lambda f: f.write(buffer.getvalue()))


def load_checkpoint(path: str | os.PathLike, map_location=None, *, fmt: str) -> dict[str, Any]:
    """Read a checkpoint tagged ``fmt`` safely. ``ValueError`` for unsafe, foreign or corrupt
    files, ``FileNotFoundError`` for missing ones."""
    state = _read(path, map_location)
    if not isinstance(state, dict) or state.get("format") != fmt:
        raise ValueError(f"{path} is not a {fmt} checkpoint (it holds {_describe(state)})")
    return state


def envelope(kind: str, config: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """A learner's checkpoint in the current schema, without its checksum (see module notes)."""
    import ffstream

    return {
        "format": FORMAT,
        "version": VERSION,
        "kind": kind,
        "ffstream": ffstream.__version__,
        "config": config,
        "state": state,
    }


def write_learner_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Write :func:`envelope`'s ``payload`` with its checksum to ``path`` atomically."""
    buffer = io.BytesIO()
    torch.save({**payload, "checksum": checksum(payload)}, buffer)
    return atomic_write(path, lambda f: f.write(buffer.getvalue()))


def read_learner_checkpoint(path: str | os.PathLike, kind: str) -> dict[str, Any]:
    """Read a ``kind`` learner's file safely, checked and in the current schema.

    Raises
    ------
    FileNotFoundError
        When there is no file at ``path``.
    ValueError
        For files that carry pickled objects, are corrupt, fail their checksum, or hold
        something other than a ``kind`` checkpoint (the message names what they hold).
    """
    return as_current(_read(path, "cpu"), kind, source=str(path), require_checksum=True)


def as_current(
    data: Any, kind: str, *, source: str = "the checkpoint", require_checksum: bool = False
) -> dict[str, Any]:
    """``data`` (a file's contents or a ``state_dict``) in the current schema, checked.

    A current checkpoint must be of ``kind`` and pass its checksum if it carries one (files
    must: ``require_checksum``). An ffstream 0.1.0 checkpoint of ``kind`` (its ``format`` tag,
    or its untagged ``state_dict``) is converted. Anything else is a ``ValueError``.
    """
    if kind not in _KINDS:
        raise ValueError(f"unknown learner kind {kind!r}; expected one of {_KINDS}")
    legacy = LEGACY_FORMATS[kind]
    if isinstance(data, dict) and data.get("format") == FORMAT and data.get("kind") == kind:
        return _checked_current(data, kind, source, require_checksum)
    untagged = isinstance(data, dict) and "format" not in data and {"config", "net"} <= set(data)
    if isinstance(data, dict) and (data.get("format") == legacy or untagged):
        return _converted_legacy(data, kind, source)
    raise ValueError(
        f"{source} is not a {legacy} checkpoint nor a {FORMAT} (version {VERSION}) of kind "
        f"{kind!r}: it holds {_describe(data)}"
    )


def _checked_current(data: dict, kind: str, source: str, require_checksum: bool) -> dict:
    version = data.get("version")
    if version != VERSION:
        raise ValueError(
            f"{source} is a {FORMAT} of version {version!r}; this ffstream reads version "
            f"{VERSION} (and 0.1.0's files)"
        )
    expected = {"format", "version", "kind", "ffstream", "config", "state", "checksum"}
    unknown = set(data) - expected
    missing = expected - set(data) - ({"checksum"} if not require_checksum else set())
    if unknown or missing:
        raise ValueError(
            f"{source} is a malformed {FORMAT}: "
            + "; ".join(
                f"{what} {sorted(map(str, keys))}"
                for what, keys in (("unknown entries", unknown), ("missing entries", missing))
                if keys
            )
        )
    if not isinstance(data["config"], dict) or not isinstance(data["state"], dict):
        raise ValueError(f"{source} is a malformed {FORMAT}: config and state must be dicts")
    if "checksum" in data:
        found = data["checksum"]
        payload = {k: v for k, v in data.items() if k != "checksum"}
        if not isinstance(found, str) or found != checksum(payload):
            raise ValueError(
                f"{source} failed its checksum: the file is corrupt or was changed after it "
                f"was written; nothing was loaded"
            )
    return {k: v for k, v in data.items() if k != "checksum"}


def _converted_legacy(data: dict, kind: str, source: str) -> dict:
    """An ffstream 0.1.0 checkpoint (tagged file or untagged state_dict) in the current schema."""
    missing = [k for k in _STATE_KEYS[kind] if k not in data and k not in _OPTIONAL_LEGACY]
    if not isinstance(data.get("config"), dict) or missing:
        raise ValueError(
            f"{source} is a malformed {LEGACY_FORMATS[kind]} checkpoint "
            f"(missing: {', '.join(missing or ['config'])})"
        )
    # 0.1.0 also saved the process-wide RNG ("cpu_rng"); loading no longer touches it.
    state = {k: data.get(k) for k in _STATE_KEYS[kind]}
    payload = envelope(kind, dict(data["config"]), state)
    payload["ffstream"] = "0.1.0"
    return payload


def _read(path: str | os.PathLike, map_location) -> Any:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    if not zipfile.is_zipfile(path):  # torch.save always writes a zip archive
        raise ValueError(f"{path} is not a readable checkpoint (not a torch.save archive)")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        if "weights only" in str(err).lower() and "global" in str(err).lower():
            raise ValueError(
                f"{path} was refused: it carries pickled objects, which could run code. "
                f"Nothing in it was run. ({first})"
            ) from None
        raise ValueError(f"{path} is not a readable checkpoint (corrupt: {first})") from None
    except Exception as err:  # a damaged archive can fail in many ways: all are refusals
        first = str(err).splitlines()[0] if str(err) else ""
        raise ValueError(
            f"{path} is not a readable checkpoint ({type(err).__name__}: {first})"
        ) from None


def _describe(data: Any) -> str:
    if isinstance(data, dict) and "format" in data:
        found = f"format {data['format']!r}"
        if "version" in data:
            found += f" version {data['version']!r}"
        if "kind" in data:
            found += f" of kind {data['kind']!r}"
        return found
    return f"a {type(data).__name__} without a format tag"


# ---------------------------------------------------------------------------- checksum
def checksum(payload: dict[str, Any]) -> str:
    """SHA-256 (hex) of a canonical serialisation of ``payload``.

    Dicts are hashed in sorted key order and tensors as dtype, shape and raw bytes, so the
    digest depends on the contents only, never on how ``torch.save`` laid them out.

    Examples
    --------
    >>> a = checksum({"w": torch.zeros(2), "n": 1})
    >>> a == checksum({"n": 1, "w": torch.zeros(2)}), a == checksum({"w": torch.ones(2), "n": 1})
    (True, False)
    """
    digest = hashlib.sha256()
    _feed(digest, payload)
    return digest.hexdigest()


def _feed(digest, value: Any) -> None:
    def tag(kind: bytes, text: str = "") -> None:
        raw = text.encode()
        digest.update(kind + len(raw).to_bytes(8, "little") + raw)

    if value is None:
        tag(b"n")
    elif isinstance(value, bool):
        tag(b"b", str(value))
    elif isinstance(value, int):
        tag(b"i", str(value))
    elif isinstance(value, float):
        tag(b"f", value.hex())
    elif isinstance(value, str):
        tag(b"s", value)
    elif isinstance(value, bytes):
        tag(b"y", value.hex())
    elif isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous().reshape(-1)
        tag(b"T", f"{value.dtype}{tuple(value.shape)}")
        digest.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    elif isinstance(value, dict):
        tag(b"d", str(len(value)))
        for key in sorted(value, key=lambda k: (type(k).__name__, repr(k))):
            _feed(digest, key)
            _feed(digest, value[key])
    elif isinstance(value, list | tuple):
        tag(b"l" if isinstance(value, list) else b"t", str(len(value)))
        for item in value:
            _feed(digest, item)
    else:
        raise ValueError(f"a checkpoint cannot hold a {type(value).__name__}")
