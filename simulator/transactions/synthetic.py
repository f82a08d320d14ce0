"""Synthetic transaction histories drawn from the simulator's own customer model.

Takes: a `Population`, a program (its currency and calendar only matter; the population's
behavioural response is switched off so that the history follows the fitted model alone), a
number of customers, months, a seed and a first day. Gives: `simulated_rows` (one row per
purchase or return: customer id, date, amount, kind, order id, category, channel, items, and
the customer's birthday when the population knows it) and `write_transactions_csv`, a
transaction file `loyalty fit` reads (optionally with a currency column). It serves the round-trip
test (fit -> simulate -> fit recovers the parameters) and the example data of `rules/data/`.

How the history is made: `simulate(..., record=n)` keeps the event stream of every customer
(one RNG block holding them all). The engine starts every customer just after a purchase
(BG/NBD's time 0) and emits only the purchases after it, so each customer also gets that
first purchase, on the day before the first simulated day, with an amount drawn from the
customer's own later purchases (the first later one; a customer who never bought again gets
the mean of the segment's spend model, rounded to the cent). Purchase ids are `d<day>` as
the engine names them, so a return names the order it returns. A known birthday (the
engine's month and day) is written as a date in a birth year drawn per customer from
1950..2005 with the run's seed; an unknown one is left empty.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
from pathlib import Path

from simulator.model.population import Population, Response


@dataclasses.dataclass(frozen=True)
class Row:
    customer: str
    date: dt.date
    amount_cents: int  # negative for a return
    kind: str  # "purchase" | "return"
    order: str
    category: str
    channel: str
    items: int
    birthday: str = ""  # ISO date, "" when unknown


BIRTH_YEARS = (1950, 2005)


def _birthday(month_day, rng) -> str:
    if not month_day:
        return ""
    month, day = (int(v) for v in month_day)
    year = int(rng.integers(BIRTH_YEARS[0], BIRTH_YEARS[1] + 1))
    if (month, day) == (2, 29) and not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
        year = 2000  # a leap year, so the date exists
    return dt.date(year, month, day).isoformat()


def simulated_rows(population: Population, program, *, customers: int, months: int, seed: int,
                   start: dt.date) -> list[Row]:
    import numpy as np

    from simulator.trials.montecarlo import simulate

    pop = dataclasses.replace(population, response=Response.off())
    result = simulate(program, pop, customers=customers, months=months, trials=1, seed=seed, workers=1,
                      start=start, record=customers, block_size=customers, chunk_size=customers)
    rows: list[Row] = []
    first_day = start - dt.timedelta(days=1)
    seg_mean = {s.name: s.spend_p * s.spend_gamma / (s.spend_q - 1) for s in pop.segments}
    fallback = round(sum(seg_mean[s.name] * s.share for s in pop.segments) * 100)
    years = np.random.Generator(np.random.PCG64(seed))
    for c in sorted(result.records):
        events = result.records[c]["events"]
        cid = f"C{c + 1:06d}"
        born = _birthday(result.records[c].get("birthday"), years)
        buys = [e for e in events if e["kind"] == "purchase"]
        first = buys[0] if buys else None
        rows.append(Row(cid, first_day, int(first["amount_cents"]) if first else int(fallback), "purchase",
                        f"{cid}-first", first["category"] if first else pop.segments[0].categories.values[0],
                        first["channel"] if first else pop.segments[0].channels.values[0],
                        int(first["items"]) if first else 1, born))
        for e in events:
            day = start + dt.timedelta(days=int(e["day"]))
            if e["kind"] == "purchase":
                rows.append(Row(cid, day, int(e["amount_cents"]), "purchase", f"{cid}-{e['id']}", str(e["category"]),
                                str(e["channel"]), int(e["items"]), born))
            elif e["kind"] == "return":
                rows.append(Row(cid, day, -int(e["amount_cents"]), "return", f"{cid}-{e['order']}", "", "", 0, born))
    return rows


def write_transactions_csv(rows: list[Row], path: str | Path, *, currency: str | None = None,
                           birthdays: bool = False) -> Path:
    """The rows as CSV; `currency` adds a currency column (that code on every row), `birthdays` a
    birthday column."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["customer_id", "date", "amount", "kind", "order_id", "category", "channel", "items"]
                   + (["currency"] if currency else []) + (["birthday"] if birthdays else []))
        for r in rows:
            w.writerow([r.customer, r.date.isoformat(), f"{abs(r.amount_cents) / 100:.2f}", r.kind, r.order,
                        r.category, r.channel, r.items or ""]
                       + ([currency] if currency else []) + ([r.birthday] if birthdays else []))
    return p
