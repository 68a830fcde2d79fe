"""Starting ranks: under ``torchrun`` (:func:`init_from_env`) or on this machine (:func:`spawn`).

Under ``torchrun`` every process calls :func:`init_from_env`, which reads the rank, world size
and rendezvous address torchrun sets, picks gloo (CPU) or NCCL (CUDA), and gives the process
group a timeout, so a rank that dies or hangs ends the job with an error instead of a hang.

:func:`spawn` is the one-machine shortcut (``--nproc N``): it starts N processes joined by a
gloo group on a free local port, runs a function on each and returns what each returned. When a
rank fails, the others fail at their next collective (:class:`~ffstream.distributed.collectives.
RankLost`, at once for a rank that died, within the timeout for one that hangs), and
:func:`spawn` raises :class:`JobFailed` naming every rank's fate.
"""

from __future__ import annotations

import datetime
import os
import pickle
import queue
import socket
import time
import traceback
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

__all__ = ["JobFailed", "init_from_env", "shard", "spawn"]


class JobFailed(RuntimeError):
    """A rank of a :func:`spawn`'ed job failed; the message says what happened to each."""


def _timeout(seconds: float) -> datetime.timedelta:
    if not seconds > 0:
        raise ValueError(f"timeout must be > 0 seconds, got {seconds}")
    return datetime.timedelta(seconds=seconds)


def init_from_env(backend: str | None = None, *, timeout: float = 60.0) -> tuple[int, int]:
    """Join the process group ``torchrun`` describes in the environment; ``(rank, world_size)``.

    ``backend`` ``None`` picks NCCL when CUDA is available, else gloo; with NCCL each process
    uses the GPU ``LOCAL_RANK`` names. ``timeout`` (seconds) bounds every collective.

    Examples
    --------
    What torchrun sets, for a job of one process:

    >>> import os
    >>> os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()),
    ...                   RANK="0", WORLD_SIZE="1")
    >>> init_from_env("gloo", timeout=10)
    (0, 1)
    >>> dist.destroy_process_group()
    >>> for name in ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE"):
    ...     del os.environ[name]
    """
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend, init_method="env://", timeout=_timeout(timeout))
    return dist.get_rank(), dist.get_world_size()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _entry(rank, fn, world, port, timeout, args, results) -> None:
    """One spawned rank: join the group, run ``fn``, report its result or its error."""
    torch.set_num_threads(1)  # one thread per rank: the ranks share the machine's cores
    try:
        dist.init_process_group(
            "gloo",
            init_method=f"tcp://127.0.0.1:{port}",
            rank=rank,
            world_size=world,
            timeout=_timeout(timeout),
        )
        try:
            # by value (plain pickle): torch's queues would share tensors through memory that
            # is gone once this process ends
            results.put((rank, "ok", pickle.dumps(fn(rank, world, *args))))
        finally:
            dist.destroy_process_group()
    except BaseException as err:  # reported to the parent, then this rank ends
        lines = traceback.format_exception_only(type(err), err)
        results.put((rank, "error", "".join(lines).strip()))
        raise SystemExit(1) from None


def spawn(
    fn: Callable[..., Any],
    nproc: int,
    *args: Any,
    timeout: float = 30.0,
    start_method: str = "spawn",
) -> list[Any]:
    """Run ``fn(rank, world_size, *args)`` on ``nproc`` local ranks of a gloo group; return
    each rank's result, by rank.

    ``fn`` and ``args`` must be picklable (a module-level function). Each rank uses one torch
    thread. ``timeout`` (seconds) bounds every collective: a rank that hangs makes the others
    fail after it. ``JobFailed`` if any rank fails, naming each rank's error or exit code.

    Examples
    --------
    >>> import operator
    >>> spawn(operator.mul, 2, start_method="fork")  # rank * world_size on each rank
    [0, 2]
    """
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"nproc must be a positive int, got {nproc!r}")
    context = mp.get_context(start_method)
    results = context.Queue()
    port = _free_port()
    procs = [
        context.Process(target=_entry, args=(r, fn, nproc, port, timeout, args, results))
        for r in range(nproc)
    ]
    for p in procs:
        p.start()
    reports, stopped = _wait(procs, results, timeout)
    if all(reports.get(r, ("",))[0] == "ok" for r in range(nproc)):
        return [pickle.loads(reports[r][1]) for r in range(nproc)]
    fates = []
    for r, p in enumerate(procs):
        status, value = reports.get(r, ("exit", None))
        if status == "ok":
            fates.append(f"rank {r}: finished")
        elif status == "error":
            fates.append(f"rank {r}: {value}")
        elif r in stopped:
            fates.append(f"rank {r}: stopped, still running {timeout:g} s after another failed")
        else:
            fates.append(f"rank {r}: exited with code {p.exitcode} without a report")
    raise JobFailed("a distributed job failed:\n  " + "\n  ".join(fates))


def _wait(procs, results, timeout: float) -> tuple[dict[int, tuple[str, Any]], set[int]]:
    """Every rank's report, as the ranks end; and the ranks stopped because they still ran
    ``timeout`` seconds after another failed (a rank in a collective fails within it)."""
    reports: dict[int, tuple[str, Any]] = {}
    stopped: set[int] = set()
    failed_at = None
    while len(reports) < len(procs):
        try:
            rank, status, value = results.get(timeout=0.05)
            reports[rank] = (status, value)
        except queue.Empty:
            if not any(p.is_alive() for p in procs):
                time.sleep(0.2)  # what the last ranks wrote as they ended, then stop
                if results.empty():
                    break  # a rank died without a report
        failed = any(p.exitcode not in (None, 0) for p in procs)
        failed = failed or any(status == "error" for status, _ in reports.values())
        if failed and failed_at is None:
            failed_at = time.monotonic()
        if failed_at is not None and time.monotonic() - failed_at > timeout:
            for r, p in enumerate(procs):
                if p.is_alive() and r not in reports:
                    stopped.add(r)
                    p.terminate()
    for p in procs:
        p.join()
    return reports, stopped


def shard(n: int, batch: int, rank: int, world_size: int) -> list[slice]:
    """This rank's batches of a stream of ``n`` frames dealt in turn: batch k (frames
    ``k*batch`` to ``(k+1)*batch``) goes to rank ``k % world_size``.

    Only whole rounds are dealt (every rank gets as many batches, of the same size), so ranks
    stay in step; the last ``n % (batch * world_size)`` frames are left out.

    Examples
    --------
    >>> shard(10, 2, 1, 2)
    [slice(2, 4, None), slice(6, 8, None)]
    """
    if batch < 1 or not 0 <= rank < world_size:
        raise ValueError(f"need batch >= 1 and 0 <= rank < world_size, got {batch}, {rank}")
    rounds = n // (batch * world_size)
    starts = ((k * world_size + rank) * batch for k in range(rounds))
    return [slice(s, s + batch) for s in starts]
