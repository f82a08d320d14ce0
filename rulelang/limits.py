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
- Literal numbers: Python refuses to print integers over 4,300 digits; no literal in a rule,
  events or population file may have more than `MAX_NUMBER_DIGITS` digits.
- Runs (`--customers`, `--trials`, `--workers`): `MAX_CUSTOMERS` is a hundred times the
  ten million the design asks to run on a laptop, and keeps every per-trial count (customers
  plus their referred newcomers, times months) far inside int64; `MAX_TRIALS` bounds the
  per-trial results the main process keeps (a few KiB each); `MAX_WORKERS` the processes
  started (each costs tens of MiB before it simulates anyone).
- Populations: any number is at most `MAX_POPULATION_NUMBER` (1e9, the largest default in
  the file format: `dropout.b` and `lifetime.beta` default to it); a customer's pre-drawn
  dated events (referral intents, custom events) average at most `MAX_EVENTS_PER_DAY` a day
  (each is held in memory for the whole run); spare slots for referred newcomers are at
  most `MAX_REFERRAL_POOL` per customer; a segment's mean spend is at most
  `MAX_MEAN_SPEND_CENTS`, a thousandth of `MAX_MONEY_CENTS`, so that even a draw a thousand
  times the mean is an amount the engines hold; a basket has at most `MAX_ITEMS` items on
  average; money per member and month at most `MAX_MEMBER_MONTH_CENTS` (times
  `MAX_CUSTOMERS`, their referred newcomers and `MAX_MONTHS` it stays inside int64); a
  behavioural effect (a lift, a damping, a dropout increase) at most `MAX_MULTIPLIER`.
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

# ---------------------------------------------------------------- simulation runs
MAX_CUSTOMERS = 10**9  # --customers
MAX_TRIALS = 100_000  # --trials
MAX_WORKERS = 256  # --workers

# ---------------------------------------------------------------- population files
MAX_POPULATION_NUMBER = 10**9  # any number in a population file
MAX_EVENTS_PER_DAY = 10  # a customer's referral intents, or one custom event's rate, per day
MAX_REFERRAL_POOL = 10  # spare slots for referred newcomers, per customer of a block
MAX_MEAN_SPEND_CENTS = MAX_MONEY_CENTS // 1000  # a segment's mean spend per purchase
MAX_ITEMS = 1000  # mean items in a basket
MAX_MEMBER_MONTH_CENTS = 100_000  # a cost per member and month (1,000 in the program's currency)

__all__ = [
    "MAX_NUMBER_DIGITS", "MAX_NESTING", "MAX_POINTS", "MAX_MONEY_CENTS", "MAX_RATE_POINTS_PER_UNIT",
    "MAX_MULTIPLIER", "MAX_PERCENT", "MIN_DATE", "MAX_DATE", "MAX_MONTHS", "MAX_DAYS", "MAX_RULES",
    "MAX_TIERS", "MAX_PERIODS", "MAX_ENUMERATION", "MAX_PARSE_ERRORS", "MAX_CUSTOMERS", "MAX_TRIALS",
    "MAX_WORKERS", "MAX_POPULATION_NUMBER", "MAX_EVENTS_PER_DAY", "MAX_REFERRAL_POOL", "MAX_MEAN_SPEND_CENTS",
    "MAX_ITEMS", "MAX_MEMBER_MONTH_CENTS",
]
