"""River feeds: FFClassifier and FFAnomalyDetector against river's own baselines, same run.

(a) Phishing (river's bundled dataset), prequential accuracy and samples/s of
    :class:`~ffstream.river.FFClassifier` vs ``StandardScaler() | LogisticRegression()``.
(b) ROC-AUC (``metrics.ROCAUC``, scores before learning) of
    :class:`~ffstream.river.FFAnomalyDetector` vs ``MinMaxScaler() | HalfSpaceTrees(seed)`` on
    ``datasets.synth.AnomalySine`` and on :func:`sensor_stream`, a generated multi-channel sensor
    feed with injected faults.

Throughput is the median over ``--repeats`` runs of ``evaluate.progressive_val_score`` on the
stream held in memory, so reading the CSV is not timed; every model is timed in the same process.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from collections.abc import Iterator
from typing import Any

import torch
from river import anomaly, datasets, evaluate, linear_model, metrics, preprocessing

from benchmarks._common import device_name
from ffstream.river import FFAnomalyDetector, FFClassifier

__all__ = ["DESCRIPTION", "add_arguments", "run", "sensor_stream"]

DESCRIPTION = "river feeds: FFClassifier on Phishing, FFAnomalyDetector ROC-AUC vs HalfSpaceTrees"

FAULTS = ("spike", "stuck", "offset", "decouple")


def sensor_stream(
    n: int = 5000,
    channels: int = 6,
    anomaly_rate: float = 0.02,
    warmup: int = 300,
    seed: int = 0,
) -> Iterator[tuple[dict[str, float], bool]]:
    """A simulated multi-channel sensor feed with injected faults: ``(frame, is_anomaly)``.

    The channels are noisy mixtures of two slow latent oscillations (so they are correlated, like
    temperatures around one machine). After ``warmup`` frames, each frame starts a fault with
    probability ``anomaly_rate``; faults last 1 to 5 frames and are one of ``spike`` (one channel
    jumps by 3-6 standard deviations), ``stuck`` (one channel freezes), ``offset`` (one channel
    shifts by 2 standard deviations) or ``decouple`` (one channel flips sign: each value is
    ordinary, the correlation is broken).

    Examples
    --------
    >>> frames = list(sensor_stream(n=1000, seed=0))
    >>> len(frames), sorted(frames[0][0])[:2], 5 < sum(y for _, y in frames) < 100
    (1000, ['ch0', 'ch1'], True)
    """
    rng = random.Random(seed)
    mix = [(rng.uniform(-1, 1), rng.uniform(-1, 1)) for _ in range(channels)]
    fault, left, channel, stuck = None, 0, 0, 0.0
    for t in range(n):
        z1, z2 = math.sin(2 * math.pi * t / 200), math.cos(2 * math.pi * t / 57)
        values = [a * z1 + b * z2 + rng.gauss(0, 0.1) for a, b in mix]
        if left == 0 and t >= warmup and rng.random() < anomaly_rate:
            fault, left, channel = rng.choice(FAULTS), rng.randint(1, 5), rng.randrange(channels)
            stuck = values[channel]
        is_anomaly = left > 0
        if is_anomaly:
            if fault == "spike":
                values[channel] += rng.choice((-1, 1)) * rng.uniform(3, 6)
            elif fault == "stuck":
                values[channel] = stuck
            elif fault == "offset":
                values[channel] += 2.0
            else:
                values[channel] = -values[channel]
            left -= 1
        yield {f"ch{i}": v for i, v in enumerate(values)}, is_anomaly


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of this suite (``--out``, ``--device``, ``--quick`` come from the CLI)."""
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per model (5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the models and streams")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (1: the estimators are batch 1)"
    )


def _classifier_row(name: str, make, data, repeats: int) -> dict[str, Any]:
    rates, accuracy = [], None
    for _ in range(repeats):
        model = make()
        start = time.perf_counter()
        metric = evaluate.progressive_val_score(data, model, metrics.Accuracy())
        rates.append(len(data) / (time.perf_counter() - start))
        accuracy = metric.get()
    return {
        "model": name,
        "accuracy": accuracy,
        "samples_per_s": statistics.median(rates),
        "samples_per_s_best": max(rates),
        "samples_per_s_runs": rates,
    }


def _auc(model, data) -> tuple[float, float]:
    metric = metrics.ROCAUC()
    start = time.perf_counter()
    for x, y in data:
        metric.update(y, model.score_one(x))
        model.learn_one(x)
    return metric.get(), len(data) / (time.perf_counter() - start)


def run(args: argparse.Namespace, console) -> dict[str, Any]:
    """Run (a) and (b); return accuracies, samples/s and ROC-AUCs with the machine they ran on."""
    quick = getattr(args, "quick", False)
    repeats = getattr(args, "repeats", 5) if not quick else 2
    seed = getattr(args, "seed", 0)
    threads_before = torch.get_num_threads()
    torch.set_num_threads(getattr(args, "threads", 1) or threads_before)
    try:
        machine = device_name("cpu")  # while the run's thread count is in effect
        phishing = list(datasets.Phishing())
        classifiers = [
            ("FFClassifier", lambda: FFClassifier(seed=seed)),
            (
                "StandardScaler | LogisticRegression",
                lambda: preprocessing.StandardScaler() | linear_model.LogisticRegression(),
            ),
        ]
        _classifier_row("warm-up", classifiers[0][1], phishing, 1)
        rows = []
        for name, make in classifiers:
            rows.append(_classifier_row(name, make, phishing, repeats))
            console.print(
                f"phishing  {name:<36} accuracy {100 * rows[-1]['accuracy']:.2f}%  "
                f"{rows[-1]['samples_per_s']:,.0f} samples/s (median of {repeats})"
            )
        n = 2000 if quick else 10_000
        streams = {
            "AnomalySine": list(
                datasets.synth.AnomalySine(
                    seed=seed,
                    n_samples=n,
                    n_anomalies=n // 40,
                    contextual=True,
                    n_contextual=n // 100,
                )
            ),
            "sensor": list(sensor_stream(n=n, seed=seed)),
        }
        detectors = {
            "FFAnomalyDetector": lambda: FFAnomalyDetector(seed=seed),
            "MinMaxScaler | HalfSpaceTrees": lambda: (
                preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(seed=seed)
            ),
        }
        auc_rows = []
        for stream_name, data in streams.items():
            for name, make in detectors.items():
                auc, rate = _auc(make(), data)
                auc_rows.append(
                    {
                        "stream": stream_name,
                        "model": name,
                        "roc_auc": auc,
                        "samples_per_s": rate,
                        "samples": len(data),
                        "anomalies": sum(bool(y) for _, y in data),
                    }
                )
                console.print(f"{stream_name:<12} {name:<30} ROC-AUC {auc:.4f}  {rate:,.0f}/s")
    finally:
        torch.set_num_threads(threads_before)
    import datetime

    import river

    return {
        "suite": "feeds",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "device": "cpu",
        "device_name": machine,
        "torch": torch.__version__,
        "river": river.__version__,
        "quick": bool(quick),
        "seed": seed,
        "repeats": repeats,
        "phishing": rows,
        "anomaly": auc_rows,
    }
