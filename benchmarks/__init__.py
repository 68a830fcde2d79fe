"""ffstream's benchmark lab: the suites behind ``ffstream bench NAME``, outside the package.

The installed package holds what users need to evaluate their own streams (``ffstream.eval``,
``ffstream.data``); baselines, ablations, tuning grids and profilers live here, in the
repository, as river keeps its benchmarks. Every suite runs through :mod:`benchmarks.lab`, writes
one JSON per run under ``benchmarks/results/`` and is summarised on BENCHMARKS.md by
:mod:`benchmarks.render` (``python -m benchmarks.render``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["CONTRACT", "SUITES", "load_suite"]

#: what every suite module defines (see benchmarks.lab)
CONTRACT = ("NAME", "DESCRIPTION", "Config", "FULL", "QUICK", "PAGE", "runs", "run_one")

#: suite name -> module, in the order of BENCHMARKS.md
SUITES: dict[str, str] = {
    "mnist-ff": "benchmarks.mnist_ff",
    "mnist-cwc": "benchmarks.mnist_cwc",
    "stream-mnist": "benchmarks.stream_mnist",
    "split-mnist": "benchmarks.split_mnist",
    "permuted-mnist": "benchmarks.permuted_mnist",
    "rotated-mnist": "benchmarks.rotated_mnist",
    "drift": "benchmarks.drift",
    "feeds": "benchmarks.feeds",
    "sequence": "benchmarks.sequence",
    "cartpole": "benchmarks.cartpole",
    "control": "benchmarks.control",
    "envs": "benchmarks.envs",
    "speed": "benchmarks.speed",
    "gpu": "benchmarks.gpu",
    "streams": "benchmarks.streams",
    "soak": "benchmarks.soak",
    "distributed": "benchmarks.distributed",
}


def load_suite(name: str) -> ModuleType:
    """Import the module behind suite ``name``; raises ``ValueError`` for unknown names."""
    if name not in SUITES:
        raise ValueError(f"unknown benchmark {name!r}; choose from {', '.join(sorted(SUITES))}")
    module = importlib.import_module(SUITES[name])
    missing = [a for a in CONTRACT if not hasattr(module, a)]
    if missing:
        raise ValueError(f"suite module {module.__name__} lacks {', '.join(missing)}")
    return module
