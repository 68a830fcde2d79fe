"""The table ``stream-mnist`` reports on BENCHMARKS.md: its report's records, per condition."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ffstream.eval.metrics import mean_interval

__all__ = ["report_table"]


def report_table(records: list[dict[str, Any]], methods: Sequence[str] = ()) -> str:
    """The report's table on BENCHMARKS.md: per condition, prequential and test accuracy in
    percent (mean ± sample std over seeds, and the 95% Student-t interval of the prequential
    mean) and frames/s; conditions in the order of ``methods``, then by name.

    Examples
    --------
    >>> def rec(method, seed, acc):
    ...     metrics = {"prequential_accuracy": acc, "test_accuracy": acc, "frames_per_s": 50.0}
    ...     return {"method": method, "seed": seed, "metrics": metrics}
    >>> records = [rec("ff-sleep-1000", 0, 0.8), rec("ff-sleep-1000", 1, 0.82)]
    >>> print(report_table(records))
    | method | n | prequential % | 95% interval | test % | frames/s |
    |---|---|---|---|---|---|
    | ff-sleep-1000 | 2 | 81.0 ± 1.4 | 68.3 to 93.7 | 81.0 ± 1.4 | 50 |
    """
    lines = [
        "| method | n | prequential % | 95% interval | test % | frames/s |",
        "|---|---|---|---|---|---|",
    ]
    order = {name: i for i, name in enumerate(methods)}
    by_method: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_method.setdefault(record["method"], []).append(record)
    for method in sorted(by_method, key=lambda m: (order.get(m, len(order)), m)):
        group = by_method[method]

        def stats(name: str, group=group) -> dict[str, Any]:
            return mean_interval([r["metrics"][name] for r in group])

        prequential = stats("prequential_accuracy")
        ci = prequential["ci95"]
        interval = "-" if ci is None else f"{100 * ci[0]:.1f} to {100 * ci[1]:.1f}"
        speed = stats("frames_per_s")["mean"]
        lines.append(
            f"| {method} | {len(group)} | {_percent(prequential)} | {interval} | "
            f"{_percent(stats('test_accuracy'))} | {speed:.0f} |"
        )
    return "\n".join(lines)


def _percent(stats: dict[str, Any]) -> str:
    text = f"{100 * stats['mean']:.1f}"
    return text + (f" ± {100 * stats['std']:.1f}" if stats["std"] is not None else "")
