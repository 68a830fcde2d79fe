"""ffstream: streaming, continual learning with the Forward-Forward algorithm.

Awake, every frame that arrives gets a local positive FF update; asleep, the learner makes
negative updates on dreams it generates itself.
"""

from ffstream.ff import (
    ChannelwiseCompetition,
    FFConv2d,
    FFLinear,
    FFNet,
    Goodness,
    LinearReadout,
    Logistic,
    OneHotAppend,
    OneHotOverlay,
    SpatialPattern,
    SupervisedFF,
    SymBa,
)
from ffstream.stream import (
    EveryN,
    Interleaved,
    LearnerConfig,
    LearnerCore,
    Manual,
    Observation,
    OnDrift,
    SequenceConfig,
    SequenceLearner,
    StreamLearner,
)

__version__ = "0.1.0"

__all__ = [
    "ChannelwiseCompetition",
    "EveryN",
    "FFAnomalyDetector",
    "FFClassifier",
    "FFConv2d",
    "FFLinear",
    "FFNet",
    "Goodness",
    "Interleaved",
    "LearnerConfig",
    "LearnerCore",
    "LinearReadout",
    "Logistic",
    "Manual",
    "Observation",
    "OnDrift",
    "OneHotAppend",
    "OneHotOverlay",
    "PiecewiseLinearEncoder",
    "SequenceConfig",
    "SequenceLearner",
    "SpatialPattern",
    "StreamLearner",
    "SupervisedFF",
    "SymBa",
    "__version__",
]


def __getattr__(name: str):
    # The river estimators import river (slow to import): load them on first use only.
    if name in ("FFClassifier", "FFAnomalyDetector", "PiecewiseLinearEncoder"):
        from ffstream import river as _river

        return getattr(_river, name)
    raise AttributeError(f"module 'ffstream' has no attribute {name!r}")
