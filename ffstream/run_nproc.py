"""``ffstream run --nproc N``: N data-parallel agent processes on this machine.

:func:`run_nproc` starts N ranks with :func:`ffstream.distributed.spawn` (gloo on the CPU, one
process each). Every rank builds the same agent (and loads ``--resume``'s checkpoint), steps its
own ``--num-envs`` environments (seeded apart) and learns from them; a
:class:`~ffstream.distributed.DataParallelAgent` averages the ranks' models every
:data:`SYNC_EVERY` loop steps (replay memories, exploration and optimiser states stay per rank).

Rank 0 owns every output: the dashboard or plain report, ``--log``/``--csv``/``--tensorboard``,
``--plot`` and the checkpoint, and it shows its own episodes. The ranks decide together, after
every loop step (:class:`Ranks`), when to stop: once the env steps of all ranks add up to
``--steps``, when rank 0's 100-episode mean reaches the solved threshold (unless
``--keep-going``), or when rank 0 is asked to stop by a signal. Then the models are averaged
once more and rank 0 saves: the averaged model with rank 0's replay memory and counts (its env
steps, not the sum). ``--resume`` of that file works with any ``--nproc``.

Signals: only rank 0 acts on SIGINT, SIGTERM and SIGHUP (the other ranks ignore them); this
process passes SIGTERM and SIGHUP on to the ranks and ignores SIGINT, which a terminal sends to
every process of the job at once. A rank that fails ends the job with status 1 and one line per
rank (:class:`~ffstream.distributed.JobFailed`); when a rank other than 0 is lost, rank 0 saves
its model first (to ``--save``, else ``ffstream-interrupted.ckpt``).
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import signal
from typing import Any

import torch
import torch.distributed as dist
from rich.console import Console
from rich.markup import escape

from ffstream.agents import AgentLoop, FFQAgent, solved_threshold
from ffstream.run_checks import EnvCreateError, RunPlan, int_at_least, make_env

__all__ = ["SYNC_EVERY", "RankAgent", "Ranks", "add_nproc_argument", "run_nproc"]

#: loop steps (vector env steps of every rank) between two averages of the ranks' models
SYNC_EVERY = 100
#: seconds a collective may wait for a rank before the job fails
TIMEOUT = 60.0
#: rank ``r`` seeds its environments with ``seed + r * ENV_SEED_STRIDE`` (rank 0: ``seed``)
ENV_SEED_STRIDE = 104_729
#: the outputs only rank 0 writes
_RANK0_OUTPUTS = ("save", "log", "csv", "tensorboard", "plot")


class RankAgent:
    """One rank's :class:`~ffstream.agents.FFQAgent` as :class:`~ffstream.agents.AgentLoop`
    and ``ffstream run``'s reports see it: every attribute is the agent's, but
    :meth:`observe` goes through the :class:`~ffstream.distributed.DataParallelAgent`
    (collective every ``every`` calls).

    Examples
    --------
    >>> class Parallel:  # stands in for a DataParallelAgent
    ...     agent = type("Agent", (), {"env_steps": 7})()
    ...     def observe(self, *args):
    ...         print("observed through the ranks")
    >>> wrapped = RankAgent(Parallel())
    >>> wrapped.env_steps
    7
    >>> wrapped.observe()
    observed through the ranks
    """

    def __init__(self, parallel: Any):
        self.parallel = parallel

    def observe(self, *args: Any, **kwargs: Any) -> None:
        self.parallel.observe(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.parallel.agent, name)


class Ranks:
    """This process's place in the job, and the stop the ranks agree on.

    Parameters
    ----------
    rank, world
        This rank and the number of ranks.
    steps
        The ``--steps`` budget: env steps of all ranks together.
    start
        Env steps the agent had when the run started (``--resume``: the checkpoint's, the same
        on every rank), counted once.

    Examples
    --------
    A job of one rank (``ffstream run --nproc N`` starts N, each with its own envs):

    >>> import tempfile
    >>> from ffstream import envs
    >>> from ffstream.agents import AgentConfig
    >>> dist.init_process_group(
    ...     "gloo", store=dist.FileStore(tempfile.mktemp(), 1), rank=0, world_size=1)
    >>> env = envs.make("CartPole-v1", num_envs=2)
    >>> agent = FFQAgent(env.single_observation_space, env.single_action_space,
    ...                  AgentConfig(hidden=(8,)))
    >>> loop = AgentLoop(env, agent, seed=0)
    >>> ranks = Ranks(0, 1, steps=10)
    >>> loop.agent = ranks.wrap(agent)
    >>> while not ranks.agree(loop, stop=False):
    ...     _ = loop.step()
    >>> ranks.total >= 10, ranks.share()
    (True, 10)
    >>> dist.destroy_process_group()
    """

    def __init__(self, rank: int, world: int, steps: int, start: int = 0):
        self.rank, self.world, self.steps, self.start = rank, world, steps, start
        self.total = start
        self.parallel: Any = None

    def wrap(self, agent: FFQAgent) -> RankAgent:
        """Join the ranks (collective: rank 0's model is broadcast to all) and wrap ``agent``."""
        from ffstream.distributed import DataParallelAgent

        self.parallel = DataParallelAgent(agent, every=SYNC_EVERY)
        return RankAgent(self.parallel)

    def share(self) -> int:
        """Rank 0's part of the budget: what its progress bar counts to."""
        return -(-(self.steps - self.start) // self.world) + self.start

    def agree(self, loop: AgentLoop, stop: bool) -> bool:
        """Whether the job stops now (collective, once per loop step on every rank): a rank
        asked to, or all ranks' new env steps reach the budget. On a stop the ranks average
        their models one last time, so rank 0 saves the job's model."""
        new = loop.env_steps - self.start
        votes = torch.tensor([float(stop), float(new)], dtype=torch.float64)
        try:
            dist.all_reduce(votes)
        except RuntimeError as err:  # gloo's word for a rank that ended or hangs
            from ffstream.distributed import RankLost

            raise RankLost(
                f"rank {self.rank}: the vote on stopping failed; another rank ended or did not "
                f"answer ({str(err).strip().splitlines()[0] if str(err).strip() else err!r})"
            ) from err
        self.total = self.start + int(votes[1])
        done = bool(votes[0] > 0) or self.total >= self.steps
        if done:
            self.parallel.sync()
        return done


def add_nproc_argument(parser: argparse.ArgumentParser) -> None:
    """``--nproc N`` (a whole number >= 1; argparse refuses others in one line, status 2).

    Examples
    --------
    >>> parser = argparse.ArgumentParser()
    >>> add_nproc_argument(parser)
    >>> parser.parse_args(["--nproc", "2"]).nproc, parser.parse_args([]).nproc
    (2, 1)
    """
    parser.add_argument(
        "--nproc",
        type=int_at_least(1),
        default=1,
        metavar="N",
        help="data-parallel agent processes on this machine, each with --num-envs envs; "
        "--steps counts all of them; rank 0 writes every output (default 1)",
    )


def run_nproc(args: argparse.Namespace, plan: RunPlan, console: Console) -> int:
    """Run ``args.nproc`` ranks of ``plan`` (checked by
    :func:`~ffstream.run_checks.check_args`); rank 0's exit status, or 1 when a rank failed
    (each rank's fate printed). ``ffstream run --nproc N`` calls it; see the module notes."""
    from ffstream.distributed import JobFailed, spawn

    sigint = signal.getsignal(signal.SIGINT) is not signal.SIG_IGN
    try:
        with _pass_signals_on():
            statuses = spawn(_rank_main, args.nproc, args, plan, sigint, timeout=TIMEOUT)
    except JobFailed as err:
        console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False, soft_wrap=True)
        return 1
    return int(statuses[0])


@contextlib.contextmanager
def _pass_signals_on():
    """While the ranks run: SIGTERM and SIGHUP go on to them; SIGINT is ignored here (the
    terminal sends it to the ranks too). The handlers are set before the ranks start, so
    they start ignoring SIGINT, and rank 0 turns it back on."""

    def forward(signum: int, frame: object) -> None:
        for child in multiprocessing.active_children():
            with contextlib.suppress(OSError):
                os.kill(child.pid, signum)

    names = ("SIGTERM", "SIGHUP")
    previous = {signal.SIGINT: signal.signal(signal.SIGINT, signal.SIG_IGN)}
    for signum in (getattr(signal, n) for n in names if hasattr(signal, n)):
        if signal.getsignal(signum) is not signal.SIG_IGN:  # nohup's SIGHUP stays ignored
            previous[signum] = signal.signal(signum, forward)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _rank_main(rank: int, world: int, args, plan: RunPlan, sigint: bool) -> int:
    """One rank: rank 0 runs ``ffstream run`` itself, the others only learn."""
    from ffstream import run as run_command

    torch.set_num_threads(args.threads)
    torch.manual_seed(plan.seed + rank)
    start = 0 if plan.state is None else int(plan.state["agent"]["counters"]["env_steps"])
    ranks = Ranks(rank, world, args.steps, start)
    if rank == 0:
        if sigint:  # ignored while the ranks started: Ctrl-C is rank 0's to act on
            signal.signal(signal.SIGINT, signal.default_int_handler)
        console = Console()
        try:
            env = make_env(plan.env_id, plan.num_envs, plan.device)
        except EnvCreateError as err:
            console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False)
            return 1
        try:
            return run_command.run_rank0(args, plan, env, console, ranks)
        finally:
            env.close()
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    env = make_env(plan.env_id, plan.num_envs, plan.device)
    try:
        _learn(plan, env, ranks)
    finally:
        env.close()
    return 0


def _learn(plan: RunPlan, env, ranks: Ranks) -> None:
    """A rank other than 0: learn from its own envs until the ranks agree to stop."""
    agent = plan.new_agent(env)
    seed = plan.seed + ranks.rank * ENV_SEED_STRIDE
    loop = AgentLoop(env, agent, seed=seed, threshold=solved_threshold(plan.env_id))
    if plan.state is not None:
        agent.load_state_dict(plan.state["agent"])
    loop.agent = ranks.wrap(agent)
    while not ranks.agree(loop, False):
        loop.step()
