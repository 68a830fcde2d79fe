"""The per-episode outputs of ``ffstream run``: JSONL (``--log``), CSV (``--csv``), TensorBoard.

:class:`RunOutputs` builds each episode's record once and hands it to every output asked for.

The JSONL log holds one JSON object per line, each with a ``type``:

``header`` (first line of every run)
    ``ffstream`` (version), ``env``, ``seed``, ``device``, ``threads``, ``num_envs``,
    ``steps`` (the ``--steps`` budget), ``start_steps`` (env steps already done when the run
    started: non-zero after ``--resume``), ``resumed_from`` (the checkpoint path or null),
    ``config`` (every :class:`~ffstream.agents.AgentConfig` field) and ``started`` (local time,
    ISO 8601 with UTC offset).
``episode``
    The fields of :data:`EPISODE_FIELDS`: ``episode`` (1-based, continuing across
    ``--resume``), ``return``, ``length``, ``steps`` (env steps so far, all envs),
    ``mean_return`` (mean of the last 100 episodes, or of all of them before the 100th; null
    before the first), ``time`` (seconds since this run started), ``frames_per_s`` (env steps
    of this run per second of this run), ``epsilon`` (the exploration rate), ``td_loss`` (the
    last layer's TD loss at its latest sample), ``real_goodness`` and ``dream_goodness`` (the
    goodness of remembered real states and of dreamed ones, at their latest samples),
    ``sleeps`` (sleep phases so far) and ``last_sleep`` (env steps when the latest one ran;
    null before the first in this run).

The CSV file (``--csv``) has a header row of :data:`EPISODE_FIELDS`, then one row per episode
with the same values (an empty cell where the JSONL has null). The TensorBoard folder
(``--tensorboard``) gets the same numbers as scalars over env steps, and the header as text.

A run truncates its files; with ``--log-append`` it appends, so a JSONL file holds several runs,
each starting with its header, and a CSV file keeps its one header row. Non-finite numbers are
written as null (JSON has no NaN).
"""

from __future__ import annotations

import csv
import json
import math
import time
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import ffstream

__all__ = [
    "EPISODE_FIELDS",
    "CsvLog",
    "RunLog",
    "RunOutputs",
    "TensorBoardLog",
    "TENSORBOARD_INSTALL",
    "add_output_arguments",
    "summary_writer_class",
]

#: the fields of an episode record, in the order of the CSV columns
EPISODE_FIELDS = (
    "episode",
    "return",
    "length",
    "steps",
    "mean_return",
    "time",
    "frames_per_s",
    "epsilon",
    "td_loss",
    "real_goodness",
    "dream_goodness",
    "sleeps",
    "last_sleep",
)
#: the episode fields that are floats (non-finite ones are written as null)
_FLOATS = ("return", "mean_return", "epsilon", "td_loss", "real_goodness", "dream_goodness")
#: how to install what ``--tensorboard`` needs
TENSORBOARD_INSTALL = 'pip install "ffstream[tensorboard]" (or pip install tensorboard)'
#: TensorBoard tag of each scalar episode field (the others are not plotted)
_TAGS = {
    "return": "episode/return",
    "length": "episode/length",
    "mean_return": "episode/mean_return",
    "frames_per_s": "speed/frames_per_s",
    "epsilon": "agent/epsilon",
    "td_loss": "agent/td_loss",
    "real_goodness": "goodness/real",
    "dream_goodness": "goodness/dreamed",
    "sleeps": "agent/sleeps",
}


_LOG_HELP = (
    "write the run as JSON lines: a header record (type, ffstream, env, seed, device, threads, "
    "num_envs, steps, start_steps, resumed_from, config, started), then one record per episode "
    "(type, episode, return, length, steps, mean_return, time, frames_per_s, epsilon, td_loss, "
    "real_goodness, dream_goodness, sleeps, last_sleep); the file is replaced unless --log-append"
)


def add_output_arguments(parser) -> None:
    """Add ``ffstream run``'s output options: ``--log``, ``--csv``, ``--log-append``,
    ``--tensorboard`` and ``--plot``."""
    parser.add_argument("--log", default=None, metavar="FILE.jsonl", help=_LOG_HELP)
    parser.add_argument(
        "--csv", default=None, metavar="FILE.csv",
        help="write one CSV row per episode (a header row, then the --log episode fields)",
    )  # fmt: skip
    parser.add_argument(
        "--log-append", action="store_true",
        help="append to --log and --csv instead of replacing them",
    )  # fmt: skip
    parser.add_argument(
        "--tensorboard", default=None, metavar="DIR",
        help="write the episode fields as TensorBoard scalars into DIR (needs tensorboard: "
        'pip install "ffstream[tensorboard]")',
    )  # fmt: skip
    parser.add_argument(
        "--plot", default=None, metavar="FILE.png",
        help='draw the learning curve into FILE (.png, .svg or .pdf) at the end of the run '
        '(needs matplotlib: pip install "ffstream[plot]")',
    )  # fmt: skip


def _number(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x


def summary_writer_class():
    """torch's ``SummaryWriter``; ``ImportError`` naming the pip command when it cannot load."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as err:
        raise ImportError(
            f"--tensorboard needs the tensorboard package, which is not installed ({err}): "
            f"{TENSORBOARD_INSTALL}"
        ) from err
    return SummaryWriter


class RunLog:
    """The JSONL log: the header on open, then :meth:`episode` lines; flushed line by line.

    Examples
    --------
    >>> import io
    >>> log = RunLog(io.StringIO(), {"type": "header", "env": "CartPole-v1"})
    >>> json.loads(log.file.getvalue())["env"]
    'CartPole-v1'
    """

    def __init__(self, file: IO[str], header: dict[str, Any]):
        self.file = file
        self._write(header)

    def episode(self, record: dict[str, Any]) -> None:
        self._write({"type": "episode", **record})

    def _write(self, record: dict[str, Any]) -> None:
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


class CsvLog:
    """The CSV log: a header row of :data:`EPISODE_FIELDS` (unless ``header`` is False, when
    appending to a file that has it), then one row per episode.

    Examples
    --------
    >>> import io
    >>> log = CsvLog(io.StringIO())
    >>> log.episode({"episode": 1, "return": 9.0, "mean_return": None})
    >>> log.file.getvalue().splitlines()[1]
    '1,9.0,,,,,,,,,,,'
    """

    def __init__(self, file: IO[str], header: bool = True):
        self.file = file
        self.writer = csv.DictWriter(file, EPISODE_FIELDS, extrasaction="ignore")
        if header:
            self.writer.writeheader()
            self.file.flush()

    def episode(self, record: dict[str, Any]) -> None:
        self.writer.writerow({k: "" if v is None else v for k, v in record.items()})
        self.file.flush()

    def close(self) -> None:
        self.file.close()


class TensorBoardLog:
    """Episode fields as TensorBoard scalars over env steps; the run header as text.

    ``writer`` is a ``torch.utils.tensorboard.SummaryWriter`` (or anything with its
    ``add_scalar``, ``add_text``, ``flush`` and ``close``).
    """

    def __init__(self, writer, header: dict[str, Any]):
        self.writer = writer
        # two spaces before each newline: TensorBoard's text tab renders markdown
        text = json.dumps(header, indent=2).replace("\n", "  \n")
        writer.add_text("run/header", text, global_step=header.get("start_steps", 0))

    def episode(self, record: dict[str, Any]) -> None:
        step = record["steps"]
        for field, tag in _TAGS.items():
            value = record.get(field)
            if value is not None:
                self.writer.add_scalar(tag, value, global_step=step)

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()


class RunOutputs:
    """Build each episode's record once (:data:`EPISODE_FIELDS`) and write it to every output.

    Parameters
    ----------
    outputs
        Objects with ``episode(record)`` and ``close()``: :class:`RunLog`, :class:`CsvLog`,
        :class:`TensorBoardLog`.
    start_steps
        Env steps already done when the run started (frames per second count this run's).
    keep_curve
        Keep ``(steps, return, mean_return)`` of every episode in :attr:`curve` (for a plot).

    Examples
    --------
    >>> import io
    >>> out = RunOutputs([CsvLog(io.StringIO())], start_steps=0, keep_curve=True)
    >>> record = out.episode({"episode": 1, "return": 12.0, "length": 12, "steps": 12},
    ...                      {"mean_return": 12.0, "epsilon": 0.9})
    >>> record["epsilon"], record["td_loss"], out.curve
    (0.9, None, [(12, 12.0, 12.0)])
    """

    def __init__(self, outputs: list, start_steps: int, keep_curve: bool = False):
        self.outputs, self.start_steps = outputs, start_steps
        self.curve: list[tuple[int, float, float]] | None = [] if keep_curve else None
        self.t0 = time.perf_counter()

    @classmethod
    def open(
        cls,
        header: dict[str, Any],
        start_steps: int,
        *,
        log: str | Path | None = None,
        csv_path: str | Path | None = None,
        tensorboard: str | Path | None = None,
        append: bool = False,
        keep_curve: bool = False,
    ) -> RunOutputs:
        """Open the outputs asked for; ``header`` gains ``type``, ``ffstream`` and ``started``."""
        started = datetime.now().astimezone().isoformat(timespec="seconds")
        header = {"type": "header", "ffstream": ffstream.__version__, **header}
        header["started"] = started
        outputs: list = []
        try:
            if log is not None:
                outputs.append(RunLog(_open(log, append), header))
            if csv_path is not None:
                fresh = not append or not Path(csv_path).exists() or not _size(csv_path)
                outputs.append(CsvLog(_open(csv_path, append, newline=""), header=fresh))
            if tensorboard is not None:
                writer = summary_writer_class()(log_dir=str(tensorboard))
                outputs.append(TensorBoardLog(writer, header))
        except BaseException:
            for output in outputs:
                output.close()
            raise
        return cls(outputs, start_steps, keep_curve)

    def episode(self, episode: dict[str, Any], stats: dict[str, Any]) -> dict[str, Any]:
        """Write one finished episode and return its record.

        ``episode`` holds ``episode``, ``return``, ``length`` and ``steps``; ``stats`` the
        agent's numbers (the other :data:`EPISODE_FIELDS`, as :func:`ffstream.run.snapshot`
        gives them; missing ones are null).
        """
        seconds = time.perf_counter() - self.t0
        frames = episode["steps"] - self.start_steps
        record: dict[str, Any] = {field: stats.get(field) for field in EPISODE_FIELDS}
        record.update(episode)
        for field in _FLOATS:
            record[field] = _number(_float(record[field]))
        record["time"] = round(seconds, 3)
        record["frames_per_s"] = _number(frames / seconds) if seconds > 0 else None
        for output in self.outputs:
            output.episode(record)
        if self.curve is not None:
            mean = record["mean_return"]
            self.curve.append(
                (record["steps"], episode["return"], math.nan if mean is None else mean)
            )
        return record

    def close(self) -> None:
        for output in self.outputs:
            output.close()


def _float(x: Any) -> float | None:
    return None if x is None else float(x)


def _size(path: str | Path) -> int:
    return Path(path).stat().st_size


def _open(path: str | Path, append: bool, newline: str | None = None) -> IO[str]:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return open(path, "a" if append else "w", encoding="utf-8", newline=newline)  # noqa: SIM115
