"""What a return undoes of its purchase (docs/semantics.md §6).

Takes: what a purchase added (the tier metric and its month, each counter, the purchase count,
its instant discount) and a return of part or all of its amount. Gives: `Moved`, the record a
purchase with an `id` leaves, and `share`, the returned share of one quantity: all of what is
left for a return of the whole amount, else floor(quantity × returned / amount), at most what
earlier returns of the order left. The same rule takes back points (`returns reverse`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

__all__ = ["Moved", "share"]


def share(quantity: int | Fraction, returned: int, whole: int, undone: int | Fraction = 0) -> int:
    """The part of `quantity` a return of `returned` cents of a `whole`-cent purchase undoes."""
    left = quantity - undone
    if left <= 0:
        return 0
    if returned >= whole or whole <= 0:
        return math.floor(left)
    return min(math.floor(Fraction(quantity) * returned / whole), math.floor(left))


@dataclass
class Moved:
    """What one purchase added, and how much of it returns have undone so far."""

    month: int  # the month bucket the metric went into
    metric: Fraction = Fraction(0)
    counters: dict[str, Fraction] = field(default_factory=dict)
    discount: int = 0
    undone_metric: Fraction = Fraction(0)
    undone_counters: dict[str, Fraction] = field(default_factory=dict)
    undone_purchase: int = 0
    undone_discount: int = 0
