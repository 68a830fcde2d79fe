"""The collectives data-parallel learning needs, each a single call on one flat buffer.

Every exchange packs its tensors into one contiguous buffer (one collective instead of one per
tensor: on a small net the per-call latency of gloo costs more than the bytes) and appends a
*signature*, a few small integers that say where in the stream the rank is. Ranks that run the
same code on equal batches reach every exchange with equal signatures; ranks that do not (one
sleeps while another is awake, batches of different sizes) would silently average unrelated
updates, so the exchange checks them and raises :class:`RanksDisagree` instead.

The check costs nothing extra: each signature value ``v`` travels with ``v**2`` in the same sum,
and ``N * sum(v**2) == sum(v)**2`` holds exactly when all ``N`` values are equal. Values are
taken modulo :data:`SIGNATURE_MODULUS`, so the sums stay exact in float32 for up to 256 ranks.

A collective that fails (a rank died, or did not answer within the process group's timeout)
raises :class:`RankLost`, naming this rank and the exchange, with the backend's message.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.distributed as dist

__all__ = [
    "SIGNATURE_MODULUS",
    "RankLost",
    "RanksDisagree",
    "average",
    "broadcast",
    "max_difference",
]

#: Signature values are reduced modulo this, so ``N * sum(v**2)`` stays exact in float32.
SIGNATURE_MODULUS = 256


class RankLost(RuntimeError):
    """A collective failed: another rank died or did not answer within the timeout."""


class RanksDisagree(RuntimeError):
    """Ranks reached the same exchange at different points of the stream."""


def _flat(tensors: Sequence[torch.Tensor], extra: Sequence[float], device) -> torch.Tensor:
    dtype = tensors[0].dtype if tensors else torch.float32
    parts = [t.detach().reshape(-1) for t in tensors]
    parts.append(torch.tensor(list(extra), dtype=dtype, device=device))
    return torch.cat(parts)


def _by_dtype(tensors: Sequence[torch.Tensor]) -> list[list[torch.Tensor]]:
    """The tensors in groups of one dtype each (one buffer, one collective per group), float32
    first; every rank forms the same groups from the same tensors."""
    groups: dict[torch.dtype, list[torch.Tensor]] = {}
    for t in tensors:
        groups.setdefault(t.dtype, []).append(t)
    order = sorted(groups, key=lambda d: (d != torch.float32, str(d)))
    return [groups[d] for d in order] or [[]]


def _scatter_back(flat: torch.Tensor, tensors: Sequence[torch.Tensor]) -> None:
    """Copy the front of ``flat`` back into ``tensors``, in order."""
    start = 0
    with torch.no_grad():
        for t in tensors:
            n = t.numel()
            t.copy_(flat[start : start + n].view_as(t))
            start += n


def _collective(what: str, call, *args, **kwargs) -> None:
    try:
        call(*args, **kwargs)
    except RuntimeError as err:  # gloo and NCCL report a lost peer or a timeout this way
        rank = dist.get_rank() if dist.is_initialized() else "?"
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise RankLost(
            f"rank {rank}: the {what} failed; another rank died or did not answer within the "
            f"process group's timeout ({first})"
        ) from err


def average(
    tensors: Sequence[torch.Tensor],
    signature: Sequence[int] = (),
    *,
    what: str = "all-reduce",
    group=None,
) -> None:
    """Replace every tensor by its mean over the ranks of ``group``, in place.

    Tensors of one dtype travel in one buffer (float32 ones, with the signature, first).

    ``signature`` (small integers) must be equal on every rank, else :class:`RanksDisagree`
    names the values each rank could have had. Every rank holds bit-identical results: the
    backend sums, then each rank divides the same sum by the same count.

    Examples
    --------
    Alone in a group, the mean is the tensor itself:

    >>> import tempfile
    >>> store = dist.FileStore(tempfile.mktemp(), 1)
    >>> dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    >>> t = torch.tensor([1.0, 2.0])
    >>> average([t], signature=(3,))
    >>> t.tolist()
    [1.0, 2.0]
    >>> dist.destroy_process_group()
    """
    world = dist.get_world_size(group)
    values = [int(v) % SIGNATURE_MODULUS for v in signature]
    device = tensors[0].device if tensors else torch.device("cpu")
    first, *others = _by_dtype(tensors)
    flat = _flat(first, [*values, *(v * v for v in values)], device)
    _collective(what, dist.all_reduce, flat, group=group)
    if values:
        k = len(values)
        sums = flat[-2 * k :].tolist()  # one host read per exchange (a sync on a GPU)
        for name_index, (total, squares) in enumerate(zip(sums[:k], sums[k:])):
            if round(world * squares) != round(total) ** 2:
                raise RanksDisagree(
                    f"rank {dist.get_rank(group)}: ranks reached the {what} at different "
                    f"points of the stream (signature entry {name_index}: this rank "
                    f"{values[name_index]}, mean over ranks {total / world:g}); give every "
                    f"rank batches of the same size and a schedule that counts frames"
                )
    flat = flat[: flat.numel() - 2 * len(values)].div_(world)
    _scatter_back(flat, first)
    for more in others:  # other dtypes (float64 statistics) keep their precision
        flat = _flat(more, (), device)
        _collective(what, dist.all_reduce, flat, group=group)
        _scatter_back(flat.div_(world), more)


def broadcast(tensors: Sequence[torch.Tensor], *, src: int = 0, group=None) -> None:
    """Overwrite every tensor with rank ``src``'s, in place (one collective)."""
    for same in _by_dtype(tensors):
        if same:
            flat = _flat(same, (), same[0].device)
            _collective("broadcast", dist.broadcast, flat, src=src, group=group)
            _scatter_back(flat, same)


def max_difference(tensors: Sequence[torch.Tensor], *, group=None) -> float:
    """The largest absolute difference of any element between this rank and any other."""
    largest = 0.0
    for same in _by_dtype(tensors):
        if not same:
            continue
        flat = _flat(same, (), same[0].device)
        high, low = flat.clone(), flat.clone()
        _collective("all-reduce (max)", dist.all_reduce, high, op=dist.ReduceOp.MAX, group=group)
        _collective("all-reduce (min)", dist.all_reduce, low, op=dist.ReduceOp.MIN, group=group)
        largest = max(largest, float((high - low).max()) if flat.numel() else 0.0)
    return largest
