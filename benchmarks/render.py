"""Render BENCHMARKS.md from the results folder: one short section per suite.

Every number on the page comes from a run record in ``benchmarks/results/`` (written by
``ffstream bench NAME``); nothing is typed by hand, and rendering the same folder twice gives the
same bytes. History lives in git, not on the page.

A suite may name its reports (``REPORTS``: ``(config, title, plot name)`` triples, and
``report_table(records) -> str``): the settings it reports with, frozen, on its test seeds. Each
report's records (in their ``custom-*`` folder) get their own table and plot. Once a suite has
reported, its presets' records, measured before its protocol was settled, are only pointed to.

Run: ``python -m benchmarks.render`` (``--check`` only compares, for CI).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from benchmarks import SUITES, load_suite
from benchmarks.lab import RESULTS, Page, Run, is_number, load_records, preset_of

__all__ = ["format_cell", "main", "mean_std", "render", "summary_table"]

ROOT = Path(__file__).resolve().parents[1]
PLOTS = Path(__file__).resolve().parent / "plots"
PRESETS = ("full", "quick")

HEADER = """\
# Benchmarks

This page is rendered by `python -m benchmarks.render` from the run records in
`benchmarks/results/`; do not edit it by hand. Each suite's command writes one JSON record per
method, task and seed (config, seed, device, versions, date, every number), so a suite runs in
parts and resumes. Tables show the mean ± sample standard deviation over seeds; `n` is the number
of seeds. `full` is a suite's real configuration, `quick` its small CPU smoke configuration, whose
numbers are not the suite's result. Benchmarks run on one torch thread on a shared machine: compare
speeds only within one table.
"""


def mean_std(values: Iterable[float]) -> tuple[float, float | None, int]:
    """Mean, sample standard deviation (``None`` for one value) and count.

    Examples
    --------
    >>> mean_std([0.5, 0.7, 0.6])
    (0.6, 0.1, 3)
    """
    values = [float(v) for v in values]
    if not values:
        raise ValueError("mean_std needs at least one value")
    std = statistics.stdev(values) if len(values) > 1 else None
    return round(statistics.fmean(values), 12), None if std is None else round(std, 12), len(values)


def format_cell(values: list[Any], scale: float, digits: int) -> str:
    """A table cell: ``mean ± std`` of the numbers among ``values``, scaled; "–" for none.

    Examples
    --------
    >>> format_cell([0.5, 0.7, None], 100, 1)
    '60.0 ± 14.1'
    """
    numbers = [v for v in values if is_number(v)]
    if not numbers:
        return "–"
    mean, std, _ = mean_std(numbers)
    text = f"{mean * scale:,.{digits}f}"
    return text if std is None else f"{text} ± {std * scale:,.{digits}f}"


def _groups(records: list[dict[str, Any]], order: list[Run]) -> dict[tuple, list[dict]]:
    """Records grouped by (task, method), in the suite's own run order, then by name."""
    rank = {}
    for run in order:
        rank.setdefault((run.task or "", run.method), len(rank))
    groups: dict[tuple, list[dict]] = {}
    for record in records:
        groups.setdefault((record["task"] or "", record["method"]), []).append(record)
    return dict(sorted(groups.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))


def summary_table(page: Page, records: list[dict[str, Any]], order: list[Run] = ()) -> str:
    """The suite's table in Markdown: one row per (task, method), mean ± std over seeds."""
    groups = _groups(records, list(order))
    with_task = any(task for task, _ in groups)
    head = (["task"] if with_task else []) + ["method", "n"] + [c.label for c in page.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (task, method), group in groups.items():
        cells = ([task] if with_task else []) + [method, str(len(group))]
        for column in page.columns:
            values = [r["metrics"].get(column.metric) for r in group]
            cells.append(format_cell(values, column.scale, column.digits))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


_COMMITS_SHOWN = 3  # commits a provenance line names


def _provenance(records: list[dict[str, Any]]) -> str:
    envs = [r["environment"] for r in records]
    devices = sorted({e["device_name"] for e in envs})
    dates = sorted(e["date"][:10] for e in envs)
    torch_versions = sorted({e["torch"] for e in envs})
    ours = sorted({e["ffstream"] for e in envs})
    commits = sorted({e["commit"] for e in envs if e.get("commit")})
    span = dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"
    text = (
        f"Measured {span} on {'; '.join(devices)}, torch {', '.join(torch_versions)}, "
        f"ffstream {', '.join(ours)}"
    )
    if commits:  # the records name each one; the page names a few
        shown = ", ".join(commits[:_COMMITS_SHOWN])
        more = len(commits) - _COMMITS_SHOWN
        text += f", commit {shown}" + (f" and {more} more" if more > 0 else "")
    loads = sorted(e["load_average"] for e in envs if e.get("load_average") is not None)
    if loads:
        text += f", load average {loads[0]:.1f}" + (
            f" to {loads[-1]:.1f}" if loads[-1] != loads[0] else ""
        )
    return text + "."


def _recorded(records: list[dict[str, Any]]) -> list[str]:
    """The presets (full, quick) that have records, in that order."""
    return [p for p in PRESETS if any(r["preset"] == p for r in records)]


def _reports(suite) -> list[tuple[str, str, str]]:
    """A suite's reports as ``(preset folder, title, plot name)``."""
    return [
        (preset_of(suite, cfg), title, plot) for cfg, title, plot in getattr(suite, "REPORTS", ())
    ]


def _shown(suite, records: list[dict[str, Any]]) -> list[tuple[str, str | None, str]]:
    """The tables the page shows for ``suite``, as ``(preset folder, report title, plot name)``:
    every report with records; without any, the first preset recorded (title ``None``)."""
    reports = _reports(suite)
    shown = [entry for entry in reports if any(r["preset"] == entry[0] for r in records)]
    return shown or [(p, None, p) for p in _recorded(records)[:1]]


def _plot_file(name: str, plot: str, folder: Path = PLOTS) -> Path:
    """Where suite ``name``'s plot ``plot`` is drawn, and what the page links."""
    return Path(folder) / f"{name}-{plot}.png"


def _plot_line(name: str, plot: str, records: list[dict[str, Any]]) -> list[str]:
    if not any(r["details"].get("curve") for r in records):
        return []
    path = _plot_file(name, plot).relative_to(ROOT).as_posix()
    return [f"![{name}, {plot}]({path})", ""]


def _table_parts(suite, preset: str, title: str | None, records: list[dict[str, Any]]) -> list[str]:
    """One table the page shows: a report's, or the preset's the page summarises."""
    if title is not None:
        parts = [f"### report: {title}", "", _provenance(records), "", suite.report_table(records)]
    else:
        cfg = suite.FULL if preset == "full" else suite.QUICK
        table = getattr(suite, "table", summary_table)  # a suite may lay its table out itself
        parts = [f"### {preset}", "", _provenance(records), ""]
        parts += [table(suite.PAGE, records, suite.runs(cfg))]
    return parts + [""]


def _section(name: str, records: list[dict[str, Any]]) -> str:
    suite = load_suite(name)
    page: Page = suite.PAGE
    parts = [f"## {page.title} (`{name}`)", "", page.measures.strip(), ""]
    parts += ["```bash", page.command, "```", ""]
    shown = _shown(suite, records)
    for preset, title, plot in shown:
        chosen = [r for r in records if r["preset"] == preset]
        parts += _table_parts(suite, preset, title, chosen) + _plot_line(name, plot, chosen)
    if not shown:
        parts += ["No results recorded yet: run the command above.", ""]
    reports = {preset for preset, _, _ in _reports(suite)}
    others = sorted({r["preset"] for r in records} - set(PRESETS) - reports)
    count = f"{len(others)} other configuration{'s' if len(others) > 1 else ''}"
    # named by their folders; a list of hashes would only lengthen the page
    if shown and shown[0][1] is not None:  # the reports stand for the suite; presets are named
        kept = [f"`{p}`" for p in _recorded(records)]
        named = [" and ".join(kept) + (" presets" if len(kept) > 1 else " preset")] if kept else []
        named += [f"{count} (`custom-*`)"] if others else []
        if named:
            parts += [f"The {' and '.join(named)}: `benchmarks/results/{name}/`.", ""]
    else:
        if len(_recorded(records)) > 1:  # the page summarises the full preset only
            parts += [
                f"The `--quick` preset's records are in `benchmarks/results/{name}/quick/`.",
                "",
            ]
        if others:
            parts += [f"{count} in `benchmarks/results/{name}/` (`custom-*`).", ""]
    if page.notes:
        parts += [page.notes.strip(), ""]
    if page.anchors:
        parts += ["Published anchors:", ""] + [f"- {a}" for a in page.anchors] + [""]
    return "\n".join(parts)


def _plotted(records: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """``(suite, preset) -> plot name`` for every table the page shows."""
    names = {}
    for suite_name in sorted({r["suite"] for r in records}):
        mine = [r for r in records if r["suite"] == suite_name]
        for preset, _, plot in _shown(load_suite(suite_name), mine):
            names[(suite_name, preset)] = plot
    return names


def render(results: Path = RESULTS) -> str:
    """The whole page, from the records under ``results``."""
    records = load_records(results)
    by_suite: dict[str, list[dict]] = {}
    for record in records:
        by_suite.setdefault(record["suite"], []).append(record)
    unknown = sorted(set(by_suite) - set(SUITES))
    if unknown:
        raise ValueError(f"records of unknown suites {unknown} in {results}")
    sections = [HEADER]
    sections += [_section(name, by_suite.get(name, [])) for name in SUITES]
    return "\n".join(sections).rstrip() + "\n"


def plot_curves(results: Path = RESULTS, out: Path = PLOTS) -> list[Path]:
    """One PNG per table the page shows whose records carry a ``curve`` ([[x, y], ...]): a
    suite's reports, else the preset it summarises (other configurations are not drawn)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    records = load_records(results)
    plotted = _plotted(records)
    keys = sorted(
        {(r["suite"], r["preset"]) for r in records if r["details"].get("curve")} & set(plotted)
    )
    for suite_name, preset in keys:
        chosen = [
            r
            for r in records
            if (r["suite"], r["preset"]) == (suite_name, preset) and r["details"].get("curve")
        ]
        page = load_suite(suite_name).PAGE
        tasks = sorted({r["task"] or "" for r in chosen})
        fig, axes = plt.subplots(1, len(tasks), figsize=(4.5 * len(tasks), 3.4), squeeze=False)
        for ax, task in zip(axes[0], tasks):
            by_method: dict[str, list] = {}
            for r in chosen:
                if (r["task"] or "") == task:
                    by_method.setdefault(r["method"], []).append(r["details"]["curve"])
            for method, curves in sorted(by_method.items()):
                length = min(len(c) for c in curves)
                xs = [p[0] for p in curves[0][:length]]
                ys = [statistics.fmean(c[i][1] for c in curves) for i in range(length)]
                ax.plot(xs, ys, label=method)
            ax.set_title(task or page.title)
            ax.set_xlabel(page.curve_labels[0])
            ax.set_ylabel(page.curve_labels[1])
            ax.legend(fontsize=7)
        fig.tight_layout()
        path = _plot_file(suite_name, plotted[(suite_name, preset)], out)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.render", description=__doc__)
    parser.add_argument("--results", default=str(RESULTS), help="the results folder")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"), help="the page to write")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 on change")
    parser.add_argument("--no-plots", action="store_true", help="do not redraw the plots")
    args = parser.parse_args(argv)
    text = render(Path(args.results))
    out = Path(args.out)
    if args.check:
        same = out.exists() and out.read_text() == text
        print(f"{out} is {'up to date' if same else 'out of date'}")
        return 0 if same else 1
    from ffstream._io import atomic_write

    atomic_write(out, lambda f: f.write(text.encode()))
    print(f"wrote {out} ({len(text.encode()):,} bytes)")
    if not args.no_plots:
        for path in plot_curves(Path(args.results)):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
