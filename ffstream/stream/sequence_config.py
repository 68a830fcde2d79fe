"""Every hyper-parameter of :class:`~ffstream.stream.SequenceLearner`, in one checked dataclass.

A sequence learner is the one learner core (:class:`~ffstream.stream.core.LearnerCore`) on
windows of symbols, so :meth:`SequenceConfig.learner_config` maps these settings onto a
:class:`~ffstream.stream.LearnerConfig`: frames are the one-hot context, labels the next symbol,
and a symbol is predicted by the goodness of every candidate.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ffstream._checks import check_float, check_int
from ffstream.config import check_choices, config_from_dict, option
from ffstream.stream.config import LearnerConfig
from ffstream.stream.own_text import OwnTextDreams
from ffstream.stream.schedules import EveryN, Interleaved, Schedule

__all__ = ["SequenceConfig"]


@dataclass(frozen=True)
class SequenceConfig:
    """Hyper-parameters of :class:`~ffstream.stream.SequenceLearner` (see its parameters).

    Checked when made: ``ValueError`` names the first bad parameter.

    Examples
    --------
    >>> cfg = SequenceConfig(vocab_size=7, context=3, hidden=(32, 32))
    >>> cfg.learner_config().in_features, cfg.learner_config().num_classes
    ((21,), 7)
    >>> SequenceConfig(vocab_size=7, sleep_every=0)
    Traceback (most recent call last):
    ...
    ValueError: sleep_every must be an integer of at least 1, got 0
    """

    vocab_size: int = dataclasses.field(
        metadata={"help": "distinct symbols", "choices": None, "flag": None, "cli": False}
    )
    context: int = option(8, "symbols of context before the predicted one")
    hidden: tuple[int, ...] = option((256, 256), "hidden layer widths")
    sleep_every: int = option(200, "symbols between sleeps (schedule='sleep')")
    memory_capacity: int = option(2000, "long-term memory of real windows")
    recent_capacity: int = option(1000, "short-term memory of the windows since the last sleep")
    dreams: str = option(
        "both",
        "the model's own text as negatives",
        choices=("teacher_forced", "generated", "both"),
    )
    schedule: str = option(
        "sleep", "separated phases or the interleaved baseline", choices=("sleep", "interleaved")
    )
    generate_steps: int = option(4, "symbols rolled out per remembered context (generated)")
    sleep_batch: int = option(8, "remembered windows per sleep step")
    dream_temperature: float = option(1.0, "temperature of the dreams' samples")
    lr: float = option(1e-3, "Adam step size of the local updates")
    seed: int | None = option(0, "seed of the weights and every random choice ('none': fresh)")

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(
            self, "vocab_size", check_int(self.vocab_size, "vocab_size", low=2, what="an int >= 2")
        )
        for name in ("context", "sleep_every", "generate_steps"):
            set_(self, name, check_int(getattr(self, name), name, low=1))
        temperature = check_float(
            self.dream_temperature, "dream_temperature", lambda v: v > 0, "a finite number > 0"
        )
        set_(self, "dream_temperature", temperature)
        check_choices(self)
        shared = self.learner_config()  # checks and normalises the settings it shares
        for name in ("hidden", "memory_capacity", "recent_capacity", "sleep_batch", "lr", "seed"):
            set_(self, name, getattr(shared, name))

    def learner_config(self) -> LearnerConfig:
        """The core's config: one-hot contexts as frames, the next symbol as the label."""
        return LearnerConfig(
            in_features=self.context * self.vocab_size,
            num_classes=self.vocab_size,
            hidden=self.hidden,
            memory_capacity=self.memory_capacity,
            recent_capacity=self.recent_capacity,
            sleep_batch=self.sleep_batch,
            # half of each sleep from long-term memory, as the sequence suite measured it (the
            # core's 0.25 was chosen on the streams suite, whose streams drift)
            long_term_share=0.5,
            lr=self.lr,
            predict_with="goodness",
            standardize=False,  # one-hot contexts are already in the units the layers want
            weight_decay=0.0,
            ema_decay=None,  # the sequence suite measured the latest weights' predictions
            seed=self.seed,
        )

    def parts(self) -> tuple[Schedule, OwnTextDreams]:
        """The core's schedule and dream generator for these settings."""
        interleaved = self.schedule == "interleaved"
        schedule = Interleaved() if interleaved else EveryN(self.sleep_every)
        return schedule, OwnTextDreams(self.dreams, self.dream_temperature, self.generate_steps)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists for tuples), for JSON and checkpoints."""
        return {
            f.name: list(v) if isinstance(v, tuple) else v
            for f in dataclasses.fields(self)
            for v in (getattr(self, f.name),)
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SequenceConfig:
        """A config from :meth:`to_dict`'s data; an unknown key is a ``ValueError`` naming it."""
        return config_from_dict(cls, data, "SequenceLearner")
