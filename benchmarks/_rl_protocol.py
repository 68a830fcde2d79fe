"""The protocol the cartpole and control suites share: training curves, greedy evaluations and
what a run records, the same for the forward-only agent and its SB3 peers."""

from __future__ import annotations

import math
import statistics
import time
from typing import Any

from ffstream.agents import ReturnWindow, evaluate_episodes

__all__ = [
    "CURVE_EVERY",
    "LAST",
    "Evaluations",
    "TrainingCurve",
    "median_steps",
    "outcome",
    "record",
]

CURVE_EVERY = 1_000  # env steps between the points of a run's learning curve
LAST = 3  # evaluations at the end that must all stay solved


class TrainingCurve:
    """Training episodes as they end, for every method alike: gymnasium's rule on them
    (:class:`~ffstream.agents.ReturnWindow`, the agent loop's own bookkeeping) and a point of
    the ``window``-episode mean every ``CURVE_EVERY`` env steps.

    Examples
    --------
    >>> curve = TrainingCurve(window=2, threshold=-10.0)
    >>> for steps, ret in ((200, -30.0), (400, -8.0), (600, -4.0)):
    ...     curve.episode(steps, ret)
    >>> curve.returns.solved_at, curve.episodes[-1]
    (600, [600, -4.0, -6.0])
    """

    def __init__(self, window: int, threshold: float):
        self.returns = ReturnWindow(window, threshold)
        self.episodes: list[list[float]] = []  # [env steps, return, window mean]
        self.points: list[list[float]] = []  # [env steps, window mean]
        self._next_point = CURVE_EVERY

    def episode(self, steps: int, ret: float) -> None:
        """An episode that ended at ``steps`` env steps with return ``ret``."""
        self.returns.add(ret, steps)
        self.episodes.append([steps, ret, round(self.returns.mean, 2)])

    def tick(self, steps: int) -> None:
        """Add the curve points ``steps`` env steps have passed."""
        while steps >= self._next_point:
            if self.returns.recent:  # no mean before the first episode ends
                self.points.append([self._next_point, round(self.returns.mean, 2)])
            self._next_point += CURVE_EVERY


class Evaluations:
    """The evaluation protocol, the same for the agent and its peers.

    Every ``every`` env steps, ``episodes`` greedy episodes, one per env of
    ``ffstream.envs.make(env_id)`` (our torch CartPole-v1 and Acrobot-v1 have gymnasium's
    physics; other ids are gymnasium's own), reset with seed ``10_000`` + the scheduled env
    steps (so every method meets the same starting states); the time they take is kept apart
    from training time. An evaluation averaging ``threshold`` or more counts as solved.
    """

    def __init__(
        self,
        every: int,
        episodes: int,
        device: str = "cpu",
        *,
        env_id: str,
        threshold: float,
    ):
        from ffstream import envs

        self.every, self.episodes, self.threshold = every, episodes, threshold
        self.env = envs.make(env_id, num_envs=episodes, device=device)
        self.results: list[list[float]] = []  # [env steps, mean return]
        self.solved_at: int | None = None
        self.seconds = 0.0
        self._next = every

    def due(self, steps: int) -> bool:
        return steps >= self._next

    def run(self, policy: Any, steps: int) -> float:
        """Evaluate ``policy`` (anything :func:`~ffstream.agents.evaluate_episodes` plays)."""
        start = time.perf_counter()
        # Seeded by the scheduled step: the agent's loop counts 5,001 where SB3 counts 5,000.
        seed = 10_000 + steps // self.every * self.every
        returns, _ = evaluate_episodes(policy, self.env, self.episodes, seed=seed)
        mean = statistics.fmean(returns)
        self.results.append([steps, mean])
        if self.solved_at is None and mean >= self.threshold:
            self.solved_at = steps
        while self._next <= steps:
            self._next += self.every
        self.seconds += time.perf_counter() - start
        return mean

    def summary(self) -> dict[str, Any]:
        """First evaluation at the threshold, the last three, their lowest and whether all
        three reach it."""
        last = [mean for _, mean in self.results[-LAST:]]
        full = len(last) == LAST
        return {
            "eval_solved_at": self.solved_at,
            "last_evals": last,
            "last_evals_min": min(last) if full else None,
            "stayed_solved": int(full and min(last) >= self.threshold),
        }


def outcome(
    seed: int, steps: int, wall: float, curve: TrainingCurve, evals: Evaluations
) -> dict[str, Any]:
    """One run's numbers from its training curve and evaluations (any method, any env)."""
    train, best, returns = wall - evals.seconds, curve.returns.best_mean, curve.returns
    full = len(returns.recent) == returns.window
    return {
        "seed": seed,
        "steps": steps,
        "solved_at": curve.returns.solved_at,
        "best_mean_return": None if math.isinf(best) else best,
        "final_mean_return": returns.mean if full else None,  # the last window's episodes
        "steps_per_s": steps / train if train > 0 else None,
        "wall_s": round(wall, 2),
        "train_s": round(train, 2),
        "curve": curve.points,
        "episode_returns": curve.episodes,
        "evals": evals.results,
        **evals.summary(),
    }


def record(
    r: dict[str, Any], settings: dict[str, Any], metrics: tuple[str, ...], **details: Any
) -> dict[str, Any]:
    """A run's result for the lab: the ``metrics`` named from :func:`outcome`'s ``r`` (with
    whether the training rule was met, the speed and the wall time), then its details: the
    method's ``settings``, curves, every episode's return, the evaluations and ``details``."""
    return {
        "metrics": {
            **{name: r[name] for name in metrics},
            "solved": int(r["solved_at"] is not None),
            "steps_per_s": r["steps_per_s"],
            "wall_s": r["wall_s"],
        },
        "steps": r["steps"],
        **details,
        "agent": settings,
        "train_s": r["train_s"],
        "last_evals": r["last_evals"],
        "curve": r["curve"],
        "episode_returns": r["episode_returns"],  # [env steps, return, window mean] each
        "evals": r["evals"],
    }


def median_steps(values: list[int | None]) -> float | None:
    """Median where ``None`` (not solved) counts as +infinity; ``None`` if that is the median.

    Examples
    --------
    >>> median_steps([10, None, 30]), median_steps([None, None, 5])
    (30, None)
    """
    med = statistics.median([math.inf if v is None else v for v in values])
    return None if math.isinf(med) else med
