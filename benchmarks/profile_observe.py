"""Where ``StreamLearner.observe``'s time goes, beside the bare loop doing the same work.

``stream-mnist``'s speed runs call :func:`profile_observe` when ``observe`` falls below the
target share of the bare loop's speed (or with ``--profile``); its report lands in the run's
details.
"""

from __future__ import annotations

import cProfile
import pstats
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ffstream
from benchmarks.bare_ff import BareFF, bare_observe
from ffstream.stream import StreamLearner

__all__ = ["profile_observe"]

#: the installed package's folder: functions defined under it are the library's own
PACKAGE = str(Path(ffstream.__file__).resolve().parent) + "/"


def profile_observe(
    learner: StreamLearner, bare: BareFF, sample, labelled: bool, iters: int
) -> dict[str, Any]:
    """Where ``observe``'s time goes: cProfile per function, and torch ops against the bare loop.

    cProfile's own cost inflates functions that make many small calls, so read its microseconds
    as a ranking and an upper bound. The op counts (from ``torch.profiler``) do not depend on
    machine load: at small batches every extra op costs roughly the same few microseconds of
    dispatch, so extra ops per call are the overhead.
    """

    def call_learner(i: int) -> None:
        xb, yb = sample[i % len(sample)]
        learner.observe(xb, yb if labelled else None)

    def call_bare(i: int) -> None:
        xb, yb = sample[i % len(sample)]
        bare_observe(bare, xb, yb if labelled else None)

    for i in range(3):  # warm up
        call_learner(i)
        call_bare(i)
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(iters):
        call_learner(i)
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # (file, line, name) -> (cc, ncalls, tottime, cumtime, _)
    rows = []
    for (file, _line, name), (_cc, ncalls, tottime, cumtime, _callers) in stats.items():
        real = str(Path(file).resolve()) if file.startswith("/") else file
        if real.startswith(PACKAGE):  # the library's own functions, not this harness's
            where = "ffstream/" + real[len(PACKAGE) :] + ":" + name
        elif file == "~":
            where = name  # a builtin: torch ops show up here
        else:
            where = file.rsplit("/", 2)[-1] + ":" + name
        rows.append(
            {
                "function": where,
                "calls_per_observe": ncalls / iters,
                "self_us": 1e6 * tottime / iters,
                "cumulative_us": 1e6 * cumtime / iters,
            }
        )
    observe = next((r for r in rows if r["function"].endswith("learner.py:observe")), None)
    ours = [r for r in rows if r["function"].startswith("ffstream/")]
    ops_learner, ops_bare = _aten_ops(call_learner), _aten_ops(call_bare)
    extra = {
        op: ops_learner.get(op, 0.0) - ops_bare.get(op, 0.0)
        for op in set(ops_learner) | set(ops_bare)
    }
    return {
        "iters": iters,
        "observe_us_profiled": observe["cumulative_us"] if observe else None,
        "ffstream_by_cumulative": sorted(ours, key=lambda r: -r["cumulative_us"])[:25],
        "all_by_self": sorted(rows, key=lambda r: -r["self_us"])[:20],
        "aten_ops_per_call": {
            "observe": sum(ops_learner.values()),
            "bare": sum(ops_bare.values()),
            "extra_by_op": dict(
                sorted(((k, v) for k, v in extra.items() if v), key=lambda kv: -kv[1])[:30]
            ),
        },
    }


def _aten_ops(fn: Callable[[int], Any], calls: int = 2) -> dict[str, float]:
    """Torch (aten) ops per call of ``fn``, by name."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for i in range(calls):
            fn(i)
    return {e.key: e.count / calls for e in prof.key_averages() if e.key.startswith("aten::")}
