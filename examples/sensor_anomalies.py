"""Flag faults in a simulated multi-channel sensor feed with Forward-Forward novelty (< 1 minute).

Six correlated channels (mixtures of two slow oscillations plus noise) get injected faults:
spikes, stuck channels, offsets and sign flips. :class:`~ffstream.river.FFAnomalyDetector`
scores each frame before learning from it; a frame is flagged when its score exceeds the running
99th percentile of the scores so far (``river.stats.Quantile``).

    python examples/sensor_anomalies.py
"""

import torch
from river import metrics, stats

from ffstream.data.synthetic import sensor_stream
from ffstream.river import FFAnomalyDetector

torch.set_num_threads(1)

detector = FFAnomalyDetector(seed=0)
threshold = stats.Quantile(0.99)
auc = metrics.ROCAUC(n_thresholds=1000)
flagged = hits = faults = 0
for t, (frame, is_fault) in enumerate(sensor_stream(n=8000, seed=0)):
    score = detector.score_one(frame)  # before learning: the frame is still unseen
    flag = t >= 300 and score > (threshold.get() or 1.0)
    threshold.update(score)
    detector.learn_one(frame)
    auc.update(is_fault, score)
    flagged, hits, faults = flagged + flag, hits + (flag and is_fault), faults + is_fault
    if flag and flagged <= 15:
        print(
            f"t={t:5d}  novelty {score:.3f} > {threshold.get():.3f}  "
            f"{'FAULT' if is_fault else 'false alarm'}"
        )

print(f"\n{flagged} frames flagged, {hits} of them faults; {faults} fault frames in all")
print(f"precision {hits / max(flagged, 1):.2f}, recall {hits / max(faults, 1):.2f}, {auc}")
