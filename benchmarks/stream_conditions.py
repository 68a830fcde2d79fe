"""The conditions of ``stream-mnist``: the ways of learning the stream it compares.

A condition is an FF schedule (with or without positive replay, with further
:class:`~ffstream.stream.StreamLearner` keywords) or an online backprop baseline (with or without
experience replay). The suite runs one of two selections of them:

- :func:`suite_conditions` (the default): interleaved FF, awake/sleep FF at each
  ``sleep_every``, the naive no-replay ablation, and backprop without and with replay;
- :func:`ablation_conditions` (``--ablation``): one lever of the design at a time around the
  default awake/sleep learner.

Both selections name the shared conditions alike (``ff-interleaved``, ``ff-sleep-N``,
``ff-sleep-N-no-replay``), so a run of one is also a run of the other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ffstream.stream import (
    EveryN,
    HybridDreams,
    Interleaved,
    LangevinDreams,
    Schedule,
    WrongLabelDreams,
)

__all__ = [
    "Condition",
    "ablation_conditions",
    "condition_named",
    "selected_conditions",
    "suite_conditions",
]


@dataclass(frozen=True)
class Condition:
    """One way of learning the stream: an FF schedule or backprop, with or without replay."""

    name: str
    kind: str  # "ff" or "backprop"
    schedule: Callable[[], Schedule] | None = None  # a fresh schedule per run (they keep state)
    replay: bool = True  # FF: remembered frames as positives asleep; backprop: experience replay
    options: Callable[[], dict[str, Any]] = dict  # more StreamLearner keywords, made fresh
    about: str = ""  # what the condition changes, for the page


def _sleep(n: int, name: str, about: str, *, replay=True, steps=None, **options) -> Condition:
    """Awake/sleep FF sleeping every ``n`` frames; ``options`` made fresh (callables called)."""
    return Condition(
        name,
        "ff",
        lambda: EveryN(n, steps=steps),
        replay=replay,
        options=lambda: {k: v() if callable(v) else v for k, v in options.items()},
        about=about,
    )


def _interleaved() -> Condition:
    return Condition(
        "ff-interleaved", "ff", Interleaved, about="a positive and a negative update per frame"
    )


def _no_replay(n: int) -> Condition:
    return _sleep(n, f"ff-sleep-{n}-no-replay", "sleeps on dream negatives only", replay=False)


def suite_conditions(sleep_every: tuple[int, ...], ablation_sleep_every: int) -> list[Condition]:
    """The suite's conditions, in the order they run."""
    out = [_interleaved()]
    out += [_sleep(n, f"ff-sleep-{n}", f"a full sleep every {n} frames") for n in sleep_every]
    out.append(_no_replay(ablation_sleep_every))
    out.append(
        Condition("backprop-mlp", "backprop", replay=False, about="online backprop, tuned lr")
    )
    out.append(
        Condition(
            "backprop-replay",
            "backprop",
            about="online backprop with experience replay: FF's memory, replay and steps",
        )
    )
    return out


def ablation_conditions(n: int) -> list[Condition]:
    """The levers of section 5 of the design, one at a time, around the default learner.

    Every condition but the interleaved reference sleeps every ``n`` frames and changes one
    thing: no positive replay, the dreams (uniform wrong labels, unsupervised hybrids, Langevin
    goodness ascent), short fixed sleeps (32 steps, not balanced with the awake updates), the
    learning rate, Hinton's "very low learning rate and extremely high momentum" (SGD), or
    mean-of-squares goodness.
    """
    return [
        _interleaved(),
        _sleep(n, f"ff-sleep-{n}", "the default awake/sleep learner"),
        _no_replay(n),
        _sleep(
            n,
            "dreams-uniform",
            "uniformly drawn wrong labels as dreams",
            dreams=lambda: WrongLabelDreams(hard=False),
        ),
        _sleep(n, "dreams-hybrid", "unsupervised hybrid-mask dreams", dreams=HybridDreams),
        _sleep(n, "dreams-langevin", "Langevin goodness-ascent dreams", dreams=LangevinDreams),
        _sleep(n, "short-sleeps-32", "fixed sleeps of 32 steps", steps=32),
        _sleep(n, "adam-lr1e-4", "Adam, lr 1e-4", lr=1e-4),
        _sleep(n, "adam-lr1e-3", "Adam, lr 1e-3", lr=1e-3),
        _sleep(
            n,
            "sgd-lr1e-3-m0.99",
            "SGD lr 1e-3, momentum 0.99",
            optimizer="sgd",
            lr=1e-3,
            momentum=0.99,
        ),
        _sleep(
            n,
            "sgd-lr1e-2-m0.9",
            "SGD lr 1e-2, momentum 0.9",
            optimizer="sgd",
            lr=1e-2,
            momentum=0.9,
        ),
        _sleep(
            n,
            "sgd-lr1e-5-m0.99",
            "SGD lr 1e-5, momentum 0.99",
            optimizer="sgd",
            lr=1e-5,
            momentum=0.99,
        ),
        _sleep(
            n,
            "sgd-lr1e-5-m0.9",
            "SGD lr 1e-5, momentum 0.9",
            optimizer="sgd",
            lr=1e-5,
            momentum=0.9,
        ),
        _sleep(n, "goodness-mean", "mean-of-squares goodness", goodness="mean"),
    ]


def selected_conditions(cfg: Any) -> list[Condition]:
    """The suite's or (``cfg.ablation``) the ablation's conditions, narrowed to ``cfg.only``.

    Raises ``ValueError`` naming the conditions that exist when a name matches none.
    """
    if cfg.ablation:
        every = ablation_conditions(cfg.ablation_sleep_every)
    else:
        every = suite_conditions(cfg.sleep_every, cfg.ablation_sleep_every)
    if not cfg.only:
        return every
    names = [c.name for c in every]
    unknown = [name for name in cfg.only if name not in names]
    if unknown:
        raise ValueError(f"unknown condition(s) {unknown} for --only; choose from {names}")
    return [c for c in every if c.name in cfg.only]


def condition_named(cfg: Any, name: str) -> Condition:
    """The condition ``name`` of either selection (a record's method)."""
    every = suite_conditions(cfg.sleep_every, cfg.ablation_sleep_every)
    every += ablation_conditions(cfg.ablation_sleep_every)
    for condition in every:
        if condition.name == name:
            return condition
    raise ValueError(f"stream-mnist has no condition {name!r}")
