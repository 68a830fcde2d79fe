"""The methods of the ``streams`` suite and the test-then-train loop that scores them.

Classifiers (labelled streams) and detectors (the unlabelled ``sensor`` stream) are built with
their defaults; only seeds are passed. Every loop predicts (or scores) a frame before learning
from it, as :func:`ffstream.eval.prequential` does, but times the model's calls alone: turning
array rows into tensors or river dicts happens outside the clock.

Run as ``python -m benchmarks._streams_methods JOB`` (``JOB`` a JSON object: stream, method,
frames, seed, threads), it makes one run in its own process and prints the outcome as JSON on its
last line, with the process's peak resident memory: the suite's ``--memory`` runs go this way.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from river import anomaly, forest, linear_model, multiclass, neighbors, preprocessing, tree, utils

from benchmarks._memory import peak_rss_mb
from benchmarks.continual_baselines import mlp
from ffstream.data.generators import NUM_CLASSES, STREAM_KINDS, river_stream
from ffstream.ff._fast import fused_optimizer
from ffstream.river import FFAnomalyDetector, FFClassifier
from ffstream.stream import Interleaved, StreamLearner
from ffstream.stream.config import default_hidden
from ffstream.stream.standardizer import InputStandardizer

__all__ = [
    "CLASSIFIERS",
    "DETECTORS",
    "OnlineMLP",
    "classifier",
    "detector",
    "make_stream",
    "peak_rss_mb",
    "roc_auc",
    "run_method",
]

#: methods for labelled streams, then for the unlabelled sensor stream
CLASSIFIERS = ("ff-stream", "ff-stream-interleaved", "ff-river", "logreg", "hat", "arf", "knn")
CLASSIFIERS += ("mlp",)
DETECTORS = ("ff-stream", "ff-stream-interleaved", "ff-anomaly", "hst")
WINDOWS = 10  # the curve: one point per 10% of the stream

Step = Callable[[Any, Any], Any]


class OnlineMLP:
    """A backprop MLP learning one frame at a time: the learner's hidden widths, one Adam step
    (lr 1e-3, cross-entropy) per frame.

    Inputs are standardised online (running mean and variance, updated with each frame before
    it is used, clipped to ±5), as river's ``StandardScaler`` does for the linear and kNN
    baselines, so the baseline does not diverge on raw feature scales.
    """

    def __init__(self, in_features: int, num_classes: int, seed: int, lr: float = 1e-3):
        self.hidden = default_hidden(in_features)
        with torch.random.fork_rng(devices=[]):  # seed the init without moving the global RNG
            torch.manual_seed(seed)
            self.net = mlp(in_features, self.hidden, num_classes)
        self.optimizer = fused_optimizer(torch.optim.Adam, self.net.parameters(), lr=lr)
        # The library's standardiser, as a plain running mean and variance: equal weights for
        # every frame (no horizon) and no winsorising.
        self.scaler = InputStandardizer(in_features, horizon=math.inf, winsor=math.inf, clip=5.0)

    def step(self, frame: torch.Tensor, label: torch.Tensor) -> int:
        """Predict ``frame``'s class, then one step on its cross-entropy; returns the guess."""
        self.scaler.update(frame)
        logits = self.net(self.scaler(frame))
        loss = torch.nn.functional.cross_entropy(logits, label)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return int(logits.argmax(1))


def _learner(in_features: int, num_classes: int | None, seed: int, interleaved: bool, options):
    schedule = Interleaved() if interleaved else None
    return StreamLearner(
        in_features, num_classes, schedule=schedule, device="cpu", seed=seed, **options
    )


def _river_classifier(method: str, seed: int):
    if method == "ff-river":
        return FFClassifier(seed=seed)
    if method == "logreg":  # river's LogisticRegression is binary: one per class
        scaler = preprocessing.StandardScaler()
        return scaler | multiclass.OneVsRestClassifier(linear_model.LogisticRegression())
    if method == "hat":
        return tree.HoeffdingAdaptiveTreeClassifier(seed=seed)
    if method == "arf":
        return forest.ARFClassifier(seed=seed)
    if method == "knn":  # the default engine (SWINN, euclidean), seeded
        engine = neighbors.SWINN(dist_func=utils.math._euclidean_distance, seed=seed)
        return preprocessing.StandardScaler() | neighbors.KNNClassifier(engine=engine)
    raise ValueError(f"unknown classifier {method!r}; choose from {', '.join(CLASSIFIERS)}")


def _river_step(model) -> Step:
    def step(x: dict, y: int) -> Any:
        guess = model.predict_one(x)
        model.learn_one(x, y)
        return guess

    return step


def _tensor_rows(x: np.ndarray, y: np.ndarray) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    return ((xt[i : i + 1], yt[i : i + 1]) for i in range(len(x)))


def classifier(method: str, x, y, num_classes: int, seed: int, options: dict | None = None):
    """``(step, inputs)``: ``step(frame, label)`` predicts then learns (timed); ``inputs`` the
    frames and labels in the form the method reads (made outside the clock)."""
    if method in ("ff-stream", "ff-stream-interleaved"):
        interleaved = method == "ff-stream-interleaved"
        learner = _learner(x.shape[1], num_classes, seed, interleaved, options or {})
        return (lambda f, t: int(learner.observe(f, t).prediction[0])), _tensor_rows(x, y)
    if method == "mlp":
        return OnlineMLP(x.shape[1], num_classes, seed).step, _tensor_rows(x, y)
    return _river_step(_river_classifier(method, seed)), river_stream(x, y)


def detector(method: str, x, y, seed: int, options: dict | None = None):
    """``(step, inputs)`` of a detector: ``step(frame, _)`` scores the frame, then learns from it
    without its label (``y`` only rides along to keep the loop's shape)."""
    if method in ("ff-stream", "ff-stream-interleaved"):
        learner = _learner(x.shape[1], None, seed, method == "ff-stream-interleaved", options or {})
        return (lambda f, _: float(learner.observe(f).novelty[0])), _tensor_rows(x, y)
    if method == "ff-anomaly":
        model = FFAnomalyDetector(seed=seed)
    elif method == "hst":
        model = preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(seed=seed)
    else:
        raise ValueError(f"unknown detector {method!r}; choose from {', '.join(DETECTORS)}")

    def step(frame: dict, _: Any) -> float:
        score = model.score_one(frame)
        model.learn_one(frame)
        return score

    return step, river_stream(x, y)


def _loop(step: Step, inputs: Iterable) -> tuple[list, float]:
    out, seconds = [], 0.0
    for frame, label in inputs:
        start = time.perf_counter()
        out.append(step(frame, label))
        seconds += time.perf_counter() - start
    return out, seconds


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """Exact ROC-AUC (ties count half); ``None`` when ``labels`` hold one class only.

    Examples
    --------
    >>> roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.75
    """
    labels = np.asarray(labels).astype(bool)
    positives = int(labels.sum())
    negatives = labels.size - positives
    if positives == 0 or negatives == 0:
        return None
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]  # 1-based, ties averaged
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _windows(n: int) -> list[tuple[int, int]]:
    bounds = [round(k * n / WINDOWS) for k in range(WINDOWS + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def make_stream(kind: str, frames: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stream ``kind`` of :data:`~ffstream.data.generators.STREAM_KINDS`, ``frames`` long."""
    if kind not in STREAM_KINDS:
        raise ValueError(f"unknown stream {kind!r}; choose from {', '.join(STREAM_KINDS)}")
    return STREAM_KINDS[kind](frames, seed)


def run_method(method: str, kind: str, x, y, seed: int, options: dict | None = None) -> dict:
    """Score one fresh ``method`` on the stream ``(x, y)`` of ``kind``: the suite's outcome.

    ``options`` are ``StreamLearner`` settings that differ from its defaults (its methods only).
    """
    n = len(x)
    num_classes = NUM_CLASSES[kind]
    details: dict[str, Any] = {"frames": n, "features": int(x.shape[1])}
    if num_classes is None:
        step, inputs = detector(method, x, y, seed, options)
        scores, seconds = _loop(step, inputs)
        s = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=-np.inf)
        metrics = {"roc_auc": roc_auc(y, s)}
        details["anomalies"] = int(y.sum())
        details["nonfinite_scores"] = int((~np.isfinite(np.asarray(scores, float))).sum())
        details["window_roc_auc"] = [[b, roc_auc(y[a:b], s[a:b])] for a, b in _windows(n)]
    else:
        step, inputs = classifier(method, x, y, num_classes, seed, options)
        guesses, seconds = _loop(step, inputs)
        hits = np.array([g is not None and g == t for g, t in zip(guesses, y.tolist())])
        metrics = {
            "prequential_accuracy": float(hits.mean()),
            "last_10pct_accuracy": float(hits[n - max(1, n // WINDOWS) :].mean()),
        }
        details["classes"] = num_classes
        details["curve"] = [[b, float(hits[a:b].mean())] for a, b in _windows(n) if b > a]
    if method == "mlp":
        details["hidden"] = list(default_hidden(x.shape[1]))
    metrics["frames_per_s"] = n / seconds if seconds > 0 else None
    details["seconds"] = seconds
    return {"metrics": metrics, **details}


def _main(argv: list[str]) -> int:
    job = json.loads(argv[0])
    torch.set_num_threads(int(job["threads"]))
    x, y = make_stream(job["stream"], int(job["frames"]), int(job["seed"]))
    baseline = peak_rss_mb()  # interpreter, torch, river and the stream: the same for every method
    options = job.get("learner_options") or {}
    outcome = run_method(job["method"], job["stream"], x, y, int(job["seed"]), options)
    outcome["metrics"]["peak_rss_mb"] = peak_rss_mb()
    outcome["baseline_rss_mb"] = baseline
    print(json.dumps(outcome))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
