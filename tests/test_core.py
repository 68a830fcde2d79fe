"""The one learner core: every stream front end runs on it, dreams see only a DreamSource."""

import threading

import pytest
import torch

from ffstream.stream import (
    Dreams,
    DreamSource,
    EveryN,
    LearnerConfig,
    LearnerCore,
    SequenceConfig,
    SequenceLearner,
    StreamLearner,
    reber_strings,
)


def test_front_ends_run_on_the_core():
    assert issubclass(StreamLearner, LearnerCore)
    sequence = SequenceLearner(5, context=2, hidden=(8,))
    assert isinstance(sequence.core, LearnerCore)
    assert sequence.core.config == sequence.config.learner_config()
    # A symbol learner's frame is its one-hot context; its label is the next symbol.
    assert sequence.core.num_features == 2 * 5 and sequence.core.num_classes == 5


class RecordingDreams(Dreams):
    """Flips the frames; remembers what it was handed."""

    needs_labels = True

    def __init__(self):
        self.sources = []

    def generate(self, source, x, y, scores=None):
        self.sources.append(source)
        return x.flip(1), y


def test_dreams_get_a_narrow_source_not_the_learner():
    dreams = RecordingDreams()
    learner = StreamLearner(4, 2, hidden=(8,), schedule=EveryN(5), dreams=dreams, device="cpu")
    for i in range(5):
        learner.observe(torch.rand(1, 4), [i % 2])
    assert learner.sleeps == 1 and dreams.sources
    source = dreams.sources[0]
    assert isinstance(source, DreamSource) and not isinstance(source, LearnerCore)
    assert source.generator is learner.generator and source.num_classes == 2
    x, y = source.recall(3)
    assert x.shape == (3, 4) and source.class_scores(x).shape == (3, 2)
    assert source.goodness(x, y).shape == (3, 1)


def test_a_readout_is_kept_only_where_it_predicts():
    by_goodness = StreamLearner(4, 3, hidden=(8, 8), predict_with="goodness", device="cpu")
    assert by_goodness.readout is None
    by_goodness.observe(torch.rand(6, 4), [0, 1, 2, 0, 1, 2])
    assert by_goodness.predict(torch.rand(2, 4)).shape == (2,)
    assert StreamLearner(4, 3, hidden=(8, 8), device="cpu").readout is not None


def test_a_goodness_learner_file_with_an_unused_readout_still_loads(tmp_path):
    # Files written before the core kept a readout for predict_with="goodness" too.
    learner = StreamLearner(4, 3, hidden=(8, 8), predict_with="goodness", device="cpu")
    learner.observe(torch.rand(6, 4), [0, 1, 2, 0, 1, 2])
    payload = learner.state_dict()
    old_readout = StreamLearner(4, 3, hidden=(8, 8), device="cpu").readout
    payload["state"]["readout"] = old_readout.state_dict()
    payload["state"]["readout_optimizer"] = old_readout.optimizer.state_dict()
    other = StreamLearner(4, 3, hidden=(8, 8), predict_with="goodness", device="cpu")
    other.load_state_dict(payload)
    frames = torch.rand(3, 4)
    assert torch.equal(other.class_scores(frames), learner.class_scores(frames))


def test_sequence_config_is_checked_and_round_trips():
    cfg = SequenceConfig(vocab_size=7, context=3, hidden=[16])
    assert cfg.hidden == (16,) and SequenceConfig.from_dict(cfg.to_dict()) == cfg
    assert SequenceLearner.from_config(cfg).config == cfg
    for bad in ({"lr": float("inf")}, {"context": 0}, {"dreams": "nightmares"}, {"seed": -1}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            SequenceConfig(vocab_size=7, **bad)
    with pytest.raises(ValueError, match="did you mean 'context'"):
        SequenceConfig.from_dict({"vocab_size": 7, "contex": 3})


def test_threads_sharing_a_sequence_learner_take_turns():
    stream = [s for string in reber_strings(60, seed=1) for s in string.symbols][:600]
    learner = SequenceLearner(7, context=3, hidden=(16,), sleep_every=50, seed=0)
    errors = []

    def feed(part):
        try:
            for symbol in part:
                learner.observe(symbol)
                learner.predict_next([0, 1, 2])
        except Exception as err:  # noqa: BLE001 - any error fails the test below
            errors.append(err)

    threads = [threading.Thread(target=feed, args=(stream[i::2],)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert learner.symbols_seen == len(stream)
    assert learner.core.frames_seen == len(stream) - 3  # every symbol after the first context


def test_core_learns_checked_tensors_directly():
    core = LearnerCore(LearnerConfig(in_features=3, num_classes=2, hidden=(8,)), device="cpu")
    seen = core.learn(torch.rand(4, 3), torch.tensor([0, 1, 0, 1]))
    assert seen.goodness.shape == (4, 1) and core.frames_seen == 4
    assert core.sleep(2) == 2 and core.sleeps == 1
    with pytest.raises(ValueError, match="config must be a LearnerConfig"):
        LearnerCore({"in_features": 3})
