"""Choose a continual suite's setting on its validation split: one flag, a few values, per method.

Each value of the scanned flag runs the suite through the lab with ``--split val`` (so every
record lands under ``benchmarks/results`` like any other, in its ``custom-*`` folder), and each
method's validation score for each value is tabled; the best value per method is the choice,
ties going to the earlier value. The split is forced, and every record scored is checked to
have been scored on it, so a choice table never reads a test frame: with ``--split val`` each
task's test set is its held-out training frames and the test files' frames are never used
(:mod:`benchmarks.continual_split`). Report on other seeds than the ones chosen on.

Run: ``python -m benchmarks.continual_choose permuted-mnist --flag bp-lr --values
0.01,0.03,0.1 -- --quick --seeds 100 --methods er,naive`` (after ``--``: the suite's flags).
"""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from benchmarks import load_suite
from benchmarks.lab import add_suite_arguments, run_suite
from ffstream.cli import resolve_device

__all__ = ["choose", "main", "scan"]


def scan(
    suite_name: str,
    flag: str,
    values: list[str],
    suite_args: list[str],
    metric: str,
    console: Console,
) -> dict[str, dict[str, float]]:
    """Each method's mean validation ``metric`` (``view.name``, e.g.
    ``domain-incremental.average_accuracy``) over the chosen seeds, for every value of ``flag``:
    ``{method: {value: score}}``."""
    if any(a == "--split" or a.startswith("--split=") for a in suite_args):
        raise ValueError("--split: a choice is made on the validation split only (it is forced)")
    suite = load_suite(suite_name)
    parser = argparse.ArgumentParser()
    add_suite_arguments(parser, suite)
    view, name = metric.rsplit(".", 1)
    table: dict[str, dict[str, float]] = {}
    for value in values:
        args = parser.parse_args([*suite_args, f"--{flag}", value, "--split", "val"])
        args.device = resolve_device(args.device)
        result = run_suite(suite, args, console)
        if result["split"] != "val" or result["config"]["split"] != "val":
            raise ValueError("a run scored on the test set reached a choice")
        for entry in result["results"]:
            if view in entry["metrics"]:
                table.setdefault(entry["method"], {})[value] = entry["metrics"][view][name]["mean"]
    return table


def choose(table: dict[str, dict[str, float]]) -> dict[str, str]:
    """The best value per method (the earliest of equal ones).

    Examples
    --------
    >>> choose({"er": {"0.1": 0.90, "0.3": 0.92}, "naive": {"0.1": 0.2, "0.3": 0.2}})
    {'er': '0.3', 'naive': '0.1'}
    """
    return {method: max(scores, key=lambda v: scores[v]) for method, scores in table.items()}


def main(argv: list[str] | None = None) -> int:
    """Scan one flag on a suite's validation split and print each method's table and choice."""
    argv = list(sys.argv[1:] if argv is None else argv)
    suite_args: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, suite_args = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.continual_choose", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("suite", help="split-mnist, permuted-mnist or rotated-mnist")
    parser.add_argument("--flag", required=True, help="the suite flag scanned, without --")
    parser.add_argument("--values", required=True, help="comma-separated values of the flag")
    parser.add_argument(
        "--metric",
        default=None,
        help="view.metric scored (default: the first view's average_accuracy)",
    )
    args = parser.parse_args(argv)
    metric = args.metric or _default_metric(args.suite)
    console = Console()
    table = scan(args.suite, args.flag, args.values.split(","), suite_args, metric, console)
    console.print(f"{metric} on the validation split, by --{args.flag}:")
    for method, scores in table.items():
        shown = " / ".join(f"{100 * s:.1f}" for s in scores.values())
        console.print(f"  {method}: {shown} at {' / '.join(scores)}", highlight=False)
    console.print(f"chosen: {choose(table)}", highlight=False)
    return 0


def _default_metric(suite_name: str) -> str:
    view = "class-incremental" if suite_name == "split-mnist" else "domain-incremental"
    return f"{view}.average_accuracy"


if __name__ == "__main__":
    sys.exit(main())
