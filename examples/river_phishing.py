"""FFClassifier in river's progressive validation on the bundled Phishing dataset (< 1 minute).

Every sample is first predicted, then learned from (prequential accuracy), side by side with
river's ``StandardScaler() | LogisticRegression()``.

    python examples/river_phishing.py
"""

import time

import torch
from river import datasets, evaluate, linear_model, metrics, preprocessing

from ffstream.river import FFClassifier

torch.set_num_threads(1)

models = {
    "FFClassifier": FFClassifier(seed=0),
    "StandardScaler | LogisticRegression": preprocessing.StandardScaler()
    | linear_model.LogisticRegression(),
}
for name, model in models.items():
    start = time.perf_counter()
    metric = evaluate.progressive_val_score(
        datasets.Phishing(), model, metrics.Accuracy(), print_every=250
    )
    seconds = time.perf_counter() - start
    print(f"{name}: {metric} in {seconds:.2f} s ({1250 / seconds:,.0f} samples/s)\n")
