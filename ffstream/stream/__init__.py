"""Streaming FF: the learner, its memories, dreams and sleep schedules."""

from ffstream.stream.config import LearnerConfig
from ffstream.stream.core import LearnerCore
from ffstream.stream.dreams import (
    CallableDreams,
    Dreams,
    DreamSource,
    HybridDreams,
    LangevinDreams,
    WrongLabelDreams,
)
from ffstream.stream.learner import Observation, StreamLearner
from ffstream.stream.memory import ClassBalancedMemory, Memory, RecentMemory, ReservoirMemory
from ffstream.stream.own_text import OwnTextDreams
from ffstream.stream.schedules import EveryN, Interleaved, Manual, OnDrift, Schedule
from ffstream.stream.sequence import REBER_SYMBOLS, ReberString, SequenceLearner, reber_strings
from ffstream.stream.sequence_config import SequenceConfig

__all__ = [
    "CallableDreams",
    "DreamSource",
    "ClassBalancedMemory",
    "Dreams",
    "EveryN",
    "HybridDreams",
    "Interleaved",
    "LangevinDreams",
    "LearnerConfig",
    "LearnerCore",
    "Manual",
    "Memory",
    "Observation",
    "OnDrift",
    "OwnTextDreams",
    "REBER_SYMBOLS",
    "ReberString",
    "RecentMemory",
    "ReservoirMemory",
    "Schedule",
    "SequenceConfig",
    "SequenceLearner",
    "StreamLearner",
    "WrongLabelDreams",
    "reber_strings",
]
