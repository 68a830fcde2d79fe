"""Next-symbol learning on the embedded Reber grammar: awake/sleep FF against interleaved FF.

The learner (:class:`~ffstream.stream.sequence.SequenceLearner`) reads one long stream of
embedded Reber strings once, symbol by symbol. Its negatives are its own text: teacher-forced
last symbols and fully self-generated continuations. Scored on held-out strings: the share of
predictions the grammar allows next, beside a uniform guesser's share and the best achievable
with the same context (a lookup table over 20,000 other strings). Because
awake/sleep learning moves in steps at each sleep, accuracy is measured twice: right after a
sleep and ``mid_cycle`` symbols later, in the middle of an awake phase.

Run: ``ffstream bench sequence --out sequence.json``
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from ffstream.bench._common import apply_threads, make_progress, result_skeleton
from ffstream.stream.sequence import (
    ReberString,
    SequenceLearner,
    legal_next_accuracy,
    reber_strings,
)

__all__ = ["DESCRIPTION", "SequenceConfig", "add_arguments", "context_ceiling", "run"]

DESCRIPTION = "embedded Reber grammar: legal next-symbol accuracy, awake/sleep vs interleaved FF"


@dataclass
class SequenceConfig:
    """Hyper-parameters, in one place."""

    symbols: int = 1000  # stream length: ends right after the 5th sleep of sleep_every=200
    mid_cycle: int = 100  # further symbols, then measured again mid-awake-phase
    sleep_every: int = 200
    context: int = 8
    hidden: tuple[int, ...] = (64, 64)
    test_strings: int = 100
    seeds: tuple[int, ...] = (0, 1, 2)
    threads: int | None = 1


def add_arguments(parser) -> None:
    """Options of ``ffstream bench sequence``."""
    parser.add_argument("--seeds", default=None, help="comma-separated seeds (0,1,2)")
    parser.add_argument("--symbols", type=int, default=None, help="stream length (1000)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (1)")


def _config(args) -> SequenceConfig:
    cfg = SequenceConfig()
    if args.seeds:
        cfg.seeds = tuple(int(s) for s in args.seeds.split(","))
    if args.symbols:
        cfg.symbols = args.symbols
    if getattr(args, "quick", False):
        cfg.seeds = cfg.seeds[:1]
    cfg.threads = args.threads if args.threads is not None else cfg.threads
    return cfg


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


def run(args, console: Console) -> dict[str, Any]:
    """Learn the stream with each schedule and seed; returns the result dict."""
    cfg = _config(args)
    args.threads = cfg.threads
    apply_threads(args)
    result = result_skeleton("sequence", args.device, getattr(args, "quick", False), cfg)
    start = time.perf_counter()
    test = reber_strings(cfg.test_strings, seed=10_000)
    runs = []
    with make_progress(console) as progress:
        task = progress.add_task("learning", total=2 * len(cfg.seeds), status="")
        for schedule in ("sleep", "interleaved"):
            for seed in cfg.seeds:
                stream = [sym for s in reber_strings(cfg.symbols, seed=seed) for sym in s.symbols]
                learner = SequenceLearner(
                    7,
                    context=cfg.context,
                    hidden=cfg.hidden,
                    sleep_every=cfg.sleep_every,
                    schedule=schedule,
                    seed=seed,
                    device=args.device,
                )
                learner.observe(stream[: cfg.symbols])
                after_sleep, chance = legal_next_accuracy(learner, test)
                learner.observe(stream[cfg.symbols : cfg.symbols + cfg.mid_cycle])
                mid_cycle, _ = legal_next_accuracy(learner, test)
                runs.append(
                    {
                        "schedule": schedule,
                        "seed": seed,
                        "after_sleep": after_sleep,
                        "mid_cycle": mid_cycle,
                        "chance": chance,
                        "sleeps": learner.sleeps,
                    }
                )
                progress.update(task, advance=1, status=f"{schedule} seed {seed}")
    ceiling = context_ceiling(cfg.context, reber_strings(20_000, seed=99), test)
    result.update({"runs": runs, "ceiling": ceiling, "wall_s": time.perf_counter() - start})
    console.print(_table(cfg, runs))
    console.print(f"best achievable with {cfg.context} symbols of context: {ceiling:.3f}")
    return result


def _table(cfg: SequenceConfig, runs: list[dict[str, Any]]) -> Table:
    table = Table(title=f"embedded Reber, {cfg.symbols} symbols, legal next-symbol accuracy")
    for column in (
        "schedule",
        "seed",
        f"after {cfg.symbols}",
        f"after +{cfg.mid_cycle}",
        "uniform guess",
    ):
        table.add_column(column)
    for r in runs:
        table.add_row(
            r["schedule"],
            str(r["seed"]),
            f"{r['after_sleep']:.3f}",
            f"{r['mid_cycle']:.3f}",
            f"{r['chance']:.3f}",
        )
    return table
