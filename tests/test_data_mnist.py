"""load_mnist on tiny home-made IDX files: folder resolution, checksums, validation, download.

The official checksums are swapped for those of the tiny files, so every path runs as it would
on the real data; the network is replaced by a fake ``urlopen``.
"""

from __future__ import annotations

import hashlib
import io
import os
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch

from ffstream.data import load_mnist, write_idx
from ffstream.data import mnist as mnist_module

N = 6


def _make_files(folder, n_images=N, n_labels=N, seed=0):
    """Write a tiny train and test split into ``folder``; returns name -> bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for images_name, labels_name in mnist_module.FILES.values():
        write_idx(folder / images_name, rng.integers(0, 256, (n_images, 28, 28), dtype=np.uint8))
        write_idx(folder / labels_name, rng.integers(0, 10, n_labels, dtype=np.uint8))
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _trust(monkeypatch, files, dataset="mnist"):
    """Make ``files`` (name -> bytes) the 'official' ones for ``dataset``."""
    sums = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    monkeypatch.setitem(mnist_module.SHA256, dataset, sums)


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the test tried to use the network")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.fixture
def tiny(tmp_path, monkeypatch, no_network):
    """A trusted tiny MNIST at tmp_path/data/mnist."""
    files = _make_files(tmp_path / "data" / "mnist")
    _trust(monkeypatch, files)
    return tmp_path / "data"


def test_loads_dtypes_and_shapes(tiny):
    data = load_mnist(tiny, split="test")
    images, labels = data
    assert images.shape == (N, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (N,) and labels.dtype == torch.int64
    assert data.images is images and "uint8[6, 28, 28]" in repr(data)


def test_content_matches_files(tiny):
    images, labels = load_mnist(tiny, split="train")
    expected = mnist_module.read_idx(tiny / "mnist" / "train-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(images.numpy(), expected)


def test_root_may_be_the_dataset_folder_itself(tiny):
    a = load_mnist(tiny)
    b = load_mnist(tiny / "mnist")
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)


def test_environment_variable_then_home_cache(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("FFSTREAM_DATA", str(tiny))
    assert len(load_mnist().labels) == N
    monkeypatch.delenv("FFSTREAM_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    os.makedirs(tmp_path / "home" / ".cache")
    os.rename(tiny, tmp_path / "home" / ".cache" / "ffstream")
    assert len(load_mnist(split="test").labels) == N


def test_root_argument_beats_environment(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("FFSTREAM_DATA", str(tmp_path / "elsewhere"))
    assert len(load_mnist(tiny).labels) == N


def test_missing_file_says_where_it_looked_and_what_to_do(tmp_path, no_network):
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(tmp_path, split="test")
    message = str(info.value)
    assert "t10k-images-idx3-ubyte.gz" in message
    assert str(tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz") in message
    assert "download=True" in message


def test_corrupt_file_is_refused(tiny):
    path = tiny / "mnist" / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte\.gz has SHA-256") as info:
        load_mnist(tiny, split="test")
    assert "download=True" in str(info.value) and "verify=False" in str(info.value)


def test_real_official_checksums_refuse_home_made_files(tmp_path, no_network):
    _make_files(tmp_path / "mnist")
    with pytest.raises(ValueError, match="not the official 440fcabf"):
        load_mnist(tmp_path)


def test_file_of_the_other_dataset_is_named(tiny, monkeypatch):
    mnist_sums = mnist_module.SHA256["mnist"]
    monkeypatch.setitem(mnist_module.SHA256, "fashion-mnist", {k: "0" * 64 for k in mnist_sums})
    with pytest.raises(ValueError, match="It is the official mnist file"):
        load_mnist(tiny / "mnist", dataset="fashion-mnist")


def test_verify_false_skips_only_the_checksum(tmp_path, no_network):
    _make_files(tmp_path)
    assert len(load_mnist(tmp_path, verify=False).labels) == N
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros(N, np.uint8))
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz has IDX magic 2049"):
        load_mnist(tmp_path, verify=False)


def test_count_mismatch_names_both_files(tmp_path, monkeypatch, no_network):
    files = _make_files(tmp_path, n_images=N, n_labels=N - 1)
    _trust(monkeypatch, files)
    with pytest.raises(ValueError, match=r"holds 6 images but .*labels-idx1-ubyte\.gz holds 5"):
        load_mnist(tmp_path)


def test_unknown_dataset_or_split(tiny):
    with pytest.raises(ValueError, match="unknown dataset 'kmnist'"):
        load_mnist(tiny, dataset="kmnist")
    with pytest.raises(ValueError, match="unknown split 'valid'"):
        load_mnist(tiny, split="valid")


# --- download -------------------------------------------------------------------------------


class FakeWeb:
    """Serves ``files`` (name -> bytes) at every URL, except URLs listed as down or corrupt."""

    def __init__(self, files, down=(), corrupt=()):
        self.files, self.down, self.corrupt = files, down, corrupt
        self.requests = []

    def __call__(self, url, timeout=None):
        self.requests.append(url)
        if any(url.startswith(base) for base in self.down):
            raise urllib.error.URLError("connection refused")
        data = self.files[url.rsplit("/", 1)[1]]
        if any(url.startswith(base) for base in self.corrupt):
            data = data[:-1]
        return io.BytesIO(data)


@pytest.fixture
def served(tmp_path, monkeypatch):
    """Trusted tiny files that exist only 'online'."""
    files = _make_files(tmp_path / "origin")
    _trust(monkeypatch, files)
    return files


def test_download_writes_verified_files_atomically(served, tmp_path, monkeypatch):
    web = FakeWeb(served)
    monkeypatch.setattr(urllib.request, "urlopen", web)
    root = tmp_path / "cache"
    images, labels = load_mnist(root, split="test", download=True)
    assert len(labels) == N
    assert sorted(p.name for p in (root / "mnist").iterdir()) == [
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ]
    first_mirror = mnist_module.MIRRORS["mnist"][0]
    assert web.requests == [first_mirror + name for name in mnist_module.FILES["test"]]
    # Present now: a second load does not touch the network.
    web.requests.clear()
    load_mnist(root, split="test", download=True)
    assert web.requests == []


def test_download_into_dataset_folder_given_as_root(served, tmp_path, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", FakeWeb(served))
    root = tmp_path / "mnist"
    load_mnist(root, split="test", download=True)
    assert (root / "t10k-images-idx3-ubyte.gz").is_file()
    assert not (root / "mnist").exists()


def test_download_falls_back_to_next_mirror(served, tmp_path, monkeypatch):
    first, second = mnist_module.MIRRORS["mnist"]
    for trouble in ({"down": [first]}, {"corrupt": [first]}):
        web = FakeWeb(served, **trouble)
        monkeypatch.setattr(urllib.request, "urlopen", web)
        root = tmp_path / next(iter(trouble))
        load_mnist(root, split="test", download=True)
        assert web.requests[1].startswith(second)
        assert not list(root.glob("**/*.part"))


def test_download_failure_leaves_nothing_and_explains(served, tmp_path, monkeypatch):
    first, second = mnist_module.MIRRORS["mnist"]
    monkeypatch.setattr(urllib.request, "urlopen", FakeWeb(served, down=[first], corrupt=[second]))
    with pytest.raises(OSError, match="could not download mnist t10k-images") as info:
        load_mnist(tmp_path, split="test", download=True)
    message = str(info.value)
    assert "connection refused" in message and "not the official" in message
    assert list((tmp_path / "mnist").iterdir()) == []


def test_downloads_are_verified_even_with_verify_false(served, tmp_path, monkeypatch):
    mirrors = mnist_module.MIRRORS["mnist"]
    monkeypatch.setattr(urllib.request, "urlopen", FakeWeb(served, corrupt=mirrors))
    with pytest.raises(OSError, match="not the official"):
        load_mnist(tmp_path, split="test", download=True, verify=False)


def test_real_data_if_available():
    """Runs only where the real files are in $FFSTREAM_DATA (never downloads)."""
    if not os.environ.get("FFSTREAM_DATA"):
        pytest.skip("set FFSTREAM_DATA to a folder with the MNIST .gz files to run this")
    try:
        images, labels = load_mnist(split="test")
    except FileNotFoundError:
        pytest.skip("MNIST test files not in $FFSTREAM_DATA")
    assert images.shape == (10_000, 28, 28)
    assert labels.bincount().tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_a_folder_is_identified_by_the_checksum_of_its_training_images(tmp_path, monkeypatch):
    from ffstream.data import identify_dataset
    from ffstream.data import mnist as mnist_module

    images = tmp_path / "fashion-mnist" / "train-images-idx3-ubyte.gz"
    images.parent.mkdir()
    write_idx(images, np.zeros((2, 28, 28), np.uint8))
    assert identify_dataset(tmp_path) is None  # no known dataset's file
    digest = hashlib.sha256(images.read_bytes()).hexdigest()
    official = {k: dict(v) for k, v in mnist_module.SHA256.items()}
    official["fashion-mnist"]["train-images-idx3-ubyte.gz"] = digest
    monkeypatch.setattr(mnist_module, "SHA256", official)
    assert identify_dataset(tmp_path) == "fashion-mnist"  # in <root>/<dataset>/ ...
    assert identify_dataset(images.parent) == "fashion-mnist"  # ... or in <root>/
