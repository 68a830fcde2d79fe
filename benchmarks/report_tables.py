"""What the report tables on BENCHMARKS.md share: records per method, and how statistics read.

A report table has one row per method, in the order the report names them, with statistics
over seeds (:func:`statistics_of`: mean, sample standard deviation and the 95% Student-t
interval of the mean) written in percent (:func:`percent`, :func:`interval`). The continual
suites' table (:func:`benchmarks.continual_report.report_table`) and ``stream-mnist``'s
(:func:`prequential_table`) are built from these pieces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ffstream.eval import mean_interval

__all__ = ["by_method", "interval", "percent", "prequential_table", "statistics_of"]


def by_method(
    records: list[dict[str, Any]], methods: Sequence[str] = ()
) -> list[tuple[str, list[dict[str, Any]]]]:
    """Records grouped by method: the methods of ``methods`` in its order, then the rest by name.

    >>> records = [{"method": "b"}, {"method": "a"}, {"method": "c"}, {"method": "c"}]
    >>> [(method, len(group)) for method, group in by_method(records, ("c", "b"))]
    [('c', 2), ('b', 1), ('a', 1)]
    """
    rank = {method: i for i, method in enumerate(methods)}
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(record["method"], []).append(record)
    return [(m, groups[m]) for m in sorted(groups, key=lambda m: (rank.get(m, len(rank)), m))]


def statistics_of(values: list[float | None]) -> dict[str, Any]:
    """:func:`~ffstream.eval.mean_interval` of the values that are not ``None`` (all ``None``
    when none is: a metric a method does not have)."""
    present = [v for v in values if v is not None]
    if not present:
        return {"mean": None, "std": None, "ci95": None, "n": 0}
    return mean_interval(present)


def percent(stats: dict[str, Any]) -> str:
    """``mean ± std`` in percent, one decimal; the mean alone without a spread, ``-`` without
    a mean.

    >>> [percent(statistics_of(values)) for values in ([0.8, 0.82], [0.8], [None])]
    ['81.0 ± 1.4', '80.0', '-']
    """
    if stats["mean"] is None:
        return "-"
    text = f"{100 * stats['mean']:.1f}"
    return text + (f" ± {100 * stats['std']:.1f}" if stats["std"] else "")


def interval(stats: dict[str, Any]) -> str:
    """The 95% interval of the mean in percent, ``-`` without one (a single seed).

    >>> interval(statistics_of([0.8, 0.82])), interval(statistics_of([0.8]))
    ('68.3 to 93.7', '-')
    """
    ci = stats["ci95"]
    return "-" if ci is None else f"{100 * ci[0]:.1f} to {100 * ci[1]:.1f}"


def prequential_table(records: list[dict[str, Any]], methods: Sequence[str] = ()) -> str:
    """``stream-mnist``'s report: per condition, prequential and test accuracy in percent (the
    95% interval of the prequential mean beside it) and frames/s.

    Examples
    --------
    >>> def rec(method, acc):
    ...     metrics = {"prequential_accuracy": acc, "test_accuracy": acc, "frames_per_s": 50.0}
    ...     return {"method": method, "metrics": metrics}
    >>> print(prequential_table([rec("ff-sleep-1000", 0.8), rec("ff-sleep-1000", 0.82)]))
    | method | n | prequential % | 95% interval | test % | frames/s |
    |---|---|---|---|---|---|
    | ff-sleep-1000 | 2 | 81.0 ± 1.4 | 68.3 to 93.7 | 81.0 ± 1.4 | 50 |
    """
    lines = [
        "| method | n | prequential % | 95% interval | test % | frames/s |",
        "|---|---|---|---|---|---|",
    ]
    for method, group in by_method(records, methods):

        def stats(name: str, group=group) -> dict[str, Any]:
            return statistics_of([r["metrics"][name] for r in group])

        prequential, speed = stats("prequential_accuracy"), stats("frames_per_s")["mean"]
        lines.append(
            f"| {method} | {len(group)} | {percent(prequential)} | {interval(prequential)} | "
            f"{percent(stats('test_accuracy'))} | {speed:.0f} |"
        )
    return "\n".join(lines)
