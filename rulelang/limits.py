"""Limits: every bound the language, its readers and the engines accept, in one place.

Takes: nothing. Gives: named constants. The checker, the rule-file and YAML readers, the
events-file reader, the population reader and the simulator's command line derive their
checks (and the numbers quoted in their error messages) from this module, so that a value
the checker accepts is a value both engines hold exactly.

Why these values:
- Points. The interpreter holds points as Python ints, the vectorized engine as int64
  (buckets too), and a customer's totals meet float64 wherever a condition compares them
  with a fractional constant and in the report's means, so every per-customer total is kept
  below `MAX_CUSTOMER_POINTS` = 2**53 (9.0e15), where float64 holds every integer exactly.
  The worst case of the longest run: `MAX_MONTHS` (1,200 months, 36,525 days), one purchase
  a day (the engine draws at most one per customer and day), each earning at most
  `MAX_EVENT_POINTS` (1e11): 36,525 × 1e11 = 3.7e15, which leaves 5.3e15 for every other
  earning event (birthdays, referrals, custom events): in all about 90,000 events at the
  largest earn each, 2.4 a day for a century, stay exact. Beyond that the engine stops with
  RL410 (it checks each event against `MAX_EVENT_POINTS` and each customer's totals against
  `MAX_CUSTOMER_POINTS` at every month end) rather than lose a point.
- What one event earns is bounded by the checker from the program (RL410): the fixed awards
  an event can fire, times the largest product of multipliers (the tier's and the rules'),
  at most `MAX_EVENT_POINTS`; and the rates of an event, times that product, at most
  `MAX_EARN_PER_UNIT` (1e5 points per one unit of money). A purchase then earns at most
  1e11 points up to 1e6 units of money at the largest rate (more for smaller rates); the
  amount is data, not program, so the engine checks the outcome per event.
- Single values: a fixed award, a price, a cap or a threshold in points, a minimum balance,
  the points of a voucher: `MAX_POINTS` (1e9); a rate: `MAX_RATE_POINTS_PER_UNIT` (1e4 per
  one unit of money, not per cent); a multiplier or a tier factor: `MAX_MULTIPLIER` (1000);
  a global budget in points: `MAX_BUDGET_POINTS` (1e15, below 2**53: budgets are counted
  down in Python ints and compared with per-customer amounts).
- Money is integer cents; `MAX_MONEY_CENTS` (10 billion in the program's currency) bounds a
  single amount, price, cost or threshold; products with rates and percentages are taken in
  exact integers (int64 while the bound allows it, Python ints beyond: simulator.engine.exact).
- Sums over customers (a month's points issued, a trial's revenue) can pass int64 for very
  large populations: they are taken as Python ints or with checked int64 additions, and
  the ledger identity of the report is computed from them in Python ints.
- Calendar: Python dates end at 9999-12-31; a run adds months and expiry periods to its
  dates, so dates are kept to `MIN_DATE`..`MAX_DATE` and durations to a century.
- Fitting transactions: a calibration period shorter than four weeks (or than its holdout)
  cannot tell a slow buyer from one who left, and a holdout under a week checks nothing;
  each `--segment-by` segment is a separate fit, and more than fifty of them leave too few
  customers in most for a stable one.
- Opening balances (a customers file of a program already running) enter the engine's lot
  buckets (int64) and the customer's running totals, which the engine keeps under
  `MAX_CUSTOMER_POINTS` (2**53) as above; `MAX_OPENING_BALANCE` leaves room in that bound for
  the longest run's worst purchases: 2**53 - `MAX_DAYS` × `MAX_EVENT_POINTS` = 2**53 - 3.66e15
  = 5,347,199,254,740,992 (5.3e15). A balance the customers file reads is also exact there
  (float64 holds every integer below 2**53). A trial's sum of balances is checked against int64.
- Literal numbers: Python refuses to print integers over 4,300 digits; no literal in a rule,
  events or population file may have more than `MAX_NUMBER_DIGITS` digits.
- Nesting: the YAML composer, the AST builder and every walker of a condition recurse, and
  Python's stack ends near 1,000 frames; `MAX_NESTING` is far below that and far above what
  any program needs.
- Files: `MAX_FILE_BYTES` is read at most, so that a path such as /dev/zero or a pasted log
  ends with an error instead of filling memory (the largest example program is 6 KB).
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
- Fitting (`simulator.model.estimation`): a model parameter above `FIT_PARAMETER_MAX` or below
  `FIT_PARAMETER_MIN` means the likelihood is still rising towards a limit where the model
  degenerates (BG/NBD b → ∞: nobody drops out; r, α → ∞ together: no heterogeneity in purchase
  rates); the estimates at 1e6 already describe that limit to six digits, so the fit stops and
  says which parameter ran away instead of reporting a meaningless number.
  `FIT_MAX_ITERATIONS` bounds the optimizer; the CDNOW fits need about 30.
"""

from __future__ import annotations

import datetime as dt

# ---------------------------------------------------------------- numbers in files
MAX_NUMBER_DIGITS = 30  # digits of any literal number, before or after the point
MAX_NESTING = 32  # levels of nesting in a condition, an events file or a population file
MAX_FILE_BYTES = 64 * 1024 * 1024  # bytes of one rule, events or population file

# ---------------------------------------------------------------- points and money
MAX_POINTS = 10**9  # any one point amount, price, cap or threshold in points
MAX_MONEY_CENTS = 10**12  # any one amount of money, in cents (10 billion units)
MAX_RATE_POINTS_PER_UNIT = 10**4  # points per one unit of money (per 1 USD, not per cent)
MAX_MULTIPLIER = 1000  # a multiplier or a tier factor
MAX_EARN_PER_UNIT = 10**5  # an event's rates × its largest product of multipliers, per unit of money
MAX_EVENT_POINTS = 10**11  # points one event may earn (fixed awards × multipliers; checked per event too)
MAX_CUSTOMER_POINTS = 2**53  # any one customer's running totals (float64-exact)
MAX_BUDGET_POINTS = 10**15  # a global budget in points
MAX_PERCENT = 100  # a discount or a share of a basket

# ---------------------------------------------------------------- calendar
MIN_DATE = dt.date(1900, 1, 1)
MAX_DATE = dt.date(2199, 12, 31)
MAX_MONTHS = 1200  # a duration in months: expiry, windows, a simulation's length
MAX_DAYS = 36_600  # a duration in days: pending periods, windows, delays

# one customer's balance at the start of a simulation: what is left of a customer's exact range
# (its running totals) after the longest run of one purchase a day at the largest earn of one event
MAX_OPENING_BALANCE = MAX_CUSTOMER_POINTS - MAX_DAYS * MAX_EVENT_POINTS

# ---------------------------------------------------------------- fitting transactions
MIN_CALIBRATION_DAYS = 28  # days of history before --holdout-from
MIN_HOLDOUT_DAYS = 7  # days from --holdout-from to the end of the file
MAX_FIT_SEGMENTS = 50  # values of a --segment-by column (each segment is fitted on its own)

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
MAX_QUANTITY = 10**9  # a purchase's quantity (litres, nights, units), and a segment's mean quantity
MAX_MEMBER_MONTH_CENTS = 100_000  # a cost per member and month (1,000 in the program's currency)

# ---------------------------------------------------------------- fitting models to transactions
FIT_PARAMETER_MAX = 1e6  # a fitted parameter beyond this has run away (the model degenerates)
FIT_PARAMETER_MIN = 1e-6  # ... and below this
FIT_MAX_ITERATIONS = 1000  # optimizer iterations of one maximum-likelihood fit

__all__ = [
    "FIT_PARAMETER_MAX", "FIT_PARAMETER_MIN", "FIT_MAX_ITERATIONS",
    "MAX_NUMBER_DIGITS", "MAX_NESTING", "MAX_FILE_BYTES", "MAX_POINTS", "MAX_MONEY_CENTS", "MAX_RATE_POINTS_PER_UNIT",
    "MAX_MULTIPLIER", "MAX_EARN_PER_UNIT", "MAX_EVENT_POINTS", "MAX_CUSTOMER_POINTS", "MAX_BUDGET_POINTS",
    "MAX_PERCENT", "MIN_DATE", "MAX_DATE", "MAX_MONTHS", "MAX_DAYS", "MAX_RULES",
    "MAX_TIERS", "MAX_PERIODS", "MAX_ENUMERATION", "MAX_PARSE_ERRORS", "MAX_CUSTOMERS", "MAX_TRIALS",
    "MAX_WORKERS", "MAX_POPULATION_NUMBER", "MAX_EVENTS_PER_DAY", "MAX_REFERRAL_POOL", "MAX_MEAN_SPEND_CENTS",
    "MAX_ITEMS", "MAX_QUANTITY", "MAX_MEMBER_MONTH_CENTS", "MIN_CALIBRATION_DAYS", "MIN_HOLDOUT_DAYS", "MAX_FIT_SEGMENTS",
]
