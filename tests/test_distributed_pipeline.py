"""The layer pipeline: two gloo ranks spawned inside the test, against one process with the same
staleness of the dreams' scores."""

from __future__ import annotations

import copy
import os
import time

import pytest
import torch

from ffstream.distributed import JobFailed, PipelineLearner, pipeline_refusals, spawn
from ffstream.ff import FFNet
from ffstream.stream import EveryN, LangevinDreams, OnDrift, StreamLearner
from ffstream.stream.sleep_phase import ScoreQueue

FRAMES, BATCH = 160, 4


def _data(n: int = FRAMES, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    return x, y


def _learner(classes: int | None = 3, **kw) -> StreamLearner:
    """A tiny 4-layer learner that sleeps every 40 frames (4 sleeps over the stream), without
    the weight average, which a pipeline refuses."""
    kw.setdefault("hidden", (12, 12, 12, 12))
    kw.setdefault("ema_decay", None)
    return StreamLearner(6, classes, seed=0, device="cpu", schedule=EveryN(40), **kw)


def _batches(n: int = FRAMES, batch: int = BATCH):
    return [slice(i, i + batch) for i in range(0, n, batch)]


def _model(learner: StreamLearner) -> list[torch.Tensor]:
    modules = [learner.net] + ([learner.readout] if learner.readout is not None else [])
    return [t.detach().clone() for m in modules for t in m.state_dict().values()]


def _one_process(staleness: int, classes: int | None = 3, batch: int = BATCH):
    """The single-process core with the given staleness: its model and observations."""
    x, y = _data()
    learner = _learner(classes)
    learner.score_staleness = staleness
    seen = [learner.observe(x[s], None if classes is None else y[s]) for s in _batches(batch=batch)]
    return learner, seen


# ---------------------------------------------------------------------------- rank jobs
def _pipeline_job(rank, world, staleness, classes, bounds=None, batch=BATCH, group=16):
    x, y = _data()
    pipeline = PipelineLearner(_learner(classes), staleness=staleness, bounds=bounds, group=group)
    seen = []
    if rank == 0:
        for s in _batches(batch=batch):
            pipeline.observe(x[s], None if classes is None else y[s])
        pipeline.close()
    else:
        pipeline.serve(lambda observation, labels: seen.append(observation))
    learner = pipeline.collect()
    if rank == 0:
        return {"model": _model(learner), "sleeps": learner.sleeps, "frames": pipeline.frames}
    return {"seen": seen, "frames": pipeline.frames, "staleness": pipeline.staleness}


def _killed_job(rank, world, victim):
    x, y = _data()
    pipeline = PipelineLearner(_learner())
    if rank == 0:
        for i, s in enumerate(_batches() * 50):
            if rank == victim and i == 30:
                os._exit(3)  # dies without a word, as a killed process does
            pipeline.observe(x[s], y[s])
        pipeline.close()
    else:
        count = []

        def on_observation(observation, labels):
            count.append(1)
            if rank == victim and len(count) == 30:
                os._exit(3)

        pipeline.serve(on_observation)


def _run(fn, *args, timeout=20.0, nproc=2):
    return spawn(fn, nproc, *args, start_method="fork", timeout=timeout)


def _same_model(head: dict, core: StreamLearner, tolerance: float = 1e-5) -> None:
    for mine, theirs in zip(head["model"], _model(core), strict=True):  # layers and readout
        torch.testing.assert_close(mine, theirs, rtol=10 * tolerance, atol=tolerance)


# ---------------------------------------------------------------------------- tests
@pytest.mark.parametrize("staleness", [0, 2])
def test_the_pipeline_makes_the_updates_of_one_process_with_the_same_staleness(staleness):
    core, seen = _one_process(staleness)
    head, top = _run(_pipeline_job, staleness, 3)
    assert head["sleeps"] == core.sleeps == 4 and head["frames"] == top["frames"] == FRAMES
    _same_model(head, core)
    # the top reports what the core's observe returned, frame by frame
    assert len(top["seen"]) == len(seen)
    for a, b in zip(top["seen"], seen):
        assert torch.equal(a.prediction, b.prediction) and a.slept == b.slept
        torch.testing.assert_close(a.goodness, b.goodness, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(a.novelty, b.novelty, rtol=1e-4, atol=1e-4)


def test_staleness_changes_the_updates_so_the_comparison_can_fail():
    fresh, _ = _one_process(0)
    stale, _ = _one_process(2)
    differences = [float((a - b).abs().max()) for a, b in zip(_model(fresh), _model(stale))]
    assert max(differences) > 1e-3


def test_an_unlabelled_pipeline_with_uneven_stages_matches_one_process_exactly():
    core, seen = _one_process(0, classes=None)
    head, top = _run(_pipeline_job, None, None, [0, 1, 4])  # hybrid dreams read no scores
    _same_model(head, core, 1e-6)
    novelty = torch.cat([o.novelty for o in top["seen"]])
    torch.testing.assert_close(novelty, torch.cat([o.novelty for o in seen]))


def test_three_stages_and_a_batch_too_large_for_a_bundle_match_one_process():
    # three ranks, one bundle per message; 80 frames per batch travel apart from their header
    head, middle, top = _run(_pipeline_job, None, 3, None, 80, 1, nproc=3)
    assert top["staleness"] == 3  # ranks x group
    core, seen = _one_process(3, batch=80)
    _same_model(head, core)
    assert [o.slept for o in top["seen"]] == [o.slept for o in seen] == [True, True]
    assert middle["seen"] == [] and middle["frames"] == FRAMES


@pytest.mark.parametrize("victim", [0, 1])
def test_a_killed_stage_ends_the_job_with_a_clear_error_within_seconds(victim):
    start = time.monotonic()
    with pytest.raises(JobFailed) as failed:
        _run(_killed_job, victim, timeout=5.0)
    assert time.monotonic() - start < 15
    message = str(failed.value)
    assert f"rank {victim}: exited with code 3" in message
    assert f"rank {1 - victim}: ffstream.distributed.collectives.RankLost" in message


def test_the_benchmark_runs_the_pipeline_and_its_one_process_reference(monkeypatch):
    from rich.console import Console

    from benchmarks import distributed
    from benchmarks.lab import Context, Run

    monkeypatch.setattr(distributed, "START_METHOD", "fork")
    cfg = distributed.Config(frames=96, test_frames=16, batch=4, repeats=1)
    ctx = Context(device="cpu", console=Console(quiet=True))
    metrics = {
        m: distributed.run_one(cfg, Run(m, 3, task="linear"), ctx)["metrics"]
        for m in ("pipeline-1-process", "pipeline", "pipeline-1-process-fresh")
    }
    one, pipe = metrics["pipeline-1-process"], metrics["pipeline"]
    assert pipe["ranks"] == 2 and pipe["layers"] == 4 and pipe["score_staleness"] == 32
    assert metrics["pipeline-1-process-fresh"]["score_staleness"] == 0
    # the same updates: the same predictions and the same final model's test accuracy
    assert pipe["prequential_accuracy"] == one["prequential_accuracy"]
    assert pipe["test_accuracy"] == one["test_accuracy"]
    assert pipe["speedup"] == pytest.approx(pipe["frames_per_s"] / one["frames_per_s"])


# ---------------------------------------------------------------------------- one process
def test_a_stage_of_a_net_steps_its_layers_as_the_whole_net_does():
    net = FFNet.mlp([6, 8, 8, 8], seed=0)
    whole = copy.deepcopy(net)
    bottom, top = net.stage(0, 1), net.stage(1, 3)
    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        pos, neg = torch.randn(5, 6, generator=g), torch.randn(5, 6, generator=g)
        whole.step(pos=pos, neg=neg)
        up = bottom.features(torch.cat([pos, neg]), skip_first=False)  # before its update
        bottom.step(pos=pos, neg=neg)
        top.step(pos=up[:5], neg=up[5:])
    for a, b in zip(net.state_dict().values(), whole.state_dict().values()):
        torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="stage"):
        net.stage(2, 2)


def test_sleep_batches_are_recalled_staleness_steps_ahead():
    count = iter(range(100))
    queue = ScoreQueue(2, 4, lambda: (torch.tensor([next(count)]), None))
    assert [int(b.x) for b in queue.start()] == [0, 1]
    steps = [queue.next() for _ in range(4)]
    assert [int(now.x) for now, _ in steps] == [0, 1, 2, 3]
    assert [None if a is None else int(a.x) for _, a in steps] == [2, 3, None, None]
    fresh = ScoreQueue(0, 2, lambda: (torch.tensor([next(count)]), None))
    assert fresh.start() == [] and fresh.next()[1] is None


def test_score_staleness_is_checked_and_defaults_to_the_learner_as_it_was():
    learner = _learner()
    assert learner.score_staleness == 0
    with pytest.raises(ValueError, match="score_staleness"):
        learner.score_staleness = -1
    with pytest.raises(ValueError, match="score_staleness"):
        learner.score_staleness = 1.5
    x, y = _data()
    default, explicit = _learner(), _learner()
    explicit.score_staleness = 0
    for s in _batches():
        default.observe(x[s], y[s])
        explicit.observe(x[s], y[s])
    assert all(torch.equal(a, b) for a, b in zip(_model(default), _model(explicit)))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"ema_decay": 0.9}, "ema_decay"),
        ({"predict_with": "goodness"}, "predict_with"),
        ({"readout_learns": "asleep"}, "readout_learns"),
        ({"replay": False}, "replay"),
        ({"dreams": LangevinDreams()}, "LangevinDreams"),
    ],
)
def test_what_cannot_be_pipelined_is_refused_naming_it(one_rank, kwargs, name):
    learner = _learner(**kwargs)
    assert any(name in reason for reason in pipeline_refusals(learner))
    with pytest.raises(ValueError, match=name):
        PipelineLearner(learner)


def test_bad_pipeline_settings_are_refused_naming_them(one_rank):
    drifting = StreamLearner(6, 3, hidden=(8, 8), device="cpu", schedule=OnDrift(), ema_decay=None)
    with pytest.raises(ValueError, match="schedule"):
        PipelineLearner(drifting)
    for kwargs, name in (({"staleness": -1}, "staleness"), ({"depth": 0}, "depth")):
        with pytest.raises(ValueError, match=name):
            PipelineLearner(_learner(), **kwargs)
    with pytest.raises(ValueError, match="at least 2 ranks"):
        PipelineLearner(_learner())
