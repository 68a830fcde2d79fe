"""From gymnasium spaces to what the agent needs: a flat float frame and a finite action set."""

from __future__ import annotations

import itertools
import math

import gymnasium
import numpy as np
import torch
from torch.nn import functional as F

__all__ = ["ActionMap", "ObservationMap", "UnsupportedSpaceError"]


class UnsupportedSpaceError(ValueError):
    """The environment's observation or action space cannot be handled (the message says why)."""


class ObservationMap:
    """Turn a batch of observations into float frames ``(batch, num_features)``.

    ``Box`` observations are flattened; ``Discrete`` ones become one-hot vectors.

    Examples
    --------
    >>> space = gymnasium.spaces.Discrete(3)
    >>> ObservationMap(space)(torch.tensor([0, 2]))
    tensor([[1., 0., 0.],
            [0., 0., 1.]])
    """

    def __init__(self, space: gymnasium.Space):
        self.space = space
        if isinstance(space, gymnasium.spaces.Box):
            self.num_features = int(np.prod(space.shape))
            self._onehot = 0
        elif isinstance(space, gymnasium.spaces.Discrete):
            self.num_features = self._onehot = int(space.n)
        else:
            raise UnsupportedSpaceError(
                f"observation space {space} is not supported: the agent reads Box or Discrete "
                "observations (flatten dict/tuple observations with a gymnasium wrapper first)"
            )

    def __call__(self, obs: torch.Tensor) -> torch.Tensor:
        obs = torch.as_tensor(obs)
        if self._onehot:
            return F.one_hot(obs.long().view(-1), self._onehot).float()
        return obs.reshape(obs.shape[0], -1).float()


class ActionMap:
    """A finite set of actions, indexed ``0..n-1``, and how to hand an index to the env.

    ``Discrete(n)`` spaces map one to one (with their ``start`` offset). ``Box`` spaces are
    *discretised*: ``bins`` evenly spaced values per dimension from ``low`` to ``high``, and
    every combination is one action (so ``bins ** dims`` actions, refused above ``max_actions``).
    Other spaces raise :class:`UnsupportedSpaceError`.

    Examples
    --------
    >>> amap = ActionMap(gymnasium.spaces.Box(-2.0, 2.0, (1,)), bins=5)
    >>> amap.n, amap.discretised
    (5, True)
    >>> amap(torch.tensor([0, 2, 4]))
    tensor([[-2.],
            [ 0.],
            [ 2.]])
    """

    def __init__(self, space: gymnasium.Space, bins: int = 5, max_actions: int = 256):
        self.space = space
        self.discretised = False
        if isinstance(space, gymnasium.spaces.Discrete):
            self.n = int(space.n)
            self.start = int(space.start)
            self._table: torch.Tensor | None = None
        elif isinstance(space, gymnasium.spaces.Box):
            low, high = space.low.reshape(-1), space.high.reshape(-1)
            if not (np.isfinite(low).all() and np.isfinite(high).all()):
                raise UnsupportedSpaceError(
                    f"action space {space} has unbounded dimensions; the agent discretises Box "
                    "actions between low and high, so they must be finite (rescale the actions "
                    "with gymnasium.wrappers.RescaleAction)"
                )
            dims = low.size
            n = bins**dims
            if n > max_actions:
                raise UnsupportedSpaceError(
                    f"action space {space} would become {bins}^{dims} = {n} discrete actions "
                    f"(> max_actions={max_actions}); lower action_bins or raise max_actions"
                )
            grids = [np.linspace(lo, hi, bins) for lo, hi in zip(low, high)]
            table = np.array(list(itertools.product(*grids)), dtype=np.float32)
            self._table = torch.from_numpy(table.reshape(n, *space.shape))
            self.n, self.start, self.discretised = n, 0, True
        else:
            raise UnsupportedSpaceError(
                f"action space {space} is not supported: the agent acts in Discrete spaces, "
                "and discretises Box spaces (MultiDiscrete, MultiBinary, Dict and Tuple are not "
                "handled yet)"
            )
        if self.n < 1 or not math.isfinite(self.n):
            raise UnsupportedSpaceError(f"action space {space} has no actions")

    def __call__(self, index: torch.Tensor) -> torch.Tensor:
        """The env actions for a batch of action indices."""
        if self._table is None:
            return index + self.start if self.start else index
        if self._table.device != index.device:
            self._table = self._table.to(index.device)
        return self._table[index]

    def __repr__(self) -> str:
        kind = "discretised " if self.discretised else ""
        return f"ActionMap({kind}{self.space}, n={self.n})"
