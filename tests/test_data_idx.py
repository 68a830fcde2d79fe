"""IDX reading and writing: round trips and every kind of broken file."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from ffstream.data import read_idx, write_idx


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("name", ["a-idx3-ubyte", "a-idx3-ubyte.gz"])
def test_round_trip(tmp_path, dtype, name):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    write_idx(tmp_path / name, array)
    back = read_idx(tmp_path / name)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    np.testing.assert_array_equal(back, array)


def test_mnist_magic_numbers(tmp_path):
    write_idx(tmp_path / "images", np.zeros((2, 28, 28), np.uint8))
    write_idx(tmp_path / "labels", np.zeros(2, np.uint8))
    assert (tmp_path / "images").read_bytes()[:4] == struct.pack(">I", 2051)
    assert (tmp_path / "labels").read_bytes()[:4] == struct.pack(">I", 2049)
    assert read_idx(tmp_path / "images", expected_magic=2051).shape == (2, 28, 28)


def test_gzip_detected_from_content_not_name(tmp_path):
    write_idx(tmp_path / "plain.gz", np.arange(3, dtype=np.uint8), compress=False)
    write_idx(tmp_path / "packed", np.arange(3, dtype=np.uint8), compress=True)
    assert read_idx(tmp_path / "plain.gz").tolist() == [0, 1, 2]
    assert read_idx(tmp_path / "packed").tolist() == [0, 1, 2]


def test_wrong_magic_names_file(tmp_path):
    path = tmp_path / "labels.gz"
    write_idx(path, np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match=r"labels\.gz has IDX magic 2049; expected 2051"):
        read_idx(path, expected_magic=2051)


@pytest.mark.parametrize(
    "head", [b"\x01\x02\x08\x01", b"\x00\x00\x07\x01", b"\x00\x00\x08\x00"], ids=str
)
def test_not_idx(tmp_path, head):
    path = tmp_path / "junk"
    path.write_bytes(head + b"\x00" * 8)
    with pytest.raises(ValueError, match="junk is not an IDX file"):
        read_idx(path)


def test_truncated_data(tmp_path):
    path = tmp_path / "images.gz"
    payload = struct.pack(">IIII", 2051, 3, 2, 2) + bytes(3 * 4 - 1)
    path.write_bytes(gzip.compress(payload))
    with pytest.raises(ValueError, match=r"images\.gz is truncated.*\(3, 2, 2\).*11 bytes"):
        read_idx(path)


@pytest.mark.parametrize("size", [0, 3, 9])
def test_truncated_header(tmp_path, size):
    path = tmp_path / "short"
    path.write_bytes(struct.pack(">IIII", 2051, 1, 1, 1)[:size])
    with pytest.raises(ValueError, match="short is truncated"):
        read_idx(path)


def test_trailing_bytes(tmp_path):
    path = tmp_path / "long"
    path.write_bytes(struct.pack(">II", 2049, 2) + b"\x01\x02\x03")
    with pytest.raises(ValueError, match="long has bytes after the 2 promised"):
        read_idx(path)


def test_cut_gzip_stream(tmp_path):
    path = tmp_path / "cut.gz"
    write_idx(path, np.random.default_rng(0).integers(0, 255, (50, 28, 28), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match=r"cut\.gz is a damaged or truncated gzip file"):
        read_idx(path)


def test_damaged_gzip_stream(tmp_path):
    path = tmp_path / "bad.gz"
    data = bytearray(gzip.compress(struct.pack(">II", 2049, 1000) + bytes(range(250)) * 4))
    data[20:40] = b"\xff" * 20
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"bad\.gz is a damaged or truncated gzip file"):
        read_idx(path)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "absent.gz")


def test_write_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(ValueError, match="cannot store dtype int64"):
        write_idx(tmp_path / "x", np.zeros(3, np.int64))


def test_gzip_output_is_reproducible(tmp_path):
    array = np.arange(10, dtype=np.uint8)
    write_idx(tmp_path / "a.gz", array)
    write_idx(tmp_path / "b.gz", array)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()
