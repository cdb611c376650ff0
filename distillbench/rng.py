"""A tiny, fully specified pseudo-random generator (SplitMix64).

Why not `random` or numpy: the corpus, prompts and data orderings must be the same bytes on every Python and
numpy version, forever. SplitMix64 is 5 lines of integer arithmetic, so its stream is defined by this file alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")
_MASK = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed: int) -> None:
        self.state = seed & _MASK

    def next_u64(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & _MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        return z ^ (z >> 31)

    def below(self, n: int) -> int:
        """Uniform integer in [0, n); the modulo bias is < 2**-50 for the n used here."""
        return self.next_u64() % n

    def uniform(self) -> float:
        return (self.next_u64() >> 11) / float(1 << 53)

    def choice(self, items: Sequence[T]) -> T:
        return items[self.below(len(items))]

    def weighted(self, items: Sequence[T], weights: Sequence[float]) -> T:
        total = float(sum(weights))
        x = self.uniform() * total
        for item, w in zip(items, weights):
            x -= w
            if x < 0:
                return item
        return items[-1]

    def shuffle(self, items: list[T]) -> list[T]:
        """Fisher-Yates in place; returns the list for chaining."""
        for i in range(len(items) - 1, 0, -1):
            j = self.below(i + 1)
            items[i], items[j] = items[j], items[i]
        return items


def derive_seed(*parts: object) -> int:
    """A stable 64-bit seed from any labels (hashlib, not `hash()`, which is salted per process)."""
    import hashlib

    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little")
