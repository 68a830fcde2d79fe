"""The JSONL log of ``ffstream run --log``: a header record, then one record per episode.

Each line is one JSON object with a ``type``:

``header`` (first line of every run)
    ``ffstream`` (version), ``env``, ``seed``, ``device``, ``threads``, ``num_envs``,
    ``steps`` (the ``--steps`` budget), ``start_steps`` (env steps already done when the run
    started: non-zero after ``--resume``), ``resumed_from`` (the checkpoint path or null),
    ``config`` (every :class:`~ffstream.agents.AgentConfig` field) and ``started`` (local time,
    ISO 8601 with UTC offset).
``episode``
    ``episode`` (1-based, continuing across ``--resume``), ``return``, ``length``, ``steps``
    (env steps so far, all envs), ``mean_return`` (last 100 episodes; null before the first),
    ``time`` (seconds since this run started), ``frames_per_s`` (env steps of this run per
    second of this run) and ``epsilon`` (the exploration rate, when the agent has one).

A run truncates the file; with ``--log-append`` it appends, so the file holds several runs, each
starting with its header. Non-finite numbers are written as null (JSON has no NaN).
"""

from __future__ import annotations

import json
import math
import time
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import ffstream

__all__ = ["RunLog"]


def _number(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x


class RunLog:
    """Write the header on open, then :meth:`episode` lines; flushed line by line.

    Examples
    --------
    >>> import io
    >>> log = RunLog(io.StringIO(), {"env": "CartPole-v1"}, start_steps=0)
    >>> json.loads(log.file.getvalue())["type"]
    'header'
    """

    def __init__(self, file: IO[str], header: dict[str, Any], start_steps: int):
        self.file, self.start_steps = file, start_steps
        self.t0 = time.perf_counter()
        started = datetime.now().astimezone().isoformat(timespec="seconds")
        record = {"type": "header", "ffstream": ffstream.__version__, **header}
        record["started"] = started
        self._write(record)

    @classmethod
    def open(cls, path: str | Path, append: bool, header: dict[str, Any], start_steps: int):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        file = open(path, "a" if append else "w", encoding="utf-8")  # noqa: SIM115
        return cls(file, header, start_steps)

    def episode(self, record: dict[str, Any], mean_return: float, epsilon: float | None) -> None:
        seconds = time.perf_counter() - self.t0
        frames = record["steps"] - self.start_steps
        line = {"type": "episode", **record, "mean_return": _number(mean_return)}
        line["return"] = _number(line.get("return"))
        line["time"] = round(seconds, 3)
        line["frames_per_s"] = _number(frames / seconds) if seconds > 0 else None
        if epsilon is not None:
            line["epsilon"] = _number(float(epsilon))
        self._write(line)

    def _write(self, record: dict[str, Any]) -> None:
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()
