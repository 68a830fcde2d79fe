"""The GPU fast path: batch-1 ``observe`` eager against CUDA graphs, and a large batched update.

Two questions, each answered in one invocation so the ratios compare like with like:

- **Batch-1 observe** of a ``StreamLearner(784, 10, hidden=(500, 500))``, frames and labels
  coming from the host one at a time (as from a sensor), eager (``observe``) and with
  ``learner.compile("reduce-overhead")`` (the whole awake step one CUDA-graph replay, each
  sleep update another). Once with awake steps alone (a schedule that never sleeps in the
  timed frames: ``*-awake``) and once with the default sleep schedule (``*-sleep``). Timing
  ends with a device synchronisation.
- **A batched FF update** of a ``widths``-wide net (default 784-2000-2000-2000-2000) at
  ``batch`` positives plus as many negatives: ``FFNet.step`` eager in bfloat16 autocast
  (``ffnet-bf16``) and compiled in float32 (``ffnet-compiled``), against a plain PyTorch loop of
  the same update (four linear ReLU layers, each with its own logistic loss on the summed
  squares and the next layer's input detached, fused Adam), ``torch.compile``'d, in bfloat16
  autocast (``raw-compiled-bf16``). Pairs per second (one pair: one positive and one negative).

Each method is timed ``repeats`` times after a warm-up (which compiles); the metric is the
median. It needs a CUDA device; ``--allow-cpu`` runs it on the CPU (small sizes only: a smoke
run, not a measurement of the targets).

Run: ``ffstream bench gpu --device cuda`` (``--quick``: fewer frames and steps)
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from benchmarks.lab import Column, Context, Page, Run, select
from ffstream.config import option

__all__ = ["DESCRIPTION", "FULL", "NAME", "PAGE", "QUICK", "Config", "run_one", "runs"]

NAME = "gpu"
DESCRIPTION = "the GPU fast path: batch-1 observe with CUDA graphs, and a batched bf16 update"
OBSERVE = ("observe-eager-awake", "observe-graphed-awake", "observe-eager-sleep")
OBSERVE += ("observe-graphed-sleep",)
BATCHED = ("ffnet-bf16", "ffnet-compiled", "raw-compiled-bf16")
METHODS = OBSERVE + BATCHED


@dataclass(frozen=True)
class Config:
    """Every setting of the suite, in one place."""

    in_features: int = option(784, "features per frame")
    hidden: tuple[int, ...] = option((500, 500), "the observing learner's hidden widths")
    frames: int = option(3000, "frames timed per repeat (batch-1 observe)")
    widths: tuple[int, ...] = option((2000, 2000, 2000, 2000), "the batched net's layer widths")
    batch: int = option(32_768, "positives (and as many negatives) per batched update")
    steps: int = option(20, "batched updates timed per repeat")
    repeats: int = option(3, "timed repeats; the metric is their median")
    allow_cpu: bool = option(False, "run on a CPU (a smoke run, not a measurement)")
    methods: tuple[str, ...] = select(METHODS, "what to time", choices=METHODS)
    seeds: tuple[int, ...] = select((0,), "seeds")

    def __post_init__(self):
        for name in ("in_features", "frames", "batch", "steps", "repeats"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
        if not self.hidden or not self.widths or min(self.hidden + self.widths) < 1:
            raise ValueError("--hidden and --widths need positive widths")


FULL = Config()
QUICK = Config(frames=500, steps=5)

PAGE = Page(
    title="The GPU fast path",
    measures=(
        "Batch-1 `observe` of a 784-500-500 `StreamLearner` on host frames, eager and with "
        "`compile('reduce-overhead')` (CUDA graphs), awake alone and with sleep; a batched "
        "784-4x2000 update at 32,768 pairs, eager bf16 and compiled, against a compiled plain "
        "PyTorch loop. Median of 3."
    ),
    command="ffstream bench gpu --device cuda",
    columns=(
        Column("frames_per_s", "frames/s", digits=0),
        Column("pairs_per_s", "pairs/s", digits=0),
    ),
    notes=(
        "Targets (issue 22, on an H100/H200): observe awake >= 3,000 frames/s, with sleep "
        ">= 1,500; batched bf16 update >= 0.9x the compiled raw loop."
    ),
)


def runs(cfg: Config) -> list[Run]:
    return [Run(method, seed) for method in cfg.methods for seed in cfg.seeds]


def run_one(cfg: Config, run: Run, ctx: Context) -> dict[str, Any]:
    """Warm one method up (compiling it), then time ``repeats`` rounds of it; refused off
    CUDA unless ``allow_cpu``."""
    device = torch.device(ctx.device)
    if device.type != "cuda" and not cfg.allow_cpu:
        raise ValueError(
            f"bench gpu measures the CUDA fast path; this run is on {device}: use --device "
            "cuda (or --allow-cpu for a smoke run at small sizes)"
        )
    torch.manual_seed(run.seed)
    if run.method in OBSERVE:
        step, per_round, unit = _observer(cfg, run, device), cfg.frames, "frames_per_s"
    else:
        step, per_round, unit = _batched(cfg, run.method, device), cfg.steps, "pairs_per_s"
    warmup = min(per_round, 50)
    for i in range(warmup):
        step(i)
    seconds = []
    for r in range(cfg.repeats):
        _sync(device)
        start = time.perf_counter()
        for i in range(per_round):
            step(warmup + r * per_round + i)
        _sync(device)
        seconds.append(time.perf_counter() - start)
    items = per_round * (cfg.batch if unit == "pairs_per_s" else 1)
    rates = [items / s for s in seconds]
    return {"metrics": {unit: statistics.median(rates)}, "rates": rates}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _observer(cfg: Config, run: Run, device: torch.device) -> Callable[[int], Any]:
    """A batch-1 ``observe`` step over frames held on the host."""
    from ffstream.stream import EveryN, StreamLearner

    awake = run.method.endswith("-awake")
    schedule = EveryN(10**12) if awake else None  # never due within a run, or the default
    learner = StreamLearner(
        cfg.in_features, 10, hidden=cfg.hidden, schedule=schedule, seed=run.seed, device=device
    )
    if "-graphed-" in run.method:
        learner.compile("reduce-overhead")
    g = torch.Generator().manual_seed(run.seed)
    frames = torch.rand(1024, 1, cfg.in_features, generator=g)
    labels = torch.randint(0, 10, (1024, 1), generator=g)
    return lambda i: learner.observe(frames[i % 1024], labels[i % 1024])


def _batched(cfg: Config, method: str, device: torch.device) -> Callable[[int], Any]:
    """One batched update of ``batch`` positives and negatives per call."""
    sizes = [cfg.in_features, *cfg.widths]
    g = torch.Generator().manual_seed(0)
    pos = torch.rand(cfg.batch, cfg.in_features, generator=g).to(device)
    neg = torch.rand(cfg.batch, cfg.in_features, generator=g).to(device)
    if method == "raw-compiled-bf16":
        return _raw_loop(sizes, pos, neg)
    from ffstream.ff import FFNet

    bf16 = method == "ffnet-bf16"
    net = FFNet.mlp(sizes, seed=0, device=device, bf16=bf16, peer_norm=0.0)
    if method == "ffnet-compiled":
        net.compile_step("max-autotune-no-cudagraphs" if device.type == "cuda" else "default")
    return lambda i: net.step(pos=pos, neg=neg, check=False)


def _raw_loop(sizes: list[int], pos: torch.Tensor, neg: torch.Tensor) -> Callable[[int], Any]:
    """The comparison: the same FF update written as plain PyTorch and compiled whole."""
    device = pos.device
    layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])).to(device)
    fused = {"fused": True} if device.type == "cuda" else {"foreach": True}
    optimizer = torch.optim.Adam(layers.parameters(), lr=1e-3, **fused)
    autocast = device.type == "cuda"

    def losses(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        x = torch.cat([pos, neg])
        x = x / (x.square().mean(1, keepdim=True) + 1e-8).sqrt()
        n, total = pos.shape[0], x.new_zeros(())
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            for layer in layers:
                h = F.relu(layer(x)).float()
                g = h.square().sum(1)
                theta = h.shape[1]
                total = total + F.softplus(theta - g[:n]).mean() + F.softplus(g[n:] - theta).mean()
                x = (h / (h.square().mean(1, keepdim=True) + 1e-8).sqrt()).detach()
        return total

    compiled = torch.compile(losses)

    def step(i: int) -> None:
        optimizer.zero_grad(set_to_none=True)
        compiled(pos, neg).backward()
        optimizer.step()

    return step
