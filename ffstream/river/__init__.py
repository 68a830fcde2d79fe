"""River estimators built on Forward-Forward learning.

- :class:`FFClassifier`: ``learn_one(x, y)`` / ``predict_proba_one(x)`` on feature dicts.
- :class:`FFAnomalyDetector`: ``learn_one(x)`` / ``score_one(x)`` (higher = more anomalous).
- :class:`PiecewiseLinearEncoder`: a transformer that spreads each numeric feature over bins,
  so a small FF net can learn threshold rules (compose it: ``encoder | FFClassifier()``).

All follow river's estimator contract (``river.checks.check_estimator``) and work in
``river.evaluate.progressive_val_score``.
"""

from ffstream.river.anomaly import FFAnomalyDetector
from ffstream.river.binning import PiecewiseLinearEncoder
from ffstream.river.classifier import FFClassifier

__all__ = ["FFClassifier", "FFAnomalyDetector", "PiecewiseLinearEncoder"]
