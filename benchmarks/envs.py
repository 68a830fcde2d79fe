"""Environment throughput: our torch CartPole against gymnasium's numpy ``CartPoleVectorEnv``.

Both step the same number of environments with uniformly random actions (drawn each step, on the
environment's own side), so the ratio of their speeds in one invocation is meaningful on any
machine. Each stepper is one run: its task is the number of environments. On CUDA the suite also
times a ``torch.compile``'d physics step, a CUDA-graph replay of the whole step, and a million
environments; ``--compile`` adds the compiled step on the CPU.

Run: ``ffstream bench envs`` (``--quick``: fewer timed steps)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from ffstream.envs.cartpole import CartPole
from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv

from benchmarks.lab import Column, Context, Page, Run
from ffstream.config import option

__all__ = [
    "DESCRIPTION",
    "FULL",
    "NAME",
    "PAGE",
    "QUICK",
    "Config",
    "combine",
    "run_one",
    "runs",
]

NAME = "envs"
DESCRIPTION = "steps/s of ffstream's torch CartPole vs gymnasium's CartPoleVectorEnv"

BIG = 1_048_576  # the "1M envs" runs on CUDA
CUDA_ONLY = ("ffstream-cudagraph",)

Stepper = Callable[[], None]


@dataclass(frozen=True)
class Config:
    """Every setting of the suite, in one place."""

    num_envs: int = option(16_384, "envs per run")
    steps: int = option(200, "timed steps")
    dtype: str = option("float32", "state dtype of ours", choices=("float32", "float64"))
    compile: bool = option(False, "also time a torch.compile'd step on the CPU")

    def __post_init__(self):
        for name in ("num_envs", "steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")


FULL = Config()
QUICK = Config(steps=30)

PAGE = Page(
    title="Torch-vectorised CartPole throughput",
    measures=(
        "Env steps per second of ffstream's torch `CartPole` and gymnasium's numpy "
        "`CartPoleVectorEnv`, the same number of environments with random actions. On CUDA also "
        "a `torch.compile`'d step, a CUDA-graph replay and 1,048,576 environments."
    ),
    command="ffstream bench envs --threads 1",
    columns=(Column("steps_per_s", "million env steps/s", scale=1e-6, digits=2),),
    notes=(
        "Compare steppers measured in the same invocation (the `--out` JSON gives ours over "
        "gymnasium's as `ratio`)."
    ),
)


def _is_cuda(device: str | None) -> bool:
    if device is None or device == "auto":
        return torch.cuda.is_available()
    return torch.device(device).type == "cuda"


def runs(cfg: Config, device: str | None = None) -> list[Run]:
    """Every stepper the device supports, at ``num_envs`` and, on CUDA, at a million envs.

    ``device=None`` means what ``--device auto`` picks: CUDA when a GPU is visible.
    """
    cuda = _is_cuda(device)
    methods = ["ffstream", "gymnasium"]
    if cuda or cfg.compile:
        methods.append("ffstream-compile")
    if cuda:
        methods.append("ffstream-cudagraph")
    out = [Run(m, 0, f"{cfg.num_envs} envs") for m in methods]
    if cuda and cfg.num_envs != BIG:
        out += [Run(m, 0, f"{BIG} envs") for m in ("ffstream", "ffstream-cudagraph", "gymnasium")]
    return out


def run_one(cfg: Config, run: Run, ctx: Context) -> dict[str, Any]:
    """Time one stepper; a stepper that fails (e.g. no compiler) is recorded with its error."""
    device = torch.device(ctx.device)
    if run.method in CUDA_ONLY and device.type != "cuda":
        raise ValueError(f"{run.method} needs a CUDA device; this run is on {device}")
    num_envs = int(run.task.split()[0])
    dtype = getattr(torch, cfg.dtype)
    makers: dict[str, Callable[[], Stepper]] = {
        "ffstream": lambda: _ours(device, num_envs, dtype),
        "ffstream-compile": lambda: _ours(device, num_envs, dtype, compiled=True),
        "ffstream-cudagraph": lambda: _ours_graphed(device, num_envs, dtype),
        "gymnasium": lambda: _gymnasium(num_envs),
    }
    label = f"timing {run.method}: {num_envs:,} envs x {cfg.steps} steps"
    if ctx.console.is_terminal:
        with ctx.console.status(label):
            result = _time(makers[run.method], cfg.steps)
    else:
        result = _time(makers[run.method], cfg.steps)
    if "error" in result:
        ctx.console.print(f"  {run.method}: failed ({result['error']})", highlight=False)
        return {"metrics": {"steps_per_s": None}, "num_envs": num_envs, **result}
    steps_per_s = num_envs * cfg.steps / result["seconds"]
    return {"metrics": {"steps_per_s": steps_per_s}, "num_envs": num_envs, **result}


# -- steppers ----------------------------------------------------------------------------------


def _ours(device, num_envs: int, dtype, compiled: bool = False) -> Stepper:
    # Range checks off: on an accelerator they cost a host sync per step (see TorchVectorEnv).
    env = CartPole(num_envs, device=device, dtype=dtype, validate_actions=False)
    if compiled:
        # Only the pure physics is compiled; RNG with a custom generator stays eager.
        env._transition = torch.compile(env._transition, dynamic=False)
    env.reset(seed=0)
    gen = torch.Generator(device=device).manual_seed(1)

    def step() -> None:
        env.step(torch.randint(0, 2, (num_envs,), generator=gen, device=device))

    return step


def _ours_graphed(device, num_envs: int, dtype) -> Stepper:
    """Capture one whole step (random actions included) as a CUDA graph and replay it."""
    env = CartPole(num_envs, device=device, dtype=dtype, validate_actions=False)
    env._restart_by_index = False  # the capture must not read the done mask on the host
    # The default CUDA generator is graph-safe in every torch version; a custom one needs
    # CUDAGraph.register_generator_state, which older releases lack.
    env._generator = torch.cuda.default_generators[device.index or 0]
    env.reset(seed=0)
    state, steps, done = env._state, env._steps, env._prev_done

    def body() -> None:
        env._state, env._steps, env._prev_done = state, steps, done
        env.step(torch.randint(0, 2, (num_envs,), device=device))
        # The graph reads its inputs from fixed addresses: write the new state back there.
        state.copy_(env._state)
        steps.copy_(env._steps)
        done.copy_(env._prev_done)

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            body()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        body()
    return graph.replay


def _gymnasium(num_envs: int) -> Stepper:
    env = CartPoleVectorEnv(num_envs=num_envs)
    env.reset(seed=0)
    rng = np.random.default_rng(1)

    def step() -> None:
        env.step(rng.integers(0, 2, num_envs))

    return step


# -- measuring ---------------------------------------------------------------------------------


def _time(make_stepper: Callable[[], Stepper], steps: int) -> dict[str, Any]:
    """Build the stepper, warm it up, then time ``steps`` steps (``error`` if any of it fails)."""
    result: dict[str, Any] = {"steps": steps}
    try:
        started = time.perf_counter()
        step = make_stepper()
        for _ in range(max(3, steps // 10)):  # warm-up: allocations, compilation, caches
            step()
        _sync()
        result["setup_seconds"] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()
        for _ in range(steps):
            step()
        _sync()
        seconds = time.perf_counter() - started
    except Exception as err:  # a failed variant (e.g. no compiler) must not sink the others
        result["error"] = f"{type(err).__name__}: {err}"[:300]
        return result
    result["seconds"] = seconds
    return result


def _sync() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def _ratio(records: list[dict[str, Any]], task: str) -> float | None:
    """Ours over gymnasium's steps/s at ``task`` (``None`` unless both were measured)."""
    speed = {r["method"]: r["metrics"].get("steps_per_s") for r in records if r["task"] == task}
    ours, theirs = speed.get("ffstream"), speed.get("gymnasium")
    return ours / theirs if ours and theirs else None


def combine(cfg: Config, records: list[dict[str, Any]], console) -> dict[str, Any]:
    """Every record, plus ours over gymnasium's steps/s at ``num_envs`` and at a million."""
    result = {
        "suite": NAME,
        "preset": records[0]["preset"],
        "config": records[0]["config"],
        "ratio": _ratio(records, f"{cfg.num_envs} envs"),
        "ratio_1m": _ratio(records, f"{BIG} envs"),
        "records": records,
    }
    for key in ("ratio", "ratio_1m"):
        if result[key] is not None:
            console.print(f"{key}: ffstream / gymnasium = {result[key]:.2f}", highlight=False)
    return result
