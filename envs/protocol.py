"""The two kinds of stream source a learner can sit on.

An **interactive** source is a vector environment: the learner acts, the world answers. ffstream
uses gymnasium's vector API unchanged, except that every array is a torch tensor already on the
learner's device, so no frame makes a round trip through host memory:

- ``reset(seed=None) -> (obs, info)``
- ``step(actions) -> (obs, reward, terminated, truncated, info)``
- ``num_envs``, ``device``, and gymnasium spaces ``single_observation_space``,
  ``single_action_space``, ``observation_space``, ``action_space``.

Episodes restart by themselves the way gymnasium's vector environments do (``NEXT_STEP``
autoreset): the step *after* an episode ends ignores the action for that environment and returns
the first observation of a new episode, with reward 0 and ``terminated = truncated = False``.
Optionally, as in gymnasium, ``render_mode="rgb_array"`` makes ``render()`` return one numpy
``uint8`` picture per environment.

A **passive** source is any iterable of frames (tensors whose first axis is the batch): sensor
feeds, datasets replayed as streams. Nothing else is required of it, so a generator function or a
list of tensors is already a valid stream.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, TypeAlias, runtime_checkable

import gymnasium
import torch

__all__ = ["FrameStream", "VectorSource"]

#: A passive source: frames arrive one batch at a time and the learner never acts.
FrameStream: TypeAlias = Iterable[torch.Tensor]


@runtime_checkable
class VectorSource(Protocol):
    """An interactive stream: ``num_envs`` copies of one environment stepped together.

    Every tensor it returns lives on ``device``: observations of shape
    ``(num_envs, *single_observation_space.shape)``, float32 rewards and bool
    ``terminated``/``truncated`` of shape ``(num_envs,)``. ``info`` is a dict (often empty).

    Examples
    --------
    Our own environments satisfy it, and so do gymnasium environments made through
    :func:`ffstream.envs.make`:

    >>> from ffstream.envs import make
    >>> env = make("CartPole-v1", num_envs=3)
    >>> isinstance(env, VectorSource)
    True
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, obs.dtype
    (torch.Size([3, 4]), torch.float32)
    >>> obs, reward, terminated, truncated, info = env.step(torch.tensor([0, 1, 1]))
    >>> reward
    tensor([1., 1., 1.])
    """

    num_envs: int
    device: torch.device
    single_observation_space: gymnasium.Space
    single_action_space: gymnasium.Space
    observation_space: gymnasium.Space
    action_space: gymnasium.Space

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]: ...

    def step(
        self, actions: Any
    ) -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]: ...
