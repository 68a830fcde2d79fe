"""The continual suites' combined JSON, their Markdown table and their plots.

:func:`combine` turns a suite's run records back into the combined ``--out`` JSON the
continual suites have always written: ``results`` holds one entry per (scenario, method) with
its per-seed ``runs`` (``runs[].summary[view].average_accuracy``, ``runs[].R``, ...), the mean
accuracy matrix ``R_mean`` and, for each metric over seeds, its mean, sample standard deviation
(``ddof=1``), 95% Student-t interval of the mean and seed count
(:func:`ffstream.eval.mean_interval`; spread and interval ``None`` for one seed). The JSON names
the split scored (``split``) and the backward-transfer convention (``bwt_convention``).

:func:`plot_results` draws the accuracy-matrix heat maps and the accuracy along the stream from
those entries: ``python -m benchmarks.continual_report COMBINED.json`` writes them next to it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from benchmarks.report_tables import by_method, interval, percent, statistics_of
from ffstream.eval import BWT_CONVENTION

__all__ = ["combine", "main", "markdown_table", "plot_results", "report_table"]


def _entries(cfg: Any, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per (scenario, method), scenarios in run order, methods in config order."""
    grouped: dict[tuple[str, str], dict[str, Any]] = {}
    scenario_rank: dict[str, int] = {}
    for record in records:
        for name, result in record["details"]["scenarios"].items():
            scenario_rank.setdefault(name, len(scenario_rank))
            entry = grouped.setdefault(
                (name, record["method"]),
                {"scenario": name, "method": record["method"], "views": [], "runs": []},
            )
            entry["views"] = list(result["views"])
            run = {k: v for k, v in result.items() if k != "views"}
            entry["runs"].append({**run, "seed": record["seed"]})
    method_rank = {m: i for i, m in enumerate(cfg.methods)}
    order = sorted(
        grouped,
        key=lambda k: (scenario_rank[k[0]], method_rank.get(k[1], len(method_rank)), k[1]),
    )
    out = []
    for key in order:
        entry = grouped[key]
        runs = sorted(entry["runs"], key=lambda r: r["seed"])
        entry["runs"] = runs
        views = entry["views"]
        entry["R_mean"] = {v: np.mean([r["R"][v] for r in runs], axis=0).tolist() for v in views}
        entry["metrics"] = {
            v: {m: statistics_of([r["summary"][v][m] for r in runs]) for m in runs[0]["summary"][v]}
            for v in views
        }
        entry["prequential_accuracy"] = statistics_of([r["prequential_accuracy"] for r in runs])
        entry["frames_per_s"] = statistics_of([r["frames_per_s"] for r in runs])
        entry["stored_frames"] = max(r["stored_frames"] for r in runs)
        out.append(entry)
    return out


def combine(
    suite: str, cfg: Any, records: list[dict[str, Any]], console: Console
) -> dict[str, Any]:
    """The combined JSON of a continual suite from its run records (in run order)."""
    entries = _entries(cfg, records)
    table = markdown_table(entries)  # the lab has printed the summary; this one is per view
    env = records[0]["environment"]
    keep = ("device", "device_name", "torch", "ffstream", "python")
    return {
        "suite": suite,
        "preset": records[0]["preset"],
        "quick": records[0]["preset"] == "quick",
        "date": max(r["environment"]["date"] for r in records),
        **{k: env.get(k) for k in keep},
        "config": json.loads(json.dumps(dataclasses.asdict(cfg))),
        "split": cfg.split,
        "bwt_convention": BWT_CONVENTION,
        "protocol": (
            f"online, one pass, batch {cfg.batch_size}, task boundaries not given (EWC and "
            f"GDumb are told them; a multi-head scenario gives each frame's task, one output "
            f"head per task); memory budget {cfg.memory} frames; scored on the "
            + (
                "test set"
                if cfg.split == "test"
                else f"last {cfg.val_share:.0%} of each task's training frames (validation)"
            )
            + f"; anytime accuracy over {cfg.eval_points} evenly spread points on the first "
            f"{cfg.curve_test_per_task} test frames of each seen task; FF's sleep schedule at a "
            f"random phase per seed; backprop baselines: {cfg.bp_updates} SGD steps per batch"
        ),
        "results": entries,
        "table": table,
        "wall_seconds": sum(r["wall_s"] for r in records),
    }


def markdown_table(entries: list[dict[str, Any]]) -> str:
    """One row per (view, method): accuracy metrics in percent, mean ± sample std over seeds
    (the 95% intervals are in the JSON)."""
    lines = [
        "| scenario | method | avg acc % | anytime % | forgetting | BWT | FWT | prequential % |"
        " frames/s | stored |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = [(view, e) for e in entries for view in e["views"]]
    for view, e in sorted(rows, key=lambda r: r[0]):
        m = e["metrics"][view]
        fps = e["frames_per_s"]["mean"]
        lines.append(
            f"| {view} | {e['method']} | {percent(m['average_accuracy'])} | "
            f"{percent(m['anytime_accuracy'])} | "
            f"{percent(m['forgetting'])} | {percent(m['backward_transfer'])} | "
            f"{percent(m['forward_transfer'])} | {percent(e['prequential_accuracy'])} | "
            f"{fps:.0f} | {e['stored_frames']} |"
            if fps is not None
            else f"| {view} | {e['method']} | {percent(m['average_accuracy'])} |" + " - |" * 7
        )
    return "\n".join(lines)


def report_table(records: list[dict[str, Any]], view: str, methods: tuple[str, ...]) -> str:
    """The report configuration's table on BENCHMARKS.md: per method, ``view``'s average
    accuracy (mean ± sample std over seeds), the 95% Student-t interval of that mean, its
    anytime accuracy and backward transfer, in percent.

    Examples
    --------
    >>> def rec(method, acc):
    ...     return {"method": method, "metrics": {"v.average_accuracy": acc}}
    >>> print(report_table([rec("ff", 0.9), rec("ff", 0.92), rec("er", 0.8)], "v", ("ff", "er")))
    | method | n | avg acc % | 95% interval | anytime % | BWT |
    |---|---|---|---|---|---|
    | ff | 2 | 91.0 ± 1.4 | 78.3 to 103.7 | - | - |
    | er | 1 | 80.0 | - | - | - |
    """
    lines = [
        "| method | n | avg acc % | 95% interval | anytime % | BWT |",
        "|---|---|---|---|---|---|",
    ]
    for method, group in by_method(records, methods):

        def stat(name: str, group=group) -> dict[str, Any]:
            return statistics_of([r["metrics"].get(f"{view}.{name}") for r in group])

        accuracy = stat("average_accuracy")
        lines.append(
            f"| {method} | {len(group)} | {percent(accuracy)} | {interval(accuracy)} | "
            f"{percent(stat('anytime_accuracy'))} | {percent(stat('backward_transfer'))} |"
        )
    return "\n".join(lines)


def _heatmaps(plt, entries, views, methods, path: str) -> None:
    from matplotlib.ticker import MaxNLocator

    by_key = {(v, e["method"]): e for e in entries for v in e["views"]}
    fig, axes = plt.subplots(
        len(views), len(methods), figsize=(3.2 * len(methods), 3.0 * len(views)), squeeze=False
    )
    for r, view in enumerate(views):
        for c, method in enumerate(methods):
            ax = axes[r][c]
            entry = by_key.get((view, method))
            if entry is None:
                ax.axis("off")
                continue
            R = np.asarray(entry["R_mean"][view])
            ax.imshow(R, vmin=0, vmax=1, cmap="viridis")
            if len(R) <= 10:
                for i in range(len(R)):
                    for j in range(len(R)):
                        color = "w" if R[i, j] < 0.6 else "k"
                        text = f"{100 * R[i, j]:.0f}"
                        ax.text(j, i, text, ha="center", va="center", fontsize=6, color=color)
            ax.set_title(f"{view}\n{method}", fontsize=8)
            ax.set_xlabel("test task j", fontsize=7)
            ax.set_ylabel("trained through task i", fontsize=7)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # task numbers, not 2.5
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _stream(plt, entries, views, methods, path: str) -> None:
    from matplotlib.ticker import EngFormatter

    by_key = {(v, e["method"]): e for e in entries for v in e["views"]}
    fig, axes = plt.subplots(1, len(views), figsize=(4.5 * len(views), 3.4), squeeze=False)
    for c, view in enumerate(views):
        ax = axes[0][c]
        for method in methods:
            entry = by_key.get((view, method))
            if entry is None or not entry["runs"][0]["curve"]:
                continue
            length = min(len(r["curve"]) for r in entry["runs"])
            frames = [p["frames"] for p in entry["runs"][0]["curve"][:length]]
            accs = np.mean([[p[view] for p in r["curve"][:length]] for r in entry["runs"]], 0)
            ax.plot(frames, accs, label=method)
        ax.set_title(view, fontsize=9)
        ax.set_xlabel("frames seen")
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))  # 600k, not 600000 run together
        ax.set_ylabel("mean test accuracy, tasks so far")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_results(entries: list[dict[str, Any]], out: str | Path, console: Console) -> list[str]:
    """Accuracy-matrix heat maps and accuracy along the stream, as PNGs next to ``out``
    (``<stem>-heatmaps.png``, ``<stem>-stream.png``); none without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        console.print("matplotlib is not installed, so no plots were written")
        return []
    stem = Path(out).with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    views = sorted({v for e in entries for v in e["views"]})
    methods = list(dict.fromkeys(e["method"] for e in entries))
    paths = [f"{stem}-heatmaps.png", f"{stem}-stream.png"]
    _heatmaps(plt, entries, views, methods, paths[0])
    _stream(plt, entries, views, methods, paths[1])
    for p in paths:
        console.print(f"wrote {p}")
    return paths


def main(argv: list[str] | None = None) -> int:
    """Draw the plots of a continual suite's combined JSON next to it."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.continual_report", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("combined", help="a split-, permuted- or rotated-mnist --out JSON")
    args = parser.parse_args(argv)
    entries = json.loads(Path(args.combined).read_text())["results"]
    plot_results(entries, args.combined, Console())
    return 0


if __name__ == "__main__":
    sys.exit(main())
