"""The predicting weight average, and the check that hands prediction back when it lags.

An exponential moving average of the weights predicts better than the weights themselves on a
stream that holds still: it smooths the jitter of constant-step updates. After the stream
changes it answers as before for about ``1 / (1 - decay)`` steps, while the weights that learn
have already moved on. :class:`GuardedAverage` keeps both honest on labelled frames: it keeps a
running score of which of the two was right more often over the last ``window`` frames or so,
and the learner predicts with the average only while it is not behind by a frame or more.
:func:`lead_after` and :func:`trusts` are that rule on its own, for floats and tensors alike:
:class:`~ffstream.river.FFClassifier` keeps its score with them on its NumPy weights.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

__all__ = ["GuardedAverage", "lead_after", "trusts"]


def lead_after(lead, gap, frames: int, window: int):
    """The live weights' lead after ``frames`` more frames on which they were right ``gap`` more
    often than the average (a share in ``[-1, 1]``): an exponential average with rate
    ``1 / window`` per frame. Works on floats and on tensors alike (one rule for both engines).

    >>> round(lead_after(0.0, 1.0, frames=1, window=10), 3)
    0.1
    >>> round(lead_after(0.0, 1.0, frames=2, window=10), 3)  # a batch of 2 counts twice
    0.19
    """
    kept = (1.0 - 1.0 / window) ** frames
    return lead * kept + (1.0 - kept) * gap


def trusts(lead, window: int | None):
    """Whether the average may predict: the live weights are not ahead by a frame or more in
    ``window`` (a tolerance, since the lead of a start or a change only fades, and on a stream
    where both are always right it would never quite reach zero). ``window=None``: always.

    >>> trusts(0.05, window=10), trusts(0.1, window=10), trusts(0.9, window=None)
    (True, False, True)
    """
    return True if window is None else lead * window < 1.0


class GuardedAverage(AveragedModel):
    """An exponential moving average of ``learning`` that predicts only while it is not behind.

    Parameters
    ----------
    learning
        The modules that learn; the average starts as their copy.
    decay
        Weight of the old average at each :meth:`update_parameters` call, in ``[0, 1)``.
    window
        Frames (roughly) over which :meth:`compare` weighs the answers of the weights that learn
        against the average's: an exponential average of the difference in their hits with rate
        ``1 / window``. ``None``: the average always predicts.

    Examples
    --------
    >>> live = nn.Linear(2, 2)
    >>> average = GuardedAverage(live, decay=0.99, window=10)
    >>> average.trusted
    True
    >>> for _ in range(5):  # the weights that learn get every frame right, the average none
    ...     average.compare(torch.tensor([True]), torch.tensor([False]))
    >>> average.trusted, round(float(average.live_lead), 3)  # ahead by 4.1 frames in 10
    (False, 0.41)
    """

    live_lead: torch.Tensor

    def __init__(self, learning: nn.Module, decay: float, window: int | None):
        super().__init__(learning)  # the step is this class's own: update_parameters
        self.decay, self.window = decay, window
        # How much more often the weights that learn were right than the average, recently
        # (a buffer: it is saved and restored with the average). It lives beside the weights,
        # so keeping score never waits for a GPU.
        device = next(learning.parameters()).device
        self.register_buffer("live_lead", torch.zeros((), device=device))

    @property
    def trusted(self) -> bool:
        """Whether the average predicts (:func:`trusts`)."""
        return bool(self.trusted_tensor())

    def trusted_tensor(self) -> torch.Tensor:
        """:attr:`trusted` as a 0-d bool tensor on the weights' device (no host sync)."""
        if self.window is None:
            return torch.ones((), dtype=torch.bool, device=self.live_lead.device)
        return trusts(self.live_lead, self.window)

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        """Move the average toward ``model``'s parameters: ``avg += (1 - decay) * (w - avg)``
        (the first call copies them); its buffers copy ``model``'s.

        AveragedModel's own step copies its update count to the weights' device at every call;
        this one keeps the count on the host (where it was made), so a GPU is never waited for.
        """
        averaged, current = [], []
        for mine, theirs in self._twins(model):
            averaged.extend(p for p in mine._parameters.values() if p is not None)
            current.extend(p for p in theirs._parameters.values() if p is not None)
            for kept, followed in zip(
                mine._buffers.values(), theirs._buffers.values(), strict=True
            ):
                if kept is not None:  # running statistics are followed, not averaged (as torch)
                    kept.copy_(followed)
        if int(self.n_averaged) == 0:
            torch._foreach_copy_(averaged, current)
        else:
            torch._foreach_lerp_(averaged, current, 1.0 - self.decay)
        self.n_averaged += 1

    def _twins(self, model: nn.Module) -> list[tuple[nn.Module, nn.Module]]:
        """Each module of the average that holds tensors, beside its twin in ``model``.

        Found once per ``model``: at batch 1, walking the module tree cost more than the step
        itself. Tensors are read from each module at every step, so weights that a module
        replaces (a checkpoint loaded with ``assign``, a move to a device) are still followed.
        """
        found = self.__dict__.get("_found")
        if found is None or found[0] is not model:
            pairs = zip(self.module.modules(), model.modules(), strict=True)
            twins = [(m, t) for m, t in pairs if t._parameters or t._buffers]
            # in __dict__ itself: nn.Module would register a module attribute as a child
            self.__dict__["_found"] = found = (model, twins)
        return found[1]

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())
        state.pop("_found", None)  # found again, among the copy's own modules
        return state

    @torch.no_grad()
    def compare(self, live_correct: torch.Tensor, average_correct: torch.Tensor) -> None:
        """Score a batch of labelled frames: which answers (one bool per frame) were right.

        A batch of ``n`` frames moves the lead as ``n`` single frames with its mean gap would.
        """
        if self.window is None:
            return
        gap = live_correct.float().mean() - average_correct.float().mean()
        frames = live_correct.numel()
        self.live_lead.copy_(lead_after(self.live_lead, gap, frames, self.window))

    @torch.no_grad()
    def answer(
        self, live: torch.Tensor, average: torch.Tensor, labels: torch.Tensor
    ) -> torch.Tensor:
        """The predictions to report for a labelled batch, made by the weights that learn
        (``live``) and by the average before either moves: the average's while it is trusted,
        else the live ones; then the batch is scored (:meth:`compare`). Without a ``window``
        the average always answers. No host sync: the choice is made on the weights' device.

        >>> average = GuardedAverage(nn.Linear(2, 2), decay=0.99, window=10)
        >>> labels = torch.tensor([1, 1])
        >>> average.answer(torch.tensor([1, 1]), torch.tensor([0, 1]), labels)  # trusted
        tensor([0, 1])
        >>> for _ in range(3):
        ...     _ = average.answer(torch.tensor([1, 1]), torch.tensor([0, 0]), labels)
        >>> average.answer(torch.tensor([1, 1]), torch.tensor([0, 0]), labels)  # behind now
        tensor([1, 1])
        """
        if self.window is None:
            return average
        reported = torch.where(self.trusted_tensor(), average, live)
        self.compare(live == labels, average == labels)
        return reported
