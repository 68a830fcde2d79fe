"""MNIST and Fashion-MNIST from their official IDX files, checked against official checksums.

Where the files are looked for, in order of precedence:

1. the ``root`` argument,
2. the ``FFSTREAM_DATA`` environment variable,
3. ``~/.cache/ffstream``.

Inside that folder a file may sit at ``<root>/<dataset>/<name>`` or directly at ``<root>/<name>``,
so both ``load_mnist("data")`` and ``load_mnist("data/mnist")`` find ``data/mnist/*.gz``.
Every ``.gz`` file is checked against its official SHA-256 before use; a copy that does not match
is refused rather than silently trained on.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import urllib.request
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import torch

from ffstream.data.idx import read_idx

__all__ = ["DATASETS", "LabelledImages", "data_home", "identify_dataset", "load_mnist"]

_log = logging.getLogger(__name__)

#: dataset -> official file name -> SHA-256 of the official ``.gz`` file
SHA256: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",  # noqa: E501
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",  # noqa: E501
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",  # noqa: E501
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",  # noqa: E501
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",  # noqa: E501
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",  # noqa: E501
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",  # noqa: E501
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",  # noqa: E501
    },
}

#: dataset -> base URLs tried in order (the file name is appended)
MIRRORS: dict[str, tuple[str, ...]] = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
}

#: split -> (images file, labels file)
FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

DATASETS: tuple[str, ...] = tuple(SHA256)

_IMAGES_MAGIC = 2051
_LABELS_MAGIC = 2049
_DOWNLOAD_TIMEOUT_S = 60.0


class LabelledImages(NamedTuple):
    """Images and their labels; unpacks as ``images, labels = load_mnist(...)``.

    Attributes
    ----------
    images
        ``uint8`` tensor of shape ``(N, rows, cols)``, pixel values 0-255 as stored in the file.
        Use :func:`ffstream.data.to_unit_float` for ``float32`` in ``[0, 1]``.
    labels
        ``int64`` tensor of shape ``(N,)``.
    """

    images: torch.Tensor
    labels: torch.Tensor

    def __repr__(self) -> str:
        # The default repr would print tensor contents; the shapes are what one wants to see.
        return (
            f"LabelledImages(images=uint8{list(self.images.shape)}, "
            f"labels=int64{list(self.labels.shape)})"
        )


def data_home(root: str | os.PathLike | None = None) -> Path:
    """The data folder: ``root`` if given, else ``$FFSTREAM_DATA``, else ``~/.cache/ffstream``.

    Examples
    --------
    >>> data_home("/srv/data").as_posix()
    '/srv/data'
    """
    if root is None:
        root = os.environ.get("FFSTREAM_DATA") or Path("~") / ".cache" / "ffstream"
    return Path(root).expanduser()


def load_mnist(
    root: str | os.PathLike | None = None,
    *,
    dataset: Literal["mnist", "fashion-mnist"] = "mnist",
    split: Literal["train", "test"] = "train",
    download: bool = False,
    verify: bool = True,
) -> LabelledImages:
    """Load one split of MNIST or Fashion-MNIST as ``uint8`` images and ``int64`` labels.

    Parameters
    ----------
    root
        The data folder (see :func:`data_home`). Files are looked for at
        ``<root>/<dataset>/<name>`` and then at ``<root>/<name>``.
    dataset
        ``"mnist"`` or ``"fashion-mnist"``.
    split
        ``"train"`` (60,000 images) or ``"test"`` (10,000 images).
    download
        Fetch missing files from the official mirrors into ``<root>/<dataset>/`` (or into
        ``root`` itself when its name is ``dataset``). Downloads are written atomically and
        always checked against the official SHA-256.
    verify
        Check files found on disk against the official SHA-256. Pass ``False`` only to load your
        own files in the same format on purpose; the IDX structure is still validated.

    Raises
    ------
    FileNotFoundError
        When a file is absent and ``download`` is false; the message lists where it looked.
    ValueError
        Naming the file, when it fails its checksum, is not a valid IDX file of the right kind,
        or when images and labels disagree in number.
    OSError
        When every mirror failed during a download.

    Examples
    --------
    Any folder of IDX files in the MNIST layout loads; here a tiny one of our own, so its
    checksum is not the official one and ``verify=False`` says so explicitly:

    >>> import tempfile
    >>> from ffstream.data import write_idx
    >>> folder = Path(tempfile.mkdtemp())
    >>> write_idx(folder / "t10k-images-idx3-ubyte.gz", np.zeros((3, 28, 28), np.uint8))
    >>> write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.array([4, 0, 9], np.uint8))
    >>> images, labels = load_mnist(folder, split="test", verify=False)
    >>> images.shape, images.dtype, labels
    (torch.Size([3, 28, 28]), torch.uint8, tensor([4, 0, 9]))

    Without ``verify=False`` the files are refused, with what to do about it:

    >>> load_mnist(folder, split="test")
    Traceback (most recent call last):
    ...
    ValueError: .../t10k-images-idx3-ubyte.gz has SHA-256 ..., not the official ...
    """
    if dataset not in SHA256:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    if split not in FILES:
        raise ValueError(f"unknown split {split!r}; choose 'train' or 'test'")
    home = data_home(root)
    images_name, labels_name = FILES[split]
    images_path = _locate(home, dataset, images_name, download=download, verify=verify)
    labels_path = _locate(home, dataset, labels_name, download=download, verify=verify)
    images = read_idx(images_path, expected_magic=_IMAGES_MAGIC)
    labels = read_idx(labels_path, expected_magic=_LABELS_MAGIC)
    if len(images) != len(labels):
        raise ValueError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} "
            "labels; the two files do not belong together"
        )
    return LabelledImages(torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64)))


def identify_dataset(root: str | os.PathLike | None = None) -> str | None:
    """Which known dataset the MNIST-format files under ``root`` are, by the SHA-256 of their
    training images (looked for as :func:`load_mnist` looks): a name of :data:`DATASETS`, or
    None when no known dataset's file is there (a folder of your own files in the same format).

    Examples
    --------
    >>> import tempfile
    >>> from ffstream.data import write_idx
    >>> folder = Path(tempfile.mkdtemp())
    >>> write_idx(folder / "train-images-idx3-ubyte.gz", np.zeros((2, 28, 28), np.uint8))
    >>> identify_dataset(folder) is None  # not MNIST's, not Fashion-MNIST's
    True
    """
    home = data_home(root)
    name = FILES["train"][0]
    for dataset in DATASETS:
        for path in (home / dataset / name, home / name):
            if path.is_file() and _sha256(path) == SHA256[dataset][name]:
                return dataset
    return None


def _locate(home: Path, dataset: str, name: str, *, download: bool, verify: bool) -> Path:
    """Find ``name`` under ``home`` (checking it), or download it, or explain why not."""
    candidates = [home / dataset / name, home / name]
    for path in candidates:
        if path.is_file():
            if verify:
                _check_sha256(path, dataset, name)
            return path
    if not download:
        looked = ", ".join(str(p) for p in candidates)
        raise FileNotFoundError(
            f"{dataset} file {name} not found (looked at {looked}). Pass download=True to fetch "
            "it from the official mirrors, or point root / $FFSTREAM_DATA at a folder holding it."
        )
    target_dir = home if home.name == dataset else home / dataset
    return _download(dataset, name, target_dir)


def _check_sha256(path: Path, dataset: str, name: str) -> None:
    digest = _sha256(path)
    expected = SHA256[dataset][name]
    if digest == expected:
        return
    # Name the likely mix-up: the same file name exists in both datasets.
    other = [d for d in SHA256 if d != dataset and SHA256[d].get(name) == digest]
    if other:
        advice = (
            f"It is the official {other[0]} file: point root at the folder that holds the "
            f"{dataset} files (or at its parent, with them in {dataset}/)."
        )
    else:
        advice = (
            "The file is damaged or not the official one. Delete it and load with download=True "
            "(or copy a good file there); pass verify=False only if it is your own file in this "
            "format on purpose."
        )
    raise ValueError(
        f"{path} has SHA-256 {digest}, not the official {expected} of {dataset} {name}. {advice}"
    )


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _download(dataset: str, name: str, target_dir: Path) -> Path:
    """Fetch ``name`` from each mirror in turn until one gives the official bytes."""
    target_dir.mkdir(parents=True, exist_ok=True)
    failures = []
    for base in MIRRORS[dataset]:
        url = base + name
        _log.info("downloading %s", url)
        try:
            return _fetch(url, target_dir / name, SHA256[dataset][name])
        except (OSError, ValueError) as err:  # urllib's URLError and HTTPError are OSErrors
            failures.append(f"{url}: {err}")
    raise OSError(
        f"could not download {dataset} {name} ({'; '.join(failures)}). "
        f"Download it by hand and place it at {target_dir / name}."
    )


def _fetch(url: str, target: Path, expected_sha256: str) -> Path:
    """Download ``url`` to ``target`` atomically, keeping it only if its SHA-256 matches.

    The bytes go to a temporary file in the same folder and are renamed into place at the end,
    so an interrupted download never leaves a partial file under the official name.
    """
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with (
            os.fdopen(fd, "wb") as out,
            urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as response,
        ):
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != expected_sha256:
            raise ValueError(
                f"downloaded SHA-256 {digest.hexdigest()} is not the official {expected_sha256}"
            )
        os.replace(tmp, target)
        return target
    finally:
        tmp.unlink(missing_ok=True)
