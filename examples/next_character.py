"""Learn next-character prediction on a text file with Forward-Forward: online, own-text dreams.

Usage: ``python examples/next_character.py [FILE] [--chars N]`` (default: this script's source).

The learner reads the text one character at a time. Awake, it predicts each character before
learning from it (prequential accuracy, printed as it goes) and makes one positive FF update on the
real window. Every ``--sleep-every`` characters it sleeps: it replays remembered windows as
positives beside its *own* text as negatives (teacher-forced wrong last characters, and windows it
writes itself). At the end it writes a sample continuing the last context it saw.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import torch

from ffstream.stream import SequenceLearner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", default=__file__, help="a text file (default: this one)")
    parser.add_argument("--chars", type=int, default=2000, help="characters to learn from")
    parser.add_argument("--passes", type=int, default=2, help="passes over the text")
    parser.add_argument("--context", type=int, default=4)
    parser.add_argument("--sleep-every", type=int, default=250)
    parser.add_argument("--report-every", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)  # tiny nets: threads cost more than they give

    text = Path(args.file).read_text(encoding="utf-8", errors="replace")[: args.chars]
    vocab = sorted(set(text))
    index = {c: i for i, c in enumerate(vocab)}
    symbols = [index[c] for c in text]
    # The majority-character baseline: what a model that learned nothing but frequencies gets.
    baseline = Counter(text).most_common(1)[0][1] / len(text)
    print(
        f"{args.file}: {len(text)} characters, vocabulary {len(vocab)}; "
        f"most-frequent-character baseline {baseline:.1%}"
    )

    learner = SequenceLearner(
        len(vocab),
        context=args.context,
        hidden=(128, 128),
        sleep_every=args.sleep_every,
        # Teacher-forced dreams only: with ~70 characters, rolling out whole windows costs
        # 70 candidates per generated symbol, too slow for a one-minute example.
        dreams="teacher_forced",
        lr=3e-3,
        seed=args.seed,
    )
    start = time.time()
    hits = total = 0
    # Prequential accuracy: every character is predicted before it is learned from; on the
    # second pass the text is no longer new, so that pass shows what was retained.
    stream = symbols * args.passes
    for begin in range(0, len(stream), args.report_every):
        chunk = stream[begin : begin + args.report_every]
        predictions = learner.observe(chunk)
        pairs = [(p, s) for p, s in zip(predictions, chunk) if p is not None]
        chunk_hits = sum(p == s for p, s in pairs)
        hits, total = hits + chunk_hits, total + len(pairs)
        chunk_accuracy = chunk_hits / max(1, len(pairs))
        print(
            f"{begin + len(chunk):6d} chars  accuracy (this chunk) {chunk_accuracy:.1%}"
            f"  (so far) {hits / max(1, total):.1%}  sleeps {learner.sleeps}  "
            f"{time.time() - start:.0f}s"
        )

    learner.sleep()  # end on a sleep: the awake phase alone only ever raises goodness
    prompt = symbols[-args.context :]
    sample = learner.generate(prompt, n=200, temperature=0.5)
    print("\nprompt:", repr(text[-args.context :]))
    print("sample:", repr("".join(vocab[s] for s in sample)))


if __name__ == "__main__":
    main()
