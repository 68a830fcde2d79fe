"""FF on a drifting tabular stream, with and without piecewise-linear bins (< 1 minute).

river's Agrawal generator switches from concept 0 to concept 2 halfway (a gradual drift).
Its concepts are threshold rules on raw features (age bands, salary ranges), which trees
express directly; ``PiecewiseLinearEncoder`` spreads each feature over bins so a small FF net
can learn them too. Prequential accuracy (predict, then learn) beside river's Hoeffding
adaptive tree.

    python examples/river_drift.py
"""

import itertools
import time

from river import datasets, evaluate, metrics, tree

from ffstream.river import FFClassifier, PiecewiseLinearEncoder

SAMPLES = 10_000


def agrawal_with_drift(seed: int = 0):
    stream = datasets.synth.ConceptDriftStream(
        datasets.synth.Agrawal(classification_function=0, seed=seed),
        datasets.synth.Agrawal(classification_function=2, seed=seed + 1),
        position=SAMPLES // 2,
        width=SAMPLES // 20,
        seed=seed,
    )
    return itertools.islice(stream, SAMPLES)


models = {
    "FFClassifier (raw features)": FFClassifier(seed=0),
    "PiecewiseLinearEncoder | FFClassifier": PiecewiseLinearEncoder(bins=24)
    | FFClassifier(hidden=(64,), lr=0.2, label_strength=4.0, readout_lr=None, seed=0),
    "HoeffdingAdaptiveTreeClassifier": tree.HoeffdingAdaptiveTreeClassifier(seed=0),
}
for name, model in models.items():
    start = time.perf_counter()
    metric = evaluate.progressive_val_score(agrawal_with_drift(), model, metrics.Accuracy())
    seconds = time.perf_counter() - start
    print(f"{name}: {metric} in {seconds:.1f} s ({SAMPLES / seconds:,.0f} samples/s)")
