"""Environment throughput: our torch CartPole against gymnasium's numpy ``CartPoleVectorEnv``.

Both step the same number of environments with uniformly random actions (drawn each step, on the
environment's own side) in the same run, so the ratio is meaningful on any machine. On CUDA the
suite also runs a million environments, a ``torch.compile``'d physics step and a CUDA-graph
replay of the whole step.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv

from ffstream.envs.cartpole import CartPole

__all__ = ["DESCRIPTION", "add_arguments", "run"]

DESCRIPTION = "steps/s of ffstream's torch CartPole vs gymnasium's CartPoleVectorEnv"

_BIG = 1_048_576  # "1M envs" on CUDA


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of this suite (``--out``, ``--device``, ``--quick`` come from the CLI)."""
    parser.add_argument("--num-envs", type=int, default=16_384, help="envs per run (16384)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (200; quick 30)")
    parser.add_argument(
        "--dtype", choices=("float32", "float64"), default="float32", help="state dtype of ours"
    )
    parser.add_argument(
        "--compile", action="store_true", help="also time a torch.compile'd step on the CPU"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads for the run (default: as is)"
    )


def run(args: argparse.Namespace, console) -> dict[str, Any]:
    """Time every case and return steps/s, the ratio to gymnasium and the machine it ran on."""
    # getattr defaults: run() also works on a bare Namespace(out=..., device=..., quick=...).
    device = torch.device(getattr(args, "device", None) or "cpu")
    quick = getattr(args, "quick", False)
    steps = getattr(args, "steps", None) or (30 if quick else 200)
    dtype_name = getattr(args, "dtype", "float32")
    num_envs = getattr(args, "num_envs", 16_384)
    compile_cpu = getattr(args, "compile", False)
    cuda = device.type == "cuda"
    cases = _cases(device, num_envs, getattr(torch, dtype_name), cuda=cuda, compile_cpu=compile_cpu)
    # On a busy CPU, intra-op threads wait on each other at every op (sin/cos of 16k floats went
    # from ~0.1 ms to ~10 ms with 2 threads on a loaded 2-core box): make the count explicit.
    threads_before = torch.get_num_threads()
    threads = getattr(args, "threads", None) or threads_before
    torch.set_num_threads(threads)
    try:
        results = [_measure(console, *case, steps) for case in cases]
    finally:
        torch.set_num_threads(threads_before)
    by_name = {r["case"]: r for r in results}
    return {
        "suite": "envs",
        "device": str(device),
        "device_name": _device_name(device),
        "torch": torch.__version__,
        "gymnasium": gymnasium.__version__,
        "cpu_threads": threads,
        "dtype": dtype_name,
        "steps": steps,
        "results": results,
        "ratio": _ratio(by_name, "ffstream", "gymnasium"),
        "ratio_1m": _ratio(by_name, "ffstream-1M", "gymnasium-1M"),
    }


# -- cases -------------------------------------------------------------------------------------

Stepper = Callable[[], None]


def _cases(device, num_envs: int, dtype, *, cuda: bool, compile_cpu: bool):
    cases = [
        ("ffstream", num_envs, lambda: _ours(device, num_envs, dtype)),
        ("gymnasium", num_envs, lambda: _gymnasium(num_envs)),
    ]
    if cuda or compile_cpu:
        cases.append(("ffstream-compile", num_envs, lambda: _ours(device, num_envs, dtype, True)))
    if cuda:
        cases += [
            ("ffstream-cudagraph", num_envs, lambda: _ours_graphed(device, num_envs, dtype)),
            ("ffstream-1M", _BIG, lambda: _ours(device, _BIG, dtype)),
            ("ffstream-1M-cudagraph", _BIG, lambda: _ours_graphed(device, _BIG, dtype)),
            ("gymnasium-1M", _BIG, lambda: _gymnasium(_BIG)),
        ]
    return cases


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


def _measure(console, name: str, num_envs: int, make_stepper, steps: int) -> dict[str, Any]:
    label = f"{name}: {num_envs:,} envs x {steps} steps"
    if console.is_terminal:
        with console.status(f"timing {label}"):
            result = _time(name, num_envs, make_stepper, steps)
    else:
        console.print(f"timing {label}")
        result = _time(name, num_envs, make_stepper, steps)
    if "error" in result:
        console.print(f"  {name}: failed ({result['error']})")
    else:
        console.print(f"  {name}: {result['steps_per_second']:,.0f} env-steps/s")
    return result


def _time(name: str, num_envs: int, make_stepper, steps: int) -> dict[str, Any]:
    result: dict[str, Any] = {"case": name, "num_envs": num_envs, "steps": steps}
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
    result["seconds"] = round(seconds, 4)
    result["steps_per_second"] = num_envs * steps / seconds
    return result


def _sync() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def _ratio(by_name: dict[str, dict], ours: str, theirs: str) -> float | None:
    a, b = by_name.get(ours, {}), by_name.get(theirs, {})
    if "steps_per_second" not in a or "steps_per_second" not in b:
        return None
    return a["steps_per_second"] / b["steps_per_second"]


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine() or "cpu"
