"""River feeds: FFClassifier and FFAnomalyDetector against river's own baselines, same process.

Tasks (``datasets``) and the models run on them (``models``):

- ``phishing`` (river's bundled Phishing dataset, 1,250 samples): prequential accuracy and
  samples/s of :class:`~ffstream.river.FFClassifier` (``FFClassifier``) and
  ``StandardScaler() | LogisticRegression()`` (``StandardScaler+LogisticRegression``).
  Throughput is the median over ``repeats`` passes of ``evaluate.progressive_val_score`` on the
  dataset held in memory, so reading the CSV is not timed; one untimed FFClassifier pass warms
  up first.
- ``anomaly-sine`` (``datasets.synth.AnomalySine``) and ``sensor``
  (:func:`ffstream.data.synthetic.sensor_stream`, a generated multi-channel sensor feed with
  injected faults), ``anomaly_samples`` long: ROC-AUC (``metrics.ROCAUC``, each score taken
  before learning the sample) and samples/s of :class:`~ffstream.river.FFAnomalyDetector`
  (``FFAnomalyDetector``) and ``MinMaxScaler() | HalfSpaceTrees(seed)``
  (``MinMaxScaler+HalfSpaceTrees``), one pass each.

The seed seeds the models and the generated streams.

Run: ``ffstream bench feeds`` (``--quick``: 2 timed passes, 2,000-sample anomaly streams)
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

from river import anomaly, datasets, evaluate, linear_model, metrics, preprocessing

from benchmarks.lab import Column, Context, Page, Run, select
from ffstream.config import option
from ffstream.data.synthetic import sensor_stream
from ffstream.river import FFAnomalyDetector, FFClassifier

__all__ = [
    "CLASSIFIERS",
    "DATASETS",
    "DESCRIPTION",
    "DETECTORS",
    "FULL",
    "NAME",
    "PAGE",
    "QUICK",
    "Config",
    "run_one",
    "runs",
]

NAME = "feeds"
DESCRIPTION = "river feeds: FFClassifier on Phishing, FFAnomalyDetector ROC-AUC vs HalfSpaceTrees"

#: classification datasets, then anomaly streams
DATASETS = ("phishing", "anomaly-sine", "sensor")
CLASSIFIERS = {
    "FFClassifier": lambda seed: FFClassifier(seed=seed),
    "StandardScaler+LogisticRegression": lambda seed: (
        preprocessing.StandardScaler() | linear_model.LogisticRegression()
    ),
}
DETECTORS = {
    "FFAnomalyDetector": lambda seed: FFAnomalyDetector(seed=seed),
    "MinMaxScaler+HalfSpaceTrees": lambda seed: (
        preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(seed=seed)
    ),
}
MODELS = (*CLASSIFIERS, *DETECTORS)


@dataclass(frozen=True)
class Config:
    """Every setting of the suite, in one place."""

    repeats: int = option(5, "timed passes per classifier on Phishing (the median is reported)")
    anomaly_samples: int = option(10_000, "samples per anomaly stream")
    datasets: tuple[str, ...] = select(DATASETS, "datasets to run", choices=DATASETS)
    models: tuple[str, ...] = select(MODELS, "models to run", choices=MODELS)
    seeds: tuple[int, ...] = select((0,), "seeds of the models and generated streams")

    def __post_init__(self):
        if self.repeats < 1:
            raise ValueError(f"--repeats must be at least 1, got {self.repeats}")
        if self.anomaly_samples < 500:  # the sensor stream's first 300 samples hold no fault
            raise ValueError(f"--anomaly-samples must be at least 500, got {self.anomaly_samples}")


FULL = Config()
QUICK = Config(repeats=2, anomaly_samples=2_000)

PAGE = Page(
    title="River feeds: FF classifier and anomaly detector against river's baselines",
    measures=(
        "On river's Phishing dataset, prequential accuracy and throughput of `FFClassifier` "
        "beside `StandardScaler | LogisticRegression` (throughput: median of several passes "
        "over the data held in memory). On two anomaly streams, river's `AnomalySine` and "
        "`ffstream.data.synthetic.sensor_stream` (correlated sensor channels with injected "
        "spikes, stuck channels, offsets and sign flips), the ROC-AUC of scores taken before "
        "learning each sample, for `FFAnomalyDetector` beside `MinMaxScaler | HalfSpaceTrees`. "
        "Every model runs in the same process on one CPU thread."
    ),
    command="ffstream bench feeds",
    columns=(
        Column("accuracy", "accuracy %", scale=100, digits=2),
        Column("roc_auc", "ROC-AUC", digits=3),
        Column("samples_per_s", "samples/s", digits=0),
    ),
)


def runs(cfg: Config) -> list[Run]:
    """Each dataset with each model that applies to it (classifiers or detectors), each seed."""
    out = []
    for task in cfg.datasets:
        kind = CLASSIFIERS if task == "phishing" else DETECTORS
        out += [Run(m, seed, task=task) for m in cfg.models if m in kind for seed in cfg.seeds]
    return out


def _anomaly_stream(task: str, n: int, seed: int) -> list[tuple[dict, Any]]:
    if task == "sensor":
        return list(sensor_stream(n=n, seed=seed))
    return list(
        datasets.synth.AnomalySine(
            seed=seed, n_samples=n, n_anomalies=n // 40, contextual=True, n_contextual=n // 100
        )
    )


def _progressive_pass(model, data: list) -> tuple[float, float]:
    """Accuracy of one ``progressive_val_score`` pass, and its samples/s."""
    start = time.perf_counter()
    metric = evaluate.progressive_val_score(data, model, metrics.Accuracy())
    return metric.get(), len(data) / (time.perf_counter() - start)


def run_one(cfg: Config, run: Run, ctx: Context) -> dict[str, Any]:
    """One classifier on Phishing (``repeats`` timed passes) or one detector on one stream."""
    if run.task == "phishing":
        data = ctx.cached("phishing", lambda: list(datasets.Phishing()))
        ctx.cached("warm-up", lambda: _progressive_pass(FFClassifier(seed=run.seed), data))
        passes = [
            _progressive_pass(CLASSIFIERS[run.method](run.seed), data) for _ in range(cfg.repeats)
        ]
        rates = [rate for _, rate in passes]
        return {
            "metrics": {"accuracy": passes[-1][0], "samples_per_s": statistics.median(rates)},
            "samples": len(data),
            "samples_per_s_runs": rates,
        }
    data = ctx.cached(
        f"{run.task}-{run.seed}", lambda: _anomaly_stream(run.task, cfg.anomaly_samples, run.seed)
    )
    model = DETECTORS[run.method](run.seed)
    metric = metrics.ROCAUC()
    start = time.perf_counter()
    for x, y in data:
        metric.update(y, model.score_one(x))
        model.learn_one(x)
    rate = len(data) / (time.perf_counter() - start)
    return {
        "metrics": {"roc_auc": metric.get(), "samples_per_s": rate},
        "samples": len(data),
        "anomalies": sum(bool(y) for _, y in data),
    }
