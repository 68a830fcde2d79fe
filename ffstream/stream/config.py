"""Every hyper-parameter of :class:`~ffstream.stream.StreamLearner`, in one checked dataclass.

:class:`LearnerConfig` is the learner's single source of truth: the keyword constructor builds
one, :meth:`StreamLearner.from_config <ffstream.stream.StreamLearner.from_config>` takes one,
and checkpoints store one. It checks itself when made, so a bad value (not finite, out of range,
of the wrong type) is refused at once with a ``ValueError`` that names the parameter, never
later, halfway through a stream.

The schedule, the dream generator and the device are objects or placements rather than
hyper-parameters, so they stay arguments of the learner.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ffstream._checks import (
    check_bool,
    check_ema_decay,
    check_fallback_window,
    check_float,
    check_int,
    check_int_tuple,
    check_pixel_shift,
    check_seed,
    check_share,
    is_int,
)
from ffstream.config import check_choices, config_from_dict, option

__all__ = ["LearnerConfig", "default_hidden"]

_OPTIMIZERS = ("adam", "adamw", "sgd")


@dataclass(frozen=True)
class LearnerConfig:
    """Hyper-parameters of :class:`~ffstream.stream.StreamLearner` (see its parameters).

    Values are normalised when the config is made (``in_features=16`` becomes ``(16,)``, lists
    become tuples, numpy numbers plain Python ones) and checked: ``ValueError`` names the first
    bad parameter. The config reads like a dict too (``config["lr"]``, ``{**config}``), as the
    learner's config did before it was a dataclass.

    Examples
    --------
    >>> cfg = LearnerConfig(in_features=16, num_classes=4, hidden=[32, 32])
    >>> cfg.in_features, cfg.hidden, cfg["lr"]
    ((16,), (32, 32), 0.001)
    >>> LearnerConfig(in_features=16, readout_lr=float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: readout_lr must be a finite number > 0, got nan
    """

    in_features: tuple[int, ...] = dataclasses.field(
        metadata={
            "help": "features per frame, or the frame shape (frames are flattened)",
            "choices": None,
            "flag": None,
            "cli": False,
        }
    )
    num_classes: int | None = option(None, "classes of a labelled stream ('none': unlabelled)")
    hidden: tuple[int, ...] | None = option(
        None, "hidden layer widths ('none': two layers sized from the input, default_hidden)"
    )
    memory_capacity: int = option(2000, "long-term memory in frames")
    balanced_memory: bool = option(False, "equal share of the long-term memory per class")
    recent_capacity: int = option(1000, "short-term memory of the frames since the last sleep")
    long_term_share: float = option(
        0.25, "share of each sleep batch recalled from long-term memory"
    )
    replay: bool = option(True, "replay remembered frames as positives while asleep")
    sleep_batch: int = option(32, "remembered frames per sleep step")
    replay_shift: int = option(0, "random shift in pixels of each frame replayed in sleep")
    lr: float = option(1e-3, "step size of the FF layers' local optimizer")
    weight_decay: float = option(
        1e-3, "L2 weight decay of the FF layers' optimizer (bounds their weights' growth)"
    )
    standardize: bool | None = option(
        None,
        "standardise each feature with running statistics that forget and resist outliers "
        "('none': on labelled streams only)",
    )
    readout_lr: float = option(0.001, "SGD step of the linear readout")
    readout_decay: float = option(0.0, "weight decay of the linear readout's SGD")
    readout_reads_input: bool = option(
        True, "the readout reads the (standardised) frame beside the layers' activities"
    )
    readout_learns: str = option("always", "when the readout learns", choices=("always", "asleep"))
    readout_batch: int | None = option(
        None, "long-term memories per asleep readout step ('none': sleep_batch)"
    )
    optimizer: str = option("adam", "local optimizer of the FF layers", choices=_OPTIMIZERS)
    momentum: float = option(0.9, "SGD momentum or Adam's first-moment decay (beta 1)")
    goodness: str = option("sum", "goodness: sum or mean of squares", choices=("sum", "mean"))
    predict_with: str = option(
        "readout", "how classes are predicted", choices=("readout", "goodness")
    )
    goodness_layers: str = option(
        "above-first",
        "whose goodness predict_with='goodness' sums",
        choices=("above-first", "all"),
    )
    ema_decay: float | None = option(0.999, "decay of the predicting weight average ('none': off)")
    ema_fallback_window: int | None = option(
        500,
        "frames over which the weight average must be right as often as the weights that "
        "learn, or they predict instead ('none': the average always predicts)",
    )
    seed: int | None = option(0, "seed of the weights and every random choice ('none': fresh)")

    def __post_init__(self) -> None:
        normalised = _normalise(self)
        for name, value in normalised.items():
            object.__setattr__(self, name, value)
        _check_combinations(self)

    # ------------------------------------------------------------------ dict view
    def __getitem__(self, name: str) -> Any:
        """``config["lr"]``: the value of a field (``KeyError`` for an unknown name)."""
        if name not in _FIELD_NAMES:
            raise KeyError(name)
        return getattr(self, name)

    def __contains__(self, name: object) -> bool:
        return name in _FIELD_NAMES

    def __iter__(self) -> Iterator[str]:
        return iter(_FIELD_NAMES)

    def keys(self) -> tuple[str, ...]:
        """The field names, in order (with :meth:`__getitem__`, ``{**config}`` works)."""
        return _FIELD_NAMES

    def items(self) -> list[tuple[str, Any]]:
        """``(name, value)`` pairs, in field order."""
        return [(name, getattr(self, name)) for name in _FIELD_NAMES]

    def get(self, name: str, default: Any = None) -> Any:
        """The value of field ``name``, or ``default`` if there is no such field."""
        return getattr(self, name) if name in _FIELD_NAMES else default

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists for tuples), for JSON and checkpoints."""
        return {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in ((n, getattr(self, n)) for n in _FIELD_NAMES)
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LearnerConfig:
        """A config from :meth:`to_dict`'s data; an unknown key is a ``ValueError`` naming it.

        Examples
        --------
        >>> LearnerConfig.from_dict({"in_features": [4], "hiden": [8]})
        Traceback (most recent call last):
        ...
        ValueError: unknown StreamLearner config key 'hiden'; did you mean 'hidden'?
        """
        return config_from_dict(cls, data, "StreamLearner")

    @property
    def standardizes(self) -> bool:
        """Whether the learner standardises its input (``standardize``, or labelled if None)."""
        return self.num_classes is not None if self.standardize is None else self.standardize

    def replace(self, **changes: Any) -> LearnerConfig:
        """A copy with some fields changed (checked like a new config)."""
        return dataclasses.replace(self, **changes)


_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(LearnerConfig))


def default_hidden(num_features: int) -> tuple[int, int]:
    """Two hidden layers sized from the input: 4 units per input feature, rounded up to a
    multiple of 16 and kept within [32, 500].

    A 16-feature sensor stream gets a small net that learns and runs fast at batch 1, an
    MNIST-sized frame the 500-500 net the image suites use; beyond a few hundred units the
    width stops helping a one-pass stream more than it costs.

    Examples
    --------
    >>> default_hidden(16), default_hidden(3), default_hidden(784)
    ((64, 64), (32, 32), (500, 500))
    """
    width = min(500, max(32, 16 * math.ceil(4 * num_features / 16)))
    return width, width


# ---------------------------------------------------------------------------- checks
_POSITIVE_INTS = ("memory_capacity", "recent_capacity", "sleep_batch")
_POSITIVE_FLOATS = ("lr", "readout_lr")
_BOOLS = ("balanced_memory", "replay", "readout_reads_input")


def _normalise(cfg: LearnerConfig) -> dict[str, Any]:
    """Every field as its canonical type, or ``ValueError`` naming the first bad one."""
    out: dict[str, Any] = {}
    shape = cfg.in_features
    out["in_features"] = check_int_tuple(
        (shape,) if is_int(shape) else shape,
        "in_features",
        what="a positive int or a non-empty sequence of them",
        given=shape,
    )
    hidden = default_hidden(math.prod(out["in_features"])) if cfg.hidden is None else cfg.hidden
    out["hidden"] = check_int_tuple(hidden, "hidden", given=cfg.hidden)
    if cfg.num_classes is not None:
        out["num_classes"] = check_int(
            cfg.num_classes, "num_classes", low=2, what="an int >= 2 or None"
        )
    for name in _POSITIVE_INTS:
        out[name] = check_int(getattr(cfg, name), name, low=1, what="an int >= 1")
    out["replay_shift"] = check_pixel_shift(cfg.replay_shift, "replay_shift")
    if cfg.readout_batch is not None:
        out["readout_batch"] = check_int(
            cfg.readout_batch, "readout_batch", low=1, what="at least 1 frame or None"
        )
    for name in _BOOLS:
        out[name] = check_bool(getattr(cfg, name), name)
    if cfg.standardize is not None:
        out["standardize"] = check_bool(cfg.standardize, "standardize")
    for name in _POSITIVE_FLOATS:
        out[name] = check_float(getattr(cfg, name), name, lambda v: v > 0, "a finite number > 0")
    out["long_term_share"] = check_share(cfg.long_term_share, "long_term_share")
    out["momentum"] = check_float(cfg.momentum, "momentum", lambda v: 0 <= v < 1, "in [0, 1)")
    for name in ("readout_decay", "weight_decay"):
        out[name] = check_float(getattr(cfg, name), name, lambda v: v >= 0, "a finite number >= 0")
    out["ema_decay"] = check_ema_decay(cfg.ema_decay)
    out["ema_fallback_window"] = check_fallback_window(cfg.ema_fallback_window)
    check_choices(cfg)
    out["seed"] = check_seed(cfg.seed)
    return out


def _check_combinations(cfg: LearnerConfig) -> None:
    """Refuse values that are fine alone but not together."""
    if cfg.balanced_memory and not cfg.num_classes:
        raise ValueError("balanced_memory needs labels: give num_classes")
    if cfg.replay_shift and len(cfg.in_features) < 2:
        raise ValueError(
            f"replay_shift needs image frames: give in_features as (height, width) or "
            f"(channels, height, width), got {cfg.in_features}"
        )
    if cfg.readout_batch is not None and cfg.readout_learns != "asleep":
        raise ValueError(
            "readout_batch sets the asleep readout's batch: it needs readout_learns='asleep' "
            "(with 'always' the readout learns from the replayed sleep batch)"
        )
