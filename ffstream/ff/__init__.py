"""The Forward-Forward engine: layers, goodness, objectives, labels, negatives, inference.

Nothing in this package knows about streams; :mod:`ffstream.stream` builds on it.
"""

from ffstream.ff.goodness import Goodness
from ffstream.ff.labels import (
    LabelEncoding,
    OneHotAppend,
    OneHotOverlay,
    SpatialPattern,
    scff_pairs,
)
from ffstream.ff.layers import FFConv2d, FFLayer, FFLinear, rms_normalize
from ffstream.ff.negatives import (
    hard_wrong_labels,
    hybrid_images,
    hybrid_masks,
    random_wrong_labels,
)
from ffstream.ff.net import FFNet, StepStats
from ffstream.ff.objectives import ChannelwiseCompetition, Logistic, Objective, SymBa
from ffstream.ff.optim import make_optimizer
from ffstream.ff.readout import LinearReadout
from ffstream.ff.supervised import SupervisedFF

__all__ = [
    "ChannelwiseCompetition",
    "FFConv2d",
    "FFLayer",
    "FFLinear",
    "FFNet",
    "Goodness",
    "LabelEncoding",
    "LinearReadout",
    "Logistic",
    "Objective",
    "OneHotAppend",
    "OneHotOverlay",
    "SpatialPattern",
    "StepStats",
    "SupervisedFF",
    "SymBa",
    "hard_wrong_labels",
    "hybrid_images",
    "hybrid_masks",
    "make_optimizer",
    "random_wrong_labels",
    "rms_normalize",
    "scff_pairs",
]
