"""Acting on interactive environments with forward-only learning.

:class:`FFQAgent` learns Q-values layer by layer, with no gradient crossing a layer boundary;
:class:`AgentLoop` drives it on a vector environment from :func:`ffstream.envs.make`; every
hyper-parameter lives in :class:`AgentConfig`.
"""

from ffstream.agents.api import AgentAPI, SavedAgent, read_saved_agent
from ffstream.agents.blocks import LocalQLayer
from ffstream.agents.checkpoint import load_agent_checkpoint, save_agent_checkpoint
from ffstream.agents.config import AgentConfig, load_config
from ffstream.agents.ffq import FFQAgent
from ffstream.agents.loop import (
    AgentLoop,
    EnvStepError,
    Episode,
    NonFiniteStepError,
    ReturnWindow,
    evaluate,
    evaluate_episodes,
    solved_threshold,
)
from ffstream.agents.spaces import ActionMap, ObservationMap, UnsupportedSpaceError

__all__ = [
    "ActionMap",
    "AgentAPI",
    "AgentConfig",
    "AgentLoop",
    "EnvStepError",
    "Episode",
    "FFQAgent",
    "LocalQLayer",
    "NonFiniteStepError",
    "ObservationMap",
    "ReturnWindow",
    "SavedAgent",
    "UnsupportedSpaceError",
    "evaluate",
    "evaluate_episodes",
    "load_agent_checkpoint",
    "load_config",
    "read_saved_agent",
    "save_agent_checkpoint",
    "solved_threshold",
]
