"""Permuted-MNIST: ten tasks, each MNIST under its own fixed pixel permutation (task 0 keeps
the identity), learned online in one pass under a memory budget; domain-incremental (one 10-way
head, task unknown at test time).

Methods: FF :class:`~ffstream.stream.StreamLearner`, naive online backprop and backprop with
experience replay under the same memory budget (see :mod:`ffstream.bench.continual`).

Run: ``ffstream bench permuted-mnist --quick --data DIR --out permuted-mnist-quick.json``
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch
from rich.console import Console

from ffstream.bench._common import result_skeleton
from ffstream.bench.continual import (
    ContinualConfig,
    Scenario,
    TaskData,
    add_continual_arguments,
    markdown_table,
    plot_results,
    run_suite,
    update_config,
)
from ffstream.data import load_mnist, permutations, to_unit_float

__all__ = [
    "DESCRIPTION",
    "FULL",
    "QUICK",
    "PermutedConfig",
    "add_arguments",
    "build_scenarios",
    "config_from_args",
    "run",
]

DESCRIPTION = (
    "Permuted-MNIST online (10 tasks, domain-incremental), FF vs backprop and replay, "
    "memory budget 1,000 frames"
)


@dataclass
class PermutedConfig(ContinualConfig):
    """Permuted-MNIST hyper-parameters (everything else: :class:`ContinualConfig`)."""

    num_tasks: int = 10
    permutation_seed: int = 0  # the permutations are part of the benchmark: fixed across seeds


#: 60,000 training frames per task (every task sees a fresh random order), three seeds.
FULL = PermutedConfig()

#: 2,000 training and 500 test frames per task, one seed.
QUICK = PermutedConfig(train_per_task=2_000, test_per_task=500, seeds=(0,), eval_every=1_000)


def add_arguments(parser) -> None:
    """Options of ``ffstream bench permuted-mnist``."""
    add_continual_arguments(parser)
    parser.add_argument("--tasks", type=int, default=None, help="number of tasks (10)")


def config_from_args(args) -> PermutedConfig:
    """The base configuration (full or ``--quick``) with command-line overrides applied."""
    import dataclasses

    cfg = update_config(QUICK if getattr(args, "quick", False) else FULL, args)
    if getattr(args, "tasks", None) is not None:
        if args.tasks < 1:
            raise ValueError(f"--tasks must be positive, got {args.tasks}")
        cfg = dataclasses.replace(cfg, num_tasks=args.tasks)
    return cfg


def build_scenarios(data, cfg: PermutedConfig) -> list:
    """One callable ``seed -> Scenario``: each task a random subset of the training set."""
    (x, y), (xt, yt) = data["train"], data["test"]
    perms = permutations(cfg.num_tasks, x.shape[1], seed=cfg.permutation_seed)
    n_train = min(cfg.train_per_task or len(x), len(x))
    n_test = min(cfg.test_per_task or len(xt), len(xt))

    def scenario(seed: int) -> Scenario:
        generator = torch.Generator().manual_seed(20_000 + seed)
        tasks = []
        for t, perm in enumerate(perms):
            idx = torch.randperm(len(x), generator=generator)[:n_train]
            tasks.append(
                TaskData(
                    f"p{t}",
                    x[idx][:, perm],
                    y[idx],
                    xt[:n_test][:, perm],
                    yt[:n_test],
                    tuple(range(10)),
                )
            )
        return Scenario("permuted-mnist", tasks, 10, {"domain-incremental": False})

    return [scenario]


def run(args, console: Console) -> dict[str, Any]:
    """Run every method on every seed; returns the result dict (also shown as a table)."""
    cfg = config_from_args(args)
    if cfg.threads:  # before the skeleton, which records the thread count
        torch.set_num_threads(cfg.threads)
    result = result_skeleton("permuted-mnist", args.device, getattr(args, "quick", False), cfg)
    if args.device != "cpu":
        console.print(f"note: the continual suites run on the CPU (asked for {args.device})")
    wall = time.perf_counter()
    data = {}
    for split in ("train", "test"):
        images, labels = load_mnist(args.data, split=split, verify=getattr(args, "verify", True))
        data[split] = (to_unit_float(images), torch.as_tensor(labels).long())
    entries = run_suite(build_scenarios(data, cfg), cfg, console)
    table = markdown_table(entries)
    console.print(table, highlight=False, markup=False)
    result.update(
        protocol=(
            f"online, one pass, batch {cfg.batch_size}, task boundaries not given; "
            f"memory budget {cfg.memory} frames"
        ),
        results=entries,
        table=table,
        plots=plot_results(entries, getattr(args, "out", None), console),
        wall_seconds=time.perf_counter() - wall,
    )
    return result
