"""Sensor feeds: values, dtype, device, shape, labels and error handling of every feed."""

from __future__ import annotations

import doctest
import importlib
import io
import itertools

import numpy as np
import pytest
import torch
from ffstream.envs.feeds import (
    ClassIndex,
    CSVFeed,
    IteratorFeed,
    PolledFeed,
    RiverFeed,
    StdinFeed,
    to_frame,
)
from river import datasets
from river.datasets import synth

MODULES = [
    "",
    "._rows",
    ".base",
    ".class_index",
    ".csv_file",
    ".iterator",
    ".polled",
    ".river_stream",
    ".stdin",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    module = importlib.import_module("ffstream.envs.feeds" + name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def assert_frame(x, values, device="cpu"):
    assert x.dtype == torch.float32
    assert x.device == torch.device(device)
    assert x.tolist() == pytest.approx(values)


# -- shared row helper -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "row, message",
    [
        ([], "empty row"),
        (["1", ""], "column 1 is empty"),
        (["1", "abc"], "not a number"),
        ([1.0, None], "missing"),
        ([1.0, float("inf")], "NaN or Inf"),
        ([1e39], "NaN or Inf"),  # finite in float64, Inf in float32
        (np.array([["1"]]), "expected numbers"),
        (np.zeros((2, 2)), "one row"),
    ],
)
def test_to_frame_rejects(row, message):
    with pytest.raises(ValueError, match=message):
        to_frame(row, where="here")


def test_to_frame_checks_width():
    with pytest.raises(ValueError, match="here: expected 3 values, got 2"):
        to_frame([1, 2], where="here", width=3)


# -- IteratorFeed ------------------------------------------------------------------------------


def test_iterator_feed_accepts_every_item_kind():
    items = [
        [1, 2],
        (3.0, 4.0),
        np.array([5, 6], dtype=np.int64),
        torch.tensor([7.0, 8.0], dtype=torch.float64),
        {"a": 9, "b": 10},
    ]
    frames = list(IteratorFeed(items))
    for x, expected in zip(frames, [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]], strict=True):
        assert x.shape == (2,)
        assert_frame(x, expected)


def test_iterator_feed_scalars_and_generators():
    frames = list(IteratorFeed(float(i) for i in range(3)))
    assert [x.tolist() for x in frames] == [[0.0], [1.0], [2.0]]


def test_iterator_feed_dict_order_first_item_or_given():
    rows = [{"b": 1, "a": 2}, {"a": 4, "b": 3}]
    assert [x.tolist() for x in IteratorFeed(rows)] == [[1, 2], [3, 4]]
    feed = IteratorFeed(rows + [{"a": 0, "b": 0, "c": 5}], features=["a", "b"])
    assert [x.tolist() for x in feed] == [[2, 1], [4, 3], [0, 0]]  # given order selects
    with pytest.raises(ValueError, match="item 2: unexpected feature"):
        list(IteratorFeed([{"a": 1}, {"a": 1, "c": 2}]))


def test_iterator_feed_labels_and_batches():
    rows = [([0.0, 1.0], "x"), ([2.0, 3.0], "y"), ([4.0, 5.0], "x")]
    batches = list(IteratorFeed(rows, with_labels=True, batch_size=2))
    (x0, y0), (x1, y1) = batches
    assert x0.shape == (2, 2) and x1.shape == (1, 2)
    assert y0.tolist() == [0, 1] and y1.tolist() == [0] and y0.dtype == torch.long


def test_iterator_feed_regression_targets_are_float():
    ((x, y),) = IteratorFeed([([1.0], 2.5)], with_labels=True)
    assert y.dtype == torch.float32 and y.item() == 2.5


def test_iterator_feed_nan_never_comes_through():
    items = [[1.0, 2.0], [float("nan"), 0.0], [3.0, 4.0]]
    with pytest.raises(ValueError, match="item 2: column 0 is NaN or Inf"):
        list(IteratorFeed(items))
    feed = IteratorFeed(items, on_error="skip")
    frames = list(feed)
    assert all(bool(torch.isfinite(x).all()) for x in frames)
    assert len(frames) == 2 and feed.skipped == 1


def test_feed_options_are_validated():
    with pytest.raises(ValueError, match="on_error"):
        IteratorFeed([], on_error="ignore")
    with pytest.raises(ValueError, match="batch_size"):
        IteratorFeed([], batch_size=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_frames_land_on_the_device():
    (x,) = IteratorFeed([[1.0, 2.0]], device="cuda")
    assert x.device.type == "cuda"


def test_frames_land_on_the_meta_device():
    # No GPU here: the meta device still proves frames are moved where they are asked to go.
    (x,) = IteratorFeed([[1.0, 2.0]], device="meta")
    assert x.device == torch.device("meta") and x.shape == (2,)


# -- ClassIndex --------------------------------------------------------------------------------


def test_class_index_rules():
    grown = ClassIndex()
    assert [grown(v) for v in ["b", "a", "b"]] == [0, 1, 0]
    with pytest.raises(ValueError, match="mixes named and integer"):
        grown(3)
    assert [ClassIndex()(v) for v in [True, False, 4, "2", 1.0]] == [1, 0, 4, 2, 1]
    fixed = ClassIndex(["lo", "hi"])
    assert fixed("hi") == 1 and fixed.num_classes == 2
    with pytest.raises(ValueError, match="unknown class label"):
        fixed("mid")
    with pytest.raises(ValueError, match="whole number"):
        ClassIndex()(0.5)


# -- CSVFeed -----------------------------------------------------------------------------------


@pytest.fixture
def csv_path(tmp_path):
    path = tmp_path / "sensors.csv"
    path.write_text(
        "t,temp,label\n"  # row 1
        "0,20.5,cold\n"  # row 2
        "1,21.0,cold\n"  # row 3
        "2,nan,hot\n"  # row 4: NaN
        "3,22\n"  # row 5: short
        "\n"  # row 6: empty
        "4,abc,hot\n"  # row 7: non-numeric
        "5,1e40,hot\n"  # row 8: Inf in float32
        "6,23.5,hot\n"  # row 9
    )
    return path


def test_csv_feed_values_and_labels(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text("a, b ,y\n1,2,0\n3,4,1\n5,6,1\n")
    frames = list(CSVFeed(path, target="y"))
    assert [(x.tolist(), y.item()) for x, y in frames] == [([1, 2], 0), ([3, 4], 1), ([5, 6], 1)]
    assert frames[0][0].dtype == torch.float32 and frames[0][1].dtype == torch.long
    x, y = next(iter(CSVFeed(path, target=-1, columns=["b"], batch_size=2)))
    assert x.tolist() == [[2], [4]] and y.tolist() == [0, 1]
    # Without a header the first row is data, and "a" is not a number.
    feed = CSVFeed(path, header=False, columns=[0], on_error="skip")
    assert [x.tolist() for x in feed] == [[1], [3], [5]]
    assert feed.skipped == 1 and "row 1" in str(feed.last_error)


def test_csv_feed_regression_and_unlabelled(tmp_path):
    path = tmp_path / "reg.csv"
    path.write_text("x,y\n1,0.25\n2,0.5\n")
    ys = [y.item() for _, y in CSVFeed(path, target="y", task="regression")]
    assert ys == [0.25, 0.5]
    assert [x.tolist() for x in CSVFeed(path)] == [[1, 0.25], [2, 0.5]]


@pytest.mark.parametrize(
    "skip_before, row, message",
    [
        (0, 4, "column 'temp' is NaN or Inf"),
        (1, 5, "expected 3 fields, got 2"),
        (2, 6, "expected 3 fields, got 0"),
        (3, 7, "not a number: 'abc'"),
        (4, 8, "NaN or Inf"),
    ],
)
def test_csv_feed_raises_with_file_and_row(csv_path, skip_before, row, message):
    # Cut the file just after the bad row under test, dropping the earlier bad ones.
    lines = csv_path.read_text().splitlines(keepends=True)
    bad = [4, 5, 6, 7, 8]
    keep = [line for i, line in enumerate(lines, start=1) if i not in bad[:skip_before]]
    csv_path.write_text("".join(keep))
    expected_row = row - skip_before
    with pytest.raises(ValueError, match=rf"sensors\.csv, row {expected_row}: .*{message}"):
        list(CSVFeed(csv_path, target="label"))


def test_csv_feed_skip_counts_malformed_rows(csv_path):
    feed = CSVFeed(csv_path, target="label", on_error="skip")
    frames = list(feed)
    assert [x.tolist() for x, _ in frames] == [[0, 20.5], [1, 21.0], [6, 23.5]]
    assert [y.item() for _, y in frames] == [0, 0, 1]
    assert feed.skipped == 5
    assert "row 8" in str(feed.last_error)
    list(feed)  # a second pass reopens the file and recounts
    assert feed.skipped == 5


def test_csv_feed_is_streamed(tmp_path):
    # A bad row far down must not stop the first frames from arriving: rows are read lazily.
    path = tmp_path / "long.csv"
    with path.open("w") as f:
        f.write("a\n")
        f.writelines(f"{i}\n" for i in range(10_000))
        f.write("oops\n")
    first = list(itertools.islice(CSVFeed(path), 3))
    assert [x.item() for x in first] == [0, 1, 2]


def test_csv_feed_configuration_errors(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="'z' is not in header"):
        list(CSVFeed(path, target="z", on_error="skip"))
    with pytest.raises(ValueError, match="out of range"):
        list(CSVFeed(path, columns=[5]))
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty file"):
        list(CSVFeed(empty))


# -- StdinFeed ---------------------------------------------------------------------------------


def test_stdin_feed_parses_commas_and_whitespace():
    text = io.StringIO("1, 2, 3\n\n# comment\n4 5\t6\n7,8 ,9\n")
    frames = list(StdinFeed(text))
    assert [x.tolist() for x in frames] == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert all(x.dtype == torch.float32 for x in frames)


def test_stdin_feed_reads_sys_stdin(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("1 2\n"))
    assert [x.tolist() for x in StdinFeed()] == [[1, 2]]


def test_stdin_feed_errors_name_the_line():
    with pytest.raises(ValueError, match="<stdin>, line 3: column 1 is empty"):
        list(StdinFeed(io.StringIO("1 2\n\n3,\n")))
    feed = StdinFeed(io.StringIO("1 2 0\n3 nan 1\n4 5\n6 7 1\n"), target=2, on_error="skip")
    frames = list(feed)
    assert [(x.tolist(), y.item()) for x, y in frames] == [([1, 2], 0), ([6, 7], 1)]
    assert feed.skipped == 2 and "line 3" in str(feed.last_error)


# -- PolledFeed --------------------------------------------------------------------------------


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_polled_feed_keeps_the_rate():
    clock = FakeClock()
    polled_at = []

    def read():
        polled_at.append(clock.now)
        return [clock.now, 1.0]

    feed = PolledFeed(read, rate_hz=4, max_frames=5, clock=clock, sleep=clock.sleep)
    frames = list(feed)
    assert len(frames) == 5 and frames[0].shape == (2,) and frames[0].dtype == torch.float32
    assert np.diff(polled_at) == pytest.approx([0.25] * 4)
    assert len(polled_at) == 5  # no extra poll after max_frames


def test_polled_feed_drops_missed_polls_after_a_stall():
    clock = FakeClock()
    polled_at = []

    def read():
        polled_at.append(clock.now)
        return 1.0

    feed = iter(PolledFeed(read, rate_hz=10, clock=clock, sleep=clock.sleep))
    next(feed)
    clock.now += 1.0  # the consumer stalls for ten periods
    next(feed)
    next(feed)
    assert polled_at[2] - polled_at[1] == pytest.approx(0.1)  # no burst of catch-up polls


def test_polled_feed_batches_labels_and_skips():
    readings = iter([([1.0], 0), ([float("nan")], 1), ([2.0], 1), ([3.0], 0)])
    clock = FakeClock()
    feed = PolledFeed(
        lambda: next(readings),
        100,
        max_frames=3,
        with_labels=True,
        batch_size=2,
        on_error="skip",
        clock=clock,
        sleep=clock.sleep,
    )
    (x0, y0), (x1, y1) = list(feed)
    assert x0.tolist() == [[1.0], [2.0]] and y0.tolist() == [0, 1]
    assert x1.tolist() == [[3.0]] and feed.skipped == 1


def test_polled_feed_rejects_bad_rate():
    with pytest.raises(ValueError, match="rate_hz"):
        PolledFeed(lambda: 1.0, rate_hz=0)


# -- RiverFeed ---------------------------------------------------------------------------------


def test_river_feed_phishing_matches_river():
    expected = list(itertools.islice(datasets.Phishing(), 5))
    feed = RiverFeed(datasets.Phishing())
    got = list(itertools.islice(feed, 5))
    names = list(expected[0][0])
    assert feed.feature_names == names
    for (x, y), (rx, ry) in zip(got, expected, strict=True):
        assert x.shape == (len(names),) and x.dtype == torch.float32
        assert x.tolist() == pytest.approx([float(rx[k]) for k in names])
        assert y.dtype == torch.long and y.item() == int(ry)


def test_river_feed_synth_generator_batches():
    feed = RiverFeed(synth.SEA(seed=1).take(100), batch_size=32)
    batches = list(feed)
    assert [x.shape[0] for x, _ in batches] == [32, 32, 32, 4]
    first_x, first_y = next(iter(synth.SEA(seed=1).take(1)))
    assert batches[0][0][0].tolist() == pytest.approx(list(first_x.values()))
    assert batches[0][1][0].item() == int(first_y)


def test_river_feed_string_labels_and_regression():
    feed = RiverFeed(itertools.islice(datasets.ImageSegments(), 50))
    ys = [y.item() for _, y in feed]
    assert set(ys) == set(range(feed.class_index.num_classes))
    regression = RiverFeed(datasets.TrumpApproval())
    x, y = next(iter(regression))
    assert y.dtype == torch.float32
    assert y.item() == pytest.approx(next(iter(datasets.TrumpApproval()))[1])


def test_river_feed_missing_feature_is_reported():
    samples = [({"a": 1.0, "b": 2.0}, True), ({"a": 1.0}, False)]
    with pytest.raises(ValueError, match="sample 2: missing feature"):
        list(RiverFeed(samples))


def test_frames_do_not_alias_a_reused_buffer():
    buffer = np.zeros(2, dtype=np.float32)

    def read():
        buffer[:] += 1.0  # a driver refilling the same array
        return buffer

    clock = FakeClock()
    frames = list(PolledFeed(read, 10, max_frames=2, clock=clock, sleep=clock.sleep))
    assert [x.tolist() for x in frames] == [[1, 1], [2, 2]]
