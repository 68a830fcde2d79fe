"""Streaming FF: the learner, its memories, dreams and sleep schedules."""

from ffstream.stream.config import LearnerConfig
from ffstream.stream.dreams import (
    CallableDreams,
    Dreams,
    HybridDreams,
    LangevinDreams,
    WrongLabelDreams,
)
from ffstream.stream.learner import Observation, StreamLearner
from ffstream.stream.memory import ClassBalancedMemory, Memory, RecentMemory, ReservoirMemory
from ffstream.stream.schedules import EveryN, Interleaved, Manual, OnDrift, Schedule
from ffstream.stream.sequence import REBER_SYMBOLS, ReberString, SequenceLearner, reber_strings

__all__ = [
    "CallableDreams",
    "ClassBalancedMemory",
    "Dreams",
    "EveryN",
    "HybridDreams",
    "Interleaved",
    "LangevinDreams",
    "LearnerConfig",
    "Manual",
    "Memory",
    "Observation",
    "OnDrift",
    "REBER_SYMBOLS",
    "ReberString",
    "RecentMemory",
    "ReservoirMemory",
    "Schedule",
    "SequenceLearner",
    "StreamLearner",
    "WrongLabelDreams",
    "reber_strings",
]
