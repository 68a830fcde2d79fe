"""Next-symbol learning on the embedded Reber grammar: awake/sleep FF against interleaved FF.

The learner (:class:`~ffstream.stream.sequence.SequenceLearner`) reads one long stream of
embedded Reber strings once, symbol by symbol. Its negatives are its own text: teacher-forced
last symbols and fully self-generated continuations. Scored on held-out strings: the share of
predictions the grammar allows next, beside a uniform guesser's share and the best achievable
with the same context (a lookup table over 20,000 other strings). Because
awake/sleep learning moves in steps at each sleep, accuracy is measured twice: right after a
sleep and ``mid_cycle`` symbols later, in the middle of an awake phase.

Run: ``ffstream bench sequence`` (``--quick``: one seed)
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from benchmarks.lab import Column, Context, Page, Run, select
from ffstream.config import option
from ffstream.stream.sequence import (
    ReberString,
    SequenceLearner,
    legal_next_accuracy,
    reber_strings,
)

__all__ = [
    "DESCRIPTION",
    "FULL",
    "NAME",
    "PAGE",
    "QUICK",
    "Config",
    "context_ceiling",
    "run_one",
    "runs",
]

NAME = "sequence"
DESCRIPTION = "embedded Reber grammar: legal next-symbol accuracy, awake/sleep vs interleaved FF"
SCHEDULES = ("sleep", "interleaved")


@dataclass(frozen=True)
class Config:
    """Every setting of the suite, in one place."""

    symbols: int = option(1000, "stream length (ends right after the 5th sleep at 200)")
    mid_cycle: int = option(100, "further symbols, then measured again mid-awake-phase")
    sleep_every: int = option(200, "symbols between sleeps")
    context: int = option(8, "symbols of context the learner sees")
    hidden: tuple[int, ...] = option((64, 64), "hidden widths")
    test_strings: int = option(100, "held-out strings scored")
    schedules: tuple[str, ...] = select(SCHEDULES, "schedules to run", choices=SCHEDULES)
    seeds: tuple[int, ...] = select((0, 1, 2), "seeds")

    def __post_init__(self):
        for name in ("symbols", "mid_cycle", "sleep_every", "context", "test_strings"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")


FULL = Config()
QUICK = Config(seeds=(0,))

PAGE = Page(
    title="Next-symbol learning with self-generated negatives",
    measures=(
        "A `SequenceLearner` reads one stream of embedded Reber strings once, symbol by symbol; "
        "its negatives are its own text. Scored on held-out strings: the share of predictions "
        "the grammar allows next, right after a sleep and again in the middle of the next awake "
        "phase, beside a uniform guesser and the best predictor with the same context (a lookup "
        "table over 20,000 other strings)."
    ),
    command="ffstream bench sequence",
    columns=(
        Column("after_sleep", "legal next, after a sleep", digits=3),
        Column("mid_cycle", "legal next, mid-awake", digits=3),
        Column("chance", "uniform guess", digits=3),
        Column("ceiling", "best with this context", digits=3),
    ),
    anchors=(
        "Hinton (2022), section on sequences: negatives that are the model's own predictions "
        "(teacher-forced or fully self-generated) both worked on Aesop's fables.",
    ),
)


def runs(cfg: Config) -> list[Run]:
    """Each schedule with each seed."""
    return [Run(schedule, seed) for schedule in cfg.schedules for seed in cfg.seeds]


def context_ceiling(context: int, train: list[ReberString], test: list[ReberString]) -> float:
    """Legal next-symbol accuracy of the best predictor that sees only the last ``context``
    symbols, estimated with a lookup table built from ``train`` (the symbol most often legal
    after each context) and scored like :func:`legal_next_accuracy` on ``test``."""

    def positions(strings):
        symbols = [symbol for s in strings for symbol in s.symbols]
        legal = [allowed for s in strings for allowed in s.legal_next]
        for i in range(context, len(symbols)):
            yield tuple(symbols[i - context : i]), legal[i - 1]

    table: defaultdict[tuple[int, ...], Counter] = defaultdict(Counter)
    for key, allowed in positions(train):
        table[key].update(allowed)
    fallback = Counter(symbol for counts in table.values() for symbol in counts.elements())
    default = fallback.most_common(1)[0][0]
    hits = total = 0
    for key, allowed in positions(test):
        counts = table.get(key)
        guess = counts.most_common(1)[0][0] if counts else default
        hits += guess in allowed
        total += 1
    return hits / total


def run_one(cfg: Config, run: Run, ctx: Context) -> dict[str, Any]:
    """Learn the stream with one schedule and seed; score it after a sleep and mid-cycle."""
    test = ctx.cached("test", lambda: reber_strings(cfg.test_strings, seed=10_000))
    stream = [sym for s in reber_strings(cfg.symbols, seed=run.seed) for sym in s.symbols]
    learner = SequenceLearner(
        7,
        context=cfg.context,
        hidden=cfg.hidden,
        sleep_every=cfg.sleep_every,
        schedule=run.method,
        seed=run.seed,
        device=ctx.device,
    )
    learner.observe(stream[: cfg.symbols])
    after_sleep, chance = legal_next_accuracy(learner, test)
    learner.observe(stream[cfg.symbols : cfg.symbols + cfg.mid_cycle])
    mid_cycle, _ = legal_next_accuracy(learner, test)
    ceiling = ctx.cached(
        "ceiling", lambda: context_ceiling(cfg.context, reber_strings(20_000, seed=99), test)
    )
    return {
        "metrics": {
            "after_sleep": after_sleep,
            "mid_cycle": mid_cycle,
            "chance": chance,
            "ceiling": ceiling,
        },
        "sleeps": learner.sleeps,
    }
