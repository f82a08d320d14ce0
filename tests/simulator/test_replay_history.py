"""`loyalty replay`: the recorded history through the vectorized engine, checked against the
reference interpreter customer by customer, and against numbers worked out by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rulelang.tools.cli import main
from rulelang.check.compiler import compile_source
from rulelang.syntax.loader import load_file
from sim_helpers import HERE, ROOT
from simulator.model.strings import StringTable
from simulator.history.feed import ReplayOptions, build_feed
from simulator.history.check import compare_sample
from simulator.history.replay_engine import replay
from simulator.history.command import load_history, replay_loaded

TINY = HERE / "fixtures" / "replay" / "tiny.csv"
PROGRAMS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "rules").glob("*")
                  if p.suffix in (".loyalty", ".yaml") and not p.name.endswith((".test.loyalty", "_test.yaml")))
PROGRAMS += [str((HERE / "fixtures" / name).relative_to(ROOT)) for name in  # returns that lower the metric
             ("returns_spend.loyalty", "returns_counter.loyalty", "returns_points.loyalty")]
PROGRAMS.append(str((HERE / "fixtures" / "constructs.loyalty").relative_to(ROOT)))
PROGRAMS.append(str((HERE / "fixtures" / "vouchers.loyalty").relative_to(ROOT)))  # vouchers with a life
PROGRAMS.append(str((HERE / "fixtures" / "balances.loyalty").relative_to(ROOT)))  # balances beside the points
CATEGORIES = ["coffee", "food", "gift_card", "beans", "flight", "hotel", "own_brand", "fruit_veg", "sale", "coats"]


def _compile(path: str):
    sf, diags, _ = load_file(str(ROOT / path))
    program, diags = compile_source(sf)
    assert program is not None, [d.message for d in diags if d.is_error]
    return program


def _history_csv(path: Path, customers: int = 40, purchases: int = 1400, seed: int = 3) -> Path:
    """A small synthetic history: purchases at random times over 14 months (several a day for
    some customers), 15 % of them returned, whole or in part, some in two parts, a few days later."""
    rng = np.random.default_rng(seed)
    cust = rng.integers(0, customers, purchases)
    t0 = np.datetime64("2026-12-01T00:00:00")
    secs = rng.integers(0, 420 * 86400, purchases)
    amount = rng.integers(50, 30000, purchases)
    cat = np.array(CATEGORIES)[rng.integers(0, len(CATEGORIES), purchases)]
    chan = np.array(["store", "online", "app"])[rng.integers(0, 3, purchases)]
    rows = [(f"C{c:03d}", t0 + np.timedelta64(int(s), "s"), a, "purchase", f"O{i}", k, h)
            for i, (c, s, a, k, h) in enumerate(zip(cust, secs, amount, cat, chan))]
    for i in np.flatnonzero(rng.random(purchases) < 0.15):
        c, s, a, k, h = cust[i], secs[i], amount[i], cat[i], chan[i]
        parts = [a] if rng.random() < 0.5 else [a // 3, a // 3]
        for j, part in enumerate(parts):
            rows.append((f"C{c:03d}", t0 + np.timedelta64(int(s + 3600 + j * 86400 * rng.integers(0, 5)), "s"),
                         max(int(part), 1), "return", f"O{i}", k, h))
    lines = ["customer_id,date,amount,kind,order_id,category,channel,birthday"]
    for c, t, a, kind, o, k, h in rows:
        bday = f"19{80 + int(c[1:]) % 20}-{1 + int(c[1:]) % 12:02d}-{1 + int(c[1:]) % 28:02d}"
        lines.append(f"{c},{str(t).replace('T', ' ')},{a / 100:.2f},{kind},{o},{k},{h},{bday}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    path = _history_csv(tmp_path_factory.mktemp("replay") / "history.csv")
    from simulator.transactions.reader import ColumnMap

    return load_history(str(path), ColumnMap(birthday="birthday"))


@pytest.mark.parametrize("redeem", ["when-affordable", "never"])
@pytest.mark.parametrize("path", PROGRAMS)
def test_replay_agrees_with_the_interpreter_customer_by_customer(path, redeem, history):
    program = _compile(path)
    strings = StringTable()
    feed = build_feed(history, program, strings)
    options = ReplayOptions(redeem=redeem)
    result = replay(program, feed, strings, options)
    # a real sample: purchases, returns of them (some in two parts), several on one day
    assert int(result.monthly["purchases"].sum()) == int((~history.is_return).sum())
    assert int(result.monthly["returns"].sum()) > 150
    assert (np.bincount(feed.returns_left[~feed.is_return]) [2:].sum()) > 0  # orders returned in two parts
    sample = range(0, feed.n_customers, 3)
    assert compare_sample(result, program, feed, strings, sample, options) == []
    led = result.ledgers
    assert np.array_equal(led["issued"], led["redeemed"] + led["expired"] + led["reversed"] + led["outstanding"])
    if "vouchers" in path and redeem == "when-affordable":  # held vouchers are spent at purchases: a cost
        assert int(led["voucher_cents"].sum()) > 0
    for name, cols in result.balances.items():  # balances beside the points: returns reverse them too
        assert cols["reversed"].sum() > 0 and (cols["outstanding"] >= 0).all()
        assert np.array_equal(cols["issued"], cols["expired"] + cols["reversed"] + cols["outstanding"]), name


def _replay_json(capsys, *args) -> dict:
    code = main(["replay", *args, "--format", "json"])
    out = capsys.readouterr().out
    assert code == 0
    return json.loads(out)


def test_hand_worked_coffee_history_without_redemptions(capsys):
    # Bean Club: 1 star per USD of net amount except gift cards, rounded down; no campaign in
    # May-June (it ends 2027-03-31); nobody near Gold (500); May's stars expire in December.
    # A: 7.40 -> 7; gift card 25 -> 0; 120.99 -> 120; return 20 of A3: floor(120 x 2000 / 12099) = 19
    # B: 50 + 60 + 3 = 113.  C: 9.99 -> 9, returned whole -> 9 reversed; 101 -> 101
    doc = _replay_json(capsys, "rules/coffee.loyalty", "--transactions", str(TINY), "--redeem", "never")
    t = doc["runs"][0]["totals"]
    assert t["points_issued"] == 7 + 120 + 113 + 9 + 101
    assert t["points_reversed"] == 19 + 9
    assert t["points_redeemed"] == 0 and t["points_expired"] == 0
    assert t["points_outstanding"] == 350 - 28
    assert t["revenue"] == pytest.approx(377.38 - 29.99)
    assert t["liability_declared"] == pytest.approx(322 * 0.004, abs=0.005)
    assert doc["runs"][0]["monthly"]["points_issued"] == [7 + 120 + 110 + 9, 3 + 101]
    assert "behaved exactly as they did" in doc["statement"]


def test_hand_worked_coffee_history_redeeming_when_affordable(capsys):
    # the cheapest reward is the pastry (100 stars, costs us 0.90): A redeems after A3 (127 stars),
    # B after B2 (110), C after C2 (101). A's return then takes 19 from A3's lot, which still holds
    # 27 (the pastry took A1's 7 and 93 of A3's 120, oldest first): A keeps 8, B 13, C 1.
    doc = _replay_json(capsys, "rules/coffee.loyalty", "--transactions", str(TINY))
    t = doc["runs"][0]["totals"]
    assert t["rewards_redeemed"] == 3
    assert t["points_redeemed"] == 300
    assert t["cost_rewards"] == pytest.approx(2.70)
    assert t["points_reversed"] == 28
    assert t["points_outstanding"] == 8 + 13 + 1
    assert doc["redeem_policy"]["reward"] == "pastry"


def test_compare_shows_the_difference_on_the_same_history(capsys, tmp_path):
    doc = _replay_json(capsys, "rules/coffee.loyalty", "--transactions", str(TINY), "--compare", "rules/coffee.yaml",
                       "--redeem", "never", "--out", str(tmp_path))
    assert doc["difference"]["totals"]["points_issued"] == 0  # the same program in two forms
    assert doc["runs"][1]["totals"]["points_issued"] == 350
    md = (tmp_path / "report.md").read_text()
    assert "behaved exactly as they did" in md and "| 2027-05 |" in md
    assert (tmp_path / "report.html").read_text().count("data:image/png;base64,") >= 3


def test_two_processes_give_the_same_replay_as_one(history):
    program = _compile("rules/online_shop.loyalty")
    one = replay_loaded(program, history, workers=1)
    two = replay_loaded(program, history, workers=2)
    for k in one.monthly:
        assert np.array_equal(one.monthly[k], two.monthly[k]), k
    for k in one.ledgers:
        assert np.array_equal(one.ledgers[k], two.ledgers[k]), k


def _errors(capsys, *args) -> tuple[int, str]:
    code = main(["replay", *args])
    return code, capsys.readouterr().err


def test_a_file_in_another_currency_is_an_error(capsys):
    code, err = _errors(capsys, "rules/coffee.loyalty", "--transactions", str(TINY.with_name("tiny_eur.csv")))
    assert code == 1 and "error[RL880]" in err and "EUR" in err and "USD" in err


def test_compared_programs_in_two_currencies_are_an_error(capsys):
    code, err = _errors(capsys, "rules/coffee.loyalty", "--transactions", str(TINY), "--compare",
                        "rules/cosmetics.loyalty")
    assert code == 1 and "error[RL890]" in err


def test_an_unknown_reward_is_an_error(capsys):
    code, err = _errors(capsys, "rules/coffee.loyalty", "--transactions", str(TINY), "--reward", "latte")
    assert code == 1 and "error[RL885]" in err and "free_drink" in err


def test_a_field_the_file_lacks_is_a_warning(capsys, tmp_path):
    plain = tmp_path / "plain.csv"
    plain.write_text("customer_id,date,amount\nA,2027-05-03,7.40\nA,2027-05-04,-2.00\n", encoding="utf-8")
    code, err = _errors(capsys, "rules/coffee.loyalty", "--transactions", str(plain))
    assert code == 0
    assert "warning[RL881]" in err and "`category`" in err


def test_reader_errors_are_located(capsys, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,date,amount\nA,2027-05-03,seven\n", encoding="utf-8")
    code, err = _errors(capsys, "rules/coffee.loyalty", "--transactions", str(bad))
    assert code == 1 and "bad.csv:2" in err and "Traceback" not in err


def test_a_missing_column_is_an_error(capsys, tmp_path):
    bad = tmp_path / "nocust.csv"
    bad.write_text("client,date,amount\nA,2027-05-03,7.40\n", encoding="utf-8")
    code, err = _errors(capsys, "rules/coffee.loyalty", "--transactions", str(bad))
    assert code == 1 and "customer_id" in err
