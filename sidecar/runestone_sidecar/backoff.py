"""Exponential backoff with jitter and a cap, for talking to an API server that is away."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    base: float = 0.5
    factor: float = 2.0
    cap: float = 15.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number `attempt` (1 for the first retry).

        "Equal jitter": half of the exponential step is fixed and half is random, so retries from
        many pods spread out but none of them retries much sooner than the schedule says.
        """
        step = min(self.cap, self.base * self.factor ** max(0, attempt - 1))
        draw = (rng or random).random()
        return step / 2 + draw * step / 2
