"""The IDX file format of MNIST and its relatives.

An IDX file is a 4-byte magic number, one big-endian ``uint32`` size per dimension, then the
values in C order. The magic is ``0x00 0x00 <type> <ndim>``: MNIST images are ``0x0803`` (2051,
``uint8`` with 3 dimensions) and labels ``0x0801`` (2049, ``uint8`` with 1 dimension).
Files may be gzip-compressed; both forms are read.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from typing import BinaryIO

import numpy as np

__all__ = ["read_idx", "write_idx"]

#: IDX type byte -> big-endian numpy dtype
_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dtype.newbyteorder("="): code for code, dtype in _DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: str | os.PathLike, *, expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file (plain or gzip-compressed) into a native-endian numpy array.

    Values are read straight into a preallocated array, so a 47 MB image file costs one
    decompression and no extra copies.

    Parameters
    ----------
    path
        The file. Gzip compression is detected from the content, not the name.
    expected_magic
        If given, the magic number the file must carry (2051 for MNIST images, 2049 for labels).

    Raises
    ------
    ValueError
        Naming the file, for a wrong or unknown magic number, a truncated file, trailing bytes,
        or a broken gzip stream.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "labels-idx1-ubyte.gz"
    >>> write_idx(path, np.array([7, 2, 1], dtype=np.uint8))
    >>> read_idx(path, expected_magic=2049)
    array([7, 2, 1], dtype=uint8)
    >>> read_idx(path, expected_magic=2051)
    Traceback (most recent call last):
    ...
    ValueError: .../labels-idx1-ubyte.gz has IDX magic 2049; expected 2051
    """
    path = os.fspath(path)
    with open(path, "rb") as raw:
        compressed = raw.read(2) == _GZIP_MAGIC
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rb") as f:
            return _read_stream(f, path, expected_magic)
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        # A gzip stream cut short raises EOFError; a damaged one BadGzipFile or zlib.error.
        raise ValueError(f"{path} is a damaged or truncated gzip file ({err})") from None


def write_idx(path: str | os.PathLike, array: np.ndarray, *, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file; gzip-compressed when the name ends in ``.gz``.

    Useful for tests and for storing your own data in the MNIST format.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "images-idx3-ubyte"
    >>> write_idx(path, np.zeros((2, 3, 3), dtype=np.uint8))
    >>> path.read_bytes()[:4].hex()
    '00000803'
    >>> read_idx(path).shape
    (2, 3, 3)
    """
    array = np.asarray(array)
    code = _CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"IDX cannot store dtype {array.dtype}; use uint8, int8/16/32, float32/64")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"IDX needs 1 to 255 dimensions, got {array.ndim}")
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + np.ascontiguousarray(array, dtype=_DTYPES[code]).tobytes()
    path = os.fspath(path)
    if compress if compress is not None else path.endswith(".gz"):
        # mtime=0 keeps the bytes (and so their checksum) reproducible.
        payload = gzip.compress(payload, mtime=0)
    with open(path, "wb") as f:
        f.write(payload)


def _read_stream(f: BinaryIO, path: str, expected_magic: int | None) -> np.ndarray:
    head = f.read(4)
    if len(head) < 4:
        raise ValueError(f"{path} is truncated: {len(head)} bytes, too short for an IDX header")
    zero, code, ndim = struct.unpack(">HBB", head)
    magic = (code << 8) | ndim
    if zero != 0 or code not in _DTYPES or ndim == 0:
        raise ValueError(f"{path} is not an IDX file (magic {int.from_bytes(head, 'big')})")
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(f"{path} has IDX magic {magic}; expected {expected_magic}")
    dims_bytes = f.read(4 * ndim)
    if len(dims_bytes) < 4 * ndim:
        raise ValueError(f"{path} is truncated inside its header")
    shape = struct.unpack(f">{ndim}I", dims_bytes)
    dtype = _DTYPES[code]
    out = np.empty(shape, dtype=dtype)
    got = _read_into(f, memoryview(out.reshape(-1).view(np.uint8)))
    if got < out.nbytes:
        raise ValueError(
            f"{path} is truncated: header promises shape {shape} ({out.nbytes} bytes of data) "
            f"but only {got} bytes follow"
        )
    if f.read(1):
        raise ValueError(f"{path} has bytes after the {out.nbytes} promised by its header {shape}")
    return out if dtype.itemsize == 1 else out.astype(dtype.newbyteorder("="))


def _read_into(f: BinaryIO, buffer: memoryview) -> int:
    """Fill ``buffer`` from ``f``; returns the number of bytes read (short only at end of file)."""
    filled = 0
    while filled < len(buffer):
        n = f.readinto(buffer[filled:])
        if not n:
            break
        filled += n
    return filled
