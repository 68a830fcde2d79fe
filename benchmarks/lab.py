"""The one loop behind every suite: runs, results as data, resume.

A suite is a module that declares what it measures and how one run goes; this module does the
rest the same way for all of them (CLI flags from the config, one JSON per run, skipping runs
already in the results folder, the summary table).

A suite module defines

- ``NAME`` and ``DESCRIPTION`` (one line for ``ffstream bench --help``);
- ``Config``: a dataclass whose fields are built with :func:`ffstream.config.option`; fields
  made with ``option(..., select=True)`` through :func:`select` choose which runs happen (seeds,
  methods, streams) and are not part of a run's identity;
- ``FULL`` and ``QUICK``: the two presets (``--quick`` picks the second);
- ``runs(cfg) -> list[Run]``: every (method, task, seed) the config asks for, in page order
  (``runs(cfg, device)`` when the runs depend on the device, as GPU-only steppers do);
- ``run_one(cfg, run, ctx) -> dict``: one run; returns ``{"metrics": {name: number}, ...}``
  where anything beside ``metrics`` is kept as the run's details (curves, matrices, timings);
- ``PAGE``: a :class:`Page`, what BENCHMARKS.md says about the suite;
- optionally ``combine(cfg, records, console) -> dict``: the suite's combined ``--out`` JSON;
- optionally ``table(page, records, runs) -> str``: the suite's own Markdown layout of its
  records (default :func:`benchmarks.render.summary_table`, one row per task and method);
- optionally ``DEVICE``: the device the suite always runs on (``"cpu"`` for suites of
  pure-Python models), whatever ``--device`` asks for.

Each run is written atomically to ``RESULTS/<suite>/<preset>/<method>[--<task>]--seed<k>.json``
(:func:`record_path`), where the preset is ``full`` or ``quick`` when the config equals that
preset (selection fields aside), else ``custom-<hash>``. A run whose file already holds the same
config is skipped, so a long suite runs in parts and resumes after a stop (``--force`` reruns).
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import hashlib
import inspect
import json
import math
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from rich.console import Console

import ffstream
from ffstream._io import write_json
from ffstream.config import add_config_arguments, config_from_args, option

__all__ = [
    "SCHEMA",
    "Column",
    "Context",
    "Page",
    "Run",
    "add_suite_arguments",
    "config_identity",
    "default_results",
    "environment",
    "is_number",
    "load_records",
    "preset_of",
    "record_path",
    "run_suite",
    "select",
]

#: the version of a result record's layout; readers check it
SCHEMA = "ffstream-bench/1"

RESULTS = Path(__file__).resolve().parent / "results"


def default_results() -> Path:
    """``$FFSTREAM_RESULTS`` if set (the test suite sets it), else ``benchmarks/results``."""
    return Path(os.environ.get("FFSTREAM_RESULTS") or RESULTS)


def select(default: Any, help: str, **kwargs: Any) -> Any:
    """A config field that does not change what a run measures: which runs happen (seeds,
    methods, streams) or where the data lives.

    It is not part of a run's identity: ``--seeds 3,4`` adds runs to the same preset folder.
    """
    return option(default, help, metadata={"select": True}, **kwargs)


@dataclass(frozen=True)
class Run:
    """One unit of a suite: a method on a task (stream, scenario, dataset) with one seed."""

    method: str
    seed: int
    task: str | None = None

    def label(self) -> str:
        return " ".join(str(p) for p in (self.task, self.method, f"seed {self.seed}") if p)


@dataclass
class Context:
    """What a run gets besides its config: device, console, and a cache shared by the runs."""

    device: str
    console: Console
    cache: dict[str, Any] = field(default_factory=dict)

    def cached(self, key: str, make: Callable[[], Any]) -> Any:
        """``make()`` once per key and invocation (data sets, shared tuning)."""
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]


@dataclass(frozen=True)
class Column:
    """One metric of a suite's summary table."""

    metric: str
    label: str
    scale: float = 1.0  # 100 shows fractions as percentages
    digits: int = 1


@dataclass(frozen=True)
class Page:
    """What BENCHMARKS.md says about a suite, besides its numbers."""

    title: str
    measures: str
    command: str
    columns: tuple[Column, ...]
    anchors: tuple[str, ...] = ()  # published numbers, each with its source
    notes: str = ""
    curve_labels: tuple[str, str] = ("x", "y")  # axes of the runs' ``curve`` details, if any


# ---------------------------------------------------------------------------- config
def add_suite_arguments(parser, suite: ModuleType) -> None:
    """The suite's config flags, plus the flags every suite shares."""
    parser.add_argument("--out", help="also write the suite's combined JSON here")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (auto)")
    parser.add_argument("--quick", action="store_true", help="the small configuration for CPUs")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (1: benchmarks run on one)"
    )
    parser.add_argument(
        "--results",
        default=str(default_results()),
        help="folder of the per-run JSON files (default: $FFSTREAM_RESULTS, else "
        "benchmarks/results)",
    )
    parser.add_argument(
        "--force", action="store_true", help="rerun runs whose results are already there"
    )
    presets = {"full": suite.FULL, "quick": suite.QUICK}
    add_config_arguments(parser, suite.Config, presets=presets)


def _identity_fields(cfg: Any) -> dict[str, Any]:
    return {
        f.name: getattr(cfg, f.name)
        for f in dataclasses.fields(cfg)
        if not f.metadata.get("select")
    }


def config_identity(cfg: Any) -> dict[str, Any]:
    """The config as JSON data, without the fields that only select runs."""
    return json.loads(json.dumps(_identity_fields(cfg)))


def preset_of(suite: ModuleType, cfg: Any) -> str:
    """``full`` or ``quick`` when ``cfg`` equals that preset (selection aside), else custom."""
    identity = config_identity(cfg)
    for name, preset in (("full", suite.FULL), ("quick", suite.QUICK)):
        if config_identity(preset) == identity:
            return name
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:8]
    return f"custom-{digest}"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", name)


def record_path(results: Path, suite: str, preset: str, run: Run) -> Path:
    """Where the record of ``run`` lives."""
    parts = [run.method] + ([run.task] if run.task else []) + [f"seed{run.seed}"]
    return Path(results) / suite / preset / ("--".join(_safe(p) for p in parts) + ".json")


# ---------------------------------------------------------------------------- provenance
@functools.cache
def _git_commit() -> str | None:
    """The checkout's commit when first asked: this process runs the code it loaded then, even
    if a commit lands while a long suite runs."""
    root = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _device_name(device: str) -> str:
    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")),
                model,
            )
    except OSError:
        pass
    return f"{model} ({os.cpu_count()} cores)"


def environment(device: str) -> dict[str, Any]:
    """Where and with what a run was measured: device, threads, versions, date, commit."""
    versions = {"torch": torch.__version__, "ffstream": ffstream.__version__}
    for name in ("numpy", "river", "gymnasium"):
        module = sys.modules.get(name)
        if module is not None:
            versions[name] = getattr(module, "__version__", None)
    return {
        "device": str(device),
        "device_name": _device_name(device),
        "threads": torch.get_num_threads(),
        # other work on the machine slows timings: the 1-minute load average at the run's start
        "load_average": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        **versions,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": _git_commit(),
        "argv": sys.argv[1:],
    }


# ---------------------------------------------------------------------------- records
def load_records(folder: Path) -> list[dict[str, Any]]:
    """Every record under ``folder`` (recursively), sorted by path; other JSON is refused."""
    records = []
    for path in sorted(Path(folder).rglob("*.json")):
        record = json.loads(path.read_text())
        if record.get("schema") != SCHEMA:
            raise ValueError(f"{path} is not a result record of schema {SCHEMA}")
        records.append(record)
    return records


def _existing(path: Path, identity: dict[str, Any]) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if record.get("schema") == SCHEMA and record.get("config") == identity:
        return record
    return None


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool): what a summary can average."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def run_suite(suite: ModuleType, args, console: Console) -> dict[str, Any]:
    """Run every run of the configured suite that is not in the results folder yet.

    Returns the combined result (the suite's ``combine`` if it has one, else every record).
    """
    if args.threads < 1:
        raise ValueError(f"--threads must be at least 1, got {args.threads}")
    threads_before = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return _run_all(suite, args, console)
    finally:
        torch.set_num_threads(threads_before)


def _run_all(suite: ModuleType, args, console: Console) -> dict[str, Any]:
    cfg = config_from_args(args, suite.QUICK if args.quick else suite.FULL)
    preset = preset_of(suite, cfg)
    identity = config_identity(cfg)
    device = getattr(suite, "DEVICE", None) or args.device
    if device != args.device:
        console.print(f"note: {suite.NAME} runs on the {device} (asked for {args.device})")
    ctx = Context(device=device, console=console)
    wants_device = "device" in inspect.signature(suite.runs).parameters
    runs = suite.runs(cfg, device) if wants_device else suite.runs(cfg)
    if not runs:
        raise ValueError(f"this configuration of {suite.NAME} selects no run")
    records = []
    for i, run in enumerate(runs, 1):
        path = record_path(Path(args.results), suite.NAME, preset, run)
        record = None if args.force else _existing(path, identity)
        if record is not None:
            console.print(f"[{i}/{len(runs)}] {run.label()}: already in {path}", highlight=False)
            records.append(record)
            continue
        env = environment(device)
        start = time.perf_counter()
        outcome = suite.run_one(cfg, run, ctx)
        wall = time.perf_counter() - start
        metrics = outcome.pop("metrics")
        record = {
            "schema": SCHEMA,
            "suite": suite.NAME,
            "preset": preset,
            "method": run.method,
            "task": run.task,
            "seed": run.seed,
            "config": identity,
            "environment": env,
            "wall_s": round(wall, 3),
            "metrics": metrics,
            "details": outcome,
        }
        write_json(path, record)
        shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if is_number(v))
        console.print(f"[{i}/{len(runs)}] {run.label()}: {shown} ({wall:.1f} s)", highlight=False)
        records.append(record)
    from benchmarks.render import summary_table

    console.print(summary_table(suite.PAGE, records, runs), highlight=False, markup=False)
    if hasattr(suite, "combine"):
        return suite.combine(cfg, records, console)
    return {"suite": suite.NAME, "preset": preset, "config": identity, "records": records}
