"""Make the synthetic transaction files of the example programs and fit a population to each.

Takes: nothing (everything is fixed here: one invented business per example program in
rules/, its seed and its history period). Gives, for each example NAME:
  rules/data/NAME/transactions.csv            a small purchase and return history, drawn from the
                                              invented business below with simulator/transactions/synthetic.py
  rules/data/NAME/population.yaml             what `loyalty fit` finds in that history
  rules/data/NAME/population.customers.csv    the customers `loyalty fit` found (their histories)

The businesses are made up. Nothing here is a real customer: the files exist so that every
example simulates on customers that fit it (its currency, categories, channels, price levels,
tier thresholds and events), and so that the documentation's walk-through from transactions to
a forecast runs on files in the repository. The invented business is the *truth* the history is
drawn from; the population file is what `loyalty fit` recovers from the history alone, as it
would from a real one.

What a transaction file cannot show (referrals, custom events such as reviews) is added to the
fitted population by `add_outside_knowledge` below, each line marked `NOT in the data`.

Run from the repository root:  python rules/data/make_transactions.py
Same output every time (fixed seeds). It takes about a minute.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from rulelang.check.compiler import compile_source  # noqa: E402
from rulelang.syntax.loader import load_file  # noqa: E402
from simulator.model.population import load_population  # noqa: E402
from simulator.transactions.synthetic import Row, simulated_rows, write_transactions_csv  # noqa: E402

DATA = Path(__file__).resolve().parent
END = dt.date(2026, 12, 31)  # every history ends here; the simulation continues on 2027-01-01


@dataclasses.dataclass(frozen=True)
class Business:
    """An invented business: its customers (a population, the truth) and how much history to draw."""

    currency: str
    first_day: dt.date  # the first cohort's first purchases are on the 14th of this month
    cohorts: tuple[int, ...]  # customers who first buy in each equal slice of the history
    seed: int
    segments: str  # the `segments:` of the true population (YAML)
    referrals: dict[str, float] = dataclasses.field(default_factory=dict)  # segment -> referrals per week
    events: str = ""  # custom events per segment, YAML flow text, added to every fitted segment
    lines: str = ""  # baskets with lines, YAML flow text, added to every fitted segment
    voucher_use: float | None = None  # chance to spend a voucher with a life on a visit, added to every fitted segment


def population_text(name: str, b: Business) -> str:
    return (f"version: 1\nname: {name} (invented)\ncurrency: {b.currency}\ntime_unit: week\nmodel: bgnbd\n"
            f"response: off\nsegments:\n{b.segments}")


# the airline's travellers (rules/airline.loyalty; airline_status adds basic fares to the same segments)
AIRLINE_SEGMENTS = """\
  - name: business
    share: 0.15
    purchase: {r: 4.0, alpha: 4.0}           # about one booking a week
    dropout: {a: 0.3, b: 12.0}
    spend: {p: 4.0, q: 6.0, gamma: 600.0}    # mean 480 a booking
    categories: {flight: 0.7, hotel: 0.2, car_rental: 0.1}
    channels: {web: 0.5, app: 0.4, agency: 0.1}
    birthday_known: 0.7
    returns: {rate: 0.04, delay_days: {min: 1, max: 30}}
  - name: leisure
    share: 0.85
    purchase: {r: 0.5, alpha: 12.0}          # two bookings a year
    dropout: {a: 1.0, b: 4.0}
    spend: {p: 3.0, q: 4.0, gamma: 300.0}    # mean 300
    categories: {flight: 0.8, hotel: 0.15, car_rental: 0.05}
    channels: {web: 0.6, app: 0.25, agency: 0.15}
    birthday_known: 0.5
    returns: {rate: 0.06, delay_days: {min: 1, max: 30}}
"""

BUSINESSES: dict[str, Business] = {
    # A coffee chain (USD): daily regulars, weekly and occasional visitors; drinks a few dollars.
    "coffee": Business("USD", dt.date(2026, 7, 1), (140, 60, 40), 11, """\
  - name: daily
    share: 0.12
    purchase: {r: 12.0, alpha: 2.0}      # about 6 visits a week
    dropout: {a: 0.2, b: 30.0}
    spend: {p: 9.0, q: 8.0, gamma: 6.0}  # mean 7.70
    categories: {coffee: 0.72, food: 0.18, beans: 0.05, gift_card: 0.05}
    channels: {store: 0.6, app: 0.4}
    birthday_known: 0.9
    returns: {rate: 0.005, delay_days: {min: 1, max: 3}}
  - name: weekly
    share: 0.32
    purchase: {r: 2.0, alpha: 2.0}       # about one visit a week
    dropout: {a: 0.6, b: 8.0}
    spend: {p: 6.0, q: 5.0, gamma: 4.0}  # mean 6.00
    categories: {coffee: 0.65, food: 0.25, beans: 0.05, gift_card: 0.05}
    channels: {store: 0.75, app: 0.25}
    birthday_known: 0.8
    returns: {rate: 0.005, delay_days: {min: 1, max: 3}}
  - name: occasional
    share: 0.56
    purchase: {r: 0.8, alpha: 4.0}       # one visit in five weeks
    dropout: {a: 0.8, b: 4.0}
    spend: {p: 5.0, q: 4.0, gamma: 4.5}  # mean 7.50
    categories: {coffee: 0.55, food: 0.3, tea: 0.1, gift_card: 0.05}
    channels: {store: 0.9, app: 0.1}
    birthday_known: 0.6
    returns: {rate: 0.005, delay_days: {min: 1, max: 3}}
""", referrals={"*": 0.01}),
    # An airline (USD): business travellers fly often and dear, leisure travellers once or twice a year.
    "airline": Business("USD", dt.date(2025, 1, 1), (150, 125, 125, 100), 12, AIRLINE_SEGMENTS),
    # An airline with qualifying dollars (USD, rules/airline_status.loyalty): the airline's travellers,
    # with basic fares (which earn miles but no qualifying dollars) besides the other fares.
    "airline_status": Business("USD", dt.date(2025, 1, 1), (150, 125, 125, 100), 17, AIRLINE_SEGMENTS
                               .replace("categories: {flight: 0.7, hotel", "categories: {flight: 0.65, basic_fare: 0.05, hotel")
                               .replace("categories: {flight: 0.8, hotel", "categories: {flight: 0.5, basic_fare: 0.3, hotel")),
    # A cosmetics retailer (EUR): loyal beauty fans and occasional gift buyers.
    "cosmetics": Business("EUR", dt.date(2025, 7, 1), (250, 200, 150), 13, """\
  - name: fan
    share: 0.3
    purchase: {r: 2.0, alpha: 6.0}          # one purchase in three weeks
    dropout: {a: 0.4, b: 8.0}
    spend: {p: 5.0, q: 5.0, gamma: 36.0}    # mean 45
    categories: {skincare: 0.45, makeup: 0.35, fragrance: 0.1, haircare: 0.1}
    channels: {store: 0.6, online: 0.4}
    birthday_known: 0.85
    returns: {rate: 0.04, delay_days: {min: 2, max: 28}}
  - name: occasional
    share: 0.7
    purchase: {r: 0.8, alpha: 10.0}         # one purchase in three months
    dropout: {a: 0.8, b: 4.0}
    spend: {p: 4.0, q: 4.0, gamma: 27.0}    # mean 36
    categories: {skincare: 0.3, makeup: 0.3, fragrance: 0.3, haircare: 0.1}
    channels: {store: 0.7, online: 0.3}
    birthday_known: 0.6
    returns: {rate: 0.05, delay_days: {min: 2, max: 28}}
"""),
    # A fashion chain (RUB): a few big spenders, many who buy a few times a year; many returns.
    "fashion_discount": Business("RUB", dt.date(2025, 1, 1), (250, 200, 200, 150), 14, """\
  - name: fashionista
    share: 0.1
    purchase: {r: 3.0, alpha: 6.0}             # one purchase in two weeks
    dropout: {a: 0.3, b: 10.0}
    spend: {p: 4.0, q: 5.0, gamma: 7000.0}     # mean 7,000 RUB
    categories: {clothing: 0.55, shoes: 0.2, accessories: 0.1, sale: 0.15}
    channels: {store: 0.5, online: 0.5}
    birthday_known: 0.8
    returns: {rate: 0.2, fraction: {0.5: 0.4, 1: 0.6}, delay_days: {min: 2, max: 21}}
  - name: regular
    share: 0.9
    purchase: {r: 0.8, alpha: 8.0}             # one purchase in ten weeks
    dropout: {a: 0.8, b: 5.0}
    spend: {p: 3.0, q: 4.0, gamma: 4500.0}     # mean 4,500 RUB
    categories: {clothing: 0.5, shoes: 0.15, accessories: 0.1, sale: 0.25}
    channels: {store: 0.7, online: 0.3}
    birthday_known: 0.6
    returns: {rate: 0.15, fraction: {0.5: 0.3, 1: 0.7}, delay_days: {min: 2, max: 21}}
"""),
    # An online shop (EUR): baskets around the free-delivery threshold, returns, reviews and referrals.
    "online_shop": Business("EUR", dt.date(2025, 7, 1), (300, 250, 200), 15, """\
  - name: frequent
    share: 0.25
    purchase: {r: 2.0, alpha: 5.0}          # one order in two or three weeks
    dropout: {a: 0.4, b: 8.0}
    spend: {p: 4.0, q: 5.0, gamma: 60.0}    # mean 60
    categories: {electronics: 0.2, home: 0.35, books: 0.25, toys: 0.2}
    channels: {online: 0.55, app: 0.45}
    birthday_known: 0.5
    returns: {rate: 0.1, fraction: {0.5: 0.3, 1: 0.7}, delay_days: {min: 3, max: 30}}
  - name: occasional
    share: 0.75
    purchase: {r: 0.8, alpha: 10.0}         # one order in three months
    dropout: {a: 0.8, b: 4.0}
    spend: {p: 3.0, q: 4.0, gamma: 45.0}    # mean 45
    categories: {electronics: 0.3, home: 0.3, books: 0.2, toys: 0.2}
    channels: {online: 0.8, app: 0.2}
    birthday_known: 0.4
    returns: {rate: 0.12, fraction: {0.5: 0.3, 1: 0.7}, delay_days: {min: 3, max: 30}}
""", referrals={"*": 0.005},
        events="review: {rate: 0.1, fields: {rating: {5: 0.5, 4: 0.3, 3: 0.1, 2: 0.05, 1: 0.05}, "
               "photos: {0: 0.7, 1: 0.2, 2: 0.1}, verified: {true: 0.8, false: 0.2}}}"),
    # A supermarket (EUR): weekly family shops, top-up shoppers; fresh food, own brand, tobacco.
    "supermarket": Business("EUR", dt.date(2026, 4, 1), (70, 50, 40), 16, """\
  - name: family
    share: 0.4
    purchase: {r: 6.0, alpha: 4.0}         # one and a half shops a week
    dropout: {a: 0.2, b: 20.0}
    spend: {p: 6.0, q: 6.0, gamma: 45.0}   # mean 54
    categories: {fruit_veg: 0.2, bakery: 0.1, own_brand: 0.25, dairy: 0.15, meat: 0.15, household: 0.1, tobacco: 0.03, gift_card: 0.02}
    channels: {store: 0.85, online: 0.15}
    birthday_known: 0.6
    returns: {rate: 0.01, delay_days: {min: 1, max: 7}}
  - name: topup
    share: 0.6
    purchase: {r: 1.5, alpha: 3.0}         # one shop in two weeks
    dropout: {a: 0.6, b: 6.0}
    spend: {p: 4.0, q: 4.0, gamma: 45.0}   # mean 60
    categories: {fruit_veg: 0.25, bakery: 0.2, own_brand: 0.15, dairy: 0.15, meat: 0.05, household: 0.05, tobacco: 0.1, gift_card: 0.05}
    channels: {store: 0.95, online: 0.05}
    birthday_known: 0.5
    returns: {rate: 0.01, delay_days: {min: 1, max: 7}}
"""),
    # A grocery store with a petrol station (EUR): weekly shops whose receipts have several lines
    # (groceries, coffee, tobacco, gift cards, fuel by the litre), and fuel-only stops. The history
    # records each receipt's main category; its lines are what a receipt export would add.
    "grocery": Business("EUR", dt.date(2026, 4, 1), (70, 50, 40), 17, """\
  - name: family
    share: 0.5
    purchase: {r: 5.0, alpha: 4.0}         # one and a quarter shops a week
    dropout: {a: 0.2, b: 20.0}
    spend: {p: 6.0, q: 6.0, gamma: 55.0}   # mean 66
    categories: {grocery: 0.7, coffee: 0.1, fuel: 0.15, tobacco: 0.03, gift_card: 0.02}
    channels: {store: 1.0}
    birthday_known: 0.6
    returns: {rate: 0.01, delay_days: {min: 1, max: 7}}
  - name: commuter
    share: 0.5
    purchase: {r: 2.0, alpha: 3.0}         # two stops in three weeks
    dropout: {a: 0.6, b: 6.0}
    spend: {p: 4.0, q: 4.0, gamma: 45.0}   # mean 60
    categories: {fuel: 0.5, grocery: 0.3, coffee: 0.15, tobacco: 0.05}
    channels: {store: 1.0}
    birthday_known: 0.5
    returns: {rate: 0.005, delay_days: {min: 1, max: 7}}
""", lines="per_purchase: 4, categories: {grocery: {share: 0.6, amount: 1}, coffee: {share: 0.15, amount: 0.3}, "
           "tobacco: {share: 0.05, amount: 0.8}, gift_card: {share: 0.05, amount: 1.5}, "
           "fuel: {share: 0.15, amount: 4, quantity: 35}}",
       # A 5 EUR voucher is money off the next shop: most members spend it within two or three visits.
       voucher_use=0.4),
}


def months_between(a: dt.date, b: dt.date) -> int:
    return (b.year - a.year) * 12 + b.month - a.month + 1


def add_months(d: dt.date, n: int) -> dt.date:
    m = d.month - 1 + n
    return dt.date(d.year + m // 12, m % 12 + 1, 1)


def history(name: str, b: Business) -> list[Row]:
    """Customers joining in cohorts (equal slices of the history), each simulated to the end."""
    pop, diags = load_population(population_text(name, b), f"{name} (invented)")
    assert pop is not None, [d.message for d in diags]
    sf, _, _ = load_file(str(ROOT / "rules" / f"{name}.loyalty"))
    program, _ = compile_source(sf)
    total = months_between(b.first_day, END)
    step = total // len(b.cohorts)
    rows: list[Row] = []
    for k, n in enumerate(b.cohorts):
        start = add_months(b.first_day, k * step) + dt.timedelta(days=14)  # mid-month, like real sign-ups
        drawn = simulated_rows(pop, program, customers=n, months=total - k * step, seed=b.seed * 100 + k, start=start)
        prefix = f"K{k + 1}-"
        rows += [dataclasses.replace(r, customer=prefix + r.customer, order=prefix + r.order)
                 for r in drawn if r.date <= END]
    rows.sort(key=lambda r: (r.date, r.customer, r.kind != "purchase", r.order))
    return rows


def add_outside_knowledge(path: Path, b: Business) -> None:
    """Add to the fitted population what no transaction file shows, each line marked as such:
    a name, the currency (from the file's currency column, if `loyalty fit` did not write it as a key),
    referrals, custom events, baskets with lines and the chance to spend a voucher."""
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"^name: population$", f"name: {path.parent.name} customers (fitted to synthetic transactions)",
                  text, count=1, flags=re.MULTILINE)
    if not re.search(r"^currency:", text, re.MULTILINE):
        text = re.sub(r"^(# currency of the amounts: (\w+))$", r"\1\ncurrency: \2    # the currency column",
                      text, count=1, flags=re.MULTILINE)
    extra = []
    if b.referrals:
        extra.append(f"    refer: {b.referrals['*']}    # NOT in the data: referrals per week "
                     "(rules/data/make_transactions.py)")
    if b.events:
        extra.append(f"    events: {{{b.events}}}    # NOT in the data: per week (rules/data/make_transactions.py)")
    if b.lines:
        extra.append(f"    lines: {{{b.lines}}}    # NOT in the data: the receipts' lines (rules/data/make_transactions.py)")
    if b.voucher_use is not None:
        extra.append(f"    voucher_use: {b.voucher_use}    # NOT in the data: chance to spend a voucher held on a visit "
                     "(rules/data/make_transactions.py)")
    if extra:
        text = re.sub(r"^(    redeem: .*)$", lambda m: "\n".join([m.group(1), *extra]), text, flags=re.MULTILINE)
    path.write_text(text, encoding="utf-8")


def make(name: str, b: Business) -> None:
    folder = DATA / name
    rows = history(name, b)
    csv_path = write_transactions_csv(rows, folder / "transactions.csv", currency=b.currency, birthdays=True)
    out = folder / "population.yaml"
    cmd = [sys.executable, "-m", "rulelang", "fit", str(csv_path.relative_to(ROOT)), "--out",
           str(out.relative_to(ROOT)), "--model", "bgnbd"]
    print("$ loyalty " + " ".join(cmd[3:]), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    add_outside_knowledge(out, b)
    print(f"{name}: {len(rows):,} rows, {len({r.customer for r in rows}):,} customers", flush=True)


def main(argv: list[str]) -> int:
    names = argv or list(BUSINESSES)
    for name in names:
        make(name, BUSINESSES[name])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
