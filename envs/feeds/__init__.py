"""Sensor feeds: passive stream sources whose frames go to ``StreamLearner.observe``.

Each feed is an iterable of float32 tensor frames on a chosen device, ``(x, y)`` pairs when it
has labels, and batches when given ``batch_size``. One module per kind of source:

* :class:`IteratorFeed` - any Python iterable (numbers, lists, arrays, tensors, dicts);
* :class:`PolledFeed` - a callable polled at a fixed rate;
* :class:`CSVFeed` - a CSV file, streamed row by row;
* :class:`StdinFeed` - lines of numbers on standard input;
* :class:`RiverFeed` - river datasets and synthetic generators.

Examples
--------
>>> from ffstream.envs.feeds import IteratorFeed
>>> for x in IteratorFeed([[0.0, 1.0], [2.0, 3.0]], batch_size=2):
...     print(x.shape, x.dtype)
torch.Size([2, 2]) torch.float32
"""

from ._rows import to_frame
from .base import Feed, Frame, OnError
from .class_index import ClassIndex
from .csv_file import CSVFeed
from .iterator import IteratorFeed
from .polled import PolledFeed
from .river_stream import RiverFeed
from .stdin import StdinFeed

__all__ = [
    "CSVFeed",
    "ClassIndex",
    "Feed",
    "Frame",
    "IteratorFeed",
    "OnError",
    "PolledFeed",
    "RiverFeed",
    "StdinFeed",
    "to_frame",
]
