"""The embedded Reber grammar: symbol streams whose legal next symbols are known everywhere.

Accuracy against the best achievable can be measured on it (Fahlman's benchmark for learners of
sequences): :func:`reber_strings` gives strings with the legal next symbols after each prefix.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from ffstream.stream.sequence import SequenceLearner

__all__ = ["REBER_SYMBOLS", "ReberString", "legal_next_accuracy", "reber_strings"]

#: The Reber alphabet; symbol ``i`` is ``REBER_SYMBOLS[i]``.
REBER_SYMBOLS = "BTPSXVE"
_B, _T, _P, _S, _X, _V, _E = range(7)

# The Reber automaton (Fahlman's drawing): state -> [(symbol, next state)]; state 5 is the end.
_REBER = {
    0: [(_T, 1), (_P, 2)],
    1: [(_S, 1), (_X, 3)],
    2: [(_T, 2), (_V, 4)],
    3: [(_X, 2), (_S, 5)],
    4: [(_P, 3), (_V, 5)],
}


class ReberString(NamedTuple):
    """One (embedded) Reber string as symbol ids, with the legal next symbols after each prefix.

    ``legal_next[i]`` is the set of symbols that may follow ``symbols[: i + 1]``; after the final
    ``E`` it is ``{B}``, the start of the next string in a stream.
    """

    symbols: tuple[int, ...]
    legal_next: tuple[frozenset[int], ...]

    def text(self) -> str:
        """The string in letters, e.g. ``'BTBTXSETE'``."""
        return "".join(REBER_SYMBOLS[s] for s in self.symbols)


def _reber_inner(rng: random.Random) -> tuple[list[int], list[frozenset[int]]]:
    """A plain Reber string ``B ... E`` and the legal next symbols after each of its prefixes."""
    symbols, legal = [_B], [frozenset({_T, _P})]
    state = 0
    while state != 5:
        symbol, state = rng.choice(_REBER[state])
        symbols.append(symbol)
        legal.append(frozenset({_E}) if state == 5 else frozenset(s for s, _ in _REBER[state]))
    symbols.append(_E)
    legal.append(frozenset({_B}))
    return symbols, legal


def reber_strings(n: int, seed: int = 0, embedded: bool = True) -> list[ReberString]:
    """``n`` random strings of the (embedded) Reber grammar, every branch taken with p = 1/2.

    The embedded grammar wraps a Reber string as ``B T <reber> T E`` or ``B P <reber> P E``: the
    second-to-last symbol repeats the second one, a dependency across the whole string.

    Examples
    --------
    >>> s = reber_strings(1, seed=0)[0]
    >>> s.text()[:2] in ("BT", "BP"), s.text()[-2] == s.text()[1], s.text()[-1]
    (True, True, 'E')
    >>> [REBER_SYMBOLS[i] for i in sorted(s.legal_next[0])]
    ['T', 'P']
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        inner, inner_legal = _reber_inner(rng)
        if not embedded:
            out.append(ReberString(tuple(inner), tuple(inner_legal)))
            continue
        branch = rng.choice((_T, _P))
        # After the inner E only the branch symbol may come; after it, E; after E, a new B.
        inner_legal[-1] = frozenset({branch})
        symbols = [_B, branch, *inner, branch, _E]
        legal = [
            frozenset({_T, _P}),
            frozenset({_B}),
            *inner_legal,
            frozenset({_E}),
            frozenset({_B}),
        ]
        out.append(ReberString(tuple(symbols), tuple(legal)))
    return out


def legal_next_accuracy(
    learner: SequenceLearner, strings: Sequence[ReberString]
) -> tuple[float, float]:
    """How often ``learner`` predicts a symbol the grammar allows next, and a uniform guesser's.

    The strings are joined into one stream; every position with a full context is scored.
    """
    symbols = [symbol for s in strings for symbol in s.symbols]
    legal = [allowed for s in strings for allowed in s.legal_next]
    positions = range(learner.context, len(symbols))
    hits = sum(
        learner.predict_next(symbols[i - learner.context : i]) in legal[i - 1] for i in positions
    )
    chance = sum(len(legal[i - 1]) / len(REBER_SYMBOLS) for i in positions)
    return hits / len(positions), chance / len(positions)
