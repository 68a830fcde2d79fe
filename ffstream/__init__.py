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
    OneHotOverlay,
    SpatialPattern,
    SupervisedFF,
    SymBa,
)
from ffstream.stream import StreamLearner

__version__ = "0.1.0"

__all__ = [
    "ChannelwiseCompetition",
    "FFConv2d",
    "FFLinear",
    "FFNet",
    "Goodness",
    "LinearReadout",
    "Logistic",
    "OneHotOverlay",
    "SpatialPattern",
    "StreamLearner",
    "SupervisedFF",
    "SymBa",
    "__version__",
]
