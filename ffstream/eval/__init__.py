"""Evaluating learners on streams: continual-learning metrics and prequential accuracy.

What a user needs to score a learner on their own stream lives here; the benchmark suites that
compare ffstream with baselines live outside the package, in the repository's ``benchmarks/``.
"""

from ffstream.eval.metrics import (
    BWT_CONVENTION,
    anytime_accuracy,
    average_accuracy,
    backward_transfer,
    continual_summary,
    forgetting,
    forward_transfer,
    mean_interval,
)
from ffstream.eval.prequential import PrequentialAccuracy, PrequentialResult, prequential

__all__ = [
    "BWT_CONVENTION",
    "PrequentialAccuracy",
    "PrequentialResult",
    "anytime_accuracy",
    "average_accuracy",
    "backward_transfer",
    "continual_summary",
    "forgetting",
    "forward_transfer",
    "mean_interval",
    "prequential",
]
