"""Status dates, declared activity and tier earn rates: ledgers worked out by hand, from the
vectorized engine (the replay of a small transaction history) and from the reference
interpreter (customer by customer, `compare_sample`), which must agree with each other too.

Calendar facts used below: 2027-05-01 is a Saturday, so 2027-05-03 is a Monday and 2027-05-08
a Saturday; a calendar-year window counts only the purchases dated in the current year.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from rulelang import Event, run
from rulelang.check.compiler import compile_source
from rulelang.syntax.parser import parse_text
from simulator.history.check import compare_sample
from simulator.history.command import load_history
from simulator.history.feed import ReplayOptions, build_feed
from simulator.history.replay_engine import replay
from simulator.model.strings import StringTable

TIERS = """
  earn base on purchase {
    award 1 point per 1 USD
  }

  tiers by spend over calendar year {
    tier Member from 0
    tier Silver from 200 USD
    tier Gold from 500 USD
    status valid through 01-31 of the year after next%s
  }
"""


def _program(body: str):
    sf, diags = parse_text('program "P" {\n  currency USD\n' + body + "}\n", "p.loyalty")
    assert sf is not None, diags
    program, diags = compile_source(sf)
    assert program is not None, [d.message for d in diags if d.is_error]
    return program


def _replay(tmp_path: Path, program, rows: list[tuple[str, str, str]], redeem: str = "never") -> dict[str, dict]:
    """Each customer's ledger by the engine; the interpreter must give the same for everyone."""
    lines = ["customer_id,date,amount,kind,order_id"]
    lines += [f"{c},{d} 12:00:00,{a},purchase,{c}{i}" for i, (c, d, a) in enumerate(rows)]
    path = tmp_path / "history.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    history = load_history(str(path))
    strings = StringTable()
    feed = build_feed(history, program, strings)
    options = ReplayOptions(redeem=redeem)
    result = replay(program, feed, strings, options)
    assert compare_sample(result, program, feed, strings, range(feed.n_customers), options) == []
    names = [t.name for t in program.tiers.tiers] if program.tiers else []
    out = {}
    for c, cid in enumerate(feed.customer_ids):
        led = {k: int(v[c]) for k, v in result.ledgers.items() if k != "tier"}
        led["tier"] = names[int(result.ledgers["tier"][c])] if names else None
        out[str(cid)] = led
    return out


# ---------------------------------------------------------------- status dates


@pytest.mark.parametrize("last_day, a_tier, c_tier", [
    # the day before the status ends: everyone still holds what they earned in 2027
    ("2029-01-31", "Gold", "Silver"),
    # 2029-02-01, before its events: 2027 statuses end; the 2029 window so far decides
    ("2029-02-01", "Silver", "Member"),
])
def test_a_status_lasts_through_31_january_of_the_year_after_next_then_drops_to_what_the_window_earns(
        tmp_path, last_day, a_tier, c_tier):
    program = _program(TIERS % "")
    rows = [
        # A: 600 USD on 2027-03-10 -> Gold, earned in 2027: valid through 2029-01-31.
        # 250 USD on 2029-01-20: the 2029 window holds 250 USD (Silver), below Gold: no renewal.
        # 2029-02-01: the window as of 2029-01-31 earns Silver -> Silver (not one step, not base).
        ("A", "2027-03-10", "600.00"), ("A", "2029-01-20", "250.00"),
        # B: Gold in 2027, and 520 USD in 2028 earns Gold again in 2028: valid through 2030-01-31.
        ("B", "2027-03-10", "600.00"), ("B", "2028-06-01", "520.00"),
        # C: Silver from 2027-06-15 (250 USD); nothing in 2029: the window earns Member.
        ("C", "2027-06-15", "250.00"),
        ("Z", last_day, "1.00"),  # the last day of the history
    ]
    led = _replay(tmp_path, program, rows)
    assert (led["A"]["tier"], led["B"]["tier"], led["C"]["tier"]) == (a_tier, "Gold", c_tier)
    assert (led["A"]["issued"], led["B"]["issued"], led["C"]["issued"]) == (850, 1120, 250)  # 1 point per USD


@pytest.mark.parametrize("last_day, tier", [
    ("2029-01-31", "Gold"),
    # Gold earned in 2027 ends after 2029-01-31: one step down to Silver, valid a year longer,
    # through 2030-01-31 (although the 2029 window, empty, would earn Member)
    ("2029-02-01", "Silver"),
    ("2030-01-31", "Silver"),
    # the Silver status ends after 2030-01-31: one more step, to Member
    ("2030-02-01", "Member"),
])
def test_a_status_that_drops_one_step_lasts_a_year_more_in_the_lower_tier(tmp_path, last_day, tier):
    program = _program(TIERS % " then one step")
    led = _replay(tmp_path, program, [("A", "2027-03-10", "600.00"), ("Z", last_day, "1.00")])
    assert led["A"]["tier"] == tier


def test_the_interpreter_tells_why_the_status_ended():
    program = _program(TIERS % "")
    res = run(program, [Event("purchase", dt.date(2027, 3, 10), 60000), Event("purchase", dt.date(2029, 1, 20), 25000)],
              until=dt.date(2029, 2, 1))
    changes = [(c.date, c.from_tier, c.to_tier) for c in res.tier_history]
    assert changes == [(dt.date(2027, 3, 10), "Member", "Gold"), (dt.date(2029, 2, 1), "Gold", "Silver")]
    assert "status ended 2029-01-31" in res.tier_history[-1].reason


# ---------------------------------------------------------------- what counts as activity

ACTIVITY = """
  earn base on purchase {
    award 1 point per 1 USD
  }

  expire points after 3 months of inactivity
%s
  reward gift {
    price 100 points
    worth 5 USD
    costs us 2 USD
  }
"""

ACTIVITY_ROWS = [("E", "2027-01-10", "60.00"), ("E", "2027-03-01", "30.00"), ("E", "2027-05-01", "120.00"),
                 ("E", "2027-07-15", "10.00"), ("Z", "2027-08-05", "1.00")]


def test_only_redemptions_keep_points_alive_when_activity_is_redemption(tmp_path):
    # E's clock starts the day before the first event, 2027-01-09: due 2027-04-09.
    # 60 + 30 points by then (purchases are not activity): 90 expire on 2027-04-09.
    # 2027-05-01: 120 points, the gift (100) is affordable and redeemed at once: activity,
    # due 2027-08-01. 20 + 10 (2027-07-15) = 30 left expire on 2027-08-01.
    program = _program(ACTIVITY % "  activity is redemption\n")
    e = _replay(tmp_path, program, ACTIVITY_ROWS, redeem="when-affordable")["E"]
    assert (e["issued"], e["redeemed"], e["expired"], e["outstanding"]) == (220, 100, 90 + 30, 0)
    assert e["issued"] == e["redeemed"] + e["expired"] + e["reversed"] + e["outstanding"]


def test_by_default_a_purchase_keeps_points_alive(tmp_path):
    # every purchase moves the due date: 2027-04-10, 06-01, 08-01, then 10-15 (after the end),
    # so nothing expires. The gift is redeemed on 2027-05-01 (60 + 30 + 120 = 210 -> 110) and on
    # 2027-07-15 (110 + 10 = 120 -> 20): 200 redeemed, 20 left.
    program = _program(ACTIVITY % "")
    e = _replay(tmp_path, program, ACTIVITY_ROWS, redeem="when-affordable")["E"]
    assert (e["issued"], e["redeemed"], e["expired"], e["outstanding"]) == (220, 200, 0, 20)


@pytest.mark.parametrize("activity", ["  activity is purchase\n", "  activity is any earning event\n",
                                      "  activity is purchase, redemption\n"])
def test_purchases_that_earn_keep_points_alive_under_each_kind_that_counts_them(tmp_path, activity):
    # each of E's purchases earns, so each of these lists counts it: as by default, nothing
    # expires, 200 are redeemed and 20 left
    program = _program(ACTIVITY % activity)
    e = _replay(tmp_path, program, ACTIVITY_ROWS, redeem="when-affordable")["E"]
    assert (e["redeemed"], e["expired"], e["outstanding"]) == (200, 0, 20)


# ---------------------------------------------------------------- tier earn rates

RATES = """
  earn base on purchase {
    award 1 point per 1 USD
  }

  earn weekend on purchase when weekday in [sat, sun] {
    multiply 2x
  }

  tiers by purchases over lifetime {
    tier Member from 0
    tier Silver from 1 {
      multiply 1.2x
    }
    tier Gold from 2 {
      award 1.2 points per 1 USD
    }
  }
"""


def test_a_tier_rate_is_rounded_once_and_a_tier_multiplier_apart(tmp_path):
    program = _program(RATES)
    rows = [
        # G: Mon as Member: floor(4.5) = 4 (now Silver); Tue as Silver: base floor(4.5) = 4, bonus
        # floor(4.5 x 0.2) = floor(0.9) = 0: 4 (now Gold); Wed as Gold: floor(4.5 x 1.2) = floor(5.4) = 5;
        # Sat as Gold: R = 5.4, base 5, weekend bonus floor(5.4 x 1) = 5: 10. In all 4 + 4 + 5 + 10 = 23.
        ("G", "2027-05-03", "4.50"), ("G", "2027-05-04", "4.50"), ("G", "2027-05-05", "4.50"),
        ("G", "2027-05-08", "4.50"),
        # H: Mon as Member: 4; Sat as Silver: base 4, tier bonus 0, weekend bonus
        # floor(4.5 x 1.2 x (2 - 1)) = floor(5.4) = 5: 9. In all 13.
        ("H", "2027-05-03", "4.50"), ("H", "2027-05-08", "4.50"),
    ]
    led = _replay(tmp_path, program, rows)
    assert (led["G"]["issued"], led["H"]["issued"]) == (23, 13)
    assert (led["G"]["tier"], led["H"]["tier"]) == ("Gold", "Gold")
