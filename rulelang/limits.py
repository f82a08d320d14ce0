"""Limits: every bound the language, its readers and the engines accept, in one place.

Takes: nothing. Gives: named constants. The checker, the rule-file and YAML readers, the
events-file reader, the population reader and the simulator's command line derive their
checks (and the numbers quoted in their error messages) from this module, so that a value
the checker accepts is a value both engines hold exactly.

Why these values:
- Points are held as int64 by the vectorized engine (9.2e18) and as Python ints by the
  interpreter; intermediate point arithmetic in the engine goes through float64, exact for
  integers below 2**53 (9.0e15). `MAX_POINTS` keeps any one amount, price, cap or threshold
  far enough below that that sums over a long run of many purchases stay exact.
- Money is integer cents; `MAX_MONEY_CENTS` (10 billion in the program's currency) bounds a
  single amount, price or cost so that products with rates stay exact.
- Calendar: Python dates end at 9999-12-31; a run adds months and expiry periods to its
  dates, so dates are kept to `MIN_DATE`..`MAX_DATE` and durations to a century.
- Opening balances (a customers file of a program already running) enter the engine's lot
  buckets, which are int32 per customer and bucket: `MAX_OPENING_BALANCE` is the largest.
- Literal numbers: Python refuses to print integers over 4,300 digits; no literal in a rule,
  events or population file may have more than `MAX_NUMBER_DIGITS` digits.
"""

from __future__ import annotations

import datetime as dt

# ---------------------------------------------------------------- numbers in files
MAX_NUMBER_DIGITS = 30  # digits of any literal number, before or after the point
MAX_NESTING = 32  # levels of nesting in a condition, an events file or a population file

# ---------------------------------------------------------------- points and money
MAX_POINTS = 10**12  # any one point amount, price, cap or threshold in points
MAX_MONEY_CENTS = 10**12  # any one amount of money, in cents (10 billion units)
MAX_RATE_POINTS_PER_UNIT = 10**6  # points per one unit of money (per 1 USD, not per cent)
MAX_MULTIPLIER = 1000  # a multiplier or a tier factor
MAX_PERCENT = 100  # a discount or a share of a basket
MAX_OPENING_BALANCE = 2**31 - 1  # one customer's balance at the start of a simulation (int32 lot bucket)

# ---------------------------------------------------------------- calendar
MIN_DATE = dt.date(1900, 1, 1)
MAX_DATE = dt.date(2199, 12, 31)
MAX_MONTHS = 1200  # a duration in months: expiry, windows, a simulation's length
MAX_DAYS = 36_600  # a duration in days: pending periods, windows, delays

# ---------------------------------------------------------------- program size
MAX_RULES = 1000
MAX_TIERS = 100
MAX_PERIODS = 1000  # every Nth purchase, a streak's length
MAX_ENUMERATION = 10_000  # values a condition's range is folded into
MAX_PARSE_ERRORS = 25  # syntax errors reported before a file is given up

__all__ = [
    "MAX_NUMBER_DIGITS", "MAX_NESTING", "MAX_POINTS", "MAX_MONEY_CENTS", "MAX_RATE_POINTS_PER_UNIT",
    "MAX_MULTIPLIER", "MAX_PERCENT", "MIN_DATE", "MAX_DATE", "MAX_MONTHS", "MAX_DAYS", "MAX_RULES",
    "MAX_TIERS", "MAX_PERIODS", "MAX_ENUMERATION", "MAX_PARSE_ERRORS",
]
