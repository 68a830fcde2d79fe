"""The streams suite's page tables: one row per stream, one column per method.

Twelve streams by eight methods with five metrics would be ninety rows; the page shows instead
the prequential accuracy (ROC-AUC on the unlabelled stream) as a stream-by-method grid, how far
the default ``StreamLearner`` is from the best baseline on each stream, the last-10% accuracy
of the FF learners beside the best baseline's, and one row per method for speed and memory.
Every record stays in the results folder.
"""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks.lab import Page, Run, is_number
from benchmarks.render import format_cell
from ffstream.data.generators import NUM_CLASSES

__all__ = ["BASELINES", "table"]

#: methods that are not ffstream's: the bar each FF learner is held to
BASELINES = ("logreg", "hat", "arf", "knn", "mlp", "hst")


def _values(records: list[dict], stream: str, method: str, metric: str) -> list[float]:
    return [
        r["metrics"][metric]
        for r in records
        if r["task"] == stream and r["method"] == method and is_number(r["metrics"].get(metric))
    ]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _head(names: list[str]) -> list[str]:
    return [_row(names), "|" + "---|" * len(names)]


def _best_baseline(values: dict[str, list[float]]) -> tuple[str | None, dict[str, float]]:
    """The baseline with the highest mean among ``values`` (method -> numbers), and the means."""
    scored = {m: statistics.fmean(v) for m, v in values.items() if v and m in BASELINES}
    return (max(scored, key=scored.get) if scored else None), scored


def _grid(records, streams, methods, metric, scale, digits) -> list[str]:
    lines = _head(["stream", *methods, "best baseline", "ff-stream minus it"])
    for stream in streams:
        values = {m: _values(records, stream, m, metric) for m in methods}
        cells = [format_cell(values[m], scale, digits) for m in methods]
        best, scored = _best_baseline(values)
        gap = "–"
        if best is not None and values.get("ff-stream"):
            gap = f"{(statistics.fmean(values['ff-stream']) - scored[best]) * scale:+.{digits}f}"
        lines.append(_row([stream, *cells, best or "–", gap]))
    return lines


def _last_window(records: list[dict], streams: list[str], methods: list[str]) -> list[str]:
    """FF's accuracy over the last 10% of each stream beside the best baseline's."""
    metric, ours = "last_10pct_accuracy", [m for m in methods if m not in BASELINES]
    lines = _head(["stream", *ours, "best baseline", "its accuracy"])
    for stream in streams:
        values = {m: _values(records, stream, m, metric) for m in methods}
        best, _ = _best_baseline(values)
        cells = [format_cell(values[m], 100, 1) for m in ours]
        cells += [best or "–", format_cell(values[best], 100, 1) if best else "–"]
        lines.append(_row([stream, *cells]))
    return lines


def _per_method(records: list[dict], methods: list[str]) -> list[str]:
    lines = _head(["method", "runs", "median frames/s", "median peak memory MiB"])
    for method in methods:
        mine = [r for r in records if r["method"] == method]
        cells = [method, str(len(mine))]
        for metric, digits in (("frames_per_s", 0), ("peak_rss_mb", 0)):
            values = [r["metrics"][metric] for r in mine if is_number(r["metrics"].get(metric))]
            cells.append(f"{statistics.median(values):,.{digits}f}" if values else "–")
        lines.append(_row(cells))
    return lines


def _seed_counts(records: list[dict]) -> str:
    """How many seeds the cells have: the usual count, then the methods that differ on every
    stream, then the streams that differ, e.g. "3 seeds (ff-river: 5; high-dim: 1 to 2)"."""
    cells: dict[tuple[str, str], set] = {}
    for r in records:
        cells.setdefault((r["method"], r["task"]), set()).add(r["seed"])
    counts = {cell: len(seeds) for cell, seeds in cells.items()}
    usual = statistics.mode(counts.values())
    whole: dict[int, list[str]] = {}  # methods that differ everywhere, by their count
    for method in sorted({m for m, _ in counts}):
        mine = {n for (m, _), n in counts.items() if m == method}
        if len(mine) == 1 and usual not in mine:
            whole.setdefault(mine.pop(), []).append(method)
    differ_everywhere = {method for methods in whole.values() for method in methods}
    rest = {cell: n for cell, n in counts.items() if cell[0] not in differ_everywhere}
    odd: dict[str, set] = {}  # the streams where the other methods' counts differ: their range
    for (_, stream), n in rest.items():
        odd.setdefault(stream, set()).add(n)
    odd = {stream: ns for stream, ns in odd.items() if ns != {usual}}
    notes = [f"{', '.join(methods)}: {n}" for n, methods in sorted(whole.items())]
    for stream, ns in sorted(odd.items()):
        notes.append(f"{stream}: " + (f"{min(ns)} to {max(ns)}" if len(ns) > 1 else f"{min(ns)}"))
    plural = "" if usual == 1 else "s"
    return f"{usual} seed{plural}" + (f" ({'; '.join(notes)})" if notes else "")


def table(page: Page, records: list[dict[str, Any]], order: list[Run] = ()) -> str:
    """Markdown: the accuracy grid, the sensor stream's ROC-AUC, then speed and memory."""
    runs = list(order) or [Run(r["method"], r["seed"], r["task"]) for r in records]
    recorded = {(r["task"], r["method"]) for r in records}
    streams = [
        s for s in dict.fromkeys(run.task for run in runs) if any(s == t for t, _ in recorded)
    ]
    labelled = [s for s in streams if NUM_CLASSES[s] is not None]
    unlabelled = [s for s in streams if NUM_CLASSES[s] is None]
    methods = [
        m for m in dict.fromkeys(run.method for run in runs) if any(m == k for _, k in recorded)
    ]

    def methods_on(chosen: list[str]) -> list[str]:
        return [m for m in methods if any((s, m) in recorded for s in chosen)]

    parts = [f"Prequential accuracy % (mean ± sample std over {_seed_counts(records)}):", ""]
    classifiers = methods_on(labelled)
    parts += _grid(records, labelled, classifiers, "prequential_accuracy", 100, 1)
    parts += ["", "Accuracy % over the last 10% of each stream (FF and the best baseline):", ""]
    parts += _last_window(records, labelled, classifiers)
    if unlabelled:
        detectors = methods_on(unlabelled)
        parts += ["", "ROC-AUC of the scores taken before learning each frame:", ""]
        parts += _grid(records, unlabelled, detectors, "roc_auc", 1, 3)
    parts += ["", "Speed and memory over all streams:", ""]
    parts += _per_method(records, methods)
    return "\n".join(parts)
