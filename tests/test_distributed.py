"""Data-parallel learning on torch.distributed: two gloo ranks spawned inside the test."""

from __future__ import annotations

import os
import time

import pytest
import torch

from ffstream.distributed import (
    DataParallelLearner,
    JobFailed,
    load_learner,
    shard,
    spawn,
    split_memory,
)
from ffstream.stream import ClassBalancedMemory, EveryN, OnDrift, ReservoirMemory, StreamLearner

FRAMES = 240


def _data(n: int = FRAMES, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    return x, y


def _learner(sleep_every: int = 10**9, peer_norm: bool = True, **kw) -> StreamLearner:
    learner = StreamLearner(
        6, 3, hidden=(16, 16), seed=0, device="cpu", schedule=EveryN(sleep_every), **kw
    )
    if not peer_norm:
        learner.net.peer_norm = 0.0
    return learner


def _run(fn, *args, **kw):
    return spawn(fn, 2, *args, start_method="fork", timeout=kw.pop("timeout", 20.0), **kw)


# ---------------------------------------------------------------------------- rank jobs
def _allreduce_job(rank, world, batch):
    """Both modes: divergence after every step, sleeps, weights and accuracy at the end."""
    x, y = _data()
    out = {}
    # exact: no peer normalisation (its push is per rank), no standardiser, no sleep
    exact = DataParallelLearner(_learner(peer_norm=False, standardize=False), mode="allreduce")
    out["exact_div"] = 0.0
    for s in shard(FRAMES, batch, rank, world):
        exact.observe(x[s], y[s])
        out["exact_div"] = max(out["exact_div"], exact.max_divergence())
    out["exact"] = [p.detach().clone() for p in exact.learner.net.parameters()]
    out["exact_readout"] = exact.learner.readout.linear.weight.detach().clone()
    # the defaults, sleeping every 40 frames per rank: one model all along
    default = DataParallelLearner(_learner(sleep_every=40), mode="allreduce")
    hits, divergence, slept = 0, 0.0, []
    for s in shard(FRAMES, batch, rank, world):
        seen = default.observe(x[s], y[s])
        hits += int((seen.prediction == y[s]).sum())
        divergence = max(divergence, default.max_divergence())
        slept.append(seen.slept)
    out.update(default_div=divergence, hits=hits, slept=slept, sleeps=default.learner.sleeps)
    return out


def _average_job(rank, world):
    x, y = _data()
    parallel = DataParallelLearner(_learner(sleep_every=40), mode="average", every=30)
    before, after = [], []
    for s in shard(FRAMES, 3, rank, world):
        syncs = parallel.syncs
        parallel.observe(x[s], y[s])
        (after if parallel.syncs > syncs else before).append(parallel.max_divergence())
    generator = parallel.learner.generator.initial_seed()
    return {"before": before, "after": after, "seed": generator}


def _checkpoint_job(rank, world, path):
    x, y = _data()
    parallel = DataParallelLearner(_learner(sleep_every=40, memory_capacity=50), mode="allreduce")
    for s in shard(FRAMES, 2, rank, world)[:50]:  # 100 frames per rank: more than capacity
        parallel.observe(x[s], y[s])
    parallel.save(path)
    memory = parallel.learner.memory.state_dict()
    resumed = DataParallelLearner.load(path)
    same_world = resumed.learner.memory.state_dict()
    same = all(
        torch.equal(memory[k], same_world[k]) if torch.is_tensor(memory[k]) else memory[k] == v
        for k, v in same_world.items()
    )
    return {
        "weights": [p.detach().clone() for p in parallel.learner.net.parameters()],
        "memory": memory,
        "resumed_same_memory": same,
        "mode": resumed.mode,
    }


def _killed_job(rank, world):
    x, y = _data()
    parallel = DataParallelLearner(_learner(), mode="allreduce")
    for i, s in enumerate(shard(FRAMES, 1, rank, world)):
        if rank == 1 and i == 5:
            os._exit(3)  # dies without a word, as a killed process does
        parallel.observe(x[s], y[s])


def _hung_job(rank, world):
    x, y = _data()
    parallel = DataParallelLearner(_learner(), mode="allreduce")
    for i, s in enumerate(shard(FRAMES, 1, rank, world)):
        if rank == 1 and i == 5:
            time.sleep(60)  # alive, but never answers
        parallel.observe(x[s], y[s])


def _uneven_job(rank, world):
    x, y = _data()
    parallel = DataParallelLearner(_learner(sleep_every=8), mode="allreduce")
    batch = 2 if rank == 0 else 3  # ranks that sleep at different moments
    for s in shard(FRAMES, batch, 0, 1)[:20]:
        parallel.observe(x[s], y[s])


# ---------------------------------------------------------------------------- tests
def test_allreduce_keeps_one_model_and_matches_one_process_at_the_total_batch():
    a, b = _run(_allreduce_job, 2)
    # ranks hold identical weights after every step, awake and asleep
    assert a["exact_div"] == 0.0 and b["exact_div"] == 0.0
    assert a["default_div"] == 0.0 and b["default_div"] == 0.0
    # ranks sleep at the same moments
    assert a["slept"] == b["slept"] and a["sleeps"] == b["sleeps"] >= 2
    # 2 ranks at batch 2 make one process's update at batch 4 (losses are batch means)
    x, y = _data()
    one = _learner(peer_norm=False, standardize=False)
    for s in shard(FRAMES, 4, 0, 1):
        one.observe(x[s], y[s])
    for mine, single in zip(a["exact"], one.net.parameters()):
        torch.testing.assert_close(mine, single.detach(), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(a["exact_readout"], one.readout.linear.weight.detach())
    # with the defaults (per-rank peer pushes, replays and dreams) accuracy stays close
    single = _learner(sleep_every=80)
    hits = sum(
        int((single.observe(x[s], y[s]).prediction == y[s]).sum()) for s in shard(FRAMES, 4, 0, 1)
    )
    assert abs((a["hits"] + b["hits"]) - hits) / FRAMES < 0.05


def test_average_mode_makes_ranks_one_model_at_each_average_only():
    a, b = _run(_average_job)
    assert len(a["after"]) == FRAMES // 2 // 30  # an average every 30 frames per rank
    assert all(d == 0.0 for d in a["after"])
    assert max(a["before"]) > 0.0  # between averages each rank learns alone
    assert a["seed"] != b["seed"]  # each rank draws its own replays and dreams


def test_checkpoint_of_two_ranks_resumes_on_one_and_on_two(tmp_path):
    path = tmp_path / "job.ckpt"
    a, b = _run(_checkpoint_job, str(path))
    assert a["resumed_same_memory"] and b["resumed_same_memory"]  # same ranks: as saved
    assert a["mode"] == "allreduce"
    learner, saved = load_learner(path)
    assert isinstance(learner, StreamLearner) and saved == {"mode": "allreduce", "every": 100}
    for saved, loaded in zip(a["weights"], learner.net.parameters()):
        assert torch.equal(saved, loaded.detach())
    # one memory holding both ranks' frames, up to its capacity
    assert len(learner.memory) == 50 and learner.memory.seen == 200
    rows = {tuple(r.tolist()) for r in learner.memory.frames[:50]}
    for part in (a["memory"], b["memory"]):
        assert rows & {tuple(r.tolist()) for r in part["frames"][:50]}
    x, y = _data()
    learner.observe(x[:4], y[:4])  # and it learns on


def _tampered(path, out, fix_checksum: bool):
    from ffstream.distributed.checkpoint import FORMAT, write_state
    from ffstream.stream.checkpoint import load_checkpoint, save_checkpoint

    data = load_checkpoint(path, fmt=FORMAT)
    data["ranks"][1]["memory"]["size"] = 10**6
    body = {k: v for k, v in data.items() if k not in ("format", "checksum")}
    if fix_checksum:
        write_state(out, body)
    else:
        save_checkpoint(out, {**body, "checksum": data["checksum"]}, FORMAT)
    return out


def test_a_damaged_checkpoint_is_refused_naming_what_is_wrong(tmp_path):
    path = tmp_path / "job.ckpt"
    _run(_checkpoint_job, str(path))
    with pytest.raises(ValueError, match="checksum"):
        load_learner(_tampered(path, tmp_path / "a.ckpt", fix_checksum=False))
    with pytest.raises(ValueError, match="rank 1's memory"):
        load_learner(_tampered(path, tmp_path / "b.ckpt", fix_checksum=True))


@pytest.mark.parametrize(
    ("job", "timeout", "limit", "fate"),
    [
        (_killed_job, 5.0, 15, "rank 1: exited with code 3"),  # a killed rank: at once
        (_hung_job, 2.0, 20, "rank 1: stopped, still running 2 s after another failed"),
    ],
)
def test_a_killed_or_hung_rank_ends_the_job_with_a_clear_error_within_seconds(
    job, timeout, limit, fate
):
    start = time.monotonic()
    with pytest.raises(JobFailed) as failed:
        _run(job, timeout=timeout)
    assert time.monotonic() - start < limit
    message = str(failed.value)
    assert fate in message
    assert "rank 0: ffstream.distributed.collectives.RankLost" in message


def test_ranks_that_would_sleep_at_different_moments_are_stopped():
    with pytest.raises(JobFailed, match="RanksDisagree"):
        _run(_uneven_job, timeout=5.0)


# ---------------------------------------------------------------------------- no ranks
@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"mode": "ring"}, "mode"), ({"every": 0}, "every"), ({"every": 2.5}, "every")],
)
def test_bad_settings_are_refused_naming_them(one_rank, kwargs, name):
    with pytest.raises(ValueError, match=name):
        DataParallelLearner(_learner(), **kwargs)


def test_a_schedule_that_reads_each_ranks_error_is_refused(one_rank):
    learner = StreamLearner(6, 3, hidden=(8,), schedule=OnDrift(), device="cpu")
    with pytest.raises(ValueError, match="schedule"):
        DataParallelLearner(learner)


def test_without_a_process_group_it_says_so():
    with pytest.raises(ValueError, match="process group"):
        DataParallelLearner(_learner())


def test_memories_split_over_more_ranks_keep_every_class():
    g = torch.Generator().manual_seed(0)
    saved = ClassBalancedMemory(40)
    x, y = _data(200)
    saved.add(x, y, g)
    shares = [split_memory([saved.state_dict()], ClassBalancedMemory(40), r, 2, g) for r in (0, 1)]
    assert [s["size"] for s in shares] == [20, 20]
    for share in shares:
        assert set(share["labels"][:20].tolist()) == set(y.tolist())
    both = torch.cat([s["frames"][:20] for s in shares])
    assert {tuple(r.tolist()) for r in both} == {tuple(r.tolist()) for r in saved.frames[:40]}
    reservoir = split_memory([saved.state_dict()], ReservoirMemory(20), 1, 2, g)
    assert reservoir["seen"] == 100  # new frames enter at the rate they would have
    roomy = split_memory([saved.state_dict()], ReservoirMemory(40), 1, 2, g)
    assert roomy["seen"] == roomy["size"] == 20  # a memory with room fills it first


def test_a_job_resumes_on_more_ranks_than_wrote_it(tmp_path):
    path = tmp_path / "job.ckpt"
    _run(_checkpoint_job, str(path))
    for rank in (0, 1, 2):
        learner, _ = load_learner(path, rank=rank, world_size=3)
        memory = learner.memory
        assert len(memory) > 0 and memory.seen >= len(memory)
        assert bool((memory.labels[: len(memory)] >= 0).all())
        x, y = _data()
        for i in range(0, 120, 4):  # past a sleep (every 40 frames): replays only real rows
            learner.observe(x[i : i + 4], y[i : i + 4])
        assert learner.sleeps >= 1


# ---------------------------------------------------------------------------- the hooks
@pytest.mark.parametrize(("numpy", "closed_form"), [(True, True), (False, True), (False, False)])
def test_every_backend_of_a_step_hands_its_gradients_to_grad_sync(numpy, closed_form):
    from ffstream.ff import FFNet, LinearReadout

    net, readout = FFNet.mlp([6, 8, 8], seed=0), LinearReadout(8, 3)
    net._numpy, net._closed_form = numpy, closed_form
    seen = []

    def cancel(grads):  # a sync that cancels every update: the weights must not move
        seen.append([tuple(g.shape) for g in grads])
        for g in grads:
            g.zero_()

    net.grad_sync = readout.grad_sync = cancel
    before = [p.detach().clone() for p in [*net.parameters(), *readout.parameters()]]
    x = torch.randn(4, 6)
    net.step(pos=x, neg=x + 1)
    if not numpy:  # the readout's torch path runs above its numpy size
        readout.step(torch.randn(9000, 8), torch.zeros(9000, dtype=torch.long))
    else:
        readout.step(torch.randn(4, 8), torch.tensor([0, 1, 2, 0]))
    assert seen == [[(8, 6), (8,), (8, 8), (8,)], [(3, 8), (3,)]]
    for old, new in zip(before, [*net.parameters(), *readout.parameters()]):
        assert torch.equal(old, new.detach())
