import os
import tempfile

import pytest
import torch

# Suites record every run; tests must never write into the committed benchmarks/results.
os.environ["FFSTREAM_RESULTS"] = tempfile.mkdtemp(prefix="ffstream-test-results-")

# The test nets are tiny: extra intra-op threads only add contention on small CI machines.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same global RNG state, so thresholds are not luck."""
    torch.manual_seed(0)
    yield


def blobs(n: int, num_classes: int, dim: int, seed: int = 0, spread: float = 0.35):
    """Gaussian clusters in [0, 1]^dim: a small separable problem generated on the fly."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.rand(num_classes, dim, generator=g)
    y = torch.randint(0, num_classes, (n,), generator=g)
    x = centers[y] + spread * torch.randn(n, dim, generator=g) / dim**0.5
    return x, y


def write_fake_mnist(root, n_train: int, n_test: int):
    """Tiny MNIST-shaped IDX files under ``root/mnist`` (official names, not official sums).

    Every class appears in both splits; a bright square whose place gives the class away makes
    the data learnable in a few steps. Suites read them with ``--no-verify``. Returns ``root``.
    """
    import numpy as np

    from ffstream.data import write_idx
    from ffstream.data.mnist import FILES

    folder = root / "mnist"
    folder.mkdir(parents=True, exist_ok=True)
    for seed, (split, (images_name, labels_name)) in enumerate(FILES.items()):
        n = n_train if split == "train" else n_test
        rng = np.random.default_rng(seed)
        labels = np.arange(n) % 10
        rng.shuffle(labels)
        images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for i, label in enumerate(labels):
            r, c = 2 + 5 * (label // 5), 2 + 5 * (label % 5)
            images[i, r : r + 8, c : c + 8] = 255
        write_idx(folder / images_name, images)
        write_idx(folder / labels_name, labels.astype(np.uint8))
    return root


def fresh_results() -> str:
    """A new, empty results folder: suites resume from records, so tests never share one."""
    return tempfile.mkdtemp(prefix="ffstream-results-")


def bench_args(suite: str, data_dir, *extra: str):
    """``ffstream bench SUITE`` options, parsed by the CLI's own parser (CPU, unverified data,
    a fresh results folder)."""
    from ffstream import cli

    argv = ["bench", suite, "--data", str(data_dir), "--no-verify", "--device", "cpu"]
    argv += ["--results", fresh_results(), *extra]
    return cli.build_parser().parse_args(argv)


def is_moved_copy(frames: torch.Tensor, stored: torch.Tensor, shape: tuple[int, int]):
    """Per flat frame: (a stored frame moved by at most one pixel?, an unmoved stored frame?)."""
    height, width = shape
    padded = torch.nn.functional.pad(stored.view(-1, height, width), (1, 1, 1, 1))
    offsets = [(r, c) for r in range(3) for c in range(3)]
    moved = torch.cat([padded[:, r : r + height, c : c + width].flatten(1) for r, c in offsets])
    some_move = (frames[:, None, :] == moved[None]).all(2).any(1)
    unmoved = (frames[:, None, :] == stored[None]).all(2).any(1)
    return some_move, unmoved


def runs_a_batched_kernel(optimizer: torch.optim.Optimizer) -> bool:
    """Every parameter group steps with a fused or multi-tensor kernel, as FF's layers do."""
    return all(group.get("fused") or group.get("foreach") for group in optimizer.param_groups)


def assert_same_stats(a, b):
    """Two FFNet StepStats agree: losses, and positive and negative goodness where present."""
    torch.testing.assert_close(a.losses, b.losses)
    for x, y in ((a.pos_goodness, b.pos_goodness), (a.neg_goodness, b.neg_goodness)):
        assert (x is None) == (y is None)
        if x is not None:
            torch.testing.assert_close(x, y)


#: A small agent config for `ffstream run` tests: quick to learn, quick to sleep.
SMALL_AGENT = "hidden = [16]\nlearning_starts = 64\nbatch_size = 16\nsleep_every = 100\n"


def run_cli(*argv: str) -> int:
    """``ffstream run argv`` on one thread and the CPU; its exit status (argparse's too)."""
    from ffstream import cli

    try:
        return cli.main(["run", "--threads", "1", "--device", "cpu", *argv])
    except SystemExit as exit_:  # argparse refuses a malformed value itself
        return exit_.code


def refused(capsys, *argv: str) -> str:
    """Run, assert exit 2 with exactly one line of output and no traceback; that line."""
    code = run_cli(*argv)
    captured = capsys.readouterr()
    text = (captured.out + captured.err).strip()
    assert code == 2, text
    assert "Traceback" not in text
    assert len(text.splitlines()) == 1, text
    return text


@pytest.fixture
def config(tmp_path):
    """The path of a TOML file holding :data:`SMALL_AGENT`."""
    path = tmp_path / "small.toml"
    path.write_text(SMALL_AGENT)
    return str(path)


@pytest.fixture
def fake_moviepy(monkeypatch):
    """A stand-in for moviepy that keeps the clips (frames, fps, path) instead of encoding them
    (the file it writes is empty); the list of clips written."""
    import sys
    import types

    import numpy as np

    clips = []

    class ImageSequenceClip:
        def __init__(self, frames, fps):
            self.frames, self.fps = [np.array(f) for f in frames], fps
            clips.append(self)

        def write_videofile(self, path, logger=None):
            self.path = path
            open(path, "wb").close()

    module = types.ModuleType("moviepy.video.io.ImageSequenceClip")
    module.ImageSequenceClip = ImageSequenceClip
    for name in ("moviepy", "moviepy.video", "moviepy.video.io"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: object())
    return clips


@pytest.fixture
def one_rank():
    """A torch.distributed process group of one rank (gloo), for the data-parallel wrappers."""
    import torch.distributed as dist  # only the tests that ask for it pay for the import

    dist.init_process_group(
        "gloo", store=dist.FileStore(tempfile.mktemp(), 1), rank=0, world_size=1
    )
    yield
    dist.destroy_process_group()
