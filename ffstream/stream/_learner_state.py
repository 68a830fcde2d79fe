"""A :class:`~ffstream.stream.StreamLearner`'s checkpoint state: gather, check, restore.

Restoring is split in two so that a bad checkpoint changes nothing: :func:`check_learner_state`
reads everything and raises ``ValueError`` naming the first part that does not fit the learner;
only then does :func:`apply_learner_state` write, and for checked data it cannot fail (but for a
custom schedule's state, which is undone if it is refused).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from ffstream.stream.checkpoint import to_spec
from ffstream.stream.config import LearnerConfig
from ffstream.stream.state_checks import (
    check_counters,
    check_generator_state,
    check_memory_state,
    check_optimizer_state,
    check_tensors,
)

if TYPE_CHECKING:
    from ffstream.stream.core import LearnerCore

__all__ = [
    "apply_learner_state",
    "check_learner_config",
    "check_memories",
    "check_learner_state",
    "learner_state",
    "saved_config",
]

COUNTERS = ("frames_seen", "sleeps", "awake_updates")
STATE_KEYS = (
    "schedule",
    "dreams",
    "schedule_state",
    "net",
    "net_optimizer",
    "readout",
    "readout_optimizer",
    "averaged",
    "memory",
    "recent",
    "generator",
    "counters",
)


def learner_state(learner: LearnerCore) -> dict[str, Any]:
    """The learner's state entry of a checkpoint: plain data and tensors only."""
    readout, averaged = learner.readout, learner.averaged
    return {
        "schedule": to_spec(learner.schedule),
        "dreams": to_spec(learner.dreams),
        "net": learner.net.state_dict(),
        "net_optimizer": learner.net.optimizer.state_dict(),
        "readout": None if readout is None else readout.state_dict(),
        "readout_optimizer": None if readout is None else readout.optimizer.state_dict(),
        "averaged": None if averaged is None else averaged.state_dict(),
        "memory": learner.memory.state_dict(),
        "recent": learner.recent.state_dict(),
        "schedule_state": learner.schedule.state_dict(),
        "generator": learner.generator.get_state(),
        "counters": {name: getattr(learner, name) for name in COUNTERS},
        "standardizer": _standardizer_state(learner.standardizer),
    }


def _standardizer_state(standardizer) -> dict[str, Any] | None:
    if standardizer is None:
        return None
    return {"count": standardizer.count, **standardizer.state_dict()}


def _check_standardizer(saved: Any, standardizer, frames_seen: int) -> None:
    """A saved standardiser (None in files from before it existed) that fits the learner's."""
    if standardizer is None or saved is None:
        if saved is not standardizer:
            mine = "has none" if standardizer is None else "has one"
            raise ValueError(f"standardizer: the checkpoint and this learner differ (it {mine})")
        return
    if not isinstance(saved, dict):
        raise ValueError(f"standardizer: expected a dict, got {type(saved).__name__}")
    check_counters({"count": saved.get("count")}, ["count"], "standardizer")
    buffers = {key: value for key, value in saved.items() if key != "count"}
    check_tensors(buffers, standardizer.state_dict(), "standardizer")
    if saved["count"] > frames_seen:
        raise ValueError("standardizer: counted more frames than the learner has seen")
    if bool((buffers["var"] < 0).any()):
        raise ValueError("standardizer: a variance is negative")


#: Settings that checkpoints written before they existed ran with (not today's defaults).
_BEFORE_THEY_EXISTED = {
    "readout_decay": 0.003,
    "weight_decay": 0.0,
    "standardize": False,
    "readout_reads_input": False,
    "ema_fallback_window": None,  # their average always predicted
}


def saved_config(data: Any) -> LearnerConfig:
    """A checkpoint's config as a :class:`LearnerConfig`; ``ValueError`` if it is not one."""
    if isinstance(data, dict):
        data = {**_BEFORE_THEY_EXISTED, **data}
    try:
        return LearnerConfig.from_dict(data)
    except (ValueError, TypeError) as err:
        raise ValueError(f"the checkpoint's config is not valid: {err}") from None


def check_learner_config(saved: LearnerConfig, mine: LearnerConfig, kind: str) -> None:
    """``ValueError`` naming every setting in which a checkpoint's config differs from ours."""
    if saved != mine:
        differences = ", ".join(
            f"{name}={saved[name]!r} (this learner: {mine[name]!r})"
            for name in mine
            if saved[name] != mine[name]
        )
        raise ValueError(f"the checkpoint was made by a {kind} with another config: {differences}")


def check_memories(state: dict[str, Any], learner: LearnerCore, owner: str = "") -> None:
    """Refuse (``ValueError``) saved ``memory``, ``recent`` and ``generator`` entries of
    ``state`` that do not fit ``learner``; ``owner`` prefixes the names in the message (a
    rank's part of a data-parallel checkpoint)."""
    for name in ("memory", "recent"):
        check_memory_state(
            state[name],
            getattr(learner, name),
            row_shape=(learner.num_features,),
            dtype=torch.float32,
            num_classes=learner.num_classes,
            name=f"{owner}{name}",
        )
    check_generator_state(state["generator"], learner.generator, f"{owner}generator")


def check_learner_state(learner: LearnerCore, state: Any) -> dict[str, Any]:
    """A checkpoint's learner state, once all of it is known to fit ``learner``.

    Reads the learner, never writes it. The caller checks the config.
    """
    if not isinstance(state, dict):
        raise ValueError(f"the checkpoint's state is a {type(state).__name__}, not a dict")
    missing = [key for key in STATE_KEYS if key not in state]
    if missing:
        raise ValueError(f"the checkpoint's state lacks {missing}")
    spec, mine = state["schedule"], to_spec(learner.schedule)["type"]
    if not isinstance(spec, dict) or spec.get("type") != mine:
        found = spec.get("type") if isinstance(spec, dict) else spec
        raise ValueError(f"the checkpoint's schedule is {found!r}, this learner's is {mine!r}")
    if not isinstance(state["schedule_state"], dict):
        raise ValueError("the checkpoint's schedule_state is not a dict")
    check_tensors(state["net"], learner.net.state_dict(), "net")
    check_optimizer_state(state["net_optimizer"], learner.net.optimizer, "net_optimizer")
    if learner.readout is None:  # files of learners that trained an unused readout
        state = {**state, "readout": None, "readout_optimizer": None}
        averaged = state["averaged"]
        if isinstance(averaged, dict):  # its average holds that readout too: drop it
            state["averaged"] = {
                k: v for k, v in averaged.items() if not k.startswith("module.readout.")
            }
    averaged = state["averaged"]
    if learner.averaged is not None and isinstance(averaged, dict) and "live_lead" not in averaged:
        # saved before the average kept score against the weights: it starts level
        state = {**state, "averaged": {**averaged, "live_lead": torch.zeros(())}}
    for name, module in (("readout", learner.readout), ("averaged", learner.averaged)):
        if module is None and state[name] is not None:
            raise ValueError(f"the checkpoint holds a {name}, this learner has none")
        if module is not None:
            check_tensors(state[name], module.state_dict(), name)
    if learner.readout is not None:
        optimizer = learner.readout.optimizer
        check_optimizer_state(state["readout_optimizer"], optimizer, "readout_optimizer")
    check_memories(state, learner)
    counters = check_counters(state["counters"], COUNTERS)
    _check_standardizer(state.get("standardizer"), learner.standardizer, counters["frames_seen"])
    if counters["awake_updates"] > counters["frames_seen"]:
        raise ValueError("counters: more awake updates than frames seen")
    return state


def apply_learner_state(learner: LearnerCore, state: dict[str, Any]) -> None:
    """Write :func:`check_learner_state`'s checked ``state`` into the learner."""
    schedule = learner.schedule
    before = schedule.state_dict()
    try:  # a custom schedule's state can only be checked by trying: undone if refused
        schedule.load_state_dict(state["schedule_state"])
    except Exception as err:
        schedule.load_state_dict(before)
        raise ValueError(f"schedule_state does not fit {schedule!r}: {err}") from None
    learner.net.load_state_dict(state["net"])
    learner.net.optimizer.load_state_dict(state["net_optimizer"])
    if learner.readout is not None:
        learner.readout.load_state_dict(state["readout"])
        learner.readout.optimizer.load_state_dict(state["readout_optimizer"])
    if learner.averaged is not None:
        learner.averaged.load_state_dict(state["averaged"])
    for name in ("memory", "recent"):  # copies: never share storage with the caller's state
        part = {k: v.clone() if torch.is_tensor(v) else v for k, v in state[name].items()}
        getattr(learner, name).load_state_dict(part, learner.device)
    learner.generator.set_state(state["generator"])
    saved = state.get("standardizer")
    if saved is not None:
        learner.standardizer.load_state_dict({k: v for k, v in saved.items() if k != "count"})
        learner.standardizer.restore_count(saved["count"])
    for name in COUNTERS:
        setattr(learner, name, int(state["counters"][name]))
