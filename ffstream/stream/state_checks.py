"""Checks of a checkpoint's saved parts against the live objects they will be loaded into.

Each ``check_*`` raises ``ValueError`` naming the part and what is wrong, and changes nothing, so
a learner can validate a whole checkpoint (:mod:`ffstream.stream.checkpoint`) before it loads any
of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from ffstream.stream.memory import ClassBalancedMemory, Memory

__all__ = [
    "check_counters",
    "check_generator_state",
    "check_memory_state",
    "check_optimizer_state",
    "check_tensors",
]


def check_tensors(saved: Any, current: dict[str, torch.Tensor], name: str) -> None:
    """Refuse a saved ``state_dict`` unless it has ``current``'s keys, shapes and dtypes.

    Floating-point entries must be finite.
    """
    if not isinstance(saved, dict):
        raise ValueError(f"{name}: expected a dict of tensors, got {type(saved).__name__}")
    missing, unknown = set(current) - set(saved), set(saved) - set(current)
    if missing or unknown:
        raise ValueError(
            f"{name}: entries differ (missing {sorted(map(str, missing))}, "
            f"unexpected {sorted(map(str, unknown))})"
        )
    for key, value in current.items():
        _check_tensor(saved[key], f"{name}[{key!r}]", tuple(value.shape), value.dtype)


def check_optimizer_state(saved: Any, optimizer: torch.optim.Optimizer, name: str) -> None:
    """Refuse a saved optimizer state that would not fit ``optimizer`` exactly.

    Same parameter groups (same parameters, same step size and decay settings), and per-
    parameter state only for its parameters, each tensor of its parameter's shape.
    """
    current = optimizer.state_dict()
    if not isinstance(saved, dict) or not isinstance(saved.get("state"), dict):
        raise ValueError(f"{name}: expected an optimizer state_dict")
    groups = saved.get("param_groups")
    if not isinstance(groups, list) or len(groups) != len(current["param_groups"]):
        raise ValueError(f"{name}: expected {len(current['param_groups'])} parameter groups")
    shapes: dict[int, tuple[int, ...]] = {}
    for i, (group, mine, live) in enumerate(
        zip(groups, current["param_groups"], optimizer.param_groups, strict=True)
    ):
        if not isinstance(group, dict) or group.get("params") != mine["params"]:
            raise ValueError(f"{name}: parameter group {i} holds other parameters")
        for setting in ("lr", "momentum", "betas", "weight_decay", "eps"):
            if setting in mine and group.get(setting, mine[setting]) != mine[setting]:
                raise ValueError(
                    f"{name}: parameter group {i} has {setting}={group.get(setting)!r}, "
                    f"this learner {mine[setting]!r}"
                )
        shapes.update(
            (pid, tuple(p.shape)) for pid, p in zip(mine["params"], live["params"], strict=True)
        )
    for pid, entry in saved["state"].items():
        if pid not in shapes or not isinstance(entry, dict):
            raise ValueError(f"{name}: state for an unknown parameter {pid!r}")
        for key, value in entry.items():
            where = f"{name}[{pid}][{key!r}]"
            if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
                continue
            if key == "step":
                _check_tensor(value, where, (), None)
            else:
                _check_tensor(value, where, shapes[pid], None)


def check_memory_state(
    saved: Any,
    memory: Memory,
    *,
    row_shape: tuple[int, ...],
    dtype: torch.dtype,
    num_classes: int | None,
    value_limit: int | None = None,
    name: str = "memory",
) -> None:
    """Refuse a saved memory that does not fit ``memory`` or breaks its invariants.

    ``row_shape`` and ``dtype`` are those of one stored frame; labels (``num_classes``) are
    stored exactly when the learner has classes; integer frames (symbol windows) hold values
    in ``[0, value_limit)``.
    """
    keys = {"frames", "labels", "size", "seen", "labelled"}
    if isinstance(memory, ClassBalancedMemory):
        keys.add("class_seen")
    if not isinstance(saved, dict) or set(saved) != keys:
        found = sorted(saved) if isinstance(saved, dict) else type(saved).__name__
        raise ValueError(f"{name}: expected entries {sorted(keys)}, got {found}")
    size, seen = (_count(saved[k], f"{name}.{k}") for k in ("size", "seen"))
    labelled = saved["labelled"]
    if not isinstance(labelled, bool):
        raise ValueError(f"{name}.labelled: expected a bool, got {labelled!r}")
    capacity = memory.capacity
    if saved["frames"] is None:
        if size or seen or saved["labels"] is not None:
            raise ValueError(f"{name}: {size} frames stored, but no storage")
        if isinstance(memory, ClassBalancedMemory):
            _class_counts(saved["class_seen"], name, num_classes, seen)
        return
    if labelled != (num_classes is not None):
        raise ValueError(f"{name}.labelled is {labelled}, but the learner has {num_classes=}")
    _check_tensor(saved["frames"], f"{name}.frames", (capacity + 1, *row_shape), dtype)
    _check_tensor(saved["labels"], f"{name}.labels", (capacity + 1,), torch.long)
    if size > capacity or size > seen:
        raise ValueError(f"{name}: size {size} exceeds the capacity {capacity} or seen {seen}")
    if not isinstance(memory, ClassBalancedMemory) and size != min(capacity, seen):
        raise ValueError(f"{name}: size {size} does not follow from seen {seen}")
    if value_limit is not None:
        _check_range(saved["frames"][:size], f"{name}.frames", value_limit)
    if labelled:
        _check_range(saved["labels"][:size], f"{name}.labels", num_classes)
    if isinstance(memory, ClassBalancedMemory):
        counts = _class_counts(saved["class_seen"], name, num_classes, seen)
        stored = set(saved["labels"][:size].tolist())
        if not stored <= set(counts):
            raise ValueError(f"{name}: stores classes {sorted(stored - set(counts))} never seen")


def check_generator_state(saved: Any, generator: torch.Generator, name: str) -> None:
    """Refuse a saved random-generator state that ``generator`` could not take."""
    expected = generator.get_state()
    _check_tensor(saved, name, tuple(expected.shape), expected.dtype)
    try:
        torch.Generator(device=generator.device).set_state(saved)
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"{name}: not a valid generator state ({err})") from None


def check_counters(saved: Any, names: Iterable[str], name: str = "counters") -> dict[str, int]:
    """The saved counters as ints: exactly ``names``, each a non-negative int."""
    names = tuple(names)
    if not isinstance(saved, dict) or set(saved) != set(names):
        found = sorted(saved) if isinstance(saved, dict) else type(saved).__name__
        raise ValueError(f"{name}: expected {sorted(names)}, got {found}")
    return {key: _count(saved[key], f"{name}.{key}") for key in names}


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name}: expected a non-negative int, got {value!r}")
    return value


def _check_tensor(value: Any, name: str, shape: tuple[int, ...], dtype: torch.dtype | None) -> None:
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{name}: expected a tensor, got {type(value).__name__}")
    if tuple(value.shape) != shape:
        raise ValueError(f"{name}: shape {tuple(value.shape)}, expected {shape}")
    if dtype is not None and value.dtype != dtype:
        raise ValueError(f"{name}: dtype {value.dtype}, expected {dtype}")
    if value.is_floating_point() and value.numel() and not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name}: holds NaN or Inf")


def _check_range(values: torch.Tensor, name: str, limit: int) -> None:
    if values.numel() and (int(values.min()) < 0 or int(values.max()) >= limit):
        raise ValueError(f"{name}: values outside [0, {limit})")


def _class_counts(saved: Any, name: str, num_classes: int | None, seen: int) -> dict[int, int]:
    if not isinstance(saved, torch.Tensor) or saved.dim() != 2 or saved.shape[1] != 2:
        raise ValueError(f"{name}.class_seen: expected a (classes, 2) tensor")
    if saved.is_floating_point() or saved.dtype == torch.bool:
        raise ValueError(f"{name}.class_seen: expected integers, got {saved.dtype}")
    counts = {int(k): int(v) for k, v in saved.tolist()}
    if len(counts) != saved.shape[0] or sum(counts.values()) != seen:
        raise ValueError(f"{name}.class_seen: counts do not add up to seen {seen}")
    if any(v < 1 for v in counts.values()):
        raise ValueError(f"{name}.class_seen: holds a class seen fewer than once")
    if counts and num_classes is not None and not 0 <= min(counts) <= max(counts) < num_classes:
        raise ValueError(f"{name}.class_seen: classes outside [0, {num_classes})")
    return counts
