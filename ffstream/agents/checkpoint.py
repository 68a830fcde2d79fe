"""Agent checkpoints: one file, written atomically, read without running pickled code.

Like :mod:`ffstream.stream.checkpoint`, the file is a ``torch.save`` archive of plain data
(tensors, numbers, strings, lists, dicts) and is read with ``torch.load(weights_only=True)``, so a
file that carries pickled objects is refused before anything in it runs.

Its tag names the layout of the agent's state: :data:`AGENT_FORMAT` since the agent's parts are
the learner core's. Files of the earlier layout (:data:`LEGACY_AGENT_FORMAT`, the agent's own
layer modules, observation normaliser and sleep counter) are converted on reading
(:func:`upgrade_agent_state`); anything else is refused with a ``ValueError`` naming it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

import ffstream
from ffstream.stream.checkpoint import load_checkpoint, save_checkpoint

__all__ = [
    "AGENT_FORMAT",
    "LEGACY_AGENT_FORMAT",
    "agent_file_state",
    "load_agent_checkpoint",
    "nonfinite_tensors",
    "save_agent_checkpoint",
    "upgrade_agent_state",
]

#: The tag of the agent files this ffstream writes.
AGENT_FORMAT = "ffstream.Agent/2"
#: The tag of the files written before the agent's parts were the learner core's; read and
#: converted.
LEGACY_AGENT_FORMAT = "ffstream.Agent/1"
#: The entries of an agent's state (:meth:`FFQAgent.state_dict <ffstream.agents.FFQAgent>`).
AGENT_STATE_KEYS = (
    "config",
    "num_features",
    "num_actions",
    "layers",
    "targets",
    "optimizer",
    "standardizer",
    "memory",
    "rng",
    "schedule",
    "counters",
    "stats",
)
# ... and of the earlier layout: its normaliser, no schedule (a counter instead).
_LEGACY_KEYS = (*(k for k in AGENT_STATE_KEYS if k not in ("standardizer", "schedule")), "obs_norm")


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
    """Read an agent checkpoint safely, its agent state in the current layout (a file of the
    earlier layout is converted); ``ValueError`` for unsafe, foreign or corrupt files."""
    try:
        return load_checkpoint(path, map_location="cpu", fmt=AGENT_FORMAT)
    except ValueError as err:
        try:
            state = load_checkpoint(path, map_location="cpu", fmt=LEGACY_AGENT_FORMAT)
        except ValueError:
            raise err from None
    if isinstance(state.get("agent"), dict):
        try:
            state["agent"] = upgrade_agent_state(state["agent"])
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None
    return {**state, "format": AGENT_FORMAT}


def upgrade_agent_state(state: Any) -> dict[str, Any]:
    """An agent's state in the current layout: a current one as it is, one of the earlier
    layout (:data:`LEGACY_AGENT_FORMAT`) converted; ``ValueError`` naming what a malformed
    one lacks.

    The conversion keeps what the earlier agent learned: its layers' weights (renamed: the Q
    head now belongs to the FF layer), optimizer state (same parameter order), replay memory,
    generator and counters; its observation normaliser's running mean and sample variance
    become the standardiser's, and its next sleep step the schedule's count.
    """
    if not isinstance(state, dict):
        raise ValueError(f"the agent state is a {type(state).__name__}, not a dict")
    legacy = "obs_norm" in state
    missing = [k for k in (_LEGACY_KEYS if legacy else AGENT_STATE_KEYS) if k not in state]
    if missing:
        kind = f"an agent state of the {LEGACY_AGENT_FORMAT} layout" if legacy else "agent state"
        raise ValueError(f"the {kind} is malformed: it has no {', '.join(map(repr, missing))}")
    if not legacy:
        return state
    try:
        out = {k: v for k, v in state.items() if k != "obs_norm"}
        for key in ("layers", "targets"):  # "<i>.ff.transform.weight" -> "<i>.transform.weight"
            out[key] = {re.sub(r"^(\d+)\.ff\.", r"\1.", k): v for k, v in state[key].items()}
        norm = state["obs_norm"]
        count = int(norm["count"])
        out["standardizer"] = {
            "shift": norm["mean"].float(),
            "offset": torch.zeros_like(norm["mean"], dtype=torch.float32),
            "var": (norm["m2"] / max(count - 1, 1)).float(),
            "count": count,
        }
        counters = dict(state["counters"])
        next_sleep = int(counters.pop("next_sleep"))
        config = state["config"]
        every = int(config.get("sleep_every", 0))
        out["schedule"] = {}
        if every and int(config.get("sleep_steps", 0)):  # env steps since the last sleep
            since = counters["env_steps"] - (next_sleep - every)
            out["schedule"] = {"since": min(max(int(since), 0), every - 1)}
        out["counters"] = counters
    except (KeyError, TypeError, AttributeError) as err:
        raise ValueError(
            f"an agent state of the {LEGACY_AGENT_FORMAT} layout cannot be converted: "
            f"{type(err).__name__}: {err}"
        ) from None
    return out


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
