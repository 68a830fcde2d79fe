"""Benchmark suites behind ``ffstream bench NAME``.

Each suite is a module in this package that defines

- ``DESCRIPTION``: one line for ``ffstream bench --help``;
- ``add_arguments(parser)``: its own options (``--out``, ``--device``, ``--quick`` are common and
  added by the CLI);
- ``run(args, console) -> dict``: runs the suite, shows progress on the rich ``console`` and
  returns a JSON-serialisable result (the CLI writes it to ``--out`` atomically).
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["SUITES", "load_suite"]

#: suite name -> module in ffstream.bench
SUITES: dict[str, str] = {
    "mnist-ff": "ffstream.bench.mnist_ff",
    "mnist-cwc": "ffstream.bench.mnist_cwc",
    "envs": "ffstream.bench.env_throughput",
    "sequence": "ffstream.bench.sequence",
    "feeds": "ffstream.bench.feeds",
    "cartpole": "ffstream.bench.cartpole",
    "stream-mnist": "ffstream.bench.stream_mnist",
    "split-mnist": "ffstream.bench.split_mnist",
    "permuted-mnist": "ffstream.bench.permuted_mnist",
    "rotated-mnist": "ffstream.bench.rotated_mnist",
    "drift": "ffstream.bench.drift",
}


def load_suite(name: str) -> ModuleType:
    """Import the module behind suite ``name``; raises ``ValueError`` for unknown names."""
    if name not in SUITES:
        raise ValueError(f"unknown benchmark {name!r}; choose from {', '.join(sorted(SUITES))}")
    return importlib.import_module(SUITES[name])
