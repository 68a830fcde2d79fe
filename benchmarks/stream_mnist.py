"""``ffstream bench stream-mnist``: MNIST as one pass of a stream, learned frame by frame.

What it does, top to bottom:

1. load MNIST (checked against the official SHA-256) and shuffle the training set once with
   ``--seed``; that order is *the stream*, the same for every condition and batch size;
2. for every batch size (frames per :meth:`~ffstream.stream.StreamLearner.observe` call) run
   each condition over the stream exactly once, predicting every frame *before* learning from it
   (prequential, test-then-train), then measure accuracy on the test set:

   - ``ff-interleaved``: a positive and a negative (hard wrong label) update on every frame;
   - ``ff-sleep-N``: awake/sleep FF, positive updates only while awake, a full sleep every ``N``
     frames (:class:`~ffstream.stream.EveryN`; replayed memories as positives beside dreams as
     negatives);
   - ``ff-sleep-1000-no-replay``: the naive separated-phase ablation, sleeping on dream
     negatives only (``replay=False``);
   - ``backprop-mlp``: an online backprop MLP of the same layer sizes plus a 10-way output
     (784-500-500-10 by default), one step per batch, its optimizer and learning rate picked
     from a small grid by prequential accuracy on the first frames of the training stream;

   ``--ablation`` runs :func:`ablation_conditions` instead: one lever of the design at a time
   (dreams, replay, sleep length, optimizer, goodness) around the default awake/sleep learner;

3. time ``observe()`` against a bare PyTorch loop doing the same arithmetic on the same net
   (same initial weights, same frames, same optimizer) at batch 1 and 8,192, for a labelled
   learner (``predict_with="readout"``) and an unlabelled one (positive update only). Both run
   in alternating rounds of the same process, so the ratio is meaningful on a busy machine. A
   short equivalence check first confirms that both sides compute the same weights. When a
   ratio is below ``0.9`` (or with ``--profile``) ``observe()`` is profiled with cProfile and
   the JSON lists where the time goes, per function, in microseconds per call.

Configurations (see :data:`FULL` and :data:`QUICK`): full streams all 60,000 frames at batch 1
and 10; ``--quick`` streams the first 2,000 frames at batch 1 only (about 3-7 minutes on a busy
2-core CPU, where a 784-500-500 ``observe`` runs at only ~35-180 frames/s).

The FF learners use :class:`~ffstream.stream.StreamLearner`'s own defaults (learning rate,
widths, inference mode, memory, dreams) unless ``--lr``, ``--hidden``, ``--predict-with``,
``--sleep-batch`` or ``--replay-shift`` (frames become 28×28 images, and each frame replayed
in sleep is shifted by up to N pixels) override them; the JSON records what was used.

Examples
--------
``ffstream bench stream-mnist --quick --data /path/to/data --out stream-mnist-quick.json``
"""

from __future__ import annotations

import cProfile
import dataclasses
import inspect
import math
import pstats
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from rich import box
from rich.console import Console
from rich.table import Table

from ffstream._checks import check_pixel_shift
from benchmarks._common import (
    add_data_source_arguments,
    make_progress,
    result_skeleton,
    sync,
)
from benchmarks.mnist_ff import backprop_twin
from ffstream.data import load_mnist, shuffled_stream, to_unit_float
from ffstream.stream import (
    EveryN,
    HybridDreams,
    Interleaved,
    LangevinDreams,
    Manual,
    Schedule,
    StreamLearner,
    WrongLabelDreams,
)

__all__ = [
    "DESCRIPTION",
    "FULL",
    "QUICK",
    "Condition",
    "StreamConfig",
    "ablation_conditions",
    "add_arguments",
    "bare_learner",
    "conditions",
    "config_from_args",
    "learner_defaults",
    "run",
    "run_condition",
    "selected_conditions",
]

DESCRIPTION = (
    "MNIST as one pass of a stream: prequential and test accuracy of interleaved, awake/sleep "
    "and backprop learners; observe() speed against a bare PyTorch loop"
)


@dataclass
class StreamConfig:
    """Every hyper-parameter of the suite, in one place.

    ``None`` for ``hidden``, ``lr``, ``predict_with`` and ``sleep_batch`` means "the
    StreamLearner default".
    """

    frames: int | None = None  # stream length; None: the whole training set (60,000)
    batch_sizes: tuple[int, ...] = (1, 10)
    sleep_every: tuple[int, ...] = (100, 1_000, 10_000)  # awake/sleep conditions (EveryN)
    ablation_sleep_every: int = 1_000  # the no-replay ablation
    hidden: tuple[int, ...] | None = None
    lr: float | None = None
    predict_with: str | None = None
    sleep_batch: int | None = None
    replay_shift: int = 0  # FF: shift each frame replayed in sleep by up to N pixels
    window: int = 1_000  # frames per point of the prequential accuracy curve
    test_frames: int | None = None  # None: the whole test set
    # the online backprop baseline: (optimizer, lr) grid, tuned on the first frames of the stream
    bp_grid: tuple[tuple[str, float], ...] = (
        ("sgd", 0.01),
        ("sgd", 0.03),
        ("sgd", 0.1),
        ("adam", 1e-4),
        ("adam", 3e-4),
        ("adam", 1e-3),
    )
    bp_tune_frames: int = 5_000
    # observe() speed against a bare loop
    speed_batch_sizes: tuple[int, ...] = (1, 8_192)
    speed_seconds: float = 10.0  # timed seconds per side and case, in alternating rounds
    speed_round_seconds: float = 0.25  # per side and round (at least one call)
    speed_min_rounds: int = 3
    speed_max_rounds: int = 40
    speed_ratio_target: float = 0.9  # profile observe() below this ratio
    profile: bool = False  # profile observe() even when the ratio meets the target
    ablation: bool = False  # run ablation_conditions() instead (no backprop, no speed)
    only: tuple[str, ...] = ()  # run only the conditions of these names (empty: all)
    threads: int | None = 1  # torch CPU threads; 1 suits per-frame work on a shared machine
    seed: int = 0


#: All 60,000 training frames, batch 1 and micro-batches of 10.
FULL = StreamConfig()

#: A CPU configuration: the first 2,000 frames of the stream, batch 1 only. Sized for ~6 minutes
#: on a busy 2-core CPU, where observe() at batch 1 runs at only ~35-80 frames/s (awake/sleep
#: conditions spend as many steps asleep as awake); at this length ff-sleep-10000 never sleeps,
#: so it doubles as the awake-only control.
QUICK = StreamConfig(frames=2_000, batch_sizes=(1,), bp_tune_frames=1_000, speed_seconds=4.0)


def add_arguments(parser) -> None:
    """Options of ``ffstream bench stream-mnist``."""
    add_data_source_arguments(parser)
    parser.add_argument("--frames", type=int, default=None, help="stream length (default: all)")
    parser.add_argument(
        "--batch-sizes", default=None, help="frames per observe() call, e.g. 1,10 (quick: 1)"
    )
    parser.add_argument("--seed", type=int, default=None, help="stream order and weights seed")
    parser.add_argument("--lr", type=float, default=None, help="FF lr (default: the learner's)")
    parser.add_argument("--hidden", default=None, help="FF widths, e.g. 500,500")
    parser.add_argument(
        "--predict-with",
        choices=("goodness", "readout"),
        default=None,
        help="FF inference mode (default: learner's)",
    )
    parser.add_argument(
        "--sleep-batch", type=int, default=None, help="FF frames per sleep step (learner's)"
    )
    parser.add_argument(
        "--replay-shift",
        type=int,
        default=None,
        help="FF: shift each frame replayed in sleep by up to N pixels (0)",
    )
    parser.add_argument("--window", type=int, default=None, help="frames per curve point (1000)")
    parser.add_argument(
        "--speed-batch-sizes", default=None, help="batch sizes timed against a bare loop (1,8192)"
    )
    parser.add_argument(
        "--speed-seconds", type=float, default=None, help="timed seconds per side per case (10)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="profile observe() even if it is fast enough"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default 1 on this suite)"
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="CONDITION",
        help="run only this condition (its exact name; repeat for more)",
    )
    parser.add_argument(
        "--ablation",
        action="store_true",
        help="instead of the suite: one lever at a time around the default learner",
    )


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(s) for s in text.split(",") if s.strip())


def config_from_args(args) -> StreamConfig:
    """The base configuration (full or ``--quick``) with command-line overrides applied."""
    cfg = QUICK if getattr(args, "quick", False) else FULL
    overrides: dict[str, Any] = {}
    for name in (
        "frames",
        "seed",
        "lr",
        "predict_with",
        "sleep_batch",
        "replay_shift",
        "window",
        "threads",
        "speed_seconds",
    ):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    for name in ("hidden", "batch_sizes", "speed_batch_sizes"):
        if getattr(args, name, None):
            overrides[name] = _ints(getattr(args, name))
    for name in ("profile", "ablation"):
        if getattr(args, name, False):
            overrides[name] = True
    if getattr(args, "only", None):
        overrides["only"] = tuple(args.only)
    cfg = dataclasses.replace(cfg, **overrides)
    if any(b < 1 for b in (*cfg.batch_sizes, *cfg.speed_batch_sizes)) or cfg.window < 1:
        raise ValueError("batch sizes and --window must be positive")
    if cfg.sleep_batch is not None and cfg.sleep_batch < 1:
        raise ValueError(f"--sleep-batch must be positive, got {cfg.sleep_batch}")
    check_pixel_shift(cfg.replay_shift, "--replay-shift")
    selected_conditions(cfg)  # an unknown --only name fails here, before any data is read
    return cfg


def learner_defaults() -> dict[str, Any]:
    """StreamLearner's keyword defaults, read from its signature (the lead tunes them there)."""
    return {
        name: p.default
        for name, p in inspect.signature(StreamLearner).parameters.items()
        if p.default is not inspect.Parameter.empty and p.kind == p.KEYWORD_ONLY
    }


def _learner_overrides(cfg: StreamConfig) -> dict[str, Any]:
    """Only what the command line set; everything else stays the learner's default."""
    names = ("hidden", "lr", "predict_with", "sleep_batch")
    overrides = {name: getattr(cfg, name) for name in names if getattr(cfg, name) is not None}
    if cfg.replay_shift:
        overrides["replay_shift"] = cfg.replay_shift
    return overrides


# ---------------------------------------------------------------------------- conditions
@dataclass(frozen=True)
class Condition:
    """One way of learning the stream: an FF schedule (with or without replay), or backprop."""

    name: str
    kind: str  # "ff" or "backprop"
    schedule: Callable[[], Schedule] | None = None  # a fresh schedule per run (they keep state)
    replay: bool = True
    options: Callable[[], dict[str, Any]] = dict  # more StreamLearner keywords, made fresh


def conditions(cfg: StreamConfig) -> list[Condition]:
    """The conditions of the suite, in the order they run."""
    out = [Condition("ff-interleaved", "ff", Interleaved)]
    for n in cfg.sleep_every:
        out.append(Condition(f"ff-sleep-{n}", "ff", lambda n=n: EveryN(n)))
    n = cfg.ablation_sleep_every
    out.append(Condition(f"ff-sleep-{n}-no-replay", "ff", lambda: EveryN(n), replay=False))
    out.append(Condition("backprop-mlp", "backprop"))
    return out


def ablation_conditions(cfg: StreamConfig) -> list[Condition]:
    """The levers of section 5 of the design, one at a time, around the default learner.

    Every condition but the interleaved reference sleeps every ``cfg.ablation_sleep_every``
    frames and changes one thing: the dreams (uniform wrong labels, unsupervised hybrids,
    Langevin goodness ascent), no positive replay, short fixed sleeps (32 steps, not balanced
    with the awake updates), the learning rate, Hinton's "very low learning rate and extremely
    high momentum" (SGD), or mean-of-squares goodness.
    """
    n = cfg.ablation_sleep_every

    def sleep(name: str, replay: bool = True, steps: int | None = None, **options) -> Condition:
        return Condition(
            name,
            "ff",
            lambda: EveryN(n, steps=steps),
            replay=replay,
            options=lambda: {k: v() if callable(v) else v for k, v in options.items()},
        )

    return [
        Condition("ff-interleaved", "ff", Interleaved),
        sleep(f"ff-sleep-{n} (default)"),
        sleep("no positive replay", replay=False),
        sleep("dreams: uniform wrong labels", dreams=lambda: WrongLabelDreams(hard=False)),
        sleep("dreams: hybrid masks", dreams=HybridDreams),
        sleep("dreams: Langevin goodness ascent", dreams=LangevinDreams),
        sleep("short sleeps (32 steps)", steps=32),
        sleep("Adam lr 1e-4", lr=1e-4),
        sleep("Adam lr 1e-3", lr=1e-3),
        sleep("SGD lr 1e-3, momentum 0.99", optimizer="sgd", lr=1e-3, momentum=0.99),
        sleep("SGD lr 1e-2, momentum 0.9", optimizer="sgd", lr=1e-2, momentum=0.9),
        sleep("SGD lr 1e-5, momentum 0.99", optimizer="sgd", lr=1e-5, momentum=0.99),
        sleep("SGD lr 1e-5, momentum 0.9", optimizer="sgd", lr=1e-5, momentum=0.9),
        sleep("goodness: mean of squares", goodness="mean"),
    ]


def selected_conditions(cfg: StreamConfig) -> list[Condition]:
    """The suite's or the ablation's conditions, narrowed to ``cfg.only`` when it names any.

    Raises ``ValueError`` naming the conditions that exist when a name matches none.
    """
    every = ablation_conditions(cfg) if cfg.ablation else conditions(cfg)
    if not cfg.only:
        return every
    names = [c.name for c in every]
    unknown = [name for name in cfg.only if name not in names]
    if unknown:
        raise ValueError(f"unknown condition(s) {unknown}; choose from {names}")
    return [c for c in every if c.name in cfg.only]


# ---------------------------------------------------------------------------- data
def load_stream(
    root: str | None, *, frames: int | None, test_frames: int | None, seed: int, verify: bool
) -> dict[str, torch.Tensor]:
    """The stream (the training set shuffled once with ``seed``) and the test set, on the CPU.

    Frames are flat ``float32`` in ``[0, 1]``. ``frames`` keeps the first frames of the stream.
    """
    images, labels = load_mnist(root, split="train", verify=verify)
    # One batch of the whole set is the shuffled stream itself, converted once.
    x, y = next(shuffled_stream(images, labels, batch_size=len(images), seed=seed))
    if frames is not None:
        x, y = x[:frames], y[:frames]
    test_images, test_labels = load_mnist(root, split="test", verify=verify)
    if test_frames is not None:
        test_images, test_labels = test_images[:test_frames], test_labels[:test_frames]
    return {"x": x, "y": y, "x_test": to_unit_float(test_images), "y_test": test_labels}


# ---------------------------------------------------------------------------- learning the stream
def make_learner(cond: Condition, cfg: StreamConfig, device: str) -> StreamLearner:
    """A fresh labelled learner for an FF condition (defaults unless overridden).

    With ``cfg.replay_shift`` its frames are 28×28 images, so sleep can shift what it replays.
    """
    options = {**_learner_overrides(cfg), **cond.options()}
    return StreamLearner(
        (28, 28) if cfg.replay_shift else 784,
        10,
        schedule=cond.schedule(),
        replay=cond.replay,
        device=device,
        seed=cfg.seed,
        **options,
    )


def stream_ff(learner: StreamLearner, x, y, batch: int, on_batch: Callable[[int, int], None]):
    """Observe the stream ``batch`` frames at a time; returns the per-frame hits (0/1)."""
    hits = torch.zeros(len(x), dtype=torch.bool)
    x = x.view(len(x), *learner.frame_shape)
    for i in range(0, len(x), batch):
        out = learner.observe(x[i : i + batch], y[i : i + batch])
        hit = (out.prediction == y[i : i + batch]).cpu()
        hits[i : i + batch] = hit
        on_batch(len(hit), int(hit.sum()))
    return hits


def stream_backprop(model, optimizer, x, y, batch: int, on_batch: Callable[[int, int], None]):
    """Online backprop: predict a batch (prequential), then one cross-entropy step on it."""
    hits = torch.zeros(len(x), dtype=torch.bool)
    for i in range(0, len(x), batch):
        xb, yb = x[i : i + batch], y[i : i + batch]
        logits = model(xb)
        hit = (logits.detach().argmax(1) == yb).cpu()
        hits[i : i + batch] = hit
        loss = F.cross_entropy(logits, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        on_batch(len(hit), int(hit.sum()))
    return hits


def make_backprop(sizes: tuple[int, ...], optimizer: str, lr: float, seed: int, device: str):
    """The backprop MLP (``sizes`` then a 10-way output layer) and its optimizer, seeded."""
    torch.manual_seed(seed)
    model = backprop_twin(sizes).to(device)
    opt_class = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[optimizer]
    return model, opt_class(model.parameters(), lr=lr)


def accuracy_curve(hits: torch.Tensor, window: int) -> list[dict[str, float]]:
    """Prequential accuracy per window of ``window`` frames (the last one may be shorter)."""
    points = []
    for i in range(0, len(hits), window):
        chunk = hits[i : i + window]
        points.append({"frames": i + len(chunk), "accuracy": float(chunk.float().mean())})
    return points


@torch.no_grad()
def test_accuracy(predict: Callable[[torch.Tensor], torch.Tensor], x, y, batch: int = 1000):
    """Fraction of test frames that ``predict`` gets right."""
    right = sum(
        int((predict(x[i : i + batch]).cpu() == y[i : i + batch]).sum())
        for i in range(0, len(x), batch)
    )
    return right / len(x)


# ---------------------------------------------------------------------------- the bare loop
# The same arithmetic as StreamLearner.observe, written straight: no validation, no memory, no
# schedule, no novelty. Weights, optimizer settings, peer normalisation and the label encoding
# are copied from a learner, so both sides start from the same net and do the same work.
@dataclass
class BareFF:
    """Plain tensors and optimizers: what a hand-written FF training loop would hold."""

    weights: list[torch.Tensor]
    biases: list[torch.Tensor]
    mean_activity: list[torch.Tensor]
    thetas: list[float]
    optimizer: torch.optim.Optimizer
    peer_norm: float
    peer_momentum: float
    goodness_sum: bool
    num_classes: int | None = None
    append_labels: bool = True  # OneHotAppend (else OneHotOverlay)
    label_strength: float = 1.0
    readout_w: torch.Tensor | None = None
    readout_b: torch.Tensor | None = None
    readout_optimizer: torch.optim.Optimizer | None = None


def _copy_optimizer(source: torch.optim.Optimizer, params: list[torch.Tensor]):
    """An optimizer of the same class and settings as ``source`` over ``params``."""
    optimizer = type(source)(params)
    settings = {k: v for k, v in source.param_groups[0].items() if k != "params"}
    optimizer.param_groups[0].update(settings)
    return optimizer


def bare_learner(learner: StreamLearner) -> BareFF:
    """The bare-loop twin of a freshly made ``learner``: same weights and settings.

    Raises ``ValueError`` for learner features the bare loop does not reproduce.
    """
    net = learner.net
    if net.bf16 or not net.normalize_input:
        raise ValueError("the bare loop covers bf16=False, normalize_input=True")
    weights = [layer.transform.weight.detach().clone().requires_grad_() for layer in net.layers]
    biases = [layer.transform.bias.detach().clone().requires_grad_() for layer in net.layers]
    params = [p for pair in zip(weights, biases) for p in pair]
    bare = BareFF(
        weights=weights,
        biases=biases,
        mean_activity=[layer.mean_activity.clone() for layer in net.layers],
        thetas=[net.goodness_fn.threshold_for(w.shape[0]) for w in weights],
        optimizer=_copy_optimizer(net.optimizer, params),
        peer_norm=net.peer_norm,
        peer_momentum=net.peer_momentum,
        goodness_sum=net.goodness_fn.reduction == "sum",
        num_classes=learner.num_classes,
    )
    if learner.encoding is not None:
        name = type(learner.encoding).__name__
        if name not in ("OneHotAppend", "OneHotOverlay"):
            raise ValueError(f"the bare loop does not reproduce the {name} label encoding")
        bare.append_labels = name == "OneHotAppend"
        bare.label_strength = learner.encoding.strength
        linear = learner.readout.linear
        bare.readout_w = linear.weight.detach().clone().requires_grad_()
        bare.readout_b = linear.bias.detach().clone().requires_grad_()
        bare.readout_optimizer = _copy_optimizer(
            learner.readout.optimizer, [bare.readout_w, bare.readout_b]
        )
    return bare


def _rms(h: torch.Tensor) -> torch.Tensor:
    return h / h.square().mean(1).add(1e-8).sqrt().view(-1, 1)


def _encode(bare: BareFF, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """One-hot label (``y``) or the neutral label (``y=None``), appended or overlaid."""
    c, s = bare.num_classes, bare.label_strength
    if bare.append_labels:
        neutral = y is None
        label = x.new_full((x.shape[0], c), s / c) if neutral else F.one_hot(y, c).to(x) * s
        return torch.cat([x, label], dim=1)
    out = x.clone()
    if y is None:
        out[:, :c] = s / c
    else:
        out[:, :c] = 0.0
        out[torch.arange(x.shape[0]), y] = s
    return out


@torch.no_grad()
def _bare_features(bare: BareFF, x: torch.Tensor) -> torch.Tensor:
    """Normalised activities of layers >= 2 (of the only layer, if one): readout features."""
    h, feats = _rms(x), []
    for w, b in zip(bare.weights, bare.biases):
        h = _rms(F.relu(F.linear(h, w, b)))
        feats.append(h)
    return torch.cat(feats[1:] if len(feats) > 1 else feats, dim=1)


def _bare_positive_update(bare: BareFF, x: torch.Tensor) -> torch.Tensor:
    """One local positive update of every layer (Adam, peer norm); returns per-layer goodness."""
    h_in = _rms(x)
    total = x.new_zeros(())
    goodness = []
    for w, b, mean, theta in zip(bare.weights, bare.biases, bare.mean_activity, bare.thetas):
        pre = F.linear(h_in, w, b)
        h = F.relu(pre)
        g = h.square().sum(1) if bare.goodness_sum else h.square().mean(1)
        loss = F.softplus(theta - g).mean()
        if bare.peer_norm:
            mean.mul_(bare.peer_momentum).add_(h.detach().mean(0), alpha=1 - bare.peer_momentum)
            push = bare.peer_norm * (mean - mean.mean())
            loss = loss + (push * pre.mean(0)).sum()
        total = total + loss
        goodness.append(g.detach())
        h_in = _rms(h).detach()  # the locality boundary
    bare.optimizer.zero_grad(set_to_none=True)
    total.backward()
    bare.optimizer.step()
    return torch.stack(goodness, dim=1)


def bare_observe(bare: BareFF, x: torch.Tensor, y: torch.Tensor | None = None):
    """What ``observe`` computes: predict (readout), positive update, readout update."""
    if y is None:
        return _bare_positive_update(bare, x), None
    with torch.no_grad():
        features = _bare_features(bare, _encode(bare, x, None))
    prediction = F.linear(features, bare.readout_w, bare.readout_b).argmax(1)
    goodness = _bare_positive_update(bare, _encode(bare, x, y))
    # as StreamLearner does: the readout learns from the features it predicted with
    logits = F.linear(features, bare.readout_w, bare.readout_b)
    loss = F.cross_entropy(logits, y)
    bare.readout_optimizer.zero_grad(set_to_none=True)
    loss.backward()
    bare.readout_optimizer.step()
    return goodness, prediction


# ---------------------------------------------------------------------------- speed
def _speed_learner(labelled: bool, hidden, lr, device: str, seed: int) -> StreamLearner:
    kwargs: dict[str, Any] = dict(hidden=hidden, schedule=Manual(), device=device, seed=seed)
    if lr is not None:
        kwargs["lr"] = lr
    if labelled:
        return StreamLearner(784, 10, predict_with="readout", **kwargs)
    return StreamLearner(784, None, **kwargs)


def equivalence_check(labelled: bool, hidden, lr, x, y, device: str, seed: int, steps: int = 3):
    """Largest weight difference between ``observe`` and the bare loop after ``steps`` frames.

    Near 0 means the bare loop really does the learner's arithmetic (a fair comparison).
    """
    learner = _speed_learner(labelled, hidden, lr, device, seed)
    bare = bare_learner(learner)
    for i in range(steps):
        yb = y[i : i + 1] if labelled else None
        learner.observe(x[i : i + 1], yb)
        bare_observe(bare, x[i : i + 1], yb)
    diffs = [
        (layer.transform.weight - w).abs().max().item()
        for layer, w in zip(learner.net.layers, bare.weights)
    ]
    if labelled:
        diffs.append((learner.readout.linear.weight - bare.readout_w).abs().max().item())
    return max(diffs)


def _time_calls(fn: Callable[[int], Any], start: int, iters: int, device: str):
    """Wall-clock and process CPU seconds of ``iters`` calls ``fn(start) .. fn(start+iters-1)``.

    CPU time counts only this process, so on a shared machine it is steadier than wall time.
    """
    sync(device)
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(start, start + iters):
        fn(i)
    sync(device)
    return time.perf_counter() - wall, time.process_time() - cpu


def measure_speed(cfg: StreamConfig, x, y, device: str, hidden, console: Console):
    """frames/s of ``observe`` and of the bare loop, per learner kind and batch size.

    The two sides run in many short alternating rounds (each about ``speed_round_seconds``),
    so both see the same machine load; the ratio is the median of the per-round ratios.
    """
    results = []
    n = len(x)
    for labelled in (False, True):
        for batch in cfg.speed_batch_sizes:
            index = torch.arange(batch)
            # a few different batches of the stream (wrapping around), ready on the device
            sample = [
                (x[(index + i * batch) % n].to(device), y[(index + i * batch) % n].to(device))
                for i in range(min(64, max(4, 8192 // batch)))
            ]
            learner = _speed_learner(labelled, hidden, cfg.lr, device, cfg.seed)
            bare = bare_learner(learner)

            def run_learner(i, sample=sample, learner=learner, labelled=labelled):
                xb, yb = sample[i % len(sample)]
                learner.observe(xb, yb if labelled else None)

            def run_bare(i, sample=sample, bare=bare, labelled=labelled):
                xb, yb = sample[i % len(sample)]
                bare_observe(bare, xb, yb if labelled else None)

            # warm up both sides, then size rounds and their number from the cost of a call
            warm = 10 if batch < 64 else 1
            per_call = (
                max(
                    _time_calls(run_learner, 0, warm, device)[0],
                    _time_calls(run_bare, 0, warm, device)[0],
                )
                / warm
            )
            round_s = min(cfg.speed_round_seconds, cfg.speed_seconds / cfg.speed_min_rounds)
            iters = max(1, math.ceil(round_s / per_call))
            rounds = min(
                cfg.speed_max_rounds,
                max(cfg.speed_min_rounds, int(cfg.speed_seconds / (iters * per_call))),
            )
            learner_t, bare_t = [], []
            for r in range(rounds):
                learner_t.append(_time_calls(run_learner, r * iters, iters, device))
                bare_t.append(_time_calls(run_bare, r * iters, iters, device))
            wall_ratios = [b[0] / a[0] for a, b in zip(learner_t, bare_t)]
            cpu_ratios = [
                b[1] / a[1] if a[1] > 0 else float("nan") for a, b in zip(learner_t, bare_t)
            ]
            learner_s = _median([t[0] for t in learner_t])
            bare_s = _median([t[0] for t in bare_t])
            record = {
                "learner": "labelled, predict_with=readout" if labelled else "unlabelled",
                "labelled": labelled,
                "batch_size": batch,
                "iters_per_round": iters,
                "rounds": rounds,
                "observe_frames_per_s": batch * iters / learner_s,
                "bare_frames_per_s": batch * iters / bare_s,
                "ratio": _median(wall_ratios),
                "ratio_cpu_time": _median(cpu_ratios),
                "ratio_per_round": wall_ratios,
                "observe_us_per_call": 1e6 * learner_s / iters,
                "bare_us_per_call": 1e6 * bare_s / iters,
                "observe_cpu_us_per_call": 1e6 * _median([t[1] for t in learner_t]) / iters,
                "bare_cpu_us_per_call": 1e6 * _median([t[1] for t in bare_t]) / iters,
            }
            record["overhead_us_per_call"] = (
                record["observe_us_per_call"] - record["bare_us_per_call"]
            )
            if record["ratio"] < cfg.speed_ratio_target or cfg.profile:
                fresh = _speed_learner(labelled, hidden, cfg.lr, device, cfg.seed)
                record["profile"] = profile_observe(
                    fresh, bare_learner(fresh), sample, labelled, iters=max(3, min(iters, 200))
                )
            console.print(
                f"speed {record['learner']:<32} batch {batch:>5}: observe "
                f"{record['observe_frames_per_s']:9.0f} frames/s, bare "
                f"{record['bare_frames_per_s']:9.0f} frames/s, ratio {record['ratio']:.2f} "
                f"(CPU time {record['ratio_cpu_time']:.2f})",
                highlight=False,
            )
            results.append(record)
    return results


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def profile_observe(
    learner: StreamLearner, bare: BareFF, sample, labelled: bool, iters: int
) -> dict[str, Any]:
    """Where ``observe``'s time goes: cProfile per function, and torch ops against the bare loop.

    cProfile's own cost inflates functions that make many small calls, so read its microseconds
    as a ranking and an upper bound. The op counts (from ``torch.profiler``) do not depend on
    machine load: at small batches every extra op costs roughly the same few microseconds of
    dispatch, so extra ops per call are the overhead.
    """

    def call_learner(i: int) -> None:
        xb, yb = sample[i % len(sample)]
        learner.observe(xb, yb if labelled else None)

    def call_bare(i: int) -> None:
        xb, yb = sample[i % len(sample)]
        bare_observe(bare, xb, yb if labelled else None)

    for i in range(3):  # warm up
        call_learner(i)
        call_bare(i)
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(iters):
        call_learner(i)
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # (file, line, name) -> (cc, ncalls, tottime, cumtime, _)
    rows = []
    for (file, _line, name), (_cc, ncalls, tottime, cumtime, _callers) in stats.items():
        if "/ffstream/" in file:
            where = file[file.rindex("/ffstream/") + 1 :] + ":" + name
        elif file == "~":
            where = name  # a builtin: torch ops show up here
        else:
            where = file.rsplit("/", 2)[-1] + ":" + name
        rows.append(
            {
                "function": where,
                "calls_per_observe": ncalls / iters,
                "self_us": 1e6 * tottime / iters,
                "cumulative_us": 1e6 * cumtime / iters,
            }
        )
    observe = next((r for r in rows if r["function"].endswith("learner.py:observe")), None)
    ours = [  # the library's functions, not this harness's
        r for r in rows if r["function"].startswith("ffstream/") and "/bench/" not in r["function"]
    ]
    ops_learner, ops_bare = _aten_ops(call_learner), _aten_ops(call_bare)
    extra = {
        op: ops_learner.get(op, 0.0) - ops_bare.get(op, 0.0)
        for op in set(ops_learner) | set(ops_bare)
    }
    return {
        "iters": iters,
        "observe_us_profiled": observe["cumulative_us"] if observe else None,
        "ffstream_by_cumulative": sorted(ours, key=lambda r: -r["cumulative_us"])[:25],
        "all_by_self": sorted(rows, key=lambda r: -r["self_us"])[:20],
        "aten_ops_per_call": {
            "observe": sum(ops_learner.values()),
            "bare": sum(ops_bare.values()),
            "extra_by_op": dict(
                sorted(((k, v) for k, v in extra.items() if v), key=lambda kv: -kv[1])[:30]
            ),
        },
    }


def _aten_ops(fn: Callable[[int], Any], calls: int = 2) -> dict[str, float]:
    """Torch (aten) ops per call of ``fn``, by name."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for i in range(calls):
            fn(i)
    return {e.key: e.count / calls for e in prof.key_averages() if e.key.startswith("aten::")}


# ---------------------------------------------------------------------------- the suite
def run(args, console: Console) -> dict[str, Any]:
    """Stream every condition, evaluate, time ``observe``; returns the result dict."""
    cfg = config_from_args(args)
    device = args.device
    threads_before = torch.get_num_threads()
    if cfg.threads and torch.device(device).type == "cpu":
        torch.set_num_threads(cfg.threads)
    try:
        return _run(cfg, args, device, console)
    finally:
        torch.set_num_threads(threads_before)


def _run(cfg: StreamConfig, args, device: str, console: Console) -> dict[str, Any]:
    wall_start = time.perf_counter()
    result = result_skeleton("stream-mnist", device, getattr(args, "quick", False), cfg)
    result["torch_threads"] = torch.get_num_threads()
    defaults = learner_defaults()
    result["learner_defaults"] = {k: repr(v) if not _plain(v) else v for k, v in defaults.items()}
    result["learner_overrides"] = _learner_overrides(cfg)
    hidden = tuple(cfg.hidden or defaults["hidden"])

    data = load_stream(
        getattr(args, "data", None),
        frames=cfg.frames,
        test_frames=cfg.test_frames,
        seed=cfg.seed,
        verify=getattr(args, "verify", True),
    )
    data = {k: v.to(device) for k, v in data.items()}
    x = data["x"]
    result["data"] = {
        "root": None if getattr(args, "data", None) is None else str(args.data),
        "stream_frames": len(x),
        "test_frames": len(data["x_test"]),
    }
    console.print(
        f"stream-mnist: {len(x)} frames, batch sizes {list(cfg.batch_sizes)}, FF "
        f"{'-'.join(map(str, (784, *hidden)))} on {result['device_name']}",
        highlight=False,
    )

    runs: list[dict[str, Any]] = []
    with make_progress(console) as progress:
        for batch in cfg.batch_sizes:
            for cond in selected_conditions(cfg):
                task = progress.add_task(f"{cond.name} b{batch}", total=len(x), status="")
                seen = [0, 0]

                def on_batch(n: int, right: int, task=task, seen=seen) -> None:
                    seen[0] += n
                    seen[1] += right
                    progress.update(task, advance=n, status=f"acc {seen[1] / seen[0]:.3f}")

                record = run_condition(cond, batch, cfg, hidden, data, device, progress, on_batch)
                runs.append(record)
                progress.update(task, status=f"acc {record['prequential_accuracy']:.3f} done")
                console.print(
                    f"{cond.name:<26} batch {batch:>3}: prequential "
                    f"{record['prequential_accuracy']:.4f}, test {record['test_accuracy']:.4f}, "
                    f"{record['frames_per_s']:.0f} frames/s",
                    highlight=False,
                )
    result["runs"] = runs
    if not cfg.ablation:
        result.update(speed_report(cfg, data, device, hidden, console))
    result["wall_s"] = time.perf_counter() - wall_start
    for table in _tables(result):
        console.print(table)
    return result


def speed_report(
    cfg: StreamConfig,
    data: dict[str, torch.Tensor],
    device: str,
    hidden: tuple[int, ...],
    console: Console,
) -> dict[str, Any]:
    """Check that observe() and the bare loop compute the same weights, then time both."""
    x, y = data["x"], data["y"]
    return {
        "speed_equivalence_max_weight_diff": {
            kind: equivalence_check(kind == "labelled", hidden, cfg.lr, x, y, device, cfg.seed)
            for kind in ("unlabelled", "labelled")
        },
        "speed": measure_speed(cfg, x, y, device, hidden, console),
        "speed_note": (
            "observe() against a bare loop of the same arithmetic on the same initial weights "
            "(labelled: neutral-label forward + readout prediction, positive FF update of each "
            "layer with detach and the learner's optimizer and peer normalisation, readout SGD "
            "step on the features it predicted with, by autograd in the bare loop and in closed "
            "form in observe(); unlabelled: the positive update only). "
            "Short alternating rounds in one process: frames/s from the median round of each "
            "side, ratio = median of the per-round ratios (wall clock; ratio_cpu_time uses "
            "process CPU time, steadier on a shared machine)."
        ),
    }


def run_condition(
    cond: Condition,
    batch: int,
    cfg: StreamConfig,
    hidden: tuple[int, ...],
    data: dict[str, torch.Tensor],
    device: str,
    progress,
    on_batch: Callable[[int, int], None],
) -> dict[str, Any]:
    """Learn the stream once under ``cond``, ``batch`` frames per step; then test accuracy."""
    x, y, x_test, y_test = (data[k] for k in ("x", "y", "x_test", "y_test"))
    record: dict[str, Any] = {"condition": cond.name, "kind": cond.kind}
    record["batch_size"] = batch
    start = time.perf_counter()
    if cond.kind == "ff":
        learner = make_learner(cond, cfg, device)
        record["schedule"] = repr(learner.schedule)
        record["learner"] = {**learner.config, "dreams": repr(learner.dreams)}
        hits = stream_ff(learner, x, y, batch, on_batch)
        sync(device)
        record["stream_s"] = time.perf_counter() - start
        record["sleeps"] = learner.sleeps
        configured, by_mode = learner.predict_with, {}
        for mode in ("goodness", "readout"):  # both, whichever the learner uses
            learner.predict_with = mode
            by_mode[mode] = test_accuracy(
                lambda t: learner.predict(t.view(len(t), *learner.frame_shape)), x_test, y_test
            )
        learner.predict_with = configured
        record["test_accuracy"] = by_mode[configured]
        record["test_accuracy_by_mode"] = by_mode
    else:
        tuning = tune_backprop(cfg, hidden, x, y, batch, device, progress)
        record["tuning"] = tuning
        start = time.perf_counter()
        chosen = tuning["chosen"]
        model, optimizer = make_backprop(
            (784, *hidden), chosen["optimizer"], chosen["lr"], cfg.seed, device
        )
        record["sizes"] = [784, *hidden, 10]
        hits = stream_backprop(model, optimizer, x, y, batch, on_batch)
        sync(device)
        record["stream_s"] = time.perf_counter() - start
        record["test_accuracy"] = test_accuracy(
            lambda t, model=model: model(t).argmax(1), x_test, y_test
        )
    record["frames_per_s"] = len(x) / record["stream_s"]
    record["prequential_accuracy"] = float(hits.float().mean())
    record["curve"] = accuracy_curve(hits, cfg.window)
    return record


def tune_backprop(cfg: StreamConfig, hidden, x, y, batch: int, device: str, progress):
    """Pick the backprop (optimizer, lr) by prequential accuracy on the stream's first frames."""
    n = min(cfg.bp_tune_frames, len(x))
    task = progress.add_task(f"tune backprop b{batch}", total=n * len(cfg.bp_grid), status="")
    grid = []
    for optimizer_name, lr in cfg.bp_grid:
        model, optimizer = make_backprop((784, *hidden), optimizer_name, lr, cfg.seed, device)
        hits = stream_backprop(
            model, optimizer, x[:n], y[:n], batch, lambda k, _r: progress.advance(task, k)
        )
        grid.append(
            {
                "optimizer": optimizer_name,
                "lr": lr,
                "prequential_accuracy": float(hits.float().mean()),
            }
        )
    best = max(grid, key=lambda g: g["prequential_accuracy"])
    progress.update(task, status=f"{best['optimizer']} lr {best['lr']:g}")
    return {"tune_frames": n, "metric": "prequential accuracy", "grid": grid, "chosen": best}


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str | list | tuple)


def _tables(result: dict[str, Any]) -> list[Table]:
    title = f"stream-mnist: {result['data']['stream_frames']} frames, one pass"
    table = Table(title=title, box=box.SIMPLE_HEAD)
    table.add_column("condition", no_wrap=True)
    for name in ("batch", "preq.", "test", "test g/r", "sleeps", "fr/s"):
        table.add_column(name, justify="right")
    for r in result["runs"]:
        if r["kind"] == "backprop":
            c = r["tuning"]["chosen"]
            both, sleeps = f"{c['optimizer']} {c['lr']:.0e}", ""
        else:
            m = r["test_accuracy_by_mode"]
            both, sleeps = f"{m['goodness']:.2f}/{m['readout']:.2f}", str(r["sleeps"])
        table.add_row(
            r["condition"],
            str(r["batch_size"]),
            f"{r['prequential_accuracy']:.3f}",
            f"{r['test_accuracy']:.3f}",
            both,
            sleeps,
            f"{r['frames_per_s']:.0f}",
        )
    if "speed" not in result:
        return [table]
    speed = Table(title="observe() vs a bare PyTorch loop, same work", box=box.SIMPLE_HEAD)
    speed.add_column("learner", no_wrap=True)
    for name in ("batch", "observe/s", "bare/s", "ratio", "CPU ratio", "extra us"):
        speed.add_column(name, justify="right")
    for s in result["speed"]:
        speed.add_row(
            "labelled, readout" if s["labelled"] else "unlabelled",
            str(s["batch_size"]),
            f"{s['observe_frames_per_s']:.0f}",
            f"{s['bare_frames_per_s']:.0f}",
            f"{s['ratio']:.2f}",
            f"{s['ratio_cpu_time']:.2f}",
            f"{s['overhead_us_per_call']:.0f}",
        )
    return [table, speed]
