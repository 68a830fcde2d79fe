"""A :class:`~ffstream.stream.SequenceLearner`'s checkpoint state beyond its core's.

The core's part is checked by :mod:`ffstream.stream._learner_state`. Files written before the
sequence learner ran on the one core (ffstream 0.1.0's, and the first version-2 ones) stored
windows as symbol ids and counted symbols rather than windows: :func:`current_sequence_state`
converts them, checking every id first.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ffstream.stream.checkpoint import to_spec
from ffstream.stream.sequence_config import SequenceConfig
from ffstream.stream.state_checks import check_counters

__all__ = ["check_sequence_state", "current_sequence_state"]

_OLD_COUNTERS = ("symbols_seen", "since_sleep", "awake_updates", "sleeps")


def current_sequence_state(state: Any, cfg: SequenceConfig) -> Any:
    """``state`` in the current layout; an older one converted, anything else as it is."""
    if not isinstance(state, dict) or "symbols_seen" in state:
        return state
    counters = state.get("counters")
    if not isinstance(counters, dict) or "symbols_seen" not in counters:
        return state  # not the old layout: the checks will name what is wrong
    counters = check_counters(counters, _OLD_COUNTERS)
    schedule, dreams = cfg.parts()
    schedule_state = schedule.state_dict()
    if "since" in schedule_state:
        schedule_state["since"] = counters["since_sleep"]
    windows = max(0, counters["symbols_seen"] - cfg.context)
    return {
        **{k: v for k, v in state.items() if k not in ("memory", "recent", "counters")},
        "schedule": to_spec(schedule),
        "dreams": to_spec(dreams),
        "schedule_state": schedule_state,
        "readout": None,
        "readout_optimizer": None,
        "averaged": None,
        "memory": _windows_as_frames(state.get("memory"), cfg.vocab_size, "memory"),
        "recent": _windows_as_frames(state.get("recent"), cfg.vocab_size, "recent"),
        "counters": {
            "frames_seen": max(windows, counters["awake_updates"]),
            "sleeps": counters["sleeps"],
            "awake_updates": counters["awake_updates"],
        },
        "symbols_seen": counters["symbols_seen"],
    }


def _windows_as_frames(memory: Any, vocab_size: int, name: str) -> Any:
    """A memory of symbol-id windows as one-hot context frames labelled by the next symbol."""
    if not isinstance(memory, dict) or not torch.is_tensor(memory.get("frames")):
        return memory
    windows = memory["frames"]
    if windows.dtype != torch.long or windows.dim() != 2 or windows.shape[1] < 2:
        return memory  # not ids: the checks will refuse it by shape or dtype
    size = memory.get("size")
    if not isinstance(size, int) or not 0 <= size <= windows.shape[0]:
        return memory
    if bool(((windows[:size] < 0) | (windows[:size] >= vocab_size)).any()):
        raise ValueError(f"{name}.frames: symbol ids outside [0, {vocab_size})")
    ids = windows.clamp(0, vocab_size - 1)
    labels = ids[:, -1].clone()
    labels[size:] = -1  # rows not filled yet, as a memory marks them
    frames = F.one_hot(ids[:, :-1], vocab_size).float().flatten(1)
    return {**memory, "frames": frames, "labels": labels, "labelled": True}


def check_sequence_state(state: dict[str, Any], cfg: SequenceConfig) -> tuple[list, int]:
    """The history and symbol count of a (current) state; ``ValueError`` if they do not fit."""
    for key in ("history", "symbols_seen"):
        if key not in state:
            raise ValueError(f"the checkpoint's state lacks {key!r}")
    history = state["history"]
    if not isinstance(history, list) or len(history) > cfg.context:
        raise ValueError(f"history: expected a list of at most {cfg.context} symbols")
    symbols_seen = check_counters({"symbols_seen": state["symbols_seen"]}, ("symbols_seen",))
    return history, symbols_seen["symbols_seen"]
